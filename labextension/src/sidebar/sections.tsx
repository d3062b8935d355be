/** The sections of the run detail view: params, metrics, tags, artifacts, inputs, children. */
import { downloadIcon, notebookIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Artifact, ArtifactFile, artifactDownloadUrl, JsonValue, listRuns, MetricSummary, Run } from '../api';
import { formatBytes, formatMetric, formatValue } from '../format';
import { EmptyMessage, ErrorMessage, Loading, onActivateKey } from './common';
import { useNow, useResource } from './hooks';
import { TrackerModel } from './model';
import { RunRow } from './RunRow';

/** What the detail view needs from the application. */
export interface DetailActions {
  /** Save a notebook artifact file as a new notebook and open it. */
  openSnapshot: (run: Run, artifact: Artifact, path: string) => Promise<void>;
  /** Open the comparison of two runs (A, B). */
  diffRuns: (a: string, b: string) => void;
  /** Open the full-page experiment explorer. */
  openExplorer?: () => void;
  /** Open the explorer's lineage graph of a run, centred on `focus` (a lineage node id; the run by default). */
  openLineage?: (runId: string, focus?: string) => void;
  /** Open a model version in the explorer's Models view. */
  openModelVersion?: (project: string, name: string, version: number) => void;
}

function sortedEntries<T>(obj: { [key: string]: T } | null | undefined): [string, T][] {
  return Object.entries(obj ?? {}).sort(([a], [b]) => a.localeCompare(b));
}

/** Sorted key → value rows: the params or the tags of a run. */
function KeyValueTable(props: {
  kind: 'param' | 'tag';
  values: { [key: string]: JsonValue };
  empty: string;
}): JSX.Element {
  const { kind, values, empty } = props;
  const entries = sortedEntries(values);
  if (entries.length === 0) {
    return <EmptyMessage>{empty}</EmptyMessage>;
  }
  const attr = `data-${kind}-key`;
  return (
    <table className={`jp-mltrack-table jp-mltrack-${kind}s`}>
      <tbody>
        {entries.map(([key, value]) => {
          const text = formatValue(value);
          return (
            <tr key={key} {...{ [attr]: key }}>
              <th scope="row" title={key}>
                {key}
              </th>
              <td title={text}>{text}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function ParamsTable(props: { params: { [key: string]: JsonValue } }): JSX.Element {
  return <KeyValueTable kind="param" values={props.params} empty="No params." />;
}

export function TagsTable(props: { tags: { [key: string]: string } }): JSX.Element {
  return <KeyValueTable kind="tag" values={props.tags} empty="No tags." />;
}

export function MetricsTable(props: { metrics: MetricSummary[] }): JSX.Element {
  const metrics = [...props.metrics].sort((a, b) => a.key.localeCompare(b.key));
  if (metrics.length === 0) {
    return <EmptyMessage>No metrics.</EmptyMessage>;
  }
  // one <tbody> per metric: the key on its own line, then its numbers (fits a narrow sidebar)
  return (
    <table className="jp-mltrack-table jp-mltrack-metrics">
      <thead>
        <tr>
          <th title="Last value">last</th>
          <th title="Step of the last value">step</th>
          <th>min</th>
          <th>max</th>
          <th title="Number of points">n</th>
        </tr>
      </thead>
      {metrics.map(m => (
        <tbody key={m.key} data-metric-key={m.key}>
          <tr className="jp-mltrack-metric-key-row">
            <th scope="rowgroup" colSpan={5} title={m.key}>
              {m.key}
            </th>
          </tr>
          <tr className="jp-mltrack-metric-values">
            <td data-col="last" title={String(m.last)}>
              {formatMetric(m.last)}
            </td>
            <td data-col="last_step">{m.last_step ?? '–'}</td>
            <td data-col="min" title={String(m.min)}>
              {formatMetric(m.min)}
            </td>
            <td data-col="max" title={String(m.max)}>
              {formatMetric(m.max)}
            </td>
            <td data-col="count">{m.count}</td>
          </tr>
        </tbody>
      ))}
    </table>
  );
}

function SnapshotButton(props: { onOpen: () => Promise<void> }): JSX.Element {
  const [busy, setBusy] = React.useState(false);
  const open = async () => {
    setBusy(true);
    try {
      await props.onOpen();
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      className="jp-mltrack-button jp-mltrack-open-snapshot"
      disabled={busy}
      title="Copy this notebook snapshot to mltrack-snapshots/ and open it"
      onClick={() => void open()}
    >
      <notebookIcon.react tag="span" className="jp-mltrack-button-icon" />
      {busy ? 'Opening…' : 'Open'}
    </button>
  );
}

function ArtifactFileRow(props: {
  model: TrackerModel;
  artifact: Artifact;
  file: ArtifactFile;
  onOpenSnapshot?: () => Promise<void>;
}): JSX.Element {
  const { model, artifact, file } = props;
  return (
    <li className="jp-mltrack-artifact-file" data-path={file.path}>
      <span className="jp-mltrack-file-path" title={`${file.path}\nsha256 ${file.sha256}`}>
        {file.path}
      </span>
      <span className="jp-mltrack-file-size">{formatBytes(file.size)}</span>
      {props.onOpenSnapshot && <SnapshotButton onOpen={props.onOpenSnapshot} />}
      <a
        className="jp-mltrack-download"
        href={artifactDownloadUrl(artifact.id, file.path, model.settings)}
        download={file.path.split('/').pop()}
        title={`Download ${file.path}`}
      >
        <downloadIcon.react tag="span" className="jp-mltrack-button-icon" />
      </a>
    </li>
  );
}

export function ArtifactsList(props: { model: TrackerModel; run: Run; actions: DetailActions }): JSX.Element {
  const { model, run, actions } = props;
  if (run.artifacts.length === 0) {
    return <EmptyMessage>No artifacts.</EmptyMessage>;
  }
  return (
    <ul className="jp-mltrack-artifacts">
      {run.artifacts.map(a => (
        <li key={a.id} className="jp-mltrack-artifact" data-artifact-name={a.name} data-artifact-id={a.id}>
          <div className="jp-mltrack-artifact-head">
            <span className="jp-mltrack-artifact-name" title={a.name}>
              {a.name}
            </span>
            <span className="jp-mltrack-chip" data-artifact-type={a.type}>
              {a.type}
            </span>
            <span className="jp-mltrack-artifact-version">v{a.version}</span>
          </div>
          {a.files.length === 0 ? (
            <EmptyMessage>No files.</EmptyMessage>
          ) : (
            <ul className="jp-mltrack-artifact-files">
              {a.files.map(f => (
                <ArtifactFileRow
                  key={f.path}
                  model={model}
                  artifact={a}
                  file={f}
                  onOpenSnapshot={
                    a.type === 'notebook' && /\.ipynb$/i.test(f.path)
                      ? () => actions.openSnapshot(run, a, f.path)
                      : undefined
                  }
                />
              ))}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

export function InputsList(props: { model: TrackerModel; run: Run }): JSX.Element {
  const { model, run } = props;
  return (
    <ul className="jp-mltrack-inputs">
      {run.inputs.map(i => {
        const open = () => model.openRun(i.run_id);
        return (
          <li
            key={`${i.artifact_id}:${i.role ?? ''}`}
            className="jp-mltrack-input"
            data-artifact-id={i.artifact_id}
            role="link"
            tabIndex={0}
            title={`Produced by run ${i.run_id}`}
            onClick={open}
            onKeyDown={onActivateKey(open)}
          >
            <span className="jp-mltrack-artifact-name">{i.name}</span>
            <span className="jp-mltrack-chip">{i.type}</span>
            <span className="jp-mltrack-artifact-version">v{i.version}</span>
            {i.role && <span className="jp-mltrack-muted">as {i.role}</span>}
          </li>
        );
      })}
    </ul>
  );
}

/** Child runs, with the same rows as the tree (one query: runs whose parent is this one). */
export function ChildrenList(props: { model: TrackerModel; run: Run }): JSX.Element {
  const { model, run } = props;
  const now = useNow();
  const params = { filter: `parent_id = '${run.id.replace(/'/g, "''")}'`, limit: 1000 };
  const res = useResource(model, `children:${run.id}`, () => listRuns(params, model.settings));
  if (!res.data) {
    if (res.error) {
      // still reachable by id
      return (
        <>
          <ErrorMessage message={res.error} />
          <ul className="jp-mltrack-child-ids">
            {run.children.map(id => (
              <li key={id}>
                <button className="jp-mltrack-link-button jp-mltrack-run" data-run-id={id} onClick={() => model.openRun(id)}>
                  {id}
                </button>
              </li>
            ))}
          </ul>
        </>
      );
    }
    return <Loading what="child runs" />;
  }
  return (
    <div className="jp-mltrack-run-list jp-mltrack-children-runs">
      {res.data.runs.map(child => (
        <RunRow
          key={child.id}
          run={child}
          now={now}
          selected={false}
          onOpen={id => model.openRun(id)}
          marked={model.isMarked(child.id)}
          onMark={(r, marked) => model.setMarked(r, marked)}
        />
      ))}
    </div>
  );
}
