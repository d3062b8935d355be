/** The caller's API keys (team mode): the list, creating one (its secret shown once, with a copy button) and
 * revoking one after a confirmation. */
import { Clipboard } from '@jupyterlab/apputils';
import { copyIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ApiKey, createKey, CreatedApiKey, listKeys, revokeKey } from '../api';
import { isoTime, localTime, relativeTime } from '../format';
import { EmptyMessage, ErrorMessage, Loading } from './common';
import { useNow, useResource } from './hooks';
import { TrackerModel } from './model';
import { confirm, useAction } from './teamUtil';

/** The longest expiry the server accepts, in days. */
const MAX_DAYS = 3650;

type KeyState = 'active' | 'revoked' | 'expired';

function keyState(key: ApiKey, nowMs: number): KeyState {
  if (key.revoked_at !== null) {
    return 'revoked';
  }
  if (key.expires_at !== null && key.expires_at * 1000 <= nowMs) {
    return 'expired';
  }
  return 'active';
}

function When(props: { seconds: number | null; now: number; never: string }): JSX.Element {
  if (props.seconds === null) {
    return <span className="jp-mltrack-muted-text">{props.never}</span>;
  }
  return (
    <span title={isoTime(props.seconds)}>
      {localTime(props.seconds)}{' '}
      <span className="jp-mltrack-muted-text">({relativeTime(props.seconds, props.now)})</span>
    </span>
  );
}

/** The secret of the key just created: shown here once, never again (the server keeps only its hash). */
function NewKey(props: { created: CreatedApiKey; onDone: () => void }): JSX.Element {
  const { created } = props;
  const [copied, setCopied] = React.useState(false);
  return (
    <div className="jp-mltrack-new-key" role="status" data-key-id={created.id}>
      <div className="jp-mltrack-new-key-title">
        Key {created.label ? `“${created.label}” ` : ''}created
      </div>
      <div className="jp-mltrack-new-key-row">
        <code className="jp-mltrack-new-key-value">{created.key}</code>
        <button
          className="jp-mltrack-icon-button jp-mltrack-copy-key"
          title="Copy the key"
          aria-label="Copy the key"
          onClick={() => {
            Clipboard.copyToSystem(created.key);
            setCopied(true);
          }}
        >
          <copyIcon.react tag="span" />
        </button>
        {copied && <span className="jp-mltrack-muted">copied</span>}
      </div>
      <p className="jp-mltrack-new-key-note">
        <strong>Copy it now: you will not see it again.</strong> Only a hash of it is stored. Send it as{' '}
        <code>Authorization: Bearer &lt;key&gt;</code>, or set <code>MLTRACK_API_KEY</code> where a script logs.
      </p>
      <button className="jp-mltrack-button jp-mltrack-new-key-done" onClick={props.onDone}>
        Done
      </button>
    </div>
  );
}

function CreateKeyForm(props: { model: TrackerModel; onCreated: (key: CreatedApiKey) => void }): JSX.Element {
  const { model } = props;
  const [label, setLabel] = React.useState('');
  const [days, setDays] = React.useState('');
  const { busy, error, setError, run } = useAction(model);
  const submit = async () => {
    let expiresDays: number | null = null;
    if (days.trim()) {
      expiresDays = Number(days);
      if (!Number.isFinite(expiresDays) || expiresDays <= 0 || expiresDays > MAX_DAYS) {
        setError(`Expiry: a number of days between 1 and ${MAX_DAYS}, or empty for a key that does not expire.`);
        return;
      }
    }
    const ok = await run(async () => {
      props.onCreated(await createKey({ label: label.trim(), expiresDays }, model.settings));
    });
    if (ok) {
      setLabel('');
      setDays('');
    }
  };
  return (
    <form
      className="jp-mltrack-team-form jp-mltrack-create-key"
      onSubmit={e => {
        e.preventDefault();
        void submit();
      }}
    >
      <label>
        <span>Label</span>
        <input
          className="jp-mltrack-key-label-input"
          type="text"
          value={label}
          maxLength={250}
          placeholder="e.g. CI, laptop, nightly job"
          onChange={e => setLabel(e.target.value)}
        />
      </label>
      <label>
        <span>Expires in (days)</span>
        <input
          className="jp-mltrack-key-days-input"
          type="number"
          min={1}
          max={MAX_DAYS}
          step="any"
          value={days}
          placeholder="never"
          onChange={e => setDays(e.target.value)}
        />
      </label>
      <button type="submit" className="jp-mltrack-button jp-mltrack-create-key-button" disabled={busy}>
        {busy ? 'Creating…' : 'Create key'}
      </button>
      {error && <ErrorMessage message={error} />}
    </form>
  );
}

function KeyItem(props: { model: TrackerModel; apiKey: ApiKey; now: number }): JSX.Element {
  const { model, apiKey: key, now } = props;
  const { busy, error, run } = useAction(model);
  const state = keyState(key, now);
  const name = key.label ? `“${key.label}”` : `#${key.id}`;
  const revoke = async () => {
    const ok = await confirm(
      'Revoke API key',
      `Revoke the key ${name}? Scripts and jobs using it will be refused from now on. This cannot be undone.`,
      'Revoke'
    );
    if (!ok) {
      return;
    }
    await run(() => revokeKey(key.id, model.settings).then(() => undefined));
  };
  return (
    <li className="jp-mltrack-key" data-key-id={key.id} data-state={state}>
      <div className="jp-mltrack-key-head">
        <span className="jp-mltrack-key-label">{key.label || <em>no label</em>}</span>
        <span className="jp-mltrack-muted-text">#{key.id}</span>
        <span className={`jp-mltrack-key-state jp-mltrack-key-${state}`}>{state}</span>
        {state === 'active' && (
          <button
            className="jp-mltrack-button jp-mltrack-revoke-key"
            disabled={busy}
            title="Revoke this key: requests with it are refused from then on"
            onClick={() => void revoke()}
          >
            {busy ? 'Revoking…' : 'Revoke'}
          </button>
        )}
      </div>
      <table className="jp-mltrack-table jp-mltrack-key-facts">
        <tbody>
          <tr data-field="created">
            <th scope="row">Created</th>
            <td>
              <When seconds={key.created_at} now={now} never="–" />
            </td>
          </tr>
          <tr data-field="expires">
            <th scope="row">Expires</th>
            <td>
              <When seconds={key.expires_at} now={now} never="never" />
            </td>
          </tr>
          <tr data-field="last-used">
            <th scope="row">Last used</th>
            <td>
              <When seconds={key.last_used_at} now={now} never="never" />
            </td>
          </tr>
          {key.revoked_at !== null && (
            <tr data-field="revoked">
              <th scope="row">Revoked</th>
              <td>
                <When seconds={key.revoked_at} now={now} never="–" />
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {error && <ErrorMessage message={error} />}
    </li>
  );
}

export function KeysPage(props: { model: TrackerModel }): JSX.Element {
  const { model } = props;
  const now = useNow();
  const [created, setCreated] = React.useState<CreatedApiKey | null>(null);
  const res = useResource(model, 'team:keys', () => listKeys(model.settings));
  const keys = res.data;
  const user = model.me?.user ?? '';
  return (
    <div className="jp-mltrack-keys">
      <h2 className="jp-mltrack-page-title">API keys{user ? ` of ${user}` : ''}</h2>
      <p className="jp-mltrack-page-intro">
        A key lets a script, a job or CI outside Jupyter log and read as you.
      </p>
      {created ? (
        <NewKey created={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateKeyForm model={model} onCreated={setCreated} />
      )}
      {keys === undefined ? (
        res.error ? (
          <ErrorMessage title="Cannot list your API keys" message={res.error} onRetry={() => void model.refresh()} />
        ) : (
          <Loading what="API keys" />
        )
      ) : (
        <>
          {res.error && <ErrorMessage message={res.error} />}
          {keys.length === 0 ? (
            <EmptyMessage>No API keys yet.</EmptyMessage>
          ) : (
            <ul className="jp-mltrack-key-list">
              {[...keys].reverse().map(k => (
                <KeyItem key={k.id} model={model} apiKey={k} now={now} />
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  );
}
