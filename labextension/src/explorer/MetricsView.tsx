/** The metric explorer: pick metrics (a series key: name and context), draw one line per run or one mean line per
 * group of runs (grouped by a param or tag) with a min/max or standard-error band; one chart per metric; x as
 * step, time or relative time; smoothing; log scale; zooming in on steps fetches the full detail of that range;
 * live while runs log. Drawn with uPlot (canvas), so 1,000 runs on one chart stay interactive. */
import * as React from 'react';
import uPlot from 'uplot';

import { errorMessage, getSeriesMany, listRunRows, RunRow, Series } from '../api';
import { formatMetric } from '../format';
import { useSignal } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import {
  align,
  Band,
  groupColor,
  Line,
  parseSeriesKey,
  reduceGroups,
  runColor,
  smooth,
  toLine,
  XAxis
} from './chartData';
import { cellText, Column, rawValue } from './columns';
import { TableQuery } from './RunsTable';

/** Points a chart asks in all, shared among its runs (each series downsampled by the server, keeping its
 * extremes): a chart a few hundred pixels wide shows no more, and a zoom asks the full detail of its step range. */
export const CHART_POINTS = 100_000;

/** Points asked per series: the chart's budget shared among its runs, between 100 and 400 per run. */
export function pointsPerSeries(runs: number): number {
  return Math.max(100, Math.min(400, Math.floor(CHART_POINTS / Math.max(1, runs))));
}
/** Runs charted when none are selected: the first of the table's order. */
export const DEFAULT_RUNS = 100;
export const MAX_RUNS = 1000;

export interface ChartSettings {
  metrics: string[];
  groupBy: string;
  band: Band;
  x: XAxis;
  smoothing: number;
  logY: boolean;
  maxRuns: number;
}

export const DEFAULT_CHART: ChartSettings = {
  metrics: [],
  groupBy: '',
  band: 'minmax',
  x: 'step',
  smoothing: 0,
  logY: false,
  maxRuns: DEFAULT_RUNS
};

function quote(s: string): string {
  return "'" + s.replace(/'/g, "''") + "'";
}

/** The runs to chart: the selected ones, else the first `maxRuns` of the table's query. */
async function loadRuns(model: TrackerModel, query: TableQuery, selected: string[], maxRuns: number): Promise<RunRow[]> {
  const ids = selected.slice(0, MAX_RUNS);
  const filter = ids.length ? `id in (${ids.map(quote).join(', ')})` : query.filter;
  const page = await listRunRows(
    {
      project: query.project,
      experiment: query.experiment || undefined,
      campaign: query.campaign || undefined,
      filter: filter || undefined,
      order_by: query.orderBy || undefined,
      limit: ids.length ? ids.length : maxRuns
    },
    model.settings
  );
  return page.runs;
}

interface Loaded {
  key: string;
  runs: RunRow[];
  series: Map<string, Series[]>;
}

/** Load runs and the chosen metrics' series; again when the data changes (live) or the zoomed step range moves. */
function useChartData(
  model: TrackerModel,
  query: TableQuery,
  selected: string[],
  settings: ChartSettings,
  stepRange: [number, number] | null
): { data: Loaded | null; error: string | null; loading: boolean } {
  useSignal(model.dataChanged);
  const generation = model.generation;
  const key = JSON.stringify([query, selected, settings.metrics, settings.maxRuns, stepRange]);
  const [state, setState] = React.useState<{ data: Loaded | null; error: string | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true
  });
  React.useEffect(() => {
    let cancelled = false;
    setState(s => ({ ...s, loading: true }));
    (async () => {
      const runs = await loadRuns(model, query, selected, settings.maxRuns);
      const ids = runs.map(r => r.id);
      const series = new Map<string, Series[]>();
      await Promise.all(
        settings.metrics.map(async m => {
          const { name, context } = parseSeriesKey(m);
          const got = ids.length
            ? await getSeriesMany(
                ids,
                name,
                {
                  context,
                  maxPoints: pointsPerSeries(ids.length),
                  stepMin: stepRange ? Math.floor(stepRange[0]) : undefined,
                  stepMax: stepRange ? Math.ceil(stepRange[1]) : undefined
                },
                model.settings
              )
            : [];
          series.set(m, got);
        })
      );
      return { key, runs, series };
    })().then(
      data => !cancelled && setState({ data, error: null, loading: false }),
      err => !cancelled && setState(s => ({ data: s.data, error: errorMessage(err), loading: false }))
    );
    return () => {
      cancelled = true;
    };
  }, [key, generation]);
  return state;
}

interface ChartSpec {
  xs: number[];
  ys: (number | null)[][];
  series: uPlot.Series[];
  bands: uPlot.Band[];
  legend: { label: string; color: string; count?: number; runId?: string }[];
  groups: number;
  lines: number;
}

function buildSpec(
  metric: string,
  series: Series[],
  runs: Map<string, RunRow>,
  settings: ChartSettings,
  groupCol: Column | null
): ChartSpec {
  const lines: Line[] = series.map(s => {
    const l = toLine(s, settings.x);
    return { ...l, ys: smooth(l.ys, settings.smoothing) };
  });
  if (!groupCol) {
    const { xs, ys } = align(lines);
    return {
      xs,
      ys,
      series: lines.map(l => {
        const run = runs.get(l.runId);
        return {
          label: run?.name ?? l.runId,
          stroke: runColor(l.runId),
          width: 1.25,
          spanGaps: true,
          points: { show: false }
        };
      }),
      bands: [],
      legend: lines.slice(0, 20).map(l => ({
        label: runs.get(l.runId)?.name ?? l.runId,
        color: runColor(l.runId),
        runId: l.runId
      })),
      groups: 0,
      lines: lines.length
    };
  }
  const byGroup = new Map<string, Line[]>();
  for (const l of lines) {
    const run = runs.get(l.runId);
    const v = run ? rawValue(run, groupCol) : undefined;
    const label = run && v !== undefined && v !== null ? cellText(run, groupCol) : '(none)';
    if (!byGroup.has(label)) {
      byGroup.set(label, []);
    }
    byGroup.get(label)!.push(l);
  }
  const sorted = new Map([...byGroup.entries()].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true })));
  const { xs, groups } = reduceGroups(sorted, settings.band);
  const ys: (number | null)[][] = [];
  const out: uPlot.Series[] = [];
  const bands: uPlot.Band[] = [];
  groups.forEach((g, i) => {
    const color = groupColor(i);
    const base = ys.length + 1; // uPlot's series 0 is x
    ys.push(g.mean);
    out.push({ label: `${g.label} (${g.runIds.length})`, stroke: color, width: 2, spanGaps: true, points: { show: false } });
    if (settings.band !== 'none') {
      ys.push(g.hi, g.lo);
      out.push(
        { label: `${g.label} high`, stroke: 'transparent', spanGaps: true, points: { show: false } },
        { label: `${g.label} low`, stroke: 'transparent', spanGaps: true, points: { show: false } }
      );
      bands.push({ series: [base + 1, base + 2], fill: color + '33' });
    }
  });
  void metric;
  return {
    xs,
    ys,
    series: out,
    bands,
    legend: groups.map((g, i) => ({ label: g.label, color: groupColor(i), count: g.runIds.length })),
    groups: groups.length,
    lines: lines.length
  };
}

/** "min,max" of the finite numbers drawn (empty when none): what the chart shows, for its readers and tests. */
function range(arrays: (number | null)[][]): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) {
    for (const v of a) {
      if (v !== null && Number.isFinite(v)) {
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    }
  }
  return lo <= hi ? `${lo},${hi}` : '';
}

/** One uPlot chart, re-created when its data changes, resized with its box. */
function Chart(props: {
  metric: string;
  spec: ChartSpec;
  settings: ChartSettings;
  onZoom: (range: [number, number] | null) => void;
}): JSX.Element {
  const { spec, settings, metric } = props;
  const box = React.useRef<HTMLDivElement>(null);
  const plot = React.useRef<uPlot | null>(null);
  const onZoom = React.useRef(props.onZoom);
  onZoom.current = props.onZoom;
  // a walk over every value drawn (1,000 lines × a few hundred points): once per spec, not per render
  const ranges = React.useMemo(() => ({ x: range([spec.xs]), y: range(spec.ys) }), [spec]);
  React.useEffect(() => {
    const el = box.current;
    if (!el) {
      return;
    }
    const width = Math.max(300, el.clientWidth || 600);
    const opts: uPlot.Options = {
      width,
      height: 280,
      series: [{ label: settings.x }, ...spec.series],
      bands: spec.bands,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: true }, points: { show: false } },
      scales: {
        x: { time: settings.x === 'time' },
        y: settings.logY ? { distr: 3 } : {}
      },
      axes: [
        { label: settings.x === 'step' ? 'step' : settings.x === 'time' ? 'time' : 'seconds since start' },
        { values: (_u, vals) => vals.map(v => formatMetric(v)) }
      ],
      hooks: {
        setSelect: [
          u => {
            if (u.select.width > 0) {
              const lo = u.posToVal(u.select.left, 'x');
              const hi = u.posToVal(u.select.left + u.select.width, 'x');
              if (settings.x === 'step') {
                onZoom.current([lo, hi]);
              }
            }
          }
        ]
      }
    };
    if (spec.xs.length < 3) {
      // one or two x values (a run logged once, or all at one time): show the points, a line would be invisible
      for (const s of opts.series.slice(1)) {
        s.points = { show: true, size: 6 };
      }
    }
    const ys = settings.logY ? spec.ys.map(s => s.map(v => (v !== null && v > 0 ? v : null))) : spec.ys;
    const u = new uPlot(opts, [spec.xs, ...ys] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(300, el.clientWidth || 600);
      if (Math.abs(w - u.width) > 2) {
        u.setSize({ width: w, height: 280 });
      }
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [spec, settings.logY, settings.x]);
  return (
    <div
      className="jp-mltrack-explorer-chart"
      data-metric={metric}
      data-lines={spec.lines}
      data-groups={spec.groups}
      data-bands={spec.bands.length}
      data-points={spec.xs.length}
      data-x-range={ranges.x}
      data-y-range={ranges.y}
    >
      <div className="jp-mltrack-explorer-chart-title">{metric}</div>
      <div ref={box} className="jp-mltrack-explorer-chart-canvas" />
      <ul className="jp-mltrack-explorer-legend">
        {spec.legend.map(l => (
          <li key={l.runId ?? l.label} data-label={l.label} data-run-id={l.runId}>
            <span className="jp-mltrack-swatch" style={{ background: l.color }} />
            {l.label}
            {l.count !== undefined && <span className="jp-mltrack-muted-text"> · {l.count} runs</span>}
          </li>
        ))}
        {!spec.groups && spec.lines > spec.legend.length && (
          <li className="jp-mltrack-muted-text">and {spec.lines - spec.legend.length} more</li>
        )}
      </ul>
    </div>
  );
}

export function MetricsView(props: {
  model: TrackerModel;
  query: TableQuery;
  selected: string[];
  metricKeys: string[];
  groupColumns: Column[];
  settings: ChartSettings;
  onSettings: (s: ChartSettings) => void;
}): JSX.Element {
  const { model, query, selected, settings, onSettings } = props;
  const [stepRange, setStepRange] = React.useState<[number, number] | null>(null);
  const { data, error, loading } = useChartData(model, query, selected, settings, stepRange);
  const groupCol = props.groupColumns.find(c => c.id === settings.groupBy) ?? null;
  const runs = React.useMemo(() => new Map((data?.runs ?? []).map(r => [r.id, r])), [data]);
  const specs = React.useMemo(
    () =>
      settings.metrics.map(m => ({
        metric: m,
        spec: buildSpec(m, data?.series.get(m) ?? [], runs, settings, groupCol)
      })),
    [data, settings, groupCol, runs]
  );
  const set = (patch: Partial<ChartSettings>) => onSettings({ ...settings, ...patch });
  const toggleMetric = (m: string) =>
    set({ metrics: settings.metrics.includes(m) ? settings.metrics.filter(x => x !== m) : [...settings.metrics, m] });

  return (
    <div className="jp-mltrack-explorer-metrics">
      <div className="jp-mltrack-explorer-controls">
        <fieldset className="jp-mltrack-explorer-metric-picker">
          <legend>Metrics</legend>
          {props.metricKeys.length === 0 && <span className="jp-mltrack-muted-text">No metrics logged yet.</span>}
          {props.metricKeys.map(m => (
            <label key={m}>
              <input type="checkbox" checked={settings.metrics.includes(m)} onChange={() => toggleMetric(m)} />
              {m}
            </label>
          ))}
        </fieldset>
        <label>
          Group by{' '}
          <select
            className="jp-mltrack-explorer-groupby"
            value={settings.groupBy}
            onChange={e => set({ groupBy: e.target.value })}
          >
            <option value="">— one line per run —</option>
            {props.groupColumns.map(c => (
              <option key={c.id} value={c.id}>
                {c.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Band{' '}
          <select
            className="jp-mltrack-explorer-band"
            value={settings.band}
            disabled={!groupCol}
            onChange={e => set({ band: e.target.value as Band })}
          >
            <option value="minmax">min / max</option>
            <option value="stderr">standard error</option>
            <option value="none">none</option>
          </select>
        </label>
        <label>
          X{' '}
          <select
            className="jp-mltrack-explorer-x"
            value={settings.x}
            onChange={e => {
              setStepRange(null);
              set({ x: e.target.value as XAxis });
            }}
          >
            <option value="step">step</option>
            <option value="time">time</option>
            <option value="relative">relative time</option>
          </select>
        </label>
        <label>
          Smoothing{' '}
          <input
            className="jp-mltrack-explorer-smoothing"
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={settings.smoothing}
            onChange={e => set({ smoothing: Number(e.target.value) })}
          />
          <span className="jp-mltrack-muted-text">{settings.smoothing.toFixed(2)}</span>
        </label>
        <label>
          <input
            className="jp-mltrack-explorer-logy"
            type="checkbox"
            checked={settings.logY}
            onChange={e => set({ logY: e.target.checked })}
          />{' '}
          log y
        </label>
        <label title="Runs charted when none are selected in the table: the first ones in its order">
          Runs{' '}
          <input
            className="jp-mltrack-explorer-maxruns"
            type="number"
            min={1}
            max={MAX_RUNS}
            value={settings.maxRuns}
            onChange={e => {
              const n = Math.round(Number(e.target.value));
              if (n >= 1 && n <= MAX_RUNS) {
                set({ maxRuns: n });
              }
            }}
          />
        </label>
        {stepRange && (
          <button className="jp-mltrack-button jp-mltrack-explorer-unzoom" onClick={() => setStepRange(null)}>
            Reset zoom
          </button>
        )}
      </div>
      <div className="jp-mltrack-explorer-chart-note jp-mltrack-muted-text" role="status">
        {selected.length
          ? `${selected.length} selected run${selected.length === 1 ? '' : 's'}`
          : `the first ${settings.maxRuns} runs of the table`}
        {stepRange ? ` · steps ${Math.floor(stepRange[0])}–${Math.ceil(stepRange[1])} in full detail` : ''}
        {loading ? ' · loading…' : ''}
      </div>
      {error && <div className="jp-mltrack-filter-error">{error}</div>}
      {settings.metrics.length === 0 && (
        <p className="jp-mltrack-muted-text">Pick one or more metrics above: one chart each.</p>
      )}
      <div className="jp-mltrack-explorer-charts">
        {specs.map(({ metric, spec }) => (
          <Chart key={metric} metric={metric} spec={spec} settings={settings} onZoom={setStepRange} />
        ))}
      </div>
    </div>
  );
}
