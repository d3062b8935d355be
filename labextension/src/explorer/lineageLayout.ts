/**
 * The lineage graph's shape: the answers of `GET runs/{id}/lineage` (up and down) merged into one graph, cut to what
 * lies within a depth of the node in focus, and laid out as layered columns — what a node came from on its left, what
 * came of it on its right (edges point the way data flows, producer → consumer).
 */
import { Lineage, LineageEdge, LineageNode } from '../api';

export interface Graph {
  nodes: LineageNode[];
  edges: LineageEdge[];
  truncated: boolean;
}

export interface PlacedNode {
  node: LineageNode;
  column: number;
  row: number;
  x: number;
  y: number;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: LineageEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 52;
const COLUMN_GAP = 90;
const ROW_GAP = 18;
const MARGIN = 12;

/** One graph of several lineage answers (nodes and edges once each). */
export function mergeLineages(parts: Lineage[]): Graph {
  const nodes = new Map<string, LineageNode>();
  const edges = new Map<string, LineageEdge>();
  for (const part of parts) {
    for (const n of part.nodes) {
      nodes.set(n.id, n);
    }
    for (const e of part.edges) {
      edges.set(`${e.source}>${e.target}>${e.kind}`, e);
    }
  }
  return { nodes: Array.from(nodes.values()), edges: Array.from(edges.values()), truncated: parts.some(p => p.truncated) };
}

/** What lies within `depth` hops of `focus` (null: any number), upstream, downstream or both. */
export function around(graph: Graph, focus: string, direction: 'up' | 'down' | 'both', depth: number | null): Graph {
  const keep = new Set<string>([focus]);
  const walk = (up: boolean) => {
    let frontier = [focus];
    const seen = new Set(frontier);
    for (let hop = 0; frontier.length && (depth === null || hop < depth); hop++) {
      const next: string[] = [];
      for (const e of graph.edges) {
        const [from, to] = up ? [e.target, e.source] : [e.source, e.target];
        if (frontier.includes(from) && !seen.has(to)) {
          seen.add(to);
          next.push(to);
        }
      }
      next.forEach(n => keep.add(n));
      frontier = next;
    }
  };
  if (direction !== 'down') {
    walk(true);
  }
  if (direction !== 'up') {
    walk(false);
  }
  return {
    nodes: graph.nodes.filter(n => keep.has(n.id)),
    edges: graph.edges.filter(e => keep.has(e.source) && keep.has(e.target)),
    truncated: graph.truncated
  };
}

const KIND_ORDER: { [kind: string]: number } = { dataset: 0, artifact: 1, run: 2, model: 3 };

/** Columns by longest path from the sources (a source sits just left of its first consumer), rows ordered by the
 * mean row of their neighbours (two sweeps) so that edges cross little. */
export function layout(graph: Graph): Layout {
  const ids = graph.nodes.map(n => n.id);
  const known = new Set(ids);
  const edges = graph.edges.filter(e => known.has(e.source) && known.has(e.target));
  const preds = new Map<string, string[]>(ids.map(id => [id, []]));
  const succs = new Map<string, string[]>(ids.map(id => [id, []]));
  for (const e of edges) {
    preds.get(e.target)!.push(e.source);
    succs.get(e.source)!.push(e.target);
  }
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const columnOf = (id: string): number => {
    const known = column.get(id);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(id)) {
      return 0; // the walk's graph has no cycles; never loop if one came anyway
    }
    visiting.add(id);
    const c = Math.max(-1, ...preds.get(id)!.map(columnOf)) + 1;
    visiting.delete(id);
    column.set(id, c);
    return c;
  };
  ids.forEach(columnOf);
  for (const id of ids) {
    const next = succs.get(id)!;
    if (!preds.get(id)!.length && next.length) {
      column.set(id, Math.max(0, Math.min(...next.map(s => column.get(s)!)) - 1));
    }
  }
  const byId = new Map(graph.nodes.map(n => [n.id, n]));
  const columns: string[][] = [];
  for (const id of ids) {
    const c = column.get(id)!;
    (columns[c] = columns[c] ?? []).push(id);
  }
  for (let c = 0; c < columns.length; c++) {
    columns[c] = columns[c] ?? [];
    columns[c].sort((a, b) => {
      const na = byId.get(a)!;
      const nb = byId.get(b)!;
      return (KIND_ORDER[na.kind] ?? 9) - (KIND_ORDER[nb.kind] ?? 9) || a.localeCompare(b);
    });
  }
  const row = new Map<string, number>();
  const number = () => columns.forEach(col => col.forEach((id, i) => row.set(id, i)));
  number();
  const sweep = (order: number[], neighbours: Map<string, string[]>) => {
    for (const c of order) {
      const mean = (id: string) => {
        const ns = neighbours.get(id)!.map(n => row.get(n)!);
        return ns.length ? ns.reduce((s, v) => s + v, 0) / ns.length : row.get(id)!;
      };
      const keyed = columns[c].map(id => ({ id, key: mean(id) }));
      keyed.sort((a, b) => a.key - b.key);
      columns[c] = keyed.map(k => k.id);
      columns[c].forEach((id, i) => row.set(id, i));
    }
  };
  const indices = columns.map((_, i) => i);
  sweep(indices.slice(1), preds);
  sweep(indices.slice(0, -1).reverse(), succs);
  const tallest = Math.max(1, ...columns.map(col => col.length));
  const height = MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP;
  const placed: PlacedNode[] = [];
  columns.forEach((col, c) => {
    const span = col.length * NODE_HEIGHT + (col.length - 1) * ROW_GAP;
    const top = (height - span) / 2;
    col.forEach((id, r) => {
      placed.push({
        node: byId.get(id)!,
        column: c,
        row: r,
        x: MARGIN + c * (NODE_WIDTH + COLUMN_GAP),
        y: top + r * (NODE_HEIGHT + ROW_GAP)
      });
    });
  });
  const width = MARGIN * 2 + columns.length * NODE_WIDTH + Math.max(0, columns.length - 1) * COLUMN_GAP;
  return { nodes: placed, edges, width, height };
}

/** An edge's SVG path: from the right side of its source to the left side of its target. */
export function edgePath(from: PlacedNode, to: PlacedNode): string {
  const x1 = from.x + NODE_WIDTH;
  const y1 = from.y + NODE_HEIGHT / 2;
  const x2 = to.x;
  const y2 = to.y + NODE_HEIGHT / 2;
  const bend = Math.max(30, (x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}
