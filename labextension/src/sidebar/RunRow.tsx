/** One run in a runs list: status, name, user, start time, latest metrics. */
import * as React from 'react';

import { RunSummary } from '../api';
import { formatMetric, isoTime, latestMetrics, relativeTime, runLabel } from '../format';
import { onActivateKey, StatusBadge } from './common';

/** How many metrics a run row shows. */
const ROW_METRICS = 3;

export function RunRow(props: {
  run: RunSummary;
  now: number;
  selected: boolean;
  onOpen: (runId: string) => void;
  /** Whether the run is marked for comparison; with `onMark`, the row shows a checkbox. */
  marked?: boolean;
  onMark?: (run: RunSummary, marked: boolean) => void;
}): JSX.Element {
  const { run, now, selected, onOpen, onMark } = props;
  const marked = !!props.marked;
  const metrics = latestMetrics(run.metrics ?? [], ROW_METRICS);
  const label = runLabel(run);
  const open = () => onOpen(run.id);
  return (
    <div
      className={
        'jp-mltrack-run' +
        (selected ? ' jp-mod-selected' : '') +
        (onMark ? ' jp-mltrack-run-markable' : '') +
        (marked ? ' jp-mod-marked' : '')
      }
      data-run-id={run.id}
      role="button"
      tabIndex={0}
      aria-label={`Run ${label}, ${run.status}`}
      onClick={open}
      onKeyDown={onActivateKey(open)}
    >
      {onMark && (
        <input
          type="checkbox"
          className="jp-mltrack-compare-check"
          checked={marked}
          title={marked ? 'Marked for comparison: click to unmark' : 'Mark for comparison (diff, report)'}
          aria-label={`Mark ${label} for comparison`}
          // the row opens the run on click / Enter / Space: keep the checkbox's own events to itself
          onClick={e => e.stopPropagation()}
          onKeyDown={e => e.stopPropagation()}
          onChange={e => onMark(run, e.target.checked)}
        />
      )}
      <div className="jp-mltrack-run-line">
        <StatusBadge status={run.status} />
        <span className="jp-mltrack-run-name" title={run.name ? `${run.name} (${run.id})` : run.id}>
          {label}
        </span>
        {run.user && (
          <span className="jp-mltrack-run-user" data-user={run.user} title={`Logged by ${run.user}`}>
            {run.user}
          </span>
        )}
        <span className="jp-mltrack-run-time" title={isoTime(run.start_time)}>
          {relativeTime(run.start_time, now)}
        </span>
      </div>
      {metrics.length > 0 && (
        <div className="jp-mltrack-run-metrics">
          {metrics.map(m => (
            <span key={m.key} className="jp-mltrack-run-metric" data-key={m.key} title={`${m.key} = ${m.last}`}>
              <span className="jp-mltrack-run-metric-key">{m.key}</span>=
              <span className="jp-mltrack-run-metric-value">{formatMetric(m.last)}</span>
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
