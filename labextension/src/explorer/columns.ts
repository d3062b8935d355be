/** The explorer's run table columns: which exist (attributes, params, metrics, tags), their search-language
 * field (for sorting and filtering), how a row's value is read, and which are pinned or hidden — remembered per
 * project in the browser's local storage. */
import type { JsonValue, MetricValue, RunColumns, RunRow } from '../api';
import { formatDuration, formatMetric, formatValue, localTime } from '../format';

export type ColumnKind = 'attribute' | 'param' | 'metric' | 'tag';

export interface Column {
  /** Unique id, also the search-language field: `name`, `params.lr`, `metrics.loss[subset=val]`, `tags.stage`. */
  id: string;
  kind: ColumnKind;
  /** The key inside its kind (`lr`, `loss[subset=val]`) or the attribute name. */
  key: string;
  /** Header text. */
  label: string;
  /** Whether the server can sort by it. */
  sortable: boolean;
}

/** Attributes every run has, in display order. */
const ATTRIBUTES: { key: string; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'start_time', label: 'Started' },
  { key: 'duration', label: 'Duration' },
  { key: 'user', label: 'User' },
  { key: 'experiment', label: 'Experiment' },
  { key: 'id', label: 'Run id' }
];

/** Attributes hidden until chosen. */
const HIDDEN_BY_DEFAULT = new Set(['id', 'experiment']);
/** Params and metrics shown by default (the rest are in the column chooser). */
const DEFAULT_PER_KIND = 8;

/** A key as a search-language name: bare when it is a plain identifier, else in backquotes. */
export function fieldName(prefix: string, key: string): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_.]*(\[[^\]`]*\])?$/.test(key);
  return `${prefix}.${plain ? key : '`' + key + '`'}`;
}

export function allColumns(cols: RunColumns | undefined): Column[] {
  const out: Column[] = ATTRIBUTES.map(a => ({
    id: a.key,
    kind: 'attribute' as ColumnKind,
    key: a.key,
    label: a.label,
    sortable: a.key !== 'experiment'
  }));
  for (const k of cols?.params ?? []) {
    out.push({ id: fieldName('params', k), kind: 'param', key: k, label: k, sortable: true });
  }
  for (const k of cols?.metrics ?? []) {
    out.push({ id: fieldName('metrics', k), kind: 'metric', key: k, label: k, sortable: true });
  }
  for (const k of cols?.tags ?? []) {
    out.push({ id: fieldName('tags', k), kind: 'tag', key: k, label: k, sortable: true });
  }
  return out;
}

/** What the user chose for a project's table: hidden and shown columns (overriding the defaults), pinned ones. */
export interface ColumnPrefs {
  hidden: string[];
  shown: string[];
  pinned: string[];
}

const EMPTY_PREFS: ColumnPrefs = { hidden: [], shown: [], pinned: [] };

function prefsKey(project: string): string {
  return `jupyter-mltrack:explorer-columns:${project}`;
}

export function loadPrefs(project: string): ColumnPrefs {
  try {
    const raw = window.localStorage.getItem(prefsKey(project));
    if (!raw) {
      return EMPTY_PREFS;
    }
    const p = JSON.parse(raw) as Partial<ColumnPrefs>;
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    return { hidden: list(p.hidden), shown: list(p.shown), pinned: list(p.pinned) };
  } catch {
    return EMPTY_PREFS;
  }
}

export function savePrefs(project: string, prefs: ColumnPrefs): void {
  try {
    window.localStorage.setItem(prefsKey(project), JSON.stringify(prefs));
  } catch {
    // storage full or refused: the choice lasts for this session only
  }
}

/** Whether a column is shown: the user's choice, else the default (attributes but a few, the first params and
 * metrics, no tags). */
export function isVisible(col: Column, all: Column[], prefs: ColumnPrefs): boolean {
  if (prefs.hidden.includes(col.id)) {
    return false;
  }
  if (prefs.shown.includes(col.id) || prefs.pinned.includes(col.id)) {
    return true;
  }
  switch (col.kind) {
    case 'attribute':
      return !HIDDEN_BY_DEFAULT.has(col.key);
    case 'tag':
      return false;
    default:
      return all.filter(c => c.kind === col.kind).indexOf(col) < DEFAULT_PER_KIND;
  }
}

/** The columns to draw: pinned first (in pin order), then the other visible ones in their natural order. */
export function layoutColumns(all: Column[], prefs: ColumnPrefs): Column[] {
  const byId = new Map(all.map(c => [c.id, c]));
  const pinned = prefs.pinned.map(id => byId.get(id)).filter((c): c is Column => !!c);
  const rest = all.filter(c => !prefs.pinned.includes(c.id) && isVisible(c, all, prefs));
  return [...pinned, ...rest];
}

export function toggleVisible(col: Column, all: Column[], prefs: ColumnPrefs): ColumnPrefs {
  const visible = isVisible(col, all, prefs);
  const without = (xs: string[]) => xs.filter(x => x !== col.id);
  return visible
    ? { hidden: [...without(prefs.hidden), col.id], shown: without(prefs.shown), pinned: without(prefs.pinned) }
    : { hidden: without(prefs.hidden), shown: [...without(prefs.shown), col.id], pinned: prefs.pinned };
}

export function togglePinned(col: Column, prefs: ColumnPrefs): ColumnPrefs {
  const pinned = prefs.pinned.includes(col.id)
    ? prefs.pinned.filter(x => x !== col.id)
    : [...prefs.pinned, col.id];
  return { ...prefs, hidden: prefs.hidden.filter(x => x !== col.id), pinned };
}

/** A row's raw value in a column (for grouping and the cell's title). */
export function rawValue(row: RunRow, col: Column): JsonValue | MetricValue | undefined {
  switch (col.kind) {
    case 'param':
      return row.params?.[col.key];
    case 'metric':
      return row.metrics?.[col.key] ?? undefined;
    case 'tag':
      return row.tags?.[col.key];
    default:
      switch (col.key) {
        case 'duration':
          return row.end_time !== null && row.end_time !== undefined ? row.end_time - row.start_time : null;
        case 'experiment':
          return (row.experiments ?? []).join(', ');
        default:
          return (row as unknown as { [k: string]: JsonValue })[col.key];
      }
  }
}

/** A row's value in a column as display text. */
export function cellText(row: RunRow, col: Column): string {
  const v = rawValue(row, col);
  if (v === undefined || v === null) {
    return col.key === 'duration' && col.kind === 'attribute' ? '–' : '';
  }
  if (col.kind === 'metric') {
    return formatMetric(v as MetricValue);
  }
  if (col.kind === 'attribute') {
    if (col.key === 'start_time') {
      return localTime(v as number);
    }
    if (col.key === 'duration') {
      return formatDuration(v as number);
    }
  }
  return formatValue(v as JsonValue);
}

/** Every field of the search language the completion offers: attributes, then params, metrics and tags. */
export function completionFields(cols: RunColumns | undefined): string[] {
  const attrs = ['name', 'status', 'user', 'source', 'description', 'start_time', 'end_time', 'duration', 'id',
    'experiment', 'campaign', 'parent_id'];
  return [
    ...attrs,
    ...(cols?.params ?? []).map(k => fieldName('params', k)),
    ...(cols?.metrics ?? []).map(k => fieldName('metrics', k)),
    ...(cols?.tags ?? []).map(k => fieldName('tags', k))
  ];
}
