// The workflow's graph with each node's live state (@xyflow/react). Nodes are focusable;
// Enter or Space on a focused node selects it (its details open in the side panel).
import { memo, useMemo } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { formatUsd, fromNano } from "../../lib/money";
import { layoutGraph } from "./layout";
import type { NodeState } from "./reducer";
import type { WorkflowShape } from "./types";

type OrcaNodeData = { label: string; kind: "start" | "end" | "node"; node: NodeState | null; selected: boolean };
type OrcaNode = Node<OrcaNodeData, "orca">;

const STATUS_MARK: Record<string, string> = {
  waiting: "○",
  running: "◐",
  done: "●",
  failed: "✕",
  interrupted: "❚❚",
  cached: "↺",
};

const OrcaNodeView = memo(function OrcaNodeView({ data }: NodeProps<OrcaNode>) {
  const n = data.node;
  if (data.kind !== "node") {
    return (
      <div className="graph-node graph-terminal">
        {data.kind === "end" ? <Handle type="target" position={Position.Top} /> : null}
        {data.label}
        {data.kind === "start" ? <Handle type="source" position={Position.Bottom} /> : null}
      </div>
    );
  }
  const status = n?.status ?? "waiting";
  return (
    <div className={`graph-node node-${status}${data.selected ? " node-selected" : ""}`} data-status={status}>
      <Handle type="target" position={Position.Top} />
      <div className="graph-node-name">{data.label}</div>
      <div className={`graph-node-status status-${status}`}>
        <span aria-hidden="true">{STATUS_MARK[status]} </span>
        {status}
        {n && n.active > 1 ? ` ×${n.active}` : ""}
      </div>
      {n && (n.calls > 0 || n.costNano > 0n) ? (
        <div className="graph-node-cost">
          {formatUsd(fromNano(n.costNano))} · {(n.inputTokens + n.outputTokens).toLocaleString("en-US")} tok
        </div>
      ) : null}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
});

const nodeTypes = { orca: OrcaNodeView };

export function GraphView({
  shape,
  nodes,
  taken,
  selected,
  onSelect,
}: {
  shape: WorkflowShape;
  nodes: Readonly<Record<string, NodeState>>;
  taken: readonly string[];
  selected: string | null;
  onSelect: (node: string | null) => void;
}) {
  const takenKey = taken.join("|");
  const layout = useMemo(() => layoutGraph(shape, takenKey ? takenKey.split("|") : []), [shape, takenKey]);
  const flowNodes = useMemo<OrcaNode[]>(
    () =>
      layout.nodes.map((l) => {
        const n = nodes[l.id] ?? null;
        const label = l.kind === "start" ? "start" : l.kind === "end" ? "end" : l.id;
        return {
          id: l.id,
          type: "orca",
          position: { x: l.x, y: l.y },
          data: { label, kind: l.kind, node: n, selected: selected === l.id },
          ariaLabel: l.kind === "node" ? `Node ${l.id}: ${n?.status ?? "waiting"}` : `${label} of the graph`,
          selectable: l.kind === "node",
          draggable: false,
          connectable: false,
          selected: selected === l.id,
        };
      }),
    [layout, nodes, selected],
  );
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
        onNodeClick={(_, node) => onSelect(node.data.kind === "node" ? node.id : null)}
        onNodesChange={(changes) => {
          // the nodes are controlled: a selection (a click, or Enter/Space on a focused
          // node) arrives as a change, and the page's selection is the one truth
          for (const c of changes) {
            if (c.type === "select" && c.selected && c.id !== selected) onSelect(c.id);
          }
        }}
        onPaneClick={() => onSelect(null)}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
