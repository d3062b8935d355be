/** The metric explorer's data work, free of any drawing: x values (step, time, relative time), smoothing, one
 * shared x axis for many series, and groups of runs reduced to a mean with a min/max or standard-error band. */
import type { MetricValue, Series } from '../api';

export type XAxis = 'step' | 'time' | 'relative';
export type Band = 'minmax' | 'stderr' | 'none';

export interface Line {
  runId: string;
  xs: number[];
  ys: (number | null)[];
}

/** A metric value as a number for drawing; non-finite values are gaps. */
export function toNumber(v: MetricValue): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A series as a line on the chosen x axis (relative: seconds since the run's first point). */
export function toLine(s: Series, x: XAxis): Line {
  const t0 = s.timestamps.length ? s.timestamps[0] : 0;
  const xs = x === 'step' ? s.steps : x === 'time' ? s.timestamps : s.timestamps.map(t => t - t0);
  return { runId: s.run_id, xs: xs.slice(), ys: s.values.map(toNumber) };
}

/** Exponential moving average with TensorBoard's debiasing (the first points are not pulled towards 0);
 * `weight` 0 leaves the line as it is. Gaps stay gaps. */
export function smooth(ys: (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) {
    return ys;
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let n = 0;
  return ys.map(y => {
    if (y === null) {
      return null;
    }
    last = last * w + (1 - w) * y;
    n++;
    return last / (1 - Math.pow(w, n));
  });
}

/** Many lines on one sorted x array (uPlot's aligned data): each line holds its values at its own x and null
 * elsewhere. When the union of x would exceed `maxX` values, x is snapped to `maxX` even bins (last value wins). */
export function align(lines: Line[], maxX = 4000): { xs: number[]; ys: (number | null)[][] } {
  const all = new Set<number>();
  for (const l of lines) {
    for (const x of l.xs) {
      all.add(x);
    }
  }
  let xs = Array.from(all).sort((a, b) => a - b);
  let snap: ((x: number) => number) | null = null;
  if (xs.length > maxX) {
    const lo = xs[0];
    const hi = xs[xs.length - 1];
    const width = (hi - lo) / (maxX - 1) || 1;
    xs = Array.from({ length: maxX }, (_, i) => lo + i * width);
    snap = x => Math.round((x - lo) / width);
  }
  const index = new Map<number, number>();
  if (!snap) {
    xs.forEach((x, i) => index.set(x, i));
  }
  const ys = lines.map(l => {
    const out: (number | null)[] = new Array(xs.length).fill(null);
    l.xs.forEach((x, i) => {
      const at = snap ? snap(x) : (index.get(x) as number);
      if (l.ys[i] !== null || out[at] === null) {
        out[at] = l.ys[i];
      }
    });
    return out;
  });
  return { xs, ys };
}

/** The value of a line at `x` by linear interpolation between its neighbours (null outside its x range or
 * next to a gap). `xs` is sorted. */
export function valueAt(line: Line, x: number): number | null {
  const { xs, ys } = line;
  if (!xs.length || x < xs[0] || x > xs[xs.length - 1]) {
    return null;
  }
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (xs[lo] === x) {
    return ys[lo];
  }
  if (xs[hi] === x) {
    return ys[hi];
  }
  const a = ys[lo];
  const b = ys[hi];
  if (a === null || b === null) {
    return null;
  }
  return a + ((b - a) * (x - xs[lo])) / (xs[hi] - xs[lo]);
}

export interface Group {
  /** The grouping value as text ("(none)" for runs without it). */
  label: string;
  runIds: string[];
  mean: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
}

/** Reduce each group of lines to its mean and band on one grid of `points` x values spanning every line. */
export function reduceGroups(
  groups: Map<string, Line[]>,
  band: Band,
  points = 300
): { xs: number[]; groups: Group[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const lines of groups.values()) {
    for (const l of lines) {
      if (l.xs.length) {
        lo = Math.min(lo, l.xs[0]);
        hi = Math.max(hi, l.xs[l.xs.length - 1]);
      }
    }
  }
  if (!Number.isFinite(lo)) {
    return { xs: [], groups: [] };
  }
  const n = hi > lo ? points : 1;
  const xs = Array.from({ length: n }, (_, i) => (n === 1 ? lo : lo + ((hi - lo) * i) / (n - 1)));
  const out: Group[] = [];
  for (const [label, lines] of groups) {
    const mean: (number | null)[] = [];
    const bandLo: (number | null)[] = [];
    const bandHi: (number | null)[] = [];
    for (const x of xs) {
      const vals: number[] = [];
      for (const l of lines) {
        const v = valueAt(l, x);
        if (v !== null) {
          vals.push(v);
        }
      }
      if (!vals.length) {
        mean.push(null);
        bandLo.push(null);
        bandHi.push(null);
        continue;
      }
      const m = vals.reduce((a, b) => a + b, 0) / vals.length;
      mean.push(m);
      if (band === 'minmax') {
        bandLo.push(Math.min(...vals));
        bandHi.push(Math.max(...vals));
      } else if (band === 'stderr') {
        const variance = vals.length > 1 ? vals.reduce((a, v) => a + (v - m) ** 2, 0) / (vals.length - 1) : 0;
        const se = Math.sqrt(variance / vals.length);
        bandLo.push(m - se);
        bandHi.push(m + se);
      } else {
        bandLo.push(null);
        bandHi.push(null);
      }
    }
    out.push({ label, runIds: lines.map(l => l.runId), mean, lo: bandLo, hi: bandHi });
  }
  return { xs, groups: out };
}

/** `loss[subset=val]` → name and context (as the series key is written everywhere). */
export function parseSeriesKey(key: string): { name: string; context: { [k: string]: string } } {
  const m = /^(.*)\[([^\]]*)\]$/.exec(key);
  if (!m) {
    return { name: key, context: {} };
  }
  const context: { [k: string]: string } = {};
  for (const part of m[2].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      context[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  return { name: m[1], context };
}

/** One colour per run, the same wherever the run is drawn — the notebook widgets compute the same
 * (`jupyter_mltrack/widgets/metric_chart.py: run_color`): a hue and a lightness from an FNV-1a hash of its id. */
export function runColor(runId: string): string {
  let h = 2166136261;
  for (let i = 0; i < runId.length; i++) {
    h ^= runId.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  const u = h >>> 0;
  // hue and lightness from different bits: two runs rarely share both
  const hue = u % 360;
  const light = 32 + ((u >>> 9) % 4) * 8;
  return `hsl(${hue}, 70%, ${light}%)`;
}

/** Colours for groups: well separated, in order. */
const GROUP_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf'];

export function groupColor(index: number): string {
  return GROUP_COLORS[index % GROUP_COLORS.length];
}
