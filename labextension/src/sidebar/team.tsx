/** Team mode in the sidebar: the signed-in user in the header, and the pages shown instead of the tree (the
 * caller's API keys, a project's members). Nothing here renders on a single-user server. */
import { caretLeftIcon, lockIcon, userIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { KeysPage } from './keys';
import { MembersPage } from './members';
import { TrackerModel } from './model';

/** The signed-in user (and "admin") and the button to the API keys; only in team mode. */
export function UserBadge(props: { model: TrackerModel }): JSX.Element | null {
  const { model } = props;
  const me = model.me;
  if (!model.teamMode || !me) {
    return null;
  }
  const how = me.authenticated_by === 'api_key' ? ' (by an API key)' : '';
  return (
    <div className="jp-mltrack-team-bar">
      <span
        className="jp-mltrack-user"
        data-user={me.user}
        data-admin={me.admin ? 'true' : 'false'}
        title={`Signed in as ${me.user}${me.admin ? ', an admin' : ''}${how}`}
      >
        <userIcon.react tag="span" className="jp-mltrack-user-icon" />
        <span className="jp-mltrack-user-name">{me.user}</span>
        {me.admin && <span className="jp-mltrack-admin-badge">admin</span>}
      </span>
      <button
        className="jp-mltrack-link-button jp-mltrack-keys-button"
        title="Your API keys (for scripts, jobs and CI)"
        onClick={() => model.openPage({ kind: 'keys' })}
      >
        <lockIcon.react tag="span" className="jp-mltrack-button-icon" />
        API keys
      </button>
    </div>
  );
}

/** The page the model names, with a way back. */
export function TeamPageView(props: { model: TrackerModel }): JSX.Element | null {
  const { model } = props;
  const page = model.page;
  if (page === null) {
    return null;
  }
  return (
    <div className="jp-mltrack-team-page" data-page={page.kind}>
      <div className="jp-mltrack-detail-nav">
        <button className="jp-mltrack-button jp-mltrack-back" onClick={() => model.closePage()} title="Back">
          <caretLeftIcon.react tag="span" className="jp-mltrack-button-icon" />
          Back
        </button>
      </div>
      {page.kind === 'keys' ? (
        <KeysPage model={model} />
      ) : (
        <MembersPage model={model} projectId={page.projectId} projectName={page.projectName} />
      )}
    </div>
  );
}
