/** The tree: projects ▸ ("All runs", experiments, "No experiment") ▸ runs. Only expanded nodes load. */
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

/** A clickable node header (the element carrying the node's class and data attributes). */
function NodeHeader(props: {
  className: string;
  data: { [attr: string]: string };
  expanded: boolean;
  onToggle: () => void;
  label: string;
  count?: number;
  title?: string;
}): JSX.Element {
  return (
    <div
      className={'jp-mltrack-node-header ' + props.className}
      {...props.data}
      role="treeitem"
      tabIndex={0}
      aria-expanded={props.expanded}
      title={props.title}
      onClick={props.onToggle}
      onKeyDown={onActivateKey(props.onToggle)}
    >
      <Caret expanded={props.expanded} />
      <span className="jp-mltrack-node-label">{props.label}</span>
      {props.count !== undefined && <span className="jp-mltrack-count">{props.count}</span>}
    </div>
  );
}

function ExperimentNode(props: { model: TrackerModel; experiment: Experiment }): JSX.Element {
  const { model, experiment } = props;
  const key = `e:${experiment.id}`;
  const expanded = model.isExpanded(key);
  return (
    <li className="jp-mltrack-node jp-mltrack-experiment-node" data-experiment-name={experiment.name}>
      <NodeHeader
        className="jp-mltrack-experiment"
        data={{ 'data-experiment-name': experiment.name, 'data-experiment-id': String(experiment.id) }}
        expanded={expanded}
        onToggle={() => model.setExpanded(key, !expanded)}
        label={experiment.name}
        count={experiment.run_count}
        title={experiment.description || experiment.name}
      />
      {expanded && (
        <RunList
          model={model}
          listKey={key}
          params={{ project: experiment.project_id, experiment: experiment.id }}
          empty="No runs in this experiment yet."
        />
      )}
    </li>
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
    <li className="jp-mltrack-node jp-mltrack-group-node" data-group={group}>
      <NodeHeader
        className="jp-mltrack-group"
        data={{ 'data-group': group, 'data-project-name': project.name }}
        expanded={expanded}
        onToggle={() => model.setExpanded(key, !expanded)}
        label={all ? 'All runs' : 'No experiment'}
        count={all ? project.run_count : undefined}
        title={all ? `Every run of ${project.name}` : `Runs of ${project.name} that belong to no experiment`}
      />
      {expanded && (
        <RunList
          model={model}
          listKey={key}
          params={all ? { project: project.id } : { project: project.id, filter: 'experiment is null' }}
          empty={all ? NO_RUNS_YET : 'Every run of this project belongs to an experiment.'}
        />
      )}
    </li>
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

function ProjectNode(props: { model: TrackerModel; project: Project; only: boolean }): JSX.Element {
  const { model, project, only } = props;
  const key = `p:${project.id}`;
  const expanded = model.isExpandedSticky(key, only);
  return (
    <li className="jp-mltrack-node jp-mltrack-project-node" data-project-name={project.name}>
      <NodeHeader
        className="jp-mltrack-project"
        data={{ 'data-project-name': project.name, 'data-project-id': String(project.id) }}
        expanded={expanded}
        onToggle={() => model.setExpanded(key, !expanded)}
        label={project.name}
        count={project.run_count}
        title={project.description ? `${project.name}: ${project.description}` : project.name}
      />
      {expanded && <ProjectChildren model={model} project={project} />}
    </li>
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
