/** The tree: projects ▸ ("All runs", experiments, "No experiment") ▸ runs. Only expanded nodes load. */
import { settingsIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Experiment, listExperiments, listProjects, Project } from '../api';
import { Caret, EmptyMessage, ErrorMessage, Loading, onActivateKey } from './common';
import { useResource } from './hooks';
import { TrackerModel } from './model';
import { RunList } from './RunList';

const NO_RUNS_YET = (
  <>
    No runs yet — run a cell under <code>%%track_run</code>
  </>
);

/** A tree node: its clickable header (the element carrying the `jp-mltrack-<kind>` class and the `data` attributes)
 * and, while expanded, its children. `itemData` goes on the node's `<li>`; the open state is the model's `stateKey`. */
function TreeNode(props: {
  kind: 'project' | 'experiment' | 'group';
  itemData: { [attr: string]: string };
  data: { [attr: string]: string };
  model: TrackerModel;
  stateKey: string;
  expanded: boolean;
  label: string;
  count?: number;
  title?: string;
  /** Buttons at the end of the header (their clicks do not toggle the node). */
  actions?: React.ReactNode;
  children: React.ReactNode;
}): JSX.Element {
  const { kind, model, stateKey, expanded } = props;
  const toggle = () => model.setExpanded(stateKey, !expanded);
  return (
    <li className={`jp-mltrack-node jp-mltrack-${kind}-node`} {...props.itemData}>
      <div
        className={`jp-mltrack-node-header jp-mltrack-${kind}`}
        {...props.data}
        role="treeitem"
        tabIndex={0}
        aria-expanded={expanded}
        title={props.title}
        onClick={toggle}
        onKeyDown={onActivateKey(toggle)}
      >
        <Caret expanded={expanded} />
        <span className="jp-mltrack-node-label">{props.label}</span>
        {props.count !== undefined && <span className="jp-mltrack-count">{props.count}</span>}
        {props.actions}
      </div>
      {expanded && props.children}
    </li>
  );
}

/** A project or an experiment: labelled with its name and run count; `data-<kind>-name` on the node and its header,
 * `data-<kind>-id` on the header. */
function NamedNode(props: {
  kind: 'project' | 'experiment';
  item: Project | Experiment;
  model: TrackerModel;
  stateKey: string;
  expanded: boolean;
  title: string;
  actions?: React.ReactNode;
  children: React.ReactNode;
}): JSX.Element {
  const { kind, item, ...rest } = props;
  const name = { [`data-${kind}-name`]: item.name };
  const data = { ...name, [`data-${kind}-id`]: String(item.id) };
  return <TreeNode {...rest} kind={kind} itemData={name} data={data} label={item.name} count={item.run_count} />;
}

function ExperimentNode(props: { model: TrackerModel; experiment: Experiment }): JSX.Element {
  const { model, experiment } = props;
  const key = `e:${experiment.id}`;
  const expanded = model.isExpanded(key);
  const title = experiment.description || experiment.name;
  return (
    <NamedNode kind="experiment" item={experiment} model={model} stateKey={key} expanded={expanded} title={title}>
      <RunList
        model={model}
        listKey={key}
        params={{ project: experiment.project_id, experiment: experiment.id }}
        empty="No runs in this experiment yet."
      />
    </NamedNode>
  );
}

/** "All runs" or "No experiment" of a project. */
function GroupNode(props: {
  model: TrackerModel;
  project: Project;
  group: 'all' | 'no-experiment';
}): JSX.Element {
  const { model, project, group } = props;
  const key = `${group}:${project.id}`;
  const all = group === 'all';
  const expanded = model.isExpanded(key, all);
  return (
    <TreeNode
      kind="group"
      itemData={{ 'data-group': group }}
      data={{ 'data-group': group, 'data-project-name': project.name }}
      model={model}
      stateKey={key}
      expanded={expanded}
      label={all ? 'All runs' : 'No experiment'}
      count={all ? project.run_count : undefined}
      title={all ? `Every run of ${project.name}` : `Runs of ${project.name} that belong to no experiment`}
    >
      <RunList
        model={model}
        listKey={key}
        params={all ? { project: project.id } : { project: project.id, filter: 'experiment is null' }}
        empty={all ? NO_RUNS_YET : 'Every run of this project belongs to an experiment.'}
      />
    </TreeNode>
  );
}

function ProjectChildren(props: { model: TrackerModel; project: Project }): JSX.Element {
  const { model, project } = props;
  const res = useResource(model, `experiments:${project.id}`, () =>
    listExperiments(project.id, model.settings)
  );
  const experiments = res.data;
  return (
    <ul className="jp-mltrack-children" role="group">
      <GroupNode model={model} project={project} group="all" />
      {experiments === undefined ? (
        res.error ? (
          <li>
            <ErrorMessage title="Cannot list the experiments" message={res.error} />
          </li>
        ) : (
          <li>
            <Loading what="experiments" />
          </li>
        )
      ) : (
        experiments.map(e => <ExperimentNode key={e.id} model={model} experiment={e} />)
      )}
      {experiments !== undefined && experiments.length > 0 && (
        <GroupNode model={model} project={project} group="no-experiment" />
      )}
    </ul>
  );
}

/** Team mode: the caller's role in the project, and the button to its members. */
function ProjectTeamActions(props: { model: TrackerModel; project: Project }): JSX.Element {
  const { model, project } = props;
  const role = project.role ?? null;
  const open = (e: React.SyntheticEvent) => {
    e.stopPropagation();
    model.openPage({ kind: 'members', projectId: project.id, projectName: project.name });
  };
  return (
    <>
      {role && (
        <span className="jp-mltrack-role" data-role={role} title={`Your role in ${project.name}: ${role}`}>
          {role}
        </span>
      )}
      <button
        className="jp-mltrack-icon-button jp-mltrack-project-settings-button"
        title={`Members of ${project.name}`}
        aria-label={`Members of ${project.name}`}
        onClick={open}
        onKeyDown={e => e.stopPropagation()}
      >
        <settingsIcon.react tag="span" />
      </button>
    </>
  );
}

function ProjectNode(props: { model: TrackerModel; project: Project; only: boolean }): JSX.Element {
  const { model, project, only } = props;
  const key = `p:${project.id}`;
  const expanded = model.isExpandedSticky(key, only);
  const title = project.description ? `${project.name}: ${project.description}` : project.name;
  const actions = model.teamMode ? <ProjectTeamActions model={model} project={project} /> : undefined;
  return (
    <NamedNode
      kind="project"
      item={project}
      model={model}
      stateKey={key}
      expanded={expanded}
      title={title}
      actions={actions}
    >
      <ProjectChildren model={model} project={project} />
    </NamedNode>
  );
}

export function ProjectTree(props: { model: TrackerModel }): JSX.Element {
  const { model } = props;
  const res = useResource(model, 'projects', () => listProjects(model.settings));
  const projects = res.data;
  if (projects === undefined) {
    return res.error ? (
      <ErrorMessage title="Cannot list the projects" message={res.error} onRetry={() => void model.refresh()} />
    ) : (
      <Loading what="projects" />
    );
  }
  if (projects.length === 0) {
    return (
      <EmptyMessage className="jp-mltrack-empty-main">
        <p>{NO_RUNS_YET}</p>
        <pre className="jp-mltrack-hint">{'%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt'}</pre>
        <pre className="jp-mltrack-hint">{'%%track_run --name first\nmlt.log_metric("loss", 0.1)'}</pre>
      </EmptyMessage>
    );
  }
  return (
    <>
      {res.error && <ErrorMessage message={res.error} />}
      <ul className="jp-mltrack-tree" role="tree">
        {projects.map(p => (
          <ProjectNode key={p.id} model={model} project={p} only={projects.length === 1} />
        ))}
      </ul>
    </>
  );
}
