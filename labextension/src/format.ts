/** Formatting of values for display: metric numbers, times, durations, sizes. */
import type { JsonValue, MetricSummary, MetricValue } from './api';

const sig4 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4, useGrouping: false });

/** A metric value to 4 significant digits; the strings "NaN", "Infinity", "-Infinity" are shown as they are. */
export function formatMetric(value: MetricValue | null | undefined): string {
  if (value === null || value === undefined) {
    return '–';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (!Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  }
  if (value === 0) {
    return '0';
  }
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1e6) {
    return String(value);
  }
  if (abs >= 1e-3 && abs < 1e6) {
    return sig4.format(value);
  }
  // 1.235e+7, 1e-5: exponent notation without trailing zeros in the mantissa
  const [mantissa, exponent] = value.toExponential(3).split('e');
  const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  return `${m}e${exponent}`;
}

/** The metrics written most recently first (ties: by key). */
export function latestMetrics(metrics: MetricSummary[], count: number): MetricSummary[] {
  return [...metrics]
    .sort((a, b) => (b.last_time ?? 0) - (a.last_time ?? 0) || a.key.localeCompare(b.key))
    .slice(0, count);
}

/** A param / tag value: strings as they are, anything else as compact JSON. */
export function formatValue(value: JsonValue | undefined): string {
  if (value === undefined) {
    return '';
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

/** Seconds since the epoch → ISO 8601 (UTC). */
export function isoTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '';
  }
  return new Date(seconds * 1000).toISOString();
}

/** Seconds since the epoch → local date and time, to the second. */
export function localTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '–';
  }
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago", or the date for older times. */
export function relativeTime(seconds: number | null | undefined, nowMs: number = Date.now()): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '';
  }
  const delta = nowMs / 1000 - seconds;
  if (delta < -60) {
    return 'in the future';
  }
  if (delta < 10) {
    return 'just now';
  }
  if (delta < 60) {
    return `${Math.floor(delta)} s ago`;
  }
  if (delta < 3600) {
    return `${Math.floor(delta / 60)} min ago`;
  }
  if (delta < 86400) {
    return `${Math.floor(delta / 3600)} h ago`;
  }
  if (delta < 30 * 86400) {
    return `${Math.floor(delta / 86400)} d ago`;
  }
  return localTime(seconds).slice(0, 10);
}

/** A length of time in seconds → "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 4 h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  }
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A size in bytes → "512 B", "1.5 kB", "12 MB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '–';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** The name to show for a run: its name, else its id. */
export function runLabel(run: { id: string; name: string | null }): string {
  return run.name && run.name.trim() ? run.name : run.id;
}
