/** The explorer's scope within a project: an experiment or a campaign picked in the toolbar (the runs table, the
 * column chooser and the charts show its runs), and the description of what is shown — the campaign's, else the
 * experiment's, else the project's (its hypothesis) — above the table, editable in place. */
import * as React from 'react';

import { Campaign, Experiment, listCampaigns, listExperiments, Project, setDescription } from '../api';
import { EditableText } from '../sidebar/edit';
import { useResource } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';

/** Where the explorer looks inside its project: '' is "all". */
export interface Scope {
  experiment: string;
  campaign: string;
}

export const ALL: Scope = { experiment: '', campaign: '' };

function useScopeLists(model: TrackerModel, project: string) {
  const experiments = useResource<Experiment[]>(model, `explorer:experiments:${project}`, () =>
    project ? listExperiments(project, model.settings) : Promise.resolve([])
  );
  const campaigns = useResource<Campaign[]>(model, `explorer:campaigns:${project}`, () =>
    project ? listCampaigns(project, model.settings) : Promise.resolve([])
  );
  return { experiments: experiments.data ?? [], campaigns: campaigns.data ?? [] };
}

/** The experiment and campaign pickers (one at a time: picking one clears the other). */
export function ScopePicker(props: {
  model: TrackerModel;
  project: string;
  scope: Scope;
  onScope: (s: Scope) => void;
}): JSX.Element {
  const { experiments, campaigns } = useScopeLists(props.model, props.project);
  const { scope, onScope } = props;
  return (
    <>
      <label>
        Experiment{' '}
        <select
          className="jp-mltrack-explorer-experiment"
          value={scope.experiment}
          onChange={e => onScope({ experiment: e.target.value, campaign: '' })}
        >
          <option value="">— all —</option>
          {experiments.map(x => (
            <option key={x.name} value={x.name}>
              {x.name} ({x.run_count})
            </option>
          ))}
        </select>
      </label>
      <label>
        Campaign{' '}
        <select
          className="jp-mltrack-explorer-campaign"
          value={scope.campaign}
          onChange={e => onScope({ experiment: '', campaign: e.target.value })}
        >
          <option value="">— all —</option>
          {campaigns.map(c => (
            <option key={c.name} value={c.name}>
              {c.name} ({c.run_count})
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

/** The description of what the explorer shows, above the runs table, editable in place. */
export function ScopeDescription(props: {
  model: TrackerModel;
  project: Project | undefined;
  scope: Scope;
}): JSX.Element | null {
  const { model, project, scope } = props;
  const { experiments, campaigns } = useScopeLists(model, project?.name ?? '');
  if (!project) {
    return null;
  }
  let kind: 'project' | 'experiment' | 'campaign' = 'project';
  let name = project.name;
  let value = project.description;
  if (scope.campaign) {
    kind = 'campaign';
    name = scope.campaign;
    value = campaigns.find(c => c.name === scope.campaign)?.description ?? '';
  } else if (scope.experiment) {
    kind = 'experiment';
    name = scope.experiment;
    value = experiments.find(x => x.name === scope.experiment)?.description ?? '';
  }
  // team mode: a project's description is its owner's, an experiment's or a campaign's a contributor's (the server
  // checks; the editor is not offered to whom it would refuse)
  const role = project.role;
  const need = kind === 'project' ? 'owner' : 'contributor';
  const allowed = !role || role === 'owner' || (need === 'contributor' && role === 'contributor');
  return (
    <div className="jp-mltrack-explorer-description" data-kind={kind} data-name={name} data-editable={String(allowed)}>
      <span className="jp-mltrack-muted-text jp-mltrack-explorer-description-label">
        {kind === 'project' ? 'Project' : kind === 'experiment' ? 'Experiment' : 'Campaign'} {name}
      </span>
      <EditableText
        key={`${kind}:${name}`}
        value={value}
        what={`${kind}'s description`}
        placeholder={`No description yet: the ${kind}'s hypothesis, what it compares, what was learnt.`}
        readOnly={allowed ? undefined : `Changing the ${kind}'s description needs the role ${need}; you are a ${role}`}
        onSave={async text => {
          await setDescription(
            { project: project.name, experiment: scope.experiment || undefined, campaign: scope.campaign || undefined },
            text,
            model.settings
          );
          await model.refresh();
        }}
      />
    </div>
  );
}
