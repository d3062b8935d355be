/** The explorer's run table: any number of runs, virtualised (only the rows in view are in the page), fetched
 * from `GET runs?view=table` a page at a time as they scroll into view, sorted and filtered by the server. */
import * as React from 'react';

import { errorMessage, listRunRows, RunRow } from '../api';
import { useSignal } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import { cellText, Column, rawValue } from './columns';

/** Rows fetched per request. */
export const PAGE_SIZE = 100;
/** Height of a row in pixels (fixed: what makes the virtual scroll exact). */
export const ROW_HEIGHT = 26;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 12;

export interface TableQuery {
  project: string;
  filter: string;
  orderBy: string;
  /** only the runs of this experiment or campaign ('' or absent: all) */
  experiment?: string;
  campaign?: string;
}

function queryKey(q: TableQuery): string {
  return JSON.stringify([q.project, q.filter, q.orderBy, q.experiment ?? '', q.campaign ?? '']);
}

interface Pages {
  key: string;
  generation: number;
  total: number | null;
  /** page index → rows (kept while a newer generation loads: no flicker on live updates) */
  rows: Map<number, RunRow[]>;
  /** page index → the generation it was loaded at */
  loadedAt: Map<number, number>;
  error: string | null;
}

/** Load the pages of `query` that rows [first, last] need; reload them when the data changes. */
function useRunPages(model: TrackerModel, query: TableQuery, first: number, last: number): Pages {
  useSignal(model.dataChanged);
  const key = queryKey(query);
  const generation = model.generation;
  const ref = React.useRef<Pages>({
    key,
    generation,
    total: null,
    rows: new Map(),
    loadedAt: new Map(),
    error: null
  });
  const inflight = React.useRef(new Set<string>());
  const [, setTick] = React.useState(0);
  if (ref.current.key !== key) {
    ref.current = { key, generation, total: null, rows: new Map(), loadedAt: new Map(), error: null };
    inflight.current.clear();
  }
  ref.current.generation = generation;
  const firstPage = Math.floor(first / PAGE_SIZE);
  const lastPage = Math.floor(Math.max(first, last) / PAGE_SIZE);
  React.useEffect(() => {
    const pages = ref.current;
    for (let p = firstPage; p <= lastPage; p++) {
      if (pages.total !== null && p * PAGE_SIZE >= Math.max(pages.total, 1) && p > 0) {
        continue;
      }
      if (pages.loadedAt.get(p) === generation) {
        continue;
      }
      const tag = `${key}|${p}|${generation}`;
      if (inflight.current.has(tag)) {
        continue;
      }
      inflight.current.add(tag);
      listRunRows(
        {
          project: query.project,
          experiment: query.experiment || undefined,
          campaign: query.campaign || undefined,
          filter: query.filter || undefined,
          order_by: query.orderBy || undefined,
          limit: PAGE_SIZE,
          offset: p * PAGE_SIZE
        },
        model.settings
      ).then(
        answer => {
          inflight.current.delete(tag);
          if (ref.current.key !== key) {
            return;
          }
          ref.current.rows.set(p, answer.runs);
          ref.current.loadedAt.set(p, generation);
          ref.current.total = answer.total;
          ref.current.error = null;
          setTick(t => t + 1);
        },
        err => {
          inflight.current.delete(tag);
          if (ref.current.key !== key) {
            return;
          }
          ref.current.error = errorMessage(err);
          setTick(t => t + 1);
        }
      );
    }
  });
  return ref.current;
}

function rowAt(pages: Pages, index: number): RunRow | undefined {
  return pages.rows.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
}

function groupText(row: RunRow | undefined, col: Column | null): string {
  if (!row || !col) {
    return '';
  }
  const v = rawValue(row, col);
  return v === undefined || v === null ? '(none)' : cellText(row, col);
}

export interface RunsTableProps {
  model: TrackerModel;
  query: TableQuery;
  columns: Column[];
  pinned: Set<string>;
  groupBy: Column | null;
  sort: { id: string; desc: boolean } | null;
  onSort: (col: Column) => void;
  selected: Set<string>;
  onSelect: (ids: string[], on: boolean) => void;
  onOpenRun: (runId: string) => void;
  /** Told the total number of runs matched (null while unknown) and the load error. */
  onTotal: (total: number | null, error: string | null) => void;
}

export function RunsTable(props: RunsTableProps): JSX.Element {
  const { model, query, columns, pinned, groupBy, sort, selected } = props;
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(600);
  const lastClicked = React.useRef<number | null>(null);

  React.useEffect(() => {
    const el = scroller.current;
    if (!el) {
      return;
    }
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    setHeight(el.clientHeight || 600);
    return () => ro.disconnect();
  }, []);
  // a new query starts at the top
  const key = queryKey(query);
  React.useEffect(() => {
    if (scroller.current) {
      scroller.current.scrollTop = 0;
    }
    setScrollTop(0);
    lastClicked.current = null;
  }, [key]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const visibleCount = Math.ceil(height / ROW_HEIGHT) + 2 * OVERSCAN;
  const pages = useRunPages(model, query, first, first + visibleCount);
  const total = pages.total;
  const { onTotal } = props;
  React.useEffect(() => onTotal(total, pages.error), [total, pages.error, onTotal]);

  const count = total ?? 0;
  const last = Math.min(count, first + visibleCount);
  // widths: the select box, then each column (pinned ones stick to the left)
  const widths = columns.map(c =>
    c.kind !== 'attribute' ? 110 : c.key === 'name' ? 200 : c.key === 'start_time' ? 165 : 110
  );
  const left: number[] = [];
  let acc = 32 + (groupBy ? 140 : 0);
  for (let i = 0; i < columns.length; i++) {
    left.push(acc);
    acc += widths[i];
  }
  const fullWidth = acc;
  const stickyStyle = (i: number): React.CSSProperties =>
    pinned.has(columns[i].id) ? { position: 'sticky', left: left[i], zIndex: 1 } : {};

  const toggle = (index: number, row: RunRow, shift: boolean) => {
    const on = !selected.has(row.id);
    if (shift && lastClicked.current !== null) {
      const [a, b] = [Math.min(lastClicked.current, index), Math.max(lastClicked.current, index)];
      const ids: string[] = [];
      for (let i = a; i <= b; i++) {
        const r = rowAt(pages, i);
        if (r) {
          ids.push(r.id);
        }
      }
      props.onSelect(ids, on);
    } else {
      props.onSelect([row.id], on);
    }
    lastClicked.current = index;
  };

  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    const row = rowAt(pages, i);
    const group = groupBy ? groupText(row, groupBy) : '';
    const groupStart = !!groupBy && !!row && (i === 0 || groupText(rowAt(pages, i - 1), groupBy) !== group);
    rows.push(
      <div
        key={i}
        className={
          'jp-mltrack-explorer-row' +
          (row && selected.has(row.id) ? ' jp-mod-selected' : '') +
          (groupStart ? ' jp-mltrack-group-start' : '') +
          (row ? '' : ' jp-mltrack-row-loading')
        }
        role="row"
        aria-rowindex={i + 2}
        data-index={i}
        data-run-id={row?.id}
        style={{ top: (i + 1) * ROW_HEIGHT, height: ROW_HEIGHT, width: fullWidth }}
      >
        <div className="jp-mltrack-explorer-cell jp-mltrack-explorer-check" style={{ width: 32, position: 'sticky', left: 0, zIndex: 1 }}>
          {row && (
            <input
              type="checkbox"
              aria-label={`Select run ${row.name ?? row.id}`}
              checked={selected.has(row.id)}
              onChange={() => undefined}
              onClick={e => toggle(i, row, e.shiftKey)}
            />
          )}
        </div>
        {groupBy && (
          <div
            className="jp-mltrack-explorer-cell jp-mltrack-explorer-group"
            style={{ width: 140, position: 'sticky', left: 32, zIndex: 1 }}
            title={group}
          >
            {groupStart ? group : ''}
          </div>
        )}
        {columns.map((c, ci) => {
          const text = row ? cellText(row, c) : ci === 0 ? '…' : '';
          const isName = c.kind === 'attribute' && c.key === 'name';
          return (
            <div
              key={c.id}
              role="cell"
              className={
                'jp-mltrack-explorer-cell' +
                (c.kind === 'metric' ? ' jp-mltrack-num' : '') +
                (pinned.has(c.id) ? ' jp-mltrack-pinned' : '') +
                (c.kind === 'attribute' && c.key === 'status' ? ` jp-mltrack-status-${text}` : '')
              }
              data-col={c.id}
              title={text}
              style={{ width: widths[ci], ...stickyStyle(ci) }}
            >
              {isName && row ? (
                <a
                  href="#"
                  className="jp-mltrack-explorer-run-link"
                  onClick={e => {
                    e.preventDefault();
                    props.onOpenRun(row.id);
                  }}
                >
                  {text || row.id}
                </a>
              ) : (
                text
              )}
            </div>
          );
        })}
      </div>
    );
  }

  return (
    <div
      className="jp-mltrack-explorer-table"
      ref={scroller}
      role="table"
      aria-rowcount={count + 1}
      data-total={total ?? ''}
      onScroll={e => setScrollTop((e.target as HTMLDivElement).scrollTop)}
    >
      <div className="jp-mltrack-explorer-canvas" style={{ height: (count + 1) * ROW_HEIGHT, width: fullWidth }}>
        <div className="jp-mltrack-explorer-row jp-mltrack-explorer-head" role="row" style={{ top: 0, height: ROW_HEIGHT, width: fullWidth }}>
          <div className="jp-mltrack-explorer-cell jp-mltrack-explorer-check" style={{ width: 32, position: 'sticky', left: 0, zIndex: 3 }} />
          {groupBy && (
            <div
              className="jp-mltrack-explorer-cell jp-mltrack-explorer-group"
              style={{ width: 140, position: 'sticky', left: 32, zIndex: 3 }}
            >
              {groupBy.label}
            </div>
          )}
          {columns.map((c, ci) => {
            const sorted = sort && sort.id === c.id ? (sort.desc ? ' ▼' : ' ▲') : '';
            return (
              <div
                key={c.id}
                role="columnheader"
                className={
                  'jp-mltrack-explorer-cell jp-mltrack-explorer-colhead jp-mltrack-kind-' +
                  c.kind +
                  (pinned.has(c.id) ? ' jp-mltrack-pinned' : '') +
                  (c.sortable ? ' jp-mod-sortable' : '')
                }
                data-col={c.id}
                aria-sort={sort && sort.id === c.id ? (sort.desc ? 'descending' : 'ascending') : 'none'}
                title={c.sortable ? `${c.id} — click to sort` : c.id}
                style={{ width: widths[ci], ...stickyStyle(ci), ...(pinned.has(c.id) ? { zIndex: 3 } : {}) }}
                onClick={() => c.sortable && props.onSort(c)}
              >
                {c.label}
                {sorted}
              </div>
            );
          })}
        </div>
        {rows}
      </div>
    </div>
  );
}
