/**
 * The Models view of the explorer: a project's registered models, each with its versions — aliases (set or moved
 * from here: `PUT aliases`), stage (`PUT stages`), the run it came from, its lineage graph — and, where services
 * exist, the version's deployments with a Deploy button (`ServicesOfVersion`, from ServicesView.tsx).
 */
import * as React from 'react';

import { errorMessage, listModels, ModelVersion, setModelAlias, setModelStage } from '../api';
import { localTime } from '../format';
import { ErrorMessage, Loading } from '../sidebar/common';
import { useResource } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import { modelNodeId } from './LineageView';

const STAGES = ['', 'staging', 'production', 'archived'];

/** Where the Models view is asked to look (a model, and one of its versions). */
export interface ModelFocus {
  model: string;
  version?: number;
}

function AliasForm(props: { onSet: (alias: string) => Promise<void> }): JSX.Element {
  const [alias, setAlias] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const submit = () => {
    const a = alias.trim();
    if (!a) {
      return;
    }
    setBusy(true);
    props.onSet(a).then(
      () => {
        setBusy(false);
        setAlias('');
      },
      () => setBusy(false)
    );
  };
  return (
    <span className="jp-mltrack-alias-form">
      <input
        className="jp-mltrack-alias-input"
        placeholder="alias"
        aria-label="Alias to point at this version"
        value={alias}
        onChange={e => setAlias(e.target.value)}
        onKeyDown={e => e.key === 'Enter' && submit()}
      />
      <button className="jp-mltrack-button jp-mltrack-alias-set" disabled={busy || !alias.trim()} onClick={submit}>
        Set alias
      </button>
    </span>
  );
}

function VersionRow(props: {
  v: ModelVersion;
  focus: boolean;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onOpenRun: (runId: string) => void;
  onLineage: (runId: string, focus: string) => void;
  services?: (v: ModelVersion) => React.ReactNode;
}): JSX.Element {
  const { v, act } = props;
  const row = React.useRef<HTMLTableRowElement>(null);
  React.useEffect(() => {
    if (props.focus && row.current) {
      row.current.scrollIntoView({ block: 'nearest' });
    }
  }, [props.focus]);
  const stages = STAGES.includes(v.stage) ? STAGES : [...STAGES, v.stage];
  return (
    <tr
      ref={row}
      className={'jp-mltrack-models-version' + (props.focus ? ' jp-mod-focus' : '')}
      data-model-name={v.name}
      data-model-version={v.version}
    >
      <td className="jp-mltrack-num">v{v.version}</td>
      <td className="jp-mltrack-models-aliases">
        {v.aliases.map(a => (
          <span key={a} className="jp-mltrack-chip jp-mltrack-alias" data-alias={a} title={`${v.name}@${a}`}>
            @{a}
          </span>
        ))}
        <AliasForm onSet={alias => act(() => setModelAlias(v.project, v.name, alias, v.version))} />
      </td>
      <td>
        <select
          className="jp-mltrack-models-stage"
          aria-label="Stage"
          value={v.stage}
          onChange={e => void act(() => setModelStage(v.project, v.name, v.version, e.target.value))}
        >
          {stages.map(s => (
            <option key={s} value={s}>
              {s || '—'}
            </option>
          ))}
        </select>
      </td>
      <td>{localTime(v.created_at)}</td>
      <td>
        <button className="jp-mltrack-link-button jp-mltrack-models-run" onClick={() => props.onOpenRun(v.run_id)}>
          {v.run_id}
        </button>
        <span className="jp-mltrack-muted">
          {' '}
          {v.artifact_name} v{v.artifact_version} · {v.flavor || v.artifact_type}
        </span>
      </td>
      <td className="jp-mltrack-models-actions">
        <button
          className="jp-mltrack-button jp-mltrack-models-lineage"
          title="The lineage graph of this version"
          onClick={() => props.onLineage(v.run_id, modelNodeId(v.model_id, v.version))}
        >
          Lineage
        </button>
        {props.services && props.services(v)}
      </td>
    </tr>
  );
}

export function ModelsView(props: {
  model: TrackerModel;
  project: string;
  focus: ModelFocus | null;
  onOpenRun: (runId: string) => void;
  onLineage: (runId: string, focus: string) => void;
  services?: (v: ModelVersion) => React.ReactNode;
}): JSX.Element {
  const { model, project, focus } = props;
  const res = useResource<ModelVersion[]>(model, `explorer:models:${project}`, () =>
    project ? listModels(project, undefined, model.settings) : Promise.resolve([])
  );
  const [chosen, setChosen] = React.useState<string>('');
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (focus) {
      setChosen(focus.model);
    }
  }, [focus]);
  const versions = res.data ?? [];
  const names = Array.from(new Set(versions.map(v => v.name))).sort((a, b) => a.localeCompare(b));
  const name = names.includes(chosen) ? chosen : names[0] ?? '';
  const shown = versions.filter(v => v.name === name).sort((a, b) => b.version - a.version);
  const act = async (what: () => Promise<unknown>) => {
    try {
      await what();
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
    await model.refresh();
  };
  if (res.loading) {
    return <Loading what="the models" />;
  }
  if (res.error && !res.data) {
    return <ErrorMessage title="Cannot load the models" message={res.error} onRetry={() => void model.refresh()} />;
  }
  if (!names.length) {
    return (
      <p className="jp-mltrack-muted-text jp-mltrack-explorer-empty">
        No registered models in {project}. Register one with <code>mlt.register_model(name, run)</code> or{' '}
        <code>mlt.register_best(filter, metric, name=…)</code>.
      </p>
    );
  }
  return (
    <div className="jp-mltrack-explorer-models" data-model={name}>
      <ul className="jp-mltrack-models-list" role="listbox" aria-label="Registered models">
        {names.map(n => {
          const vs = versions.filter(v => v.name === n);
          return (
            <li
              key={n}
              role="option"
              aria-selected={n === name}
              className={'jp-mltrack-models-item' + (n === name ? ' jp-mod-active' : '')}
              data-model-name={n}
              tabIndex={0}
              onClick={() => setChosen(n)}
              onKeyDown={e => e.key === 'Enter' && setChosen(n)}
            >
              <span className="jp-mltrack-model-name">{n}</span>
              <span className="jp-mltrack-muted">
                {vs.length} version{vs.length === 1 ? '' : 's'}
              </span>
              {vs
                .flatMap(v => v.aliases)
                .sort()
                .map(a => (
                  <span key={a} className="jp-mltrack-chip jp-mltrack-alias">
                    @{a}
                  </span>
                ))}
            </li>
          );
        })}
      </ul>
      <div className="jp-mltrack-models-detail">
        {error && <ErrorMessage message={error} />}
        <table className="jp-mltrack-table jp-mltrack-models-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Aliases</th>
              <th>Stage</th>
              <th>Registered</th>
              <th>Source run</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map(v => (
              <VersionRow
                key={v.version}
                v={v}
                focus={!!focus && focus.model === v.name && focus.version === v.version}
                act={act}
                onOpenRun={props.onOpenRun}
                onLineage={props.onLineage}
                services={props.services}
              />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
