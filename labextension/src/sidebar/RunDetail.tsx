/** The run detail view: header, facts, error, and the params / metrics / tags / artifacts / children sections. */
import { Clipboard } from '@jupyterlab/apputils';
import { caretLeftIcon, copyIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { editRun, getRun, Run } from '../api';
import { RunFigures } from '../figures/RunFigures';
import { formatDuration, isoTime, localTime, relativeTime, runLabel } from '../format';
import { ErrorMessage, Loading, RememberedSection, StatusBadge } from './common';
import { ExportButton } from './compare';
import { EditableText, TagsEditor } from './edit';
import { useNow, useResource } from './hooks';
import { RunLineage, RunModelVersions } from './lifecycle';
import { TrackerModel } from './model';
import {
  ArtifactsList,
  ChildrenList,
  DetailActions,
  InputsList,
  MetricsTable,
  ParamsTable
} from './sections';

function CopyId(props: { id: string }): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const timer = window.setTimeout(() => setCopied(false), 1500);
    return () => window.clearTimeout(timer);
  }, [copied]);
  return (
    <span className="jp-mltrack-run-id">
      <code title="Run id">{props.id}</code>
      <button
        className="jp-mltrack-icon-button jp-mltrack-copy-id"
        title="Copy the run id"
        aria-label="Copy the run id"
        onClick={() => {
          Clipboard.copyToSystem(props.id);
          setCopied(true);
        }}
      >
        <copyIcon.react tag="span" />
      </button>
      {copied && <span className="jp-mltrack-muted">copied</span>}
    </span>
  );
}

function RunLink(props: { model: TrackerModel; id: string }): JSX.Element {
  return (
    <button className="jp-mltrack-link-button" onClick={() => props.model.openRun(props.id)}>
      {props.id}
    </button>
  );
}

function Facts(props: { model: TrackerModel; run: Run; now: number }): JSX.Element {
  const { model, run, now } = props;
  const end = run.end_time;
  const duration = (end ?? now / 1000) - run.start_time;
  const rows: [string, React.ReactNode][] = [
    ['Project', run.project],
    ['Experiments', run.experiments.length ? run.experiments.join(', ') : '–']
  ];
  if (run.campaigns && run.campaigns.length) {
    rows.push(['Campaigns', run.campaigns.join(', ')]);
  }
  rows.push(['User', run.user || '–'], ['Source', run.source || '–']);
  rows.push([
    'Started',
    <span title={isoTime(run.start_time)}>
      {localTime(run.start_time)} <span className="jp-mltrack-muted">({relativeTime(run.start_time, now)})</span>
    </span>
  ]);
  rows.push(['Ended', end === null ? '–' : <span title={isoTime(end)}>{localTime(end)}</span>]);
  rows.push(['Duration', formatDuration(duration) + (end === null && run.status === 'running' ? ' so far' : '')]);
  if (run.status === 'running' && run.heartbeat_at) {
    rows.push(['Heartbeat', <span title={isoTime(run.heartbeat_at)}>{relativeTime(run.heartbeat_at, now)}</span>]);
  }
  if (run.parent_id) {
    rows.push(['Parent', <RunLink model={model} id={run.parent_id} />]);
  }
  return (
    <table className="jp-mltrack-table jp-mltrack-facts">
      <tbody>
        {rows.map(([label, value]) => (
          <tr key={label} data-fact={label.toLowerCase()}>
            <th scope="row">{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Export this run's report; mark it for comparison, or diff it with the one other marked run. */
function DetailToolbar(props: { model: TrackerModel; run: Run; actions: DetailActions }): JSX.Element {
  const { model, run, actions } = props;
  const marked = model.isMarked(run.id);
  const others = model.marked.filter(r => r.id !== run.id);
  return (
    <div className="jp-mltrack-detail-toolbar">
      <ExportButton
        model={model}
        runIds={[run.id]}
        className="jp-mltrack-export"
        label="Export report"
        title="Download a standalone HTML report of this run (charts, params, environment, notebook snapshot)"
      />
      <label
        className="jp-mltrack-compare-toggle"
        title="Mark this run for comparison; the bar above lists the marked runs"
      >
        <input
          type="checkbox"
          className="jp-mltrack-compare-check"
          checked={marked}
          onChange={e => model.setMarked(run, e.target.checked)}
        />
        Compare
      </label>
      {others.length === 1 && (
        <button
          className="jp-mltrack-button jp-mltrack-diff-with"
          title={`Compare ${runLabel(others[0])} (A) with this run (B)`}
          onClick={() => actions.diffRuns(others[0].id, run.id)}
        >
          Diff with {runLabel(others[0])}
        </button>
      )}
    </div>
  );
}

function DetailBody(props: { model: TrackerModel; run: Run; actions: DetailActions }): JSX.Element {
  const { model, run, actions } = props;
  const now = useNow(5000);
  const params = run.params ?? {};
  const tags = run.tags ?? {};
  return (
    <>
      <header className="jp-mltrack-detail-header">
        <div className="jp-mltrack-detail-title">
          <StatusBadge status={run.status} />
          <h2 title={runLabel(run)}>{runLabel(run)}</h2>
        </div>
        <CopyId id={run.id} />
        <EditableText
          className="jp-mltrack-description jp-mltrack-run-description"
          value={run.description ?? ''}
          what="run's description"
          placeholder="No description: what is this run testing?"
          onSave={async description => {
            await editRun(run.id, { description }, model.settings);
            await model.refresh();
          }}
        />
        <DetailToolbar model={model} run={run} actions={actions} />
      </header>
      <Facts model={model} run={run} now={now} />
      {run.error && (
        <div className="jp-mltrack-run-error" data-status={run.status}>
          <div className="jp-mltrack-error-title">Error</div>
          <pre>{run.error}</pre>
        </div>
      )}
      <RememberedSection model={model} scope="section" name="params" title="Params" count={Object.keys(params).length}>
        <ParamsTable params={params} />
      </RememberedSection>
      <RememberedSection model={model} scope="section" name="metrics" title="Metrics" count={run.metrics.length}>
        <MetricsTable metrics={run.metrics} />
      </RememberedSection>
      <RememberedSection model={model} scope="section" name="tags" title="Tags" count={Object.keys(tags).length}>
        <TagsEditor
          tags={tags}
          onSave={async changes => {
            await editRun(run.id, { tags: changes }, model.settings);
            await model.refresh();
          }}
        />
      </RememberedSection>
      <RunFigures model={model} runId={run.id} />
      <RememberedSection model={model} scope="section" name="artifacts" title="Artifacts" count={run.artifacts.length}>
        <ArtifactsList model={model} run={run} actions={actions} />
      </RememberedSection>
      {run.inputs && run.inputs.length > 0 && (
        <RememberedSection model={model} scope="section" name="inputs" title="Inputs" count={run.inputs.length}>
          <InputsList model={model} run={run} />
        </RememberedSection>
      )}
      <RunModelVersions model={model} run={run} actions={actions} />
      <RememberedSection model={model} scope="section" name="lineage" title="Lineage">
        <RunLineage model={model} run={run} actions={actions} />
      </RememberedSection>
      {run.children.length > 0 && (
        <RememberedSection
          model={model}
          scope="section"
          name="children"
          title="Child runs"
          count={run.children.length}
        >
          <ChildrenList model={model} run={run} />
        </RememberedSection>
      )}
    </>
  );
}

export function RunDetail(props: { model: TrackerModel; runId: string; actions: DetailActions }): JSX.Element {
  const { model, runId, actions } = props;
  const res = useResource(model, `run:${runId}`, () => getRun(runId, model.settings));
  return (
    <div className="jp-mltrack-run-detail" data-run-id={runId}>
      <div className="jp-mltrack-detail-nav">
        <button className="jp-mltrack-button jp-mltrack-back" onClick={() => model.back()} title="Back">
          <caretLeftIcon.react tag="span" className="jp-mltrack-button-icon" />
          {model.canGoBackToRun ? 'Back' : 'All runs'}
        </button>
        {model.canGoBackToRun && (
          <button className="jp-mltrack-link-button" onClick={() => model.closeRun()}>
            All runs
          </button>
        )}
      </div>
      {res.data ? (
        <>
          {res.error && <ErrorMessage message={res.error} />}
          <DetailBody model={model} run={res.data} actions={actions} />
        </>
      ) : res.error ? (
        <ErrorMessage title={`Cannot load run ${runId}`} message={res.error} onRetry={() => void model.refresh()} />
      ) : (
        <Loading what="the run" />
      )}
    </div>
  );
}
