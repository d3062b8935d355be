/** A runs list (one tree group): loads a page of runs, keeps it across refreshes, grows with "Show more". */
import * as React from 'react';

import { ListRunsParams, listRuns } from '../api';
import { EmptyMessage, ErrorMessage, Loading } from './common';
import { useNow, useResource } from './hooks';
import { TrackerModel } from './model';
import { RunRow } from './RunRow';

/** Both filters must hold. */
export function combineFilters(...filters: (string | undefined)[]): string | undefined {
  const parts = filters.filter((f): f is string => !!f && !!f.trim());
  if (parts.length === 0) {
    return undefined;
  }
  return parts.length === 1 ? parts[0] : parts.map(f => `(${f})`).join(' and ');
}

export function RunList(props: {
  model: TrackerModel;
  /** Names this list for its "Show more" state. */
  listKey: string;
  params: ListRunsParams;
  empty: React.ReactNode;
}): JSX.Element {
  const { model, listKey, params } = props;
  const now = useNow();
  const limit = model.runLimit(listKey);
  const filter = combineFilters(params.filter, model.filter);
  const query: ListRunsParams = { ...params, filter, limit };
  const key = 'runs:' + JSON.stringify(query);
  const res = useResource(model, key, () => listRuns(query, model.settings), { keepPrevious: true });
  const page = res.data;

  if (!page) {
    if (res.error) {
      return <ErrorMessage title="Cannot list the runs" message={res.error} onRetry={() => void model.refresh()} />;
    }
    return <Loading what="runs" />;
  }
  return (
    <div className="jp-mltrack-run-list">
      {res.error && <ErrorMessage message={res.error} />}
      {page.runs.length === 0 ? (
        <EmptyMessage>{model.filter ? 'No runs match the filter.' : props.empty}</EmptyMessage>
      ) : (
        page.runs.map(run => (
          <RunRow
            key={run.id}
            run={run}
            now={now}
            selected={model.selectedRunId === run.id}
            onOpen={id => model.openRun(id)}
            marked={model.isMarked(run.id)}
            onMark={(r, marked) => model.setMarked(r, marked)}
          />
        ))
      )}
      {page.total > page.runs.length && (
        <button className="jp-mltrack-link-button jp-mltrack-show-more" onClick={() => model.showMore(listKey)}>
          Show more ({page.runs.length} of {page.total})
        </button>
      )}
    </div>
  );
}
