/** Comparing and exporting runs: the bar of the runs marked for comparison, and the "Export report" buttons. */
import { closeIcon, downloadIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage } from '../api';
import { downloadReport } from '../download';
import { runLabel } from '../format';
import { ErrorMessage } from './common';
import { TrackerModel } from './model';
import { DetailActions } from './sections';

/** A button fetching the report of `runIds` and saving it; shows its progress and the server's error. */
export function ExportButton(props: {
  model: TrackerModel;
  runIds: string[];
  className: string;
  label: string;
  title: string;
}): JSX.Element {
  const { model, runIds } = props;
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const mounted = React.useRef(true);
  React.useEffect(
    () => () => {
      mounted.current = false;
    },
    []
  );
  const key = runIds.join(',');
  React.useEffect(() => setError(null), [key]);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await downloadReport(runIds, model.settings);
    } catch (err) {
      if (mounted.current) {
        setError(errorMessage(err));
      }
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
    }
  };
  return (
    <>
      <button
        className={'jp-mltrack-button ' + props.className}
        disabled={busy || runIds.length === 0}
        aria-busy={busy}
        title={props.title}
        onClick={() => void run()}
      >
        <downloadIcon.react tag="span" className="jp-mltrack-button-icon" />
        {busy ? 'Exporting…' : props.label}
      </button>
      {error && (
        <div className="jp-mltrack-export-error">
          <ErrorMessage title="Cannot export the report" message={error} onRetry={() => void run()} />
        </div>
      )}
    </>
  );
}

/** Shown while runs are marked: which ones, Diff (exactly two), Export, Clear. */
export function CompareBar(props: { model: TrackerModel; actions: DetailActions }): JSX.Element | null {
  const { model, actions } = props;
  const marked = model.marked;
  if (marked.length === 0) {
    return null;
  }
  const ids = marked.map(r => r.id);
  const names = marked.map(r => runLabel(r));
  const canDiff = marked.length === 2;
  return (
    <div className="jp-mltrack-compare-bar" role="toolbar" aria-label="Runs marked for comparison">
      <div className="jp-mltrack-compare-summary" title={names.join('\n')}>
        <span className="jp-mltrack-compare-count">{marked.length}</span>
        <span className="jp-mltrack-compare-names">
          {marked.length <= 2 ? names.join(' ↔ ') : `${names.slice(0, 2).join(', ')} +${marked.length - 2}`}
        </span>
        <button
          className="jp-mltrack-icon-button jp-mltrack-compare-clear"
          title="Unmark all runs"
          aria-label="Unmark all runs"
          onClick={() => model.clearMarked()}
        >
          <closeIcon.react tag="span" className="jp-mltrack-button-icon" />
        </button>
      </div>
      <div className="jp-mltrack-compare-actions">
        <button
          className="jp-mltrack-button jp-mltrack-diff-button"
          disabled={!canDiff}
          title={
            canDiff
              ? `Compare ${names[0]} (A) with ${names[1]} (B): params, metrics, tags, notebook cells`
              : marked.length < 2
                ? 'Mark one more run to compare two runs'
                : 'Mark exactly two runs to compare them'
          }
          onClick={() => canDiff && actions.diffRuns(ids[0], ids[1])}
        >
          Diff
        </button>
        <ExportButton
          model={model}
          runIds={ids}
          className="jp-mltrack-export-selected"
          label={marked.length === 1 ? 'Export 1 run' : `Export ${marked.length} runs`}
          title="Download an HTML report of the marked runs (comparison, charts, params, notebook snapshots)"
        />
        {marked.length === 1 && <span className="jp-mltrack-muted">mark one more to diff</span>}
      </div>
    </div>
  );
}
