/** The Jobs panel: each job with its schedule, next run and last status; run now, pause or resume, live logs. The
 * same component is the explorer's Jobs tab at full width (`wide`: one project's jobs, each with its executions). */
import * as React from 'react';
import { ServerConnection } from '@jupyterlab/services';

import {
  errorMessage,
  getJobLog,
  Job,
  JobExecution,
  listJobExecutions,
  listJobs,
  pauseJob,
  resumeJob,
  runJob
} from '../api';

const POLL_MS = 2000;
const LOG_STYLE: React.CSSProperties = {
  maxHeight: '20em',
  overflow: 'auto',
  whiteSpace: 'pre-wrap',
  fontSize: 'var(--jp-code-font-size)',
  background: 'var(--jp-layout-color2)',
  padding: '4px'
};
const HEAD_STYLE: React.CSSProperties = { display: 'flex', justifyContent: 'space-between', gap: '8px' };
const ROW_STYLE: React.CSSProperties = { padding: '6px 8px', borderBottom: '1px solid var(--jp-border-color2)' };

function when(t: number | null): string {
  return t === null ? '—' : new Date(t * 1000).toLocaleString();
}

function JobLog(props: { name: string; settings: ServerConnection.ISettings }): JSX.Element {
  const [text, setText] = React.useState<string>('');
  const [note, setNote] = React.useState<string>('loading…');
  React.useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const got = await getJobLog(props.name, props.settings);
        if (alive) {
          setText(got.log);
          setNote(`execution ${got.execution.id}: ${got.execution.status}`);
        }
      } catch (err) {
        if (alive) {
          setNote(errorMessage(err));
        }
      }
    };
    void load();
    const timer = window.setInterval(() => void load(), POLL_MS); // live while the job runs
    return () => {
      alive = false;
      window.clearInterval(timer);
    };
  }, [props.name]);
  return (
    <div className="jp-mltrack-job-log">
      <div className="jp-mltrack-job-log-note">{note}</div>
      <pre className="jp-mltrack-job-log-text" style={LOG_STYLE}>{text}</pre>
    </div>
  );
}

/** A job's executions, newest first, polled while shown: trigger, status, times, attempts and the run of each. */
function JobExecutions(props: {
  name: string;
  settings: ServerConnection.ISettings;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const [rows, setRows] = React.useState<JobExecution[] | null>(null);
  const [error, setError] = React.useState('');
  React.useEffect(() => {
    let alive = true;
    const load = () =>
      listJobExecutions(props.name, 50, props.settings).then(
        got => alive && (setRows(got), setError('')),
        err => alive && setError(errorMessage(err))
      );
    void load();
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => {
      alive = false;
      window.clearInterval(timer);
    };
  }, [props.name]);
  if (error) {
    return <div className="jp-mltrack-jobs-error">{error}</div>;
  }
  if (!rows) {
    return <div className="jp-mltrack-jobs-empty">loading…</div>;
  }
  return (
    <table className="jp-mltrack-table jp-mltrack-job-executions">
      <thead>
        <tr>
          <th>#</th>
          <th>Trigger</th>
          <th>Status</th>
          <th>Scheduled for</th>
          <th>Started</th>
          <th>Ended</th>
          <th>Attempts</th>
          <th>Run</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(e => (
          <tr key={e.id} className="jp-mltrack-job-execution" data-execution={e.id} data-status={e.status}>
            <td>{e.id}</td>
            <td>{e.trigger_id}</td>
            <td title={e.reason}>
              <span className={`jp-mltrack-job-status jp-mltrack-status-${e.status}`}>{e.status}</span>
            </td>
            <td>{when(e.scheduled_for)}</td>
            <td>{when(e.started_at)}</td>
            <td>{when(e.ended_at)}</td>
            <td>{e.attempts}</td>
            <td>
              {e.run_id && props.onOpenRun ? (
                <button
                  className="jp-mltrack-link-button jp-mltrack-job-run-link"
                  onClick={() => props.onOpenRun && props.onOpenRun(e.run_id as string)}
                >
                  {e.run_id}
                </button>
              ) : (
                e.run_id ?? '—'
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function JobRow(props: {
  job: Job;
  settings: ServerConnection.ISettings;
  act: (what: () => Promise<unknown>) => void;
  onOpenNotebook?: (job: Job) => void;
  wide?: boolean;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const { job, settings, act } = props;
  const [showLog, setShowLog] = React.useState(false);
  const [showExecutions, setShowExecutions] = React.useState(!!props.wide);
  const last = job.last;
  return (
    <li className="jp-mltrack-job" data-job={job.name} style={ROW_STYLE}>
      <div className="jp-mltrack-job-head" style={HEAD_STYLE}>
        <span className="jp-mltrack-job-name" title={job.path} style={{ fontWeight: 600 }}>
          {job.name}
        </span>
        <span className={`jp-mltrack-job-status jp-mltrack-status-${last ? last.status : 'never'}`}>
          {last ? last.status : 'never run'}
        </span>
      </div>
      <div className="jp-mltrack-job-meta">
        <span className="jp-mltrack-job-schedule">
          {job.schedule ? `${job.schedule} (${job.timezone})` : 'no schedule'}
        </span>
        {' · '}
        <span className="jp-mltrack-job-next">{job.paused ? 'paused' : `next: ${when(job.next_run)}`}</span>
        {job.after.length ? <span> · after {job.after.join(', ')}</span> : null}
      </div>
      {last && last.reason ? <div className="jp-mltrack-job-reason">{last.reason.split('\n')[0]}</div> : null}
      <div className="jp-mltrack-job-actions">
        <button className="jp-mltrack-job-run" onClick={() => act(() => runJob(job.name, settings))}>
          Run now
        </button>
        <button
          className="jp-mltrack-job-pause"
          onClick={() => act(() => (job.paused ? resumeJob(job.name, settings) : pauseJob(job.name, settings)))}
        >
          {job.paused ? 'Resume' : 'Pause'}
        </button>
        <button className="jp-mltrack-job-logs" onClick={() => setShowLog(!showLog)}>
          {showLog ? 'Hide logs' : 'Logs'}
        </button>
        {props.wide ? (
          <button className="jp-mltrack-job-history" onClick={() => setShowExecutions(!showExecutions)}>
            {showExecutions ? 'Hide executions' : 'Executions'}
          </button>
        ) : null}
        {job.kind === 'notebook' && last && last.run_id && props.onOpenNotebook ? (
          <button
            className="jp-mltrack-job-notebook"
            title="Open the executed notebook, outputs included, as a new notebook"
            onClick={() => props.onOpenNotebook && props.onOpenNotebook(job)}
          >
            Open notebook
          </button>
        ) : null}
      </div>
      {showLog ? <JobLog name={job.name} settings={settings} /> : null}
      {props.wide && showExecutions ? (
        <JobExecutions name={job.name} settings={settings} onOpenRun={props.onOpenRun} />
      ) : null}
    </li>
  );
}

export function JobsPanel(props: {
  settings: ServerConnection.ISettings;
  visible: () => boolean;
  onReady?: (reload: () => void) => void;
  onCreateFromNotebook?: () => void;
  onOpenNotebook?: (job: Job) => void;
  /** Only this project's jobs (the explorer's). */
  project?: string;
  /** At full width (the explorer): each job's executions shown, their runs opened with `onOpenRun`. */
  wide?: boolean;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const [jobs, setJobs] = React.useState<Job[] | null>(null);
  const [error, setError] = React.useState<string>('');
  const load = React.useCallback(async () => {
    try {
      setJobs(await listJobs(props.project, props.settings));
      setError('');
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [props.settings, props.project]);
  React.useEffect(() => {
    void load();
    if (props.onReady) {
      props.onReady(() => void load());
    }
    const timer = window.setInterval(() => {
      if (props.visible()) {
        void load();
      }
    }, POLL_MS);
    return () => window.clearInterval(timer);
  }, [load]);
  const act = (what: () => Promise<unknown>) => {
    what()
      .then(() => load())
      .catch(err => setError(errorMessage(err)));
  };
  return (
    <div
      className={'jp-mltrack-jobs' + (props.wide ? ' jp-mltrack-jobs-wide' : '')}
      data-project={props.project ?? ''}
      style={{ overflow: 'auto', height: '100%', fontSize: 'var(--jp-ui-font-size1)' }}
    >
      <div className="jp-mltrack-jobs-title" style={{ fontWeight: 600, padding: '8px' }}>
        Jobs
        {props.onCreateFromNotebook ? (
          <button
            className="jp-mltrack-jobs-create"
            style={{ marginLeft: '8px' }}
            title="Create a job that runs the current notebook"
            onClick={props.onCreateFromNotebook}
          >
            + From this notebook
          </button>
        ) : null}
      </div>
      {error ? <div className="jp-mltrack-jobs-error">{error}</div> : null}
      {jobs === null ? (
        <div className="jp-mltrack-jobs-empty">loading…</div>
      ) : jobs.length === 0 ? (
        <div className="jp-mltrack-jobs-empty">
          No jobs yet: define one with mlt.create_job(…) or mltrack jobs create.
        </div>
      ) : (
        <ul className="jp-mltrack-jobs-list" style={{ listStyle: 'none', margin: 0, padding: 0 }}>
          {jobs.map(j => (
            <JobRow
              key={j.name}
              job={j}
              settings={props.settings}
              act={act}
              onOpenNotebook={props.onOpenNotebook}
              wide={props.wide}
              onOpenRun={props.onOpenRun}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
