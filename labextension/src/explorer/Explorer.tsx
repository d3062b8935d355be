/** The experiment explorer at full width: a project's runs in a virtualised table (sort, filter with completion,
 * column chooser with pinned and hidden columns remembered per project, rows grouped by a param or tag) and the
 * metric explorer over the same runs; the rows selected in the table are the runs charted. The lineage graph of a run
 * or a model version (the one row selected, or where the sidebar or the Models view asked). */
import * as React from 'react';

import { getRunColumns, listProjects, Project, RunColumns } from '../api';
import { ErrorMessage, Loading } from '../sidebar/common';
import { useResource, useSignal } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import {
  allColumns,
  Column,
  ColumnPrefs,
  completionFields,
  isVisible,
  layoutColumns,
  loadPrefs,
  savePrefs,
  toggleVisible,
  togglePinned
} from './columns';
import { FilterInput } from './FilterInput';
import { LineageTarget, LineageView } from './LineageView';
import { ChartSettings, DEFAULT_CHART, MetricsView } from './MetricsView';
import { ModelFocus, ModelsView } from './ModelsView';
import { RunsTable, TableQuery } from './RunsTable';
import { ALL, Scope, ScopeDescription, ScopePicker } from './ScopeBar';
import { ServicesView, useDeployments, VersionServices } from './ServicesView';
import { JobsPanel } from '../jobs/JobsPanel';
import { FiguresCompare } from '../figures/FiguresCompare';

export type ExplorerTab = 'runs' | 'metrics' | 'figures' | 'lineage' | 'models' | 'services' | 'jobs';

const TABS: { id: ExplorerTab; label: string }[] = [
  { id: 'runs', label: 'Runs' },
  { id: 'metrics', label: 'Metrics' },
  { id: 'figures', label: 'Figures' },
  { id: 'lineage', label: 'Lineage' },
  { id: 'models', label: 'Models' },
  { id: 'services', label: 'Services' },
  { id: 'jobs', label: 'Jobs' }
];

/** The Models tab with each version's services (the project's deployments, polled while it is shown). */
function ModelsTab(props: {
  model: TrackerModel;
  project: string;
  focus: ModelFocus | null;
  onOpenRun: (runId: string) => void;
  onLineage: (runId: string, focus: string) => void;
}): JSX.Element {
  const deployments = useDeployments(props.model, props.project);
  return (
    <ModelsView
      {...props}
      services={v => (
        <VersionServices model={props.model} v={v} deployments={deployments.data} reload={deployments.reload} />
      )}
    />
  );
}

/** What the explorer is asked to show from outside (the sidebar, a command): `seq` tells a new request from the
 * last one applied. */
export type ExplorerRequest = { seq: number } & (
  | { tab: 'lineage'; target: LineageTarget }
  | { tab: 'models'; project: string; model: string; version?: number }
);

function ColumnChooser(props: {
  all: Column[];
  prefs: ColumnPrefs;
  onChange: (p: ColumnPrefs) => void;
}): JSX.Element {
  const [open, setOpen] = React.useState(false);
  const [text, setText] = React.useState('');
  const needle = text.trim().toLowerCase();
  const shown = props.all.filter(c => !needle || c.id.toLowerCase().includes(needle));
  return (
    <div className="jp-mltrack-explorer-chooser">
      <button className="jp-mltrack-button jp-mltrack-explorer-columns-button" onClick={() => setOpen(!open)} aria-expanded={open}>
        Columns…
      </button>
      {open && (
        <div className="jp-mltrack-explorer-chooser-panel" role="dialog" aria-label="Choose columns">
          <input
            type="search"
            placeholder="Find a column"
            value={text}
            autoFocus
            onChange={e => setText(e.target.value)}
            onKeyDown={e => e.key === 'Escape' && setOpen(false)}
          />
          <ul>
            {shown.map(c => {
              const pinned = props.prefs.pinned.includes(c.id);
              return (
                <li key={c.id} data-col={c.id} className={`jp-mltrack-kind-${c.kind}`}>
                  <label>
                    <input
                      type="checkbox"
                      checked={isVisible(c, props.all, props.prefs)}
                      onChange={() => props.onChange(toggleVisible(c, props.all, props.prefs))}
                    />
                    <span className="jp-mltrack-muted-text">{c.kind}</span> {c.label}
                  </label>
                  <button
                    className={'jp-mltrack-icon-button jp-mltrack-explorer-pin' + (pinned ? ' jp-mod-active' : '')}
                    title={pinned ? 'Unpin' : 'Pin to the left'}
                    aria-pressed={pinned}
                    onClick={() => props.onChange(togglePinned(c, props.prefs))}
                  >
                    📌
                  </button>
                </li>
              );
            })}
          </ul>
          <button className="jp-mltrack-button" onClick={() => props.onChange({ hidden: [], shown: [], pinned: [] })}>
            Reset to defaults
          </button>
        </div>
      )}
    </div>
  );
}

export function ExplorerApp(props: {
  model: TrackerModel;
  onOpenRun: (runId: string) => void;
  onCompare: (a: string, b: string) => void;
  request?: ExplorerRequest | null;
}): JSX.Element {
  const { model, request } = props;
  useSignal(model.dataChanged);
  const projects = useResource<Project[]>(model, 'explorer:projects', () => listProjects(model.settings));
  const [project, setProject] = React.useState<string>('');
  const [scope, setScope] = React.useState<Scope>(ALL);
  const [tab, setTab] = React.useState<ExplorerTab>('runs');
  const [filter, setFilter] = React.useState('');
  const [filterError, setFilterError] = React.useState<string | null>(null);
  const [sort, setSort] = React.useState<{ id: string; desc: boolean } | null>(null);
  const [groupBy, setGroupBy] = React.useState('');
  const [selected, setSelected] = React.useState<Set<string>>(new Set());
  const [total, setTotal] = React.useState<number | null>(null);
  const [prefs, setPrefs] = React.useState<ColumnPrefs>({ hidden: [], shown: [], pinned: [] });
  const [chart, setChart] = React.useState<ChartSettings>(DEFAULT_CHART);
  const [lineage, setLineage] = React.useState<LineageTarget | null>(null);
  const [modelFocus, setModelFocus] = React.useState<ModelFocus | null>(null);
  const showLineage = (target: LineageTarget) => {
    setLineage(target);
    setTab('lineage');
  };
  // runs to select once the project asked for is shown (changing the project clears the selection)
  const pendingSelection = React.useRef<string[] | null>(null);
  const chartRun = (inProject: string, runId: string) => {
    if (inProject === project) {
      setSelected(new Set([runId]));
    } else {
      pendingSelection.current = [runId];
      setProject(inProject);
    }
    setTab('metrics');
  };
  const showModel = (inProject: string, name: string, version?: number) => {
    setProject(inProject);
    setModelFocus({ model: name, version });
    setTab('models');
  };

  React.useEffect(() => {
    if (request && request.tab === 'lineage') {
      showLineage(request.target);
    } else if (request && request.tab === 'models') {
      showModel(request.project, request.model, request.version);
    }
  }, [request?.seq]);

  // the first project by default; a project that went away falls back to the first
  const names = (projects.data ?? []).map(p => p.name);
  React.useEffect(() => {
    if (names.length && !names.includes(project)) {
      setProject(names[0]);
    }
  }, [names.join('\n')]);
  React.useEffect(() => {
    setPrefs(loadPrefs(project));
    setSelected(new Set(pendingSelection.current ?? []));
    pendingSelection.current = null;
    setGroupBy('');
    setSort(null);
    setFilter('');
    setChart(DEFAULT_CHART);
    setScope(ALL);
  }, [project]);

  const inScope = { project, experiment: scope.experiment || undefined, campaign: scope.campaign || undefined };
  const columnsRes = useResource<RunColumns>(model, `explorer:columns:${JSON.stringify(inScope)}`, () =>
    project ? getRunColumns(inScope, model.settings) : Promise.resolve({ params: [], metrics: [], tags: [] })
  );
  const all = React.useMemo(() => allColumns(columnsRes.data), [columnsRes.data]);
  const columns = layoutColumns(all, prefs);
  const groupCol = all.find(c => c.id === groupBy) ?? null;
  const groupColumns = all.filter(c => c.kind === 'param' || c.kind === 'tag');
  const sortText = sort ? `${sort.id} ${sort.desc ? 'DESC' : 'ASC'}` : '';
  const orderBy = groupCol ? [`${groupCol.id} ASC`, sortText].filter(x => x).join(', ') : sortText;
  const query: TableQuery = { project, filter, orderBy, ...scope };
  const onTotal = React.useCallback((t: number | null, err: string | null) => {
    setTotal(t);
    setFilterError(err);
  }, []);
  const changePrefs = (p: ColumnPrefs) => {
    setPrefs(p);
    savePrefs(project, p);
  };
  const selectedList = Array.from(selected);

  if (projects.loading) {
    return <Loading what="projects" />;
  }
  if (projects.error && !projects.data) {
    return <ErrorMessage title="Cannot load the projects" message={projects.error} onRetry={() => void model.refresh()} />;
  }
  if (!names.length) {
    return (
      <div className="jp-mltrack-explorer">
        <p className="jp-mltrack-muted-text jp-mltrack-explorer-empty">
          No runs yet. Track a cell with <code>%%track_run</code> or call <code>mlt.start_run()</code>; its runs show
          here.
        </p>
      </div>
    );
  }
  return (
    <div className="jp-mltrack-explorer" data-project={project}>
      <div className="jp-mltrack-explorer-toolbar">
        <label>
          Project{' '}
          <select className="jp-mltrack-explorer-project" value={project} onChange={e => setProject(e.target.value)}>
            {names.map(n => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <ScopePicker model={model} project={project} scope={scope} onScope={setScope} />
        <div className="jp-mltrack-explorer-tabs" role="tablist">
          {TABS.map(t => (
            <button
              key={t.id}
              role="tab"
              aria-selected={tab === t.id}
              className={'jp-mltrack-explorer-tab' + (tab === t.id ? ' jp-mod-active' : '')}
              data-tab={t.id}
              onClick={() => {
                if (t.id === 'lineage' && selectedList.length === 1) {
                  setLineage({ runId: selectedList[0] });
                }
                setTab(t.id);
              }}
            >
              {t.label}
            </button>
          ))}
        </div>
        <span className="jp-mltrack-explorer-count" data-total={total ?? ''}>
          {total === null ? '' : `${total.toLocaleString('en-US')} run${total === 1 ? '' : 's'}`}
          {selected.size ? ` · ${selected.size} selected` : ''}
        </span>
        {selected.size > 0 && (
          <button className="jp-mltrack-button jp-mltrack-explorer-clear" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        )}
        {selected.size === 2 && (
          <button
            className="jp-mltrack-button jp-mltrack-explorer-compare"
            onClick={() => props.onCompare(selectedList[0], selectedList[1])}
          >
            Compare
          </button>
        )}
      </div>
      {tab === 'runs' && (
        <ScopeDescription model={model} project={projects.data?.find(p => p.name === project)} scope={scope} />
      )}
      {(tab === 'runs' || tab === 'metrics') && (
        <FilterInput
          value={filter}
          fields={completionFields(columnsRes.data)}
          error={filterError}
          onApply={f => setFilter(f)}
        />
      )}
      {tab === 'lineage' ? (
        <LineageView
          model={model}
          target={lineage}
          onTarget={setLineage}
          onOpenRun={props.onOpenRun}
          onOpenModel={showModel}
        />
      ) : tab === 'models' ? (
        <ModelsTab
          model={model}
          project={project}
          focus={modelFocus}
          onOpenRun={props.onOpenRun}
          onLineage={(runId, focus) => showLineage({ runId, focus })}
        />
      ) : tab === 'services' ? (
        <ServicesView model={model} project={project} onChartRun={chartRun} />
      ) : tab === 'jobs' ? (
        <JobsPanel
          key={project}
          settings={model.settings}
          visible={() => !document.hidden}
          project={project}
          wide
          onOpenRun={props.onOpenRun}
        />
      ) : tab === 'figures' ? (
        <FiguresCompare model={model} runIds={selectedList} onOpenRun={props.onOpenRun} />
      ) : tab === 'runs' ? (
        <>
          <div className="jp-mltrack-explorer-toolbar">
            <ColumnChooser all={all} prefs={prefs} onChange={changePrefs} />
            <label>
              Group rows by{' '}
              <select className="jp-mltrack-explorer-rowgroup" value={groupBy} onChange={e => setGroupBy(e.target.value)}>
                <option value="">— none —</option>
                {groupColumns.map(c => (
                  <option key={c.id} value={c.id}>
                    {c.id}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <RunsTable
            model={model}
            query={query}
            columns={columns}
            pinned={new Set(prefs.pinned)}
            groupBy={groupCol}
            sort={sort}
            onSort={c =>
              setSort(s => (s && s.id === c.id ? (s.desc ? null : { id: c.id, desc: true }) : { id: c.id, desc: false }))
            }
            selected={selected}
            onSelect={(ids, on) =>
              setSelected(s => {
                const next = new Set(s);
                for (const id of ids) {
                  if (on) {
                    next.add(id);
                  } else {
                    next.delete(id);
                  }
                }
                return next;
              })
            }
            onOpenRun={props.onOpenRun}
            onTotal={onTotal}
          />
        </>
      ) : (
        <MetricsView
          model={model}
          query={query}
          selected={selectedList}
          metricKeys={columnsRes.data?.metrics ?? []}
          groupColumns={groupColumns}
          settings={chart}
          onSettings={setChart}
        />
      )}
    </div>
  );
}
