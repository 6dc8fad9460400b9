// The workflow's graph with each node's live state (@xyflow/react). Nodes are focusable;
// Enter or Space on a focused node selects it (its details open in the side panel).
import { memo, useCallback, useMemo, useRef } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { formatUsd, fromNano } from "../../lib/money";
import { layoutGraph } from "./layout";
import type { NodeState } from "./reducer";
import type { WorkflowShape } from "./types";

/** What a node shows, and nothing more: its data object (and so the React Flow node) is
 * replaced only when one of these changes, so a burst of events that leaves a node's
 * display as it was costs that node nothing. */
type OrcaNodeData = {
  label: string;
  kind: "start" | "end" | "node";
  status: NodeState["status"];
  active: number;
  /** "$0.0012 · 340 tok", or "" before the node's first LLM call */
  figures: string;
  selected: boolean;
};
type OrcaNode = Node<OrcaNodeData, "orca">;

/** Fixed node sizes (px): given to React Flow as the nodes' width and height and kept by
 * the CSS (monitor.css, .graph-node), so a node whose text changes is never measured
 * again (React Flow's ResizeObserver has nothing to report during a run). */
export const NODE_SIZE = { width: 168, height: 70 } as const;
export const TERMINAL_SIZE = { width: 90, height: 32 } as const;

const STATUS_MARK: Record<string, string> = {
  waiting: "○",
  running: "◐",
  done: "●",
  failed: "✕",
  interrupted: "❚❚",
  cached: "↺",
};

const OrcaNodeView = memo(function OrcaNodeView({ data }: NodeProps<OrcaNode>) {
  if (data.kind !== "node") {
    return (
      <div className="graph-node graph-terminal">
        {data.kind === "end" ? <Handle type="target" position={Position.Top} /> : null}
        {data.label}
        {data.kind === "start" ? <Handle type="source" position={Position.Bottom} /> : null}
      </div>
    );
  }
  const status = data.status;
  return (
    <div className={`graph-node node-${status}${data.selected ? " node-selected" : ""}`} data-status={status}>
      <Handle type="target" position={Position.Top} />
      <div className="graph-node-name">{data.label}</div>
      <div className={`graph-node-status status-${status}`}>
        <span aria-hidden="true">{STATUS_MARK[status]} </span>
        {status}
        {data.active > 1 ? ` ×${data.active}` : ""}
      </div>
      <div className="graph-node-cost">{data.figures}</div>
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
});

function nodeFigures(n: NodeState | null): string {
  if (!n || (n.calls === 0 && n.costNano === 0n)) return "";
  return `${formatUsd(fromNano(n.costNano))} · ${(n.inputTokens + n.outputTokens).toLocaleString("en-US")} tok`;
}

const nodeTypes = { orca: OrcaNodeView };

export const GraphView = memo(function GraphView({
  shape,
  nodes,
  taken,
  selected,
  onSelect,
}: {
  shape: WorkflowShape;
  nodes: Readonly<Record<string, NodeState>>;
  /** edges the run took ("from->to"), joined by "|" (a string: a burst that takes the
   * same edges again leaves the graph as it was) */
  taken: string;
  selected: string | null;
  onSelect: (node: string | null) => void;
}) {
  const takenKey = taken;
  const layout = useMemo(() => layoutGraph(shape, takenKey ? takenKey.split("|") : []), [shape, takenKey]);
  // the previous frame's React Flow nodes by id: a node whose display did not change
  // keeps its object, so React Flow neither re-renders nor re-measures it
  const previous = useRef(new Map<string, OrcaNode>());
  const flowNodes = useMemo<OrcaNode[]>(() => {
    const before = previous.current;
    const next = new Map<string, OrcaNode>();
    const out = layout.nodes.map((l) => {
      const n = nodes[l.id] ?? null;
      const label = l.kind === "start" ? "start" : l.kind === "end" ? "end" : l.id;
      const status = n?.status ?? "waiting";
      const active = n?.active ?? 0;
      const figures = l.kind === "node" ? nodeFigures(n) : "";
      const isSelected = selected === l.id;
      const old = before.get(l.id);
      const d = old?.data;
      if (
        old &&
        d &&
        old.position.x === l.x &&
        old.position.y === l.y &&
        d.kind === l.kind &&
        d.status === status &&
        d.active === active &&
        d.figures === figures &&
        d.selected === isSelected
      ) {
        next.set(l.id, old);
        return old;
      }
      const size = l.kind === "node" ? NODE_SIZE : TERMINAL_SIZE;
      const node: OrcaNode = {
        id: l.id,
        type: "orca",
        position: { x: l.x, y: l.y },
        width: size.width,
        height: size.height,
        data: { label, kind: l.kind, status, active, figures, selected: isSelected },
        ariaLabel: l.kind === "node" ? `Node ${l.id}: ${status}` : `${label} of the graph`,
        selectable: l.kind === "node",
        draggable: false,
        connectable: false,
        selected: isSelected,
      };
      next.set(l.id, node);
      return node;
    });
    previous.current = next;
    return out;
  }, [layout, nodes, selected]);
  const running = Object.values(nodes)
    .filter((n) => n.status === "running")
    .map((n) => n.name)
    .join("|");
  const flowEdges = useMemo<Edge[]>(
    () =>
      layout.edges.map((e) => {
        const ran = takenKey.split("|").includes(e.id);
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          animated: running.split("|").includes(e.source),
          markerEnd: { type: MarkerType.ArrowClosed },
          style: e.dynamic && !ran ? { strokeDasharray: "5 4" } : undefined,
          focusable: false,
        };
      }),
    [layout, running, takenKey],
  );
  // stable handlers: React Flow copies each new one into its store, which renders again
  const onNodeClick = useCallback(
    (_: unknown, node: OrcaNode) => onSelect(node.data.kind === "node" ? node.id : null),
    [onSelect],
  );
  const onNodesChange = useCallback(
    (changes: NodeChange<OrcaNode>[]) => {
      // the nodes are controlled: a selection (a click, or Enter/Space on a focused
      // node) arrives as a change, and the page's selection is the one truth
      for (const c of changes) {
        if (c.type === "select" && c.selected && c.id !== selected) onSelect(c.id);
      }
    },
    [onSelect, selected],
  );
  const onPaneClick = useCallback(() => onSelect(null), [onSelect]);
  return (
    <div className="monitor-graph" role="group" aria-label="Workflow graph">
      <ReactFlow
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        fitView
        minZoom={0.2}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable
        nodesFocusable
        edgesFocusable={false}
        onNodeClick={onNodeClick}
        onNodesChange={onNodesChange}
        onPaneClick={onPaneClick}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
});
