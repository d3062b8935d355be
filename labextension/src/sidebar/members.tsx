/** A project's members and their roles (team mode). Owners (and admins) add members, change roles and remove
 * members; everyone else sees the list read-only. The server decides: its refusals are shown as they come. */
import * as React from 'react';

import { listMembers, listProjects, Member, removeMember, Role, ROLES, setMember } from '../api';
import { EmptyMessage, ErrorMessage, Loading } from './common';
import { useResource } from './hooks';
import { TrackerModel } from './model';
import { confirm, useAction } from './teamUtil';

const ROLE_TITLES: { [r in Role]: string } = {
  owner: 'Owner: reads, writes and manages the members',
  contributor: 'Contributor: reads and writes runs, artifacts, tags and models',
  viewer: 'Viewer: reads'
};

function RoleSelect(props: {
  value: Role;
  disabled: boolean;
  className: string;
  label: string;
  onChange: (role: Role) => void;
}): JSX.Element {
  return (
    <select
      className={props.className}
      value={props.value}
      disabled={props.disabled}
      aria-label={props.label}
      title={ROLE_TITLES[props.value]}
      onChange={e => props.onChange(e.target.value as Role)}
    >
      {ROLES.map(r => (
        <option key={r} value={r} title={ROLE_TITLES[r]}>
          {r}
        </option>
      ))}
    </select>
  );
}

function AddMemberForm(props: {
  projectId: number;
  busy: boolean;
  run: (change: () => Promise<void>) => Promise<boolean>;
  model: TrackerModel;
}): JSX.Element {
  const { model, projectId } = props;
  const [user, setUser] = React.useState('');
  const [role, setRole] = React.useState<Role>('contributor');
  const submit = async () => {
    const name = user.trim();
    if (!name) {
      return;
    }
    if (await props.run(() => setMember(projectId, name, role, model.settings))) {
      setUser('');
    }
  };
  return (
    <form
      className="jp-mltrack-team-form jp-mltrack-add-member"
      onSubmit={e => {
        e.preventDefault();
        void submit();
      }}
    >
      <label>
        <span>User</span>
        <input
          className="jp-mltrack-member-user-input"
          type="text"
          value={user}
          placeholder="user name"
          spellCheck={false}
          onChange={e => setUser(e.target.value)}
        />
      </label>
      <label>
        <span>Role</span>
        <RoleSelect
          className="jp-mltrack-member-role-input"
          value={role}
          disabled={props.busy}
          label="Role of the new member"
          onChange={setRole}
        />
      </label>
      <button
        type="submit"
        className="jp-mltrack-button jp-mltrack-add-member-button"
        disabled={props.busy || !user.trim()}
      >
        Add member
      </button>
    </form>
  );
}

export function MembersPage(props: { model: TrackerModel; projectId: number; projectName: string }): JSX.Element {
  const { model, projectId, projectName } = props;
  const members = useResource(model, `team:members:${projectId}`, () => listMembers(projectId, model.settings));
  // the caller's role comes with the projects list (the tree's answer, shared through the cache)
  const projects = useResource(model, 'projects', () => listProjects(model.settings));
  const project = projects.data?.find(p => p.id === projectId);
  const role = project?.role ?? null;
  const admin = !!model.me?.admin;
  const canManage = admin || role === 'owner';
  const change = useAction(model);

  const setRole = (m: Member, r: Role) => void change.run(() => setMember(projectId, m.user, r, model.settings));
  const remove = async (m: Member) => {
    const ok = await confirm(
      'Remove member',
      `Remove ${m.user} (${m.role}) from project ${projectName}? They will no longer see its runs.`,
      'Remove'
    );
    if (ok) {
      await change.run(() => removeMember(projectId, m.user, model.settings));
    }
  };

  let list: React.ReactNode;
  if (members.data === undefined) {
    list = members.error ? (
      <ErrorMessage title="Cannot list the members" message={members.error} onRetry={() => void model.refresh()} />
    ) : (
      <Loading what="members" />
    );
  } else if (members.data.length === 0) {
    list = <EmptyMessage>This project has no members.</EmptyMessage>;
  } else {
    list = (
      <table className="jp-mltrack-table jp-mltrack-members" data-editable={canManage ? 'true' : 'false'}>
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            {canManage && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {members.data.map(m => (
            <tr key={m.user} className="jp-mltrack-member" data-user={m.user} data-role={m.role}>
              <td className="jp-mltrack-member-user">
                {m.user}
                {m.user === model.me?.user && <span className="jp-mltrack-muted">(you)</span>}
              </td>
              <td className="jp-mltrack-member-role">
                {canManage ? (
                  <RoleSelect
                    className="jp-mltrack-member-role-select"
                    value={m.role}
                    disabled={change.busy}
                    label={`Role of ${m.user}`}
                    onChange={r => setRole(m, r)}
                  />
                ) : (
                  <span title={ROLE_TITLES[m.role]}>{m.role}</span>
                )}
              </td>
              {canManage && (
                <td className="jp-mltrack-member-actions">
                  <button
                    className="jp-mltrack-button jp-mltrack-remove-member"
                    disabled={change.busy}
                    title={`Remove ${m.user} from ${projectName}`}
                    onClick={() => void remove(m)}
                  >
                    Remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    );
  }

  return (
    <div className="jp-mltrack-project-settings" data-project-name={projectName} data-project-id={projectId}>
      <h2 className="jp-mltrack-page-title">Members of {projectName}</h2>
      <p className="jp-mltrack-page-intro jp-mltrack-my-role" data-role={admin ? 'admin' : role ?? ''}>
        {admin
          ? 'You are an admin: you manage the members of every project.'
          : role
            ? `Your role here: ${role}.`
            : 'You are not a member of this project.'}
        {!canManage && ' Only the project’s owners change its members.'}
      </p>
      {change.error && (
        <div className="jp-mltrack-team-error">
          <ErrorMessage message={change.error} />
        </div>
      )}
      {list}
      {canManage && <AddMemberForm projectId={projectId} busy={change.busy} run={change.run} model={model} />}
    </div>
  );
}
