/**
 * Model services in the explorer: the Services tab (every deployment of the project with its status, kind, what it
 * serves, Stop / Start / Restart / Delete, and for an A/B test its panel), and the Deploy button of a model version
 * in the Models tab with the version's services under it. Over `GET/POST deployments`, `POST deployments/{name}/
 * stop|start|restart|promote`, `DELETE deployments/{name}` and `GET mltrack/serve/{name}/info`, polled while shown.
 */
import * as React from 'react';

import {
  AbModelStats,
  deleteDeployment,
  Deployment,
  deploymentAction,
  deployModel,
  errorMessage,
  getRun,
  getServiceInfo,
  listDeployments,
  ModelVersion,
  promoteModel,
  Run
} from '../api';
import { localTime } from '../format';
import { ErrorMessage, Loading } from '../sidebar/common';
import { TrackerModel } from '../sidebar/model';

const POLL_MS = 2000;

/** `load` now and every POLL_MS while mounted (and when `key` changes); the last answer and error. */
function usePolled<T>(key: string, load: () => Promise<T>): { data: T | undefined; error: string | null; reload: () => void } {
  const [state, setState] = React.useState<{ key: string; data?: T; error: string | null }>({ key, error: null });
  const loadRef = React.useRef(load);
  loadRef.current = load;
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    let alive = true;
    const run = () =>
      loadRef.current().then(
        data => alive && setState({ key, data, error: null }),
        err => alive && setState(s => ({ key, data: s.key === key ? s.data : undefined, error: errorMessage(err) }))
      );
    void run();
    const timer = window.setInterval(() => {
      if (typeof document === 'undefined' || !document.hidden) {
        void run();
      }
    }, POLL_MS);
    return () => {
      alive = false;
      window.clearInterval(timer);
    };
  }, [key, tick]);
  const same = state.key === key;
  return { data: same ? state.data : undefined, error: same ? state.error : null, reload: () => setTick(t => t + 1) };
}

/** What a deployment serves: `house@3` (the version it loaded), or an A/B test's models with their weights. */
function serves(d: Deployment): string {
  if (d.kind === 'model') {
    const ref = Object.keys(d.models)[0] ?? '';
    return d.model && d.version !== null ? `${d.model}@${d.version}` + (ref.endsWith(`@${d.version}`) ? '' : ` (${ref})`) : ref;
  }
  const total = Object.values(d.models).reduce((s, w) => s + w, 0) || 1;
  return Object.entries(d.models)
    .map(([ref, w]) => `${ref} ${Math.round((100 * w) / total)} %`)
    .join(' · ');
}

type Act = (name: string, label: string, what: () => Promise<unknown>) => void;

/** Stop or Start, Restart (and Delete): disabled, with what is under way, while a request for this service runs
 * (a service is recorded running as its process starts, and answers once its model is loaded). */
function ServiceActions(props: {
  d: Deployment;
  act: Act;
  pending?: string;
  settings: TrackerModel['settings'];
  withDelete?: boolean;
}): JSX.Element {
  const { d, act, settings, pending } = props;
  const running = d.status === 'running';
  if (pending) {
    return <span className="jp-mltrack-service-pending jp-mltrack-muted">{pending}…</span>;
  }
  return (
    <span className="jp-mltrack-service-actions">
      {running ? (
        <button
          className="jp-mltrack-button jp-mltrack-service-stop"
          onClick={() => act(d.name, 'Stopping', () => deploymentAction(d.name, 'stop', settings))}
        >
          Stop
        </button>
      ) : (
        <button
          className="jp-mltrack-button jp-mltrack-service-start"
          onClick={() => act(d.name, 'Starting', () => deploymentAction(d.name, 'start', settings))}
        >
          Start
        </button>
      )}
      <button
        className="jp-mltrack-button jp-mltrack-service-restart"
        onClick={() => act(d.name, 'Restarting', () => deploymentAction(d.name, 'restart', settings))}
      >
        Restart
      </button>
      {props.withDelete && (
        <button
          className="jp-mltrack-button jp-mltrack-service-delete"
          title="Stop the service and forget the deployment"
          onClick={() => {
            if (window.confirm(`Delete the deployment ${d.name}? Its service stops.`)) {
              act(d.name, 'Deleting', () => deleteDeployment(d.name, settings));
            }
          }}
        >
          Delete
        </button>
      )}
    </span>
  );
}

/** Run `what` for the service `name`, remembering what is under way until it answers; then `done` (reload). */
function usePending(done: () => void): { pending: { [name: string]: string }; error: string | null; act: Act } {
  const [pending, setPending] = React.useState<{ [name: string]: string }>({});
  const [error, setError] = React.useState<string | null>(null);
  const act: Act = (name, label, what) => {
    setPending(p => ({ ...p, [name]: label }));
    const finish = (err: string | null) => {
      setPending(p => {
        const next = { ...p };
        delete next[name];
        return next;
      });
      setError(err);
      done();
    };
    what().then(
      () => finish(null),
      err => finish(errorMessage(err))
    );
  };
  return { pending, error, act };
}

function ServiceStatus(props: { d: Deployment }): JSX.Element {
  const { d } = props;
  return (
    <span className={`jp-mltrack-status jp-mltrack-service-status`} data-status={d.status} title={d.error || d.status}>
      {d.status}
    </span>
  );
}

/** The endpoint of a running service: this server's authenticated path, and the port of its process. */
function Endpoint(props: { d: Deployment }): JSX.Element | null {
  const { d } = props;
  if (d.status !== 'running') {
    return d.error ? <span className="jp-mltrack-service-error">{d.error.split('\n').slice(-1)[0]}</span> : null;
  }
  return (
    <span className="jp-mltrack-service-endpoint">
      <code className="jp-mltrack-service-url" title="POST {url}/predict with {&quot;inputs&quot;: [...]}">
        {d.url}/predict
      </code>
      {d.port !== null && <span className="jp-mltrack-muted jp-mltrack-service-port"> port {d.port}</span>}
    </span>
  );
}

/** Per-model counts of an A/B test: live from its service while it runs, else read back from its run's series as
 * `mlt.ab_results` reads them (serving/ab_control.py, `combined_results`): the last value of each series, counts
 * summed over the workers' contexts, the mean reward weighted by reward count, p99 the largest of the workers', p50
 * their requests-weighted mean. */
export function fromRun(run: Run, refs: string[]): AbModelStats[] {
  return refs.map(ref => {
    const workers = new Map<string, { [metric: string]: number }>();
    for (const m of run.metrics) {
      if (!m.context || m.context['model'] !== ref || typeof m.last !== 'number') {
        continue;
      }
      const w = m.context['worker'] ?? '';
      workers.set(w, { ...(workers.get(w) ?? {}), [m.name]: m.last });
    }
    const ws = Array.from(workers.values());
    const sum = (name: string) => ws.reduce((s, w) => s + (w[name] ?? 0), 0);
    const requests = sum('requests');
    const rewards = sum('reward_count');
    const rewarded = ws.filter(w => w['reward_count'] && w['reward_mean'] !== undefined);
    const p50s = ws.filter(w => w['latency_p50_ms'] !== undefined);
    const weight = p50s.reduce((s, w) => s + (w['requests'] ?? 0), 0);
    const p99s = ws.filter(w => w['latency_p99_ms'] !== undefined).map(w => w['latency_p99_ms']);
    return {
      model: ref,
      requests,
      errors: sum('errors'),
      latency_p50_ms: weight
        ? p50s.reduce((s, w) => s + w['latency_p50_ms'] * (w['requests'] ?? 0), 0) / weight
        : p50s.length
          ? p50s[0]['latency_p50_ms']
          : null,
      latency_p99_ms: p99s.length ? Math.max(...p99s) : null,
      reward_mean:
        rewards && rewarded.length
          ? rewarded.reduce((s, w) => s + w['reward_mean'] * w['reward_count'], 0) / rewards
          : null,
      reward_count: rewards
    };
  });
}

function fmt(v: number | null, digits = 2): string {
  return v === null || v === undefined ? '–' : v.toFixed(digits);
}

export function AbPanel(props: {
  model: TrackerModel;
  d: Deployment;
  act: Act;
  onChartRun: (project: string, runId: string) => void;
}): JSX.Element {
  const { model, d, act } = props;
  const refs = Object.keys(d.models);
  const running = d.status === 'running';
  const stats = usePolled<AbModelStats[]>(`ab:${d.name}:${running}:${d.run_id}`, async () => {
    if (running) {
      const info = await getServiceInfo(d.name, model.settings);
      return info.router ? info.router.models : [];
    }
    return d.run_id ? fromRun(await getRun(d.run_id, model.settings), refs) : [];
  });
  const [alias, setAlias] = React.useState('champion');
  const rows = stats.data ?? [];
  return (
    <div className="jp-mltrack-ab-panel" data-deployment={d.name}>
      <div className="jp-mltrack-explorer-toolbar">
        <span>
          Strategy <b>{d.strategy}</b> · {running ? 'live from the service' : "its run's last values"}
        </span>
        {d.run_id && (
          <button className="jp-mltrack-link-button jp-mltrack-ab-run" onClick={() => props.onChartRun(d.project, d.run_id as string)}>
            Charts of its run {d.run_id}
          </button>
        )}
        <label>
          Promote as alias{' '}
          <input className="jp-mltrack-alias-input jp-mltrack-ab-alias" value={alias} onChange={e => setAlias(e.target.value)} />
        </label>
      </div>
      {stats.error && <ErrorMessage message={stats.error} />}
      {!stats.data && !stats.error ? (
        <Loading what="the counts" />
      ) : (
        <table className="jp-mltrack-table jp-mltrack-ab-table">
          <thead>
            <tr>
              <th>Model</th>
              <th>Weight</th>
              <th>Requests</th>
              <th>Errors</th>
              <th>p50 (ms)</th>
              <th>p99 (ms)</th>
              <th>Reward</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {refs.map(ref => {
              const s = rows.find(r => r.model === ref);
              return (
                <tr key={ref} className="jp-mltrack-ab-model" data-model={ref}>
                  <td>{ref}</td>
                  <td className="jp-mltrack-num">{d.models[ref]}</td>
                  <td className="jp-mltrack-num jp-mltrack-ab-requests">{s ? s.requests : '–'}</td>
                  <td className="jp-mltrack-num jp-mltrack-ab-errors">{s ? s.errors : '–'}</td>
                  <td className="jp-mltrack-num jp-mltrack-ab-p50">{fmt(s ? s.latency_p50_ms : null)}</td>
                  <td className="jp-mltrack-num jp-mltrack-ab-p99">{fmt(s ? s.latency_p99_ms : null)}</td>
                  <td className="jp-mltrack-num jp-mltrack-ab-reward">
                    {s && s.reward_count ? `${fmt(s.reward_mean, 3)} (n=${s.reward_count})` : '–'}
                  </td>
                  <td>
                    <button
                      className="jp-mltrack-button jp-mltrack-ab-promote"
                      disabled={!alias.trim()}
                      title={`Point ${ref.split('@')[0]}@${alias} at the version ${ref} serves, and stop the test`}
                      onClick={() => act(d.name, 'Promoting', () => promoteModel(d.name, ref, alias.trim(), model.settings))}
                    >
                      Promote
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The Services tab: the project's deployments. */
export function ServicesView(props: {
  model: TrackerModel;
  project: string;
  onChartRun: (project: string, runId: string) => void;
}): JSX.Element {
  const { model, project } = props;
  const list = usePolled<Deployment[]>(`deployments:${project}`, () => projectDeployments(model, project));
  const [open, setOpen] = React.useState<string | null>(null);
  const { pending, error, act } = usePending(() => {
    list.reload();
    void model.refresh();
  });
  if (list.error && !list.data) {
    return <ErrorMessage title="Cannot list the services" message={list.error} />;
  }
  if (!list.data) {
    return <Loading what="the services" />;
  }
  if (!list.data.length) {
    return (
      <p className="jp-mltrack-muted-text jp-mltrack-explorer-empty">
        No services in {project}. Deploy a model version from the Models tab, or call{' '}
        <code>mlt.deploy("house@champion", name=…)</code> or <code>mlt.ab_test(…)</code>.
      </p>
    );
  }
  return (
    <div className="jp-mltrack-explorer-services">
      {error && <ErrorMessage message={error} />}
      <table className="jp-mltrack-table jp-mltrack-services">
        <thead>
          <tr>
            <th>Name</th>
            <th>Kind</th>
            <th>Serves</th>
            <th>Status</th>
            <th>Endpoint</th>
            <th>Started</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.data.map(d => (
            <React.Fragment key={d.name}>
              <tr
                className="jp-mltrack-service"
                data-deployment={d.name}
                data-kind={d.kind}
                data-status={d.status}
                data-pending={pending[d.name] ?? ''}
              >
                <td className="jp-mltrack-model-name">{d.name}</td>
                <td>{d.kind === 'ab_test' ? 'A/B test' : 'model'}</td>
                <td className="jp-mltrack-service-serves">{serves(d)}</td>
                <td>
                  <ServiceStatus d={d} />
                </td>
                <td>
                  <Endpoint d={d} />
                </td>
                <td>{d.started_at ? localTime(d.started_at) : '–'}</td>
                <td>
                  <ServiceActions d={d} act={act} pending={pending[d.name]} settings={model.settings} withDelete />
                  {d.kind === 'ab_test' && (
                    <button
                      className="jp-mltrack-button jp-mltrack-ab-toggle"
                      aria-expanded={open === d.name}
                      onClick={() => setOpen(open === d.name ? null : d.name)}
                    >
                      A/B results
                    </button>
                  )}
                </td>
              </tr>
              {open === d.name && d.kind === 'ab_test' && (
                <tr className="jp-mltrack-ab-row">
                  <td colSpan={7}>
                    <AbPanel model={model} d={d} act={act} onChartRun={props.onChartRun} />
                  </td>
                </tr>
              )}
            </React.Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function projectDeployments(model: TrackerModel, project: string): Promise<Deployment[]> {
  return project ? listDeployments(project, model.settings) : Promise.resolve([]);
}

/** A model version's services in the Models tab: Deploy (by version, or by one of its aliases — a service of an
 * alias follows its moves), and the deployments serving this version with their status, endpoint, Stop/Restart. */
export function VersionServices(props: { model: TrackerModel; v: ModelVersion; deployments: Deployment[]; reload: () => void }): JSX.Element {
  const { model, v } = props;
  const refs = [`${v.name}@${v.version}`, ...v.aliases.map(a => `${v.name}@${a}`)];
  const [form, setForm] = React.useState(false);
  const [name, setName] = React.useState(`${v.name}-v${v.version}`.replace(/[^A-Za-z0-9_.-]/g, '-'));
  const [ref, setRef] = React.useState(refs[0]);
  const { pending, error, act } = usePending(() => props.reload());
  const deploying = !!pending[name.trim()];
  const mine = props.deployments.filter(
    d =>
      d.kind === 'model' &&
      d.project === v.project &&
      ((d.model === v.name && d.version === v.version) || refs.includes(Object.keys(d.models)[0] ?? ''))
  );
  const deploy = () => {
    const n = name.trim();
    act(n, 'Deploying', async () => {
      await deployModel({ name: n, project: v.project, model: ref }, model.settings);
      setForm(false);
    });
  };
  return (
    <span className="jp-mltrack-version-services">
      {!form ? (
        <button className="jp-mltrack-button jp-mltrack-deploy" onClick={() => setForm(true)} title="Serve this version over HTTP">
          Deploy…
        </button>
      ) : (
        <span className="jp-mltrack-deploy-form">
          <input className="jp-mltrack-deploy-name" aria-label="Deployment name" value={name} onChange={e => setName(e.target.value)} />
          <select className="jp-mltrack-deploy-ref" aria-label="Model reference" value={ref} onChange={e => setRef(e.target.value)}>
            {refs.map(r => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <button
            className="jp-mltrack-button jp-mltrack-deploy-go"
            disabled={deploying || !name.trim()}
            onClick={deploy}
          >
            {deploying ? 'Deploying…' : 'Deploy'}
          </button>
          <button className="jp-mltrack-link-button" onClick={() => setForm(false)}>
            Cancel
          </button>
        </span>
      )}
      {error && <span className="jp-mltrack-service-error">{error}</span>}
      {mine.map(d => (
        <span
          key={d.name}
          className="jp-mltrack-version-service"
          data-deployment={d.name}
          data-status={d.status}
          data-pending={pending[d.name] ?? ''}
        >
          <span className="jp-mltrack-model-name">{d.name}</span> <ServiceStatus d={d} /> <Endpoint d={d} />
          <ServiceActions d={d} act={act} pending={pending[d.name]} settings={model.settings} />
        </span>
      ))}
    </span>
  );
}

/** The project's deployments, polled while the Models tab is shown (for its versions' services). */
export function useDeployments(model: TrackerModel, project: string): { data: Deployment[]; reload: () => void } {
  const res = usePolled<Deployment[]>(`deployments:${project}`, () => projectDeployments(model, project));
  return { data: res.data ?? [], reload: res.reload };
}
