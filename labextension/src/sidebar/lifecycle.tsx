/**
 * The model lifecycle in a run's detail: the model versions registered from its artifacts (with their aliases and
 * stages) and its lineage — what it came from and what came of it (runs, artifacts, dataset and model versions).
 */
import * as React from 'react';

import { getLineage, Lineage, LineageNode, listModels, ModelVersion, Run } from '../api';
import { onActivateKey, RememberedSection } from './common';
import { useResource } from './hooks';
import { TrackerModel } from './model';
import { DetailActions } from './sections';

function nodeLabel(n: LineageNode): string {
  switch (n.kind) {
    case 'run':
      return n.name ? `${n.name} (${n.run_id})` : String(n.run_id);
    case 'artifact':
      return `${n.name} v${n.version}`;
    default:
      return `${n.name}@${n.version}`;
  }
}

/** The model versions registered from this run's artifacts. */
export function RunModelVersions(props: {
  model: TrackerModel;
  run: Run;
  actions?: DetailActions;
}): JSX.Element | null {
  const { model, run, actions } = props;
  const res = useResource(model, `models:${run.project}`, () => listModels(run.project, undefined, model.settings));
  const versions: ModelVersion[] = (res.data ?? []).filter(v => v.run_id === run.id);
  if (!versions.length) {
    return null;
  }
  return (
    <RememberedSection model={model} scope="section" name="model-versions" title="Model versions" count={versions.length}>
      <ul className="jp-mltrack-model-versions">
        {versions.map(v => (
          <li
            key={`${v.model_id}:${v.version}`}
            className="jp-mltrack-model-version"
            data-model-name={v.name}
            data-model-version={v.version}
          >
            <span className="jp-mltrack-model-name">{v.name}</span>
            <span className="jp-mltrack-artifact-version">v{v.version}</span>
            {v.stage && <span className="jp-mltrack-chip jp-mltrack-stage">{v.stage}</span>}
            {v.aliases.map(a => (
              <span key={a} className="jp-mltrack-chip jp-mltrack-alias" data-alias={a} title={`${v.name}@${a}`}>
                @{a}
              </span>
            ))}
            <span className="jp-mltrack-muted">from {v.artifact_name}</span>
            {actions?.openModelVersion && (
              <button
                className="jp-mltrack-link-button jp-mltrack-open-model"
                title="Show this version in the explorer's Models view"
                onClick={() => actions.openModelVersion?.(v.project, v.name, v.version)}
              >
                Models
              </button>
            )}
            {actions?.openLineage && (
              <button
                className="jp-mltrack-link-button jp-mltrack-open-graph"
                title="Show the lineage graph of this version in the explorer"
                onClick={() => actions.openLineage?.(run.id, `model:${v.model_id}:${v.version}`)}
              >
                Graph
              </button>
            )}
          </li>
        ))}
      </ul>
    </RememberedSection>
  );
}

function LineageList(props: { model: TrackerModel; lineage: Lineage; direction: 'up' | 'down' }): JSX.Element {
  const { model, lineage, direction } = props;
  const nodes = lineage.nodes.filter(n => n.id !== lineage.root);
  if (!nodes.length) {
    return <div className="jp-mltrack-muted">{direction === 'up' ? 'Nothing upstream' : 'Nothing downstream'}</div>;
  }
  return (
    <ul className={`jp-mltrack-lineage jp-mltrack-lineage-${direction}`} data-direction={direction}>
      {nodes.map(n => {
        const open = n.kind === 'run' && n.run_id ? () => model.openRun(n.run_id as string) : undefined;
        return (
          <li
            key={n.id}
            className="jp-mltrack-lineage-node"
            data-node-id={n.id}
            data-kind={n.kind}
            role={open ? 'link' : undefined}
            tabIndex={open ? 0 : undefined}
            onClick={open}
            onKeyDown={open ? onActivateKey(open) : undefined}
          >
            <span className="jp-mltrack-chip">{n.kind}</span>
            <span className="jp-mltrack-lineage-label">{nodeLabel(n)}</span>
            {(n.aliases ?? []).map(a => (
              <span key={a} className="jp-mltrack-chip jp-mltrack-alias" data-alias={a}>
                @{a}
              </span>
            ))}
            {n.project && <span className="jp-mltrack-muted">{n.project}</span>}
          </li>
        );
      })}
    </ul>
  );
}

/** Upstream and downstream of a run, to the end of the graph. */
export function RunLineage(props: { model: TrackerModel; run: Run; actions?: DetailActions }): JSX.Element {
  const { model, run, actions } = props;
  const up = useResource(model, `lineage:up:${run.id}`, () => getLineage(run.id, 'up', undefined, model.settings));
  const down = useResource(model, `lineage:down:${run.id}`, () =>
    getLineage(run.id, 'down', undefined, model.settings)
  );
  return (
    <div className="jp-mltrack-lineage-view" data-run-id={run.id}>
      {actions?.openLineage && (
        <button
          className="jp-mltrack-button jp-mltrack-open-graph"
          title="Show this run's lineage as a graph in the explorer"
          onClick={() => actions.openLineage?.(run.id)}
        >
          Show as a graph
        </button>
      )}
      <div className="jp-mltrack-lineage-heading">Came from</div>
      {up.data ? <LineageList model={model} lineage={up.data} direction="up" /> : <div className="jp-mltrack-muted">…</div>}
      <div className="jp-mltrack-lineage-heading">Came of it</div>
      {down.data ? (
        <LineageList model={model} lineage={down.data} direction="down" />
      ) : (
        <div className="jp-mltrack-muted">…</div>
      )}
    </div>
  );
}
