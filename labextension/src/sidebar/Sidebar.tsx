/** The whole panel: header (title, the signed-in user in team mode, refresh), runs filter, connection state, then the tree, a run's details or a team page. */
import { launchIcon, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, listRuns } from '../api';
import { EmptyMessage, ErrorMessage, Loading } from './common';
import { CompareBar } from './compare';
import { useSignal } from './hooks';
import { TrackerModel } from './model';
import { RunDetail } from './RunDetail';
import { DetailActions } from './sections';
import { TeamPageView, UserBadge } from './team';
import { ProjectTree } from './Tree';

/** The runs filter: checked against the server once (one clear error here, not one per list), then applied. */
function FilterBox(props: { model: TrackerModel }): JSX.Element {
  const { model } = props;
  const [text, setText] = React.useState(model.filter);
  const [error, setError] = React.useState<string | null>(null);
  const apply = async (value: string) => {
    const filter = value.trim();
    if (filter === model.filter) {
      setError(null);
      return;
    }
    if (filter) {
      try {
        await listRuns({ filter, limit: 0 }, model.settings);
      } catch (err) {
        setError(errorMessage(err));
        return;
      }
    }
    setError(null);
    model.setFilter(filter);
  };
  return (
    <form
      className="jp-mltrack-filter"
      onSubmit={e => {
        e.preventDefault();
        void apply(text);
      }}
    >
      <input
        className={'jp-mltrack-filter-input' + (error ? ' jp-mod-error' : '')}
        type="search"
        value={text}
        placeholder="Filter: metrics.acc > 0.9"
        title="Search language: metrics.acc > 0.5 and params.optimizer = 'adam', status = 'failed', name like 'rf-%'. Enter applies."
        aria-label="Filter runs"
        aria-invalid={error !== null}
        spellCheck={false}
        onChange={e => {
          setText(e.target.value);
          if (e.target.value === '') {
            void apply('');
          }
        }}
        onBlur={() => void apply(text)}
      />
      {error && <div className="jp-mltrack-filter-error">{error}</div>}
    </form>
  );
}

export function SidebarApp(props: { model: TrackerModel; actions: DetailActions }): JSX.Element {
  const { model, actions } = props;
  useSignal(model.uiChanged);
  useSignal(model.dataChanged);
  const runId = model.currentRunId;
  const page = model.teamMode ? model.page : null;

  let body: React.ReactNode;
  if (!model.ready) {
    body = <Loading what="" />;
  } else if (model.status === null) {
    body = (
      <ErrorMessage
        title="Cannot reach the experiment tracking server"
        message={model.statusError ?? 'unknown error'}
        onRetry={() => void model.refresh()}
      />
    );
  } else if (page !== null) {
    body = <TeamPageView model={model} />;
  } else if (runId !== null) {
    body = <RunDetail model={model} runId={runId} actions={actions} />;
  } else {
    body = <ProjectTree model={model} />;
  }

  return (
    <div className="jp-mltrack-panel">
      <div className="jp-mltrack-header">
        <h2 className="jp-mltrack-title">Experiment tracking</h2>
        {actions.openExplorer && (
          <button
            className="jp-mltrack-icon-button jp-mltrack-open-explorer"
            title="Open the experiment explorer (full width)"
            aria-label="Open the experiment explorer"
            onClick={actions.openExplorer}
          >
            <launchIcon.react tag="span" />
          </button>
        )}
        <button
          className="jp-mltrack-icon-button jp-mltrack-refresh"
          title="Refresh"
          aria-label="Refresh"
          onClick={() => void model.refresh()}
        >
          <refreshIcon.react tag="span" />
        </button>
        <UserBadge model={model} />
      </div>
      {runId === null && page === null && model.status !== null && <FilterBox model={model} />}
      {model.status !== null && model.statusError && (
        <div className="jp-mltrack-banner" role="status">
          Connection lost: {model.statusError} — showing the last data.
        </div>
      )}
      {model.status !== null && <CompareBar model={model} actions={actions} />}
      <div className="jp-mltrack-body">{body ?? <EmptyMessage>Nothing to show.</EmptyMessage>}</div>
    </div>
  );
}
