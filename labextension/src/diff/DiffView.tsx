/**
 * The comparison of two runs (A, B): what differs in params, last metric values and tags, then their tracked
 * cells (source, `%%track_run` line included, and outputs, as line diffs), then their notebook snapshots cell by
 * cell (changed cells as line diffs, unchanged cells folded away).
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  CellDiff,
  getRun,
  getRunDiff,
  JsonValue,
  MetricValue,
  NotebookDiff,
  Run,
  RunDiff,
  TrackedCellDiff,
  ValuePair
} from '../api';
import { formatMetric, formatValue, isoTime, localTime, runLabel } from '../format';
import { EmptyMessage, ErrorMessage, Loading, RememberedSection, StatusBadge } from '../sidebar/common';
import { ExportButton } from '../sidebar/compare';
import { Resource, useResource, useSignal } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import { cellHunks, DiffLine, Hunk, parseUnifiedDiff, wholeSource } from './lineDiff';

/** What the diff view needs from the application. */
export interface DiffActions {
  /** Show a run in the sidebar. */
  openRun: (runId: string) => void;
  /** Compare the other way round. */
  swap: () => void;
}

type Side = 'a' | 'b';

function sortedKeys(obj: { [key: string]: unknown }): string[] {
  return Object.keys(obj).sort((x, y) => x.localeCompare(y));
}

/** "2 modified, 1 added, 0 removed, 5 unchanged; outputs changed in 1". */
export function summaryLine(nb: NotebookDiff): string {
  const s = nb.summary;
  return (
    `${s.modified} modified, ${s.added} added, ${s.removed} removed, ${s.unchanged} unchanged; ` +
    `outputs changed in ${nb.outputs_changed}`
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---- header ---------------------------------------------------------------------------------------------------

function RunCard(props: { side: Side; runId: string; res: Resource<Run>; actions: DiffActions }): JSX.Element {
  const { side, runId, res, actions } = props;
  const run = res.data;
  return (
    <div className="jp-mltrack-diff-run" data-side={side} data-run-id={runId}>
      <span
        className="jp-mltrack-diff-side"
        data-side={side}
        title={side === 'a' ? 'Run A: its lines show as removed' : 'Run B: its lines show as added'}
      >
        {side.toUpperCase()}
      </span>
      <div className="jp-mltrack-diff-run-text">
        <div className="jp-mltrack-diff-run-line">
          {run && <StatusBadge status={run.status} />}
          <button
            className="jp-mltrack-link-button jp-mltrack-diff-run-name"
            title={`Show run ${runId} in the sidebar`}
            onClick={() => actions.openRun(runId)}
          >
            {run ? runLabel(run) : runId}
          </button>
        </div>
        <div className="jp-mltrack-diff-run-meta">
          <code>{runId}</code>
          {run && (
            <span title={isoTime(run.start_time)}>
              {' · '}
              {run.project}
              {run.experiments.length ? ' / ' + run.experiments.join(', ') : ''}
              {' · '}
              {localTime(run.start_time)}
            </span>
          )}
          {res.error && !run && <span className="jp-mltrack-diff-run-error"> · {res.error}</span>}
        </div>
      </div>
    </div>
  );
}

// ---- value tables ---------------------------------------------------------------------------------------------

function Missing(props: { side: Side }): JSX.Element {
  return (
    <span className="jp-mltrack-diff-missing" title={`Not set in run ${props.side.toUpperCase()}`}>
      —
    </span>
  );
}

function ValueCell(props: { side: Side; text: string | null }): JSX.Element {
  return (
    <td data-col={props.side} title={props.text ?? undefined}>
      {props.text === null ? <Missing side={props.side} /> : props.text}
    </td>
  );
}

/** One key of a PairTable: its text in A and B (null: not set there), for metrics the change B − A. */
interface PairRow {
  key: string;
  a: string | null;
  b: string | null;
  delta?: string;
  deltaTitle?: string;
}

function PairTable(props: {
  kind: 'param' | 'metric' | 'tag';
  rows: PairRow[];
  labels: { a: string; b: string };
}): JSX.Element {
  const { kind, rows, labels } = props;
  const withDelta = kind === 'metric';
  const attr = `data-${kind}-key`;
  return (
    <table className={`jp-mltrack-table jp-mltrack-diff-table jp-mltrack-diff-${kind}s`}>
      <thead>
        <tr>
          <th>{kind}</th>
          <th data-col="a" title={labels.a}>
            <span className="jp-mltrack-diff-side" data-side="a">
              A
            </span>
            <span className="jp-mltrack-diff-col-name">{labels.a}</span>
          </th>
          <th data-col="b" title={labels.b}>
            <span className="jp-mltrack-diff-side" data-side="b">
              B
            </span>
            <span className="jp-mltrack-diff-col-name">{labels.b}</span>
          </th>
          {withDelta && <th data-col="delta" title="B − A">Δ</th>}
        </tr>
      </thead>
      <tbody>
        {rows.map(row => (
          <tr key={row.key} {...{ [attr]: row.key }}>
            <th scope="row" title={row.key}>
              {row.key}
            </th>
            <ValueCell side="a" text={row.a} />
            <ValueCell side="b" text={row.b} />
            {withDelta && (
              <td data-col="delta" title={row.deltaTitle}>
                {row.delta ?? ''}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function jsonText(v: JsonValue | null): string | null {
  return v === null ? null : formatValue(v);
}

function metricText(v: MetricValue | null): string | null {
  return v === null ? null : formatMetric(v);
}

function delta(pair: ValuePair<MetricValue>): { delta?: string; deltaTitle?: string } {
  const { a, b } = pair;
  if (typeof a !== 'number' || typeof b !== 'number') {
    return {};
  }
  const d = b - a;
  const text = (d > 0 ? '+' : '') + formatMetric(d);
  const pct = a !== 0 ? ` (${d > 0 ? '+' : ''}${((d / Math.abs(a)) * 100).toFixed(1)}%)` : '';
  return { delta: text, deltaTitle: `B − A = ${d}${pct}` };
}

// ---- notebook cells -------------------------------------------------------------------------------------------

function CodeLine(props: { line: DiffLine }): JSX.Element {
  const { line } = props;
  const sign = line.kind === 'add' ? '+' : line.kind === 'del' ? '-' : ' ';
  return (
    <div className={`jp-mltrack-diff-line jp-mltrack-diff-${line.kind}`}>
      <span className="jp-mltrack-diff-ln" data-side="a">
        {line.oldNo ?? ''}
      </span>
      <span className="jp-mltrack-diff-ln" data-side="b">
        {line.newNo ?? ''}
      </span>
      <span className="jp-mltrack-diff-sign" aria-hidden="true">
        {sign}
      </span>
      <span className="jp-mltrack-diff-text">{line.text === '' ? '\u200b' : line.text}</span>
    </div>
  );
}

function Code(props: { hunks: Hunk[]; showHeaders: boolean }): JSX.Element {
  return (
    <div className="jp-mltrack-diff-code">
      {props.hunks.map((h, i) => (
        <React.Fragment key={i}>
          {props.showHeaders && (
            <div className="jp-mltrack-diff-line jp-mltrack-diff-hunk">
              <span className="jp-mltrack-diff-hunk-text">{h.header}</span>
            </div>
          )}
          {h.lines.map((line, j) => (
            <CodeLine key={j} line={line} />
          ))}
        </React.Fragment>
      ))}
    </div>
  );
}

function cellPosition(cell: CellDiff): string {
  if (cell.a === null) {
    return `cell ${(cell.b ?? 0) + 1} in B`;
  }
  if (cell.b === null) {
    return `cell ${cell.a + 1} in A`;
  }
  return cell.a === cell.b ? `cell ${cell.a + 1}` : `cell ${cell.a + 1} → ${cell.b + 1}`;
}

const CHANGE_LABELS: { [change: string]: string } = {
  modified: 'modified',
  added: 'added in B',
  removed: 'removed in B',
  unchanged: 'unchanged'
};

function CellView(props: { cell: CellDiff }): JSX.Element {
  const { cell } = props;
  let body: React.ReactNode;
  if (cell.change === 'added') {
    body = <Code hunks={[{ header: '', lines: wholeSource(cell.source_b ?? '', 'add') }]} showHeaders={false} />;
  } else if (cell.change === 'removed') {
    body = <Code hunks={[{ header: '', lines: wholeSource(cell.source_a ?? '', 'del') }]} showHeaders={false} />;
  } else if (cell.change === 'unchanged') {
    body = <Code hunks={[{ header: '', lines: wholeSource(cell.source_b ?? cell.source_a ?? '', 'ctx') }]} showHeaders={false} />;
  } else {
    const hunks = cellHunks(cell.source_a, cell.source_b, cell.source_diff);
    body =
      hunks.length > 0 ? (
        <Code hunks={hunks} showHeaders={hunks.length > 1} />
      ) : (
        <>
          <div className="jp-mltrack-diff-note">Same source; the outputs differ.</div>
          <Code
            hunks={[{ header: '', lines: wholeSource(cell.source_b ?? cell.source_a ?? '', 'ctx') }]}
            showHeaders={false}
          />
        </>
      );
  }
  const empty = (cell.source_a ?? '') === '' && (cell.source_b ?? '') === '';
  return (
    <div
      className="jp-mltrack-diff-cell"
      data-change={cell.change}
      data-cell-a={cell.a ?? undefined}
      data-cell-b={cell.b ?? undefined}
    >
      <div className="jp-mltrack-diff-cell-head">
        <span className="jp-mltrack-diff-change" data-change={cell.change}>
          {CHANGE_LABELS[cell.change] ?? cell.change}
        </span>
        <span className="jp-mltrack-diff-cell-pos">{cellPosition(cell)}</span>
        <span className="jp-mltrack-chip">{cell.cell_type}</span>
        {cell.outputs_changed && (
          <span className="jp-mltrack-chip jp-mltrack-diff-outputs" title="The cell's outputs differ between A and B">
            outputs changed
          </span>
        )}
      </div>
      {empty ? <div className="jp-mltrack-diff-note">Empty cell.</div> : body}
    </div>
  );
}

/** A run of consecutive unchanged cells, folded unless opened. */
function UnchangedGroup(props: { cells: CellDiff[]; open: boolean; onToggle: () => void }): JSX.Element {
  const { cells, open, onToggle } = props;
  const label = plural(cells.length, 'unchanged cell');
  return (
    <div className="jp-mltrack-diff-gap-group" data-count={cells.length}>
      <button
        className="jp-mltrack-diff-gap"
        aria-expanded={open}
        title={open ? 'Fold these cells' : 'Show these cells'}
        onClick={onToggle}
      >
        {open ? `Hide ${label}` : `⋯ ${label}`}
      </button>
      {open && cells.map((c, i) => <CellView key={i} cell={c} />)}
    </div>
  );
}

type CellGroup = { kind: 'changed'; cell: CellDiff } | { kind: 'unchanged'; cells: CellDiff[]; id: number };

function groupCells(cells: CellDiff[]): CellGroup[] {
  const groups: CellGroup[] = [];
  for (const cell of cells) {
    const last = groups[groups.length - 1];
    if (cell.change !== 'unchanged') {
      groups.push({ kind: 'changed', cell });
    } else if (last && last.kind === 'unchanged') {
      last.cells.push(cell);
    } else {
      groups.push({ kind: 'unchanged', cells: [cell], id: groups.length });
    }
  }
  return groups;
}

function snapshotLabel(ref: { path: string; label: string }): string {
  return ref.label ? `${ref.path} (${ref.label})` : ref.path;
}

function NotebookSection(props: { diff: RunDiff }): JSX.Element {
  const nb = props.diff.notebook;
  const [showAll, setShowAll] = React.useState(false);
  const [opened, setOpened] = React.useState<ReadonlySet<number>>(new Set());
  if (nb === null) {
    return (
      <EmptyMessage className="jp-mltrack-diff-notebook-note">
        {props.diff.notebook_note || 'No notebook snapshots to compare.'}
      </EmptyMessage>
    );
  }
  const groups = groupCells(nb.cells);
  const unchanged = nb.summary.unchanged;
  const changed = nb.cells.length - unchanged;
  const toggleGroup = (id: number) => {
    const next = new Set(opened);
    if (next.has(id)) {
      next.delete(id);
    } else {
      next.add(id);
    }
    setOpened(next);
  };
  const toggleAll = () => {
    setShowAll(!showAll);
    setOpened(new Set());
  };
  return (
    <div className="jp-mltrack-diff-notebook">
      <div className="jp-mltrack-diff-files">
        <span>
          <span className="jp-mltrack-diff-side" data-side="a">
            A
          </span>{' '}
          <code>{snapshotLabel(nb.a)}</code>
        </span>
        <span>
          <span className="jp-mltrack-diff-side" data-side="b">
            B
          </span>{' '}
          <code>{snapshotLabel(nb.b)}</code>
        </span>
      </div>
      <div className="jp-mltrack-diff-summary-bar">
        <span className="jp-mltrack-diff-summary">{summaryLine(nb)}</span>
        {unchanged > 0 && (
          <button
            className="jp-mltrack-link-button jp-mltrack-diff-toggle-unchanged"
            aria-expanded={showAll}
            onClick={toggleAll}
          >
            {showAll ? `Hide ${plural(unchanged, 'unchanged cell')}` : `Show ${plural(unchanged, 'unchanged cell')}`}
          </button>
        )}
      </div>
      {changed === 0 && (
        <EmptyMessage>
          {nb.cells.length === 0 ? 'Both snapshots are empty.' : 'The two snapshots have the same cells.'}
        </EmptyMessage>
      )}
      <div className="jp-mltrack-diff-cells">
        {groups.map((g, i) =>
          g.kind === 'changed' ? (
            <CellView key={i} cell={g.cell} />
          ) : (
            <UnchangedGroup
              key={i}
              cells={g.cells}
              open={showAll !== opened.has(g.id)}
              onToggle={() => toggleGroup(g.id)}
            />
          )
        )}
      </div>
    </div>
  );
}

// ---- the tracked cells ----------------------------------------------------------------------------------------

/** How many of the tracked cells' two parts (source, outputs) differ. */
export function trackedCellChanges(cell: TrackedCellDiff | null): number {
  return cell ? (cell.source_diff ? 1 : 0) + (cell.outputs_known && cell.outputs_changed ? 1 : 0) : 0;
}

/** The two runs' tracked cells, compared first: their sources (the `%%track_run` line included, so a change made
 * only in `--param` shows) and their outputs, each as a line diff or said to be the same. */
function TrackedCellSection(props: { cell: TrackedCellDiff | null }): JSX.Element {
  const { cell } = props;
  if (!cell) {
    return (
      <EmptyMessage className="jp-mltrack-diff-cell-note">
        No tracked cell to compare: a run not started by a <code>%%track_run</code> cell has none.
      </EmptyMessage>
    );
  }
  const outputs = !cell.outputs_known
    ? 'Outputs not compared: a snapshot holds the cell\'s source only.'
    : cell.outputs_changed
      ? null
      : 'Same outputs in both runs.';
  return (
    <div className="jp-mltrack-diff-tracked">
      <div className="jp-mltrack-diff-tracked-part" data-part="source" data-changed={String(!!cell.source_diff)}>
        <div className="jp-mltrack-diff-tracked-title">Source</div>
        {cell.source_diff ? (
          <Code hunks={parseUnifiedDiff(cell.source_diff)} showHeaders={false} />
        ) : (
          <EmptyMessage>Same source in both runs.</EmptyMessage>
        )}
      </div>
      <div
        className="jp-mltrack-diff-tracked-part"
        data-part="outputs"
        data-changed={String(cell.outputs_known && cell.outputs_changed)}
      >
        <div className="jp-mltrack-diff-tracked-title">Outputs</div>
        {outputs === null ? (
          <Code hunks={parseUnifiedDiff(cell.outputs_diff)} showHeaders={false} />
        ) : (
          <EmptyMessage>{outputs}</EmptyMessage>
        )}
      </div>
    </div>
  );
}

// ---- the view -------------------------------------------------------------------------------------------------

/** The params, metrics or tags that differ (the section is named `params`, `metrics`, `tags`); `children` says
 * that none do. */
function PairSection(props: {
  model: TrackerModel;
  kind: 'param' | 'metric' | 'tag';
  title: string;
  rows: PairRow[];
  labels: { a: string; b: string };
  children: React.ReactNode;
}): JSX.Element {
  const { model, kind, rows } = props;
  return (
    <RememberedSection model={model} scope="diff-section" name={`${kind}s`} title={props.title} count={rows.length}>
      {rows.length ? (
        <PairTable kind={kind} rows={rows} labels={props.labels} />
      ) : (
        <EmptyMessage>{props.children}</EmptyMessage>
      )}
    </RememberedSection>
  );
}

function DiffBody(props: { model: TrackerModel; diff: RunDiff; labels: { a: string; b: string } }): JSX.Element {
  const { model, diff, labels } = props;
  const params = sortedKeys(diff.params).map(key => ({
    key,
    a: jsonText(diff.params[key].a),
    b: jsonText(diff.params[key].b)
  }));
  const metrics = sortedKeys(diff.metrics).map(key => ({
    key,
    a: metricText(diff.metrics[key].a),
    b: metricText(diff.metrics[key].b),
    ...delta(diff.metrics[key])
  }));
  const tags = sortedKeys(diff.tags).map(key => ({ key, a: diff.tags[key].a, b: diff.tags[key].b }));
  const nb = diff.notebook;
  const nbCount = nb ? nb.cells.length - nb.summary.unchanged : undefined;
  return (
    <>
      <PairSection model={model} kind="param" title="Params that differ" rows={params} labels={labels}>
        Same params in both runs.
      </PairSection>
      <PairSection model={model} kind="metric" title="Metrics that differ (last values)" rows={metrics} labels={labels}>
        Same last metric values in both runs.
      </PairSection>
      <PairSection model={model} kind="tag" title="Tags that differ" rows={tags} labels={labels}>
        Same tags in both runs.
      </PairSection>
      <RememberedSection
        model={model}
        scope="diff-section"
        name="cell"
        title="Tracked cell"
        count={diff.cell ? trackedCellChanges(diff.cell) : undefined}
      >
        <TrackedCellSection cell={diff.cell} />
      </RememberedSection>
      <RememberedSection model={model} scope="diff-section" name="notebook" title="Notebook" count={nbCount}>
        <NotebookSection diff={diff} />
      </RememberedSection>
    </>
  );
}

export function DiffView(props: {
  model: TrackerModel;
  a: string;
  b: string;
  actions: DiffActions;
  /** Told the runs' display names once they are known (the tab title). */
  onLabels?: (labels: { a: string; b: string }) => void;
}): JSX.Element {
  const { model, a, b, actions, onLabels } = props;
  useSignal(model.uiChanged);
  const res = useResource<RunDiff>(model, `diff:${a}:${b}`, () => getRunDiff(a, b, model.settings));
  const resA = useResource<Run>(model, `run:${a}`, () => getRun(a, model.settings));
  const resB = useResource<Run>(model, `run:${b}`, () => getRun(b, model.settings));
  const labels = { a: resA.data ? runLabel(resA.data) : a, b: resB.data ? runLabel(resB.data) : b };
  React.useEffect(() => {
    onLabels?.(labels);
  }, [labels.a, labels.b, onLabels]);
  return (
    <div className="jp-mltrack-diff" data-run-a={a} data-run-b={b}>
      <header className="jp-mltrack-diff-header">
        <div className="jp-mltrack-diff-runs">
          <RunCard side="a" runId={a} res={resA} actions={actions} />
          <RunCard side="b" runId={b} res={resB} actions={actions} />
        </div>
        <div className="jp-mltrack-diff-toolbar">
          <button
            className="jp-mltrack-button jp-mltrack-diff-swap"
            title="Compare the other way round (B becomes A)"
            onClick={actions.swap}
          >
            Swap A ↔ B
          </button>
          <ExportButton
            model={model}
            runIds={[a, b]}
            className="jp-mltrack-diff-export"
            label="Export report"
            title="Download an HTML report comparing both runs"
          />
          <button
            className="jp-mltrack-icon-button jp-mltrack-diff-refresh"
            title="Reload"
            aria-label="Reload"
            onClick={() => void model.refresh()}
          >
            <refreshIcon.react tag="span" />
          </button>
        </div>
      </header>
      <div className="jp-mltrack-diff-body">
        {res.data ? (
          <>
            {res.error && <ErrorMessage message={res.error} />}
            <DiffBody key={`${a}:${b}`} model={model} diff={res.data} labels={labels} />
          </>
        ) : res.error ? (
          <ErrorMessage
            title={`Cannot compare runs ${a} and ${b}`}
            message={res.error}
            onRetry={() => void model.refresh()}
          />
        ) : (
          <Loading what="the comparison" />
        )}
      </div>
    </div>
  );
}
