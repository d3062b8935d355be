/**
 * The lineage graph of a run or a model version: runs ↔ artifacts ↔ dataset and model versions, upstream (what it
 * came from, on the left), downstream (what came of it, on the right) or both, to a chosen depth. Drawn from
 * `GET runs/{id}/lineage` (a model version's graph is its source run's, centred on the version); nodes are HTML
 * boxes over SVG edges. Clicking a run opens its detail, a model version its place in the Models view; a run's
 * *centre* button centres the graph on it.
 */
import * as React from 'react';

import { getLineage, Lineage, LineageNode } from '../api';
import { ErrorMessage, Loading } from '../sidebar/common';
import { useResource } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import { around, edgePath, layout, mergeLineages, NODE_HEIGHT, NODE_WIDTH, PlacedNode } from './lineageLayout';

/** Whose lineage is shown: a run, and the node the graph is centred on (the run itself by default; a model version
 * registered from one of its artifacts, say). */
export interface LineageTarget {
  runId: string;
  focus?: string;
}

export type LineageDirection = 'up' | 'down' | 'both';

const DEPTHS: (number | null)[] = [1, 2, 3, 4, 6, 8, null];

/** A model version's lineage node id (`model:<model id>:<version>`, as core/lineage.py names it). */
export function modelNodeId(modelId: number, version: number): string {
  return `model:${modelId}:${version}`;
}

function nodeTitle(n: LineageNode): string {
  switch (n.kind) {
    case 'run':
      return n.name || String(n.run_id);
    case 'artifact':
      return `${n.name} v${n.version}`;
    default:
      return `${n.name}@${n.version}`;
  }
}

function nodeSub(n: LineageNode): string {
  switch (n.kind) {
    case 'run':
      return [n.run_id, n.status].filter(x => x).join(' · ');
    case 'artifact':
      return [n.type, n.project].filter(x => x).join(' · ');
    default:
      return `${n.kind} version · ${n.project ?? ''}`;
  }
}

function GraphNode(props: {
  placed: PlacedNode;
  focus: boolean;
  onOpen?: () => void;
  onCenter?: () => void;
}): JSX.Element {
  const { placed, focus, onOpen, onCenter } = props;
  const n = placed.node;
  return (
    <div
      className={`jp-mltrack-graph-node jp-mltrack-graph-${n.kind}` + (focus ? ' jp-mod-focus' : '')}
      data-node-id={n.id}
      data-kind={n.kind}
      data-column={placed.column}
      style={{ left: placed.x, top: placed.y, width: NODE_WIDTH, height: NODE_HEIGHT }}
      role={onOpen ? 'link' : undefined}
      tabIndex={onOpen ? 0 : undefined}
      title={onOpen ? (n.kind === 'model' ? 'Show this version in Models' : 'Open its run') : undefined}
      onClick={onOpen}
      onKeyDown={e => {
        if (onOpen && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          onOpen();
        }
      }}
    >
      <div className="jp-mltrack-graph-node-head">
        <span className="jp-mltrack-chip jp-mltrack-graph-kind">{n.kind}</span>
        <span className="jp-mltrack-graph-label">{nodeTitle(n)}</span>
        {onCenter && (
          <button
            className="jp-mltrack-icon-button jp-mltrack-graph-center"
            title="Centre the lineage on this run"
            aria-label="Centre the lineage on this run"
            onClick={e => {
              e.stopPropagation();
              onCenter();
            }}
          >
            centre
          </button>
        )}
      </div>
      <div className="jp-mltrack-graph-node-sub">
        {(n.aliases ?? []).map(a => (
          <span key={a} className="jp-mltrack-chip jp-mltrack-alias" data-alias={a}>
            @{a}
          </span>
        ))}
        <span className="jp-mltrack-muted">{nodeSub(n)}</span>
      </div>
    </div>
  );
}

export function LineageGraph(props: {
  lineages: Lineage[];
  focus: string;
  direction: LineageDirection;
  depth: number | null;
  onOpenRun: (runId: string) => void;
  onOpenModel: (project: string, name: string, version: number) => void;
  onCenter: (target: LineageTarget) => void;
}): JSX.Element {
  const { focus } = props;
  const graph = React.useMemo(
    () => around(mergeLineages(props.lineages), focus, props.direction, props.depth),
    [props.lineages, focus, props.direction, props.depth]
  );
  const placed = React.useMemo(() => layout(graph), [graph]);
  const at = new Map(placed.nodes.map(p => [p.node.id, p]));
  const producerRun = (n: LineageNode): string | undefined => {
    // a dataset version's files are an artifact: its run is the artifact's
    const art = graph.edges.find(e => e.target === n.id && e.kind === 'version');
    const node = art && at.get(art.source)?.node;
    return node?.run_id;
  };
  const open = (n: LineageNode): (() => void) | undefined => {
    if (n.kind === 'model' && n.project && n.name && n.version !== undefined) {
      return () => props.onOpenModel(n.project as string, n.name as string, n.version as number);
    }
    const runId = n.kind === 'dataset' ? producerRun(n) : n.run_id;
    return runId ? () => props.onOpenRun(runId) : undefined;
  };
  return (
    <div className="jp-mltrack-graph-scroll">
      <div
        className="jp-mltrack-graph"
        data-nodes={placed.nodes.length}
        data-edges={placed.edges.length}
        style={{ width: placed.width, height: placed.height }}
      >
        <svg className="jp-mltrack-graph-edges" width={placed.width} height={placed.height}>
          <defs>
            <marker id="jp-mltrack-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L8,4 L0,8 z" />
            </marker>
          </defs>
          {placed.edges.map(e => {
            const from = at.get(e.source);
            const to = at.get(e.target);
            return from && to ? (
              <path
                key={`${e.source}>${e.target}>${e.kind}`}
                className={`jp-mltrack-graph-edge jp-mltrack-graph-edge-${e.kind}`}
                data-source={e.source}
                data-target={e.target}
                data-kind={e.kind}
                d={edgePath(from, to)}
                markerEnd="url(#jp-mltrack-arrow)"
              >
                <title>{e.role ? `${e.kind} (${e.role})` : e.kind}</title>
              </path>
            ) : null;
          })}
        </svg>
        {placed.nodes.map(p => (
          <GraphNode
            key={p.node.id}
            placed={p}
            focus={p.node.id === focus}
            onOpen={open(p.node)}
            onCenter={
              p.node.kind === 'run' && p.node.run_id && p.node.id !== focus
                ? () => props.onCenter({ runId: p.node.run_id as string })
                : undefined
            }
          />
        ))}
      </div>
    </div>
  );
}

/** The Lineage view of the explorer: its controls (direction, depth) over the graph of `target`. */
export function LineageView(props: {
  model: TrackerModel;
  target: LineageTarget | null;
  onTarget: (t: LineageTarget) => void;
  onOpenRun: (runId: string) => void;
  onOpenModel: (project: string, name: string, version: number) => void;
}): JSX.Element {
  const { model, target } = props;
  const [direction, setDirection] = React.useState<LineageDirection>('both');
  const [depth, setDepth] = React.useState<number | null>(null);
  const runId = target?.runId ?? '';
  const focus = target?.focus ?? `run:${runId}`;
  const centredOnRun = focus === `run:${runId}`;
  // A version's graph is its run's, re-centred: two more hops (run → artifact → version) are needed from the run.
  const fetchDepth = depth === null ? undefined : depth + (centredOnRun ? 0 : 2);
  const fetchUp = !centredOnRun || direction !== 'down';
  const fetchDown = !centredOnRun || direction !== 'up';
  const res = useResource<Lineage[]>(
    model,
    `explorer:lineage:${runId}:${fetchUp}:${fetchDown}:${fetchDepth ?? 'all'}`,
    () =>
      runId
        ? Promise.all([
            ...(fetchUp ? [getLineage(runId, 'up', fetchDepth, model.settings)] : []),
            ...(fetchDown ? [getLineage(runId, 'down', fetchDepth, model.settings)] : [])
          ])
        : Promise.resolve([]),
    { keepPrevious: true }
  );
  if (!target) {
    return (
      <div className="jp-mltrack-explorer-lineage">
        <p className="jp-mltrack-muted-text jp-mltrack-explorer-empty">
          Select one run in the Runs view, or choose Lineage on a model version in Models, to see what it came from
          and what came of it.
        </p>
      </div>
    );
  }
  const truncated = (res.data ?? []).some(l => l.truncated);
  return (
    <div className="jp-mltrack-explorer-lineage" data-run-id={runId} data-focus={focus}>
      <div className="jp-mltrack-explorer-toolbar">
        <label>
          Show{' '}
          <select
            className="jp-mltrack-lineage-direction"
            value={direction}
            onChange={e => setDirection(e.target.value as LineageDirection)}
          >
            <option value="both">up and down</option>
            <option value="up">up: what it came from</option>
            <option value="down">down: what came of it</option>
          </select>
        </label>
        <label>
          Depth{' '}
          <select
            className="jp-mltrack-lineage-depth"
            value={depth === null ? 'all' : String(depth)}
            onChange={e => setDepth(e.target.value === 'all' ? null : Number(e.target.value))}
          >
            {DEPTHS.map(d => (
              <option key={String(d)} value={d === null ? 'all' : String(d)}>
                {d === null ? 'to the end' : `${d} hop${d === 1 ? '' : 's'}`}
              </option>
            ))}
          </select>
        </label>
        <span className="jp-mltrack-muted">
          {centredOnRun ? `run ${runId}` : `${focus} (from run ${runId})`}
          {truncated ? ' · the graph is larger than shown' : ''}
        </span>
      </div>
      {res.error && !res.data ? (
        <ErrorMessage title="Cannot load the lineage" message={res.error} onRetry={() => void model.refresh()} />
      ) : !res.data ? (
        <Loading what="the lineage" />
      ) : (
        <LineageGraph
          lineages={res.data}
          focus={focus}
          direction={direction}
          depth={depth}
          onOpenRun={props.onOpenRun}
          onOpenModel={props.onOpenModel}
          onCenter={props.onTarget}
        />
      )}
    </div>
  );
}
