import { useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position as Side,
  ReactFlow,
  useReactFlow,
  type Edge,
  type EdgeChange,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import { canvasEdges, isKind } from "./flowModel";
import { CHANGE_MARK, type Change } from "./diffView";
import { END, START, type FlowDoc, type Kind, type Position } from "./types";

export const DRAG_TYPE = "application/x-orca-node";

export interface FlowNodeData extends Record<string, unknown> {
  id: string;
  kind: Kind | "start" | "end";
  summary: string;
  errors: number;
  change?: Change;
}

type FlowRFNode = Node<FlowNodeData, "flow">;

function summaryOf(doc: FlowDoc, id: string): string {
  const n = doc.nodes.find((x) => x.id === id);
  if (!n) return "";
  switch (n.kind) {
    case "llm":
    case "agent":
    case "human":
      return typeof n.output === "string" && n.output ? `→ ${n.output}` : "";
    case "tool":
      return n.tool ?? "";
    case "map":
      return n.over ? `over ${n.over}` : "";
    case "subflow":
      return n.flow ?? "";
    case "python":
      return n.ref ?? "";
    default:
      return "";
  }
}

function FlowNodeView({ data, selected }: NodeProps<FlowRFNode>) {
  const special = data.kind === "start" || data.kind === "end";
  const cls = ["flow-node", `kind-${data.kind}`, selected ? "selected" : "", data.errors ? "has-errors" : "", data.change ? `change-${data.change}` : ""];
  return (
    <div className={cls.filter(Boolean).join(" ")}>
      {data.kind !== "start" ? <Handle type="target" position={Side.Left} /> : null}
      <div className="flow-node-kind">{special ? "" : data.kind}</div>
      <div className="flow-node-id">{special ? (data.kind === "start" ? "START" : "END") : data.id}</div>
      {data.summary ? <div className="flow-node-summary mono">{data.summary}</div> : null}
      {data.errors ? (
        <div className="flow-node-errors" data-testid={`node-errors-${data.id}`}>
          ⚠ {data.errors} error{data.errors === 1 ? "" : "s"}
        </div>
      ) : null}
      {data.change && data.change !== "same" ? <div className="flow-node-change">{CHANGE_MARK[data.change]}</div> : null}
      {data.kind !== "end" ? <Handle type="source" position={Side.Right} /> : null}
    </div>
  );
}

const nodeTypes = { flow: FlowNodeView };

export interface CanvasProps {
  doc: FlowDoc;
  selected: string | null;
  errorsByNode?: Map<string, number>;
  /** Diff marks (a read-only diff canvas). */
  changes?: { nodes: Map<string, Change>; edges: Map<string, Change> };
  readOnly?: boolean;
  label: string;
  /** Changing it fits the view to the graph (after a keyboard add, a load). */
  fitKey?: number;
  onSelect?: (id: string | null) => void;
  onMove?: (id: string, position: Position) => void;
  onConnect?: (from: string, to: string) => void;
  onDisconnect?: (edgeId: string) => void;
  onRemove?: (id: string) => void;
  onDropKind?: (kind: Kind, position: Position) => void;
}

function ends(doc: FlowDoc): { start: Position; end: Position } {
  if (!doc.nodes.length) return { start: { x: 0, y: 150 }, end: { x: 600, y: 150 } };
  const xs = doc.nodes.map((n) => n.position?.x ?? 0);
  const ys = doc.nodes.map((n) => n.position?.y ?? 0);
  const midY = (Math.min(...ys) + Math.max(...ys)) / 2;
  return { start: { x: Math.min(...xs) - 220, y: midY }, end: { x: Math.max(...xs) + 240, y: midY } };
}

/** The graph canvas (React Flow), controlled by the flow document. */
export function Canvas(props: CanvasProps) {
  const { doc, selected, errorsByNode, changes, readOnly, label } = props;
  const flow = useReactFlow();
  const [drag, setDrag] = useState<Record<string, Position>>({});
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  // START and END stay where they are while nodes come and go (a drop must not move
  // them); they are placed around the graph on a load or a keyboard add (fitKey), or dragged.
  const [pinned, setPinned] = useState(() => ends(doc));
  const { fitKey } = props;
  const docRef = useRef(doc);
  useEffect(() => {
    docRef.current = doc;
  }, [doc]);
  useEffect(() => {
    if (!fitKey) return;
    const t = setTimeout(() => {
      setPinned(ends(docRef.current));
      // after the new nodes are measured
      setTimeout(() => void flow.fitView({ padding: 0.15, maxZoom: 1.2, minZoom: 0.6 }), 30);
    }, 20);
    return () => clearTimeout(t);
  }, [fitKey, flow]);

  const nodes = useMemo<FlowRFNode[]>(() => {
    const at = pinned;
    const mk = (id: string, kind: FlowNodeData["kind"], position: Position, summary: string): FlowRFNode => ({
      id,
      type: "flow",
      position: drag[id] ?? position,
      data: { id, kind, summary, errors: errorsByNode?.get(id) ?? 0, ...(changes ? { change: changes.nodes.get(id) ?? "same" } : {}) },
      selected: id === selected,
      deletable: !readOnly && id !== START && id !== END,
      draggable: !readOnly,
      connectable: !readOnly,
      ariaLabel:
        id === START
          ? "START node"
          : id === END
            ? "END node"
            : `${kind} node ${id}${errorsByNode?.get(id) ? `, ${errorsByNode.get(id)} errors` : ""}${
                changes && changes.nodes.get(id) !== "same" ? `, ${changes.nodes.get(id)}` : ""
              }`,
      ...(measured[id] ? { measured: measured[id] } : {}),
    });
    return [
      mk(START, "start", at.start, ""),
      ...doc.nodes.map((n) => mk(n.id, n.kind, n.position ?? { x: 0, y: 0 }, summaryOf(doc, n.id))),
      mk(END, "end", at.end, ""),
    ];
  }, [doc, drag, measured, selected, errorsByNode, changes, readOnly, pinned]);

  const edges = useMemo<Edge[]>(
    () =>
      canvasEdges(doc).map((e) => {
        const change = changes?.edges.get(e.id);
        const text = [e.label, change && change !== "same" ? CHANGE_MARK[change] : ""].filter(Boolean).join(" · ");
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          label: text || undefined,
          className: [`edge-${e.kind}`, change ? `change-${change}` : ""].join(" "),
          markerEnd: { type: MarkerType.ArrowClosed },
          selected: e.id === selectedEdge,
          deletable: !readOnly,
          ariaLabel: `${e.kind === "edge" ? "edge" : e.kind} from ${e.source} to ${e.target}${e.label ? ` (${e.label})` : ""}`,
        };
      }),
    [doc, changes, selectedEdge, readOnly],
  );

  const onNodesChange = (list: NodeChange<FlowRFNode>[]) => {
    // one selection per batch: a newly selected node wins over the old one's unselect
    const picked = list.find((c) => c.type === "select" && c.selected);
    if (picked?.type === "select") props.onSelect?.(picked.id);
    else if (list.some((c) => c.type === "select" && !c.selected && c.id === selected)) props.onSelect?.(null);
    for (const c of list) {
      if (c.type === "dimensions" && c.dimensions) {
        const dims = c.dimensions;
        setMeasured((m) => (m[c.id]?.width === dims.width && m[c.id]?.height === dims.height ? m : { ...m, [c.id]: dims }));
      } else if (c.type === "position" && c.position && c.id !== START && c.id !== END) {
        const pos = c.position;
        if (c.dragging) setDrag((d) => ({ ...d, [c.id]: pos }));
        else props.onMove?.(c.id, pos);
      } else if (c.type === "position" && c.position) {
        const pos = c.position;
        setPinned((p) => (c.id === START ? { ...p, start: pos } : { ...p, end: pos }));
      } else if (c.type === "remove" && !readOnly) {
        props.onRemove?.(c.id);
      }
    }
  };

  const onEdgesChange = (list: EdgeChange[]) => {
    for (const c of list) {
      if (c.type === "select") setSelectedEdge(c.selected ? c.id : null);
      else if (c.type === "remove" && !readOnly) props.onDisconnect?.(c.id);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const kind = e.dataTransfer.getData(DRAG_TYPE) || e.dataTransfer.getData("text/plain");
    if (!isKind(kind)) return;
    const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    props.onDropKind?.(kind, { x: p.x - 70, y: p.y - 25 });
  };

  return (
    <div className="canvas" role="region" aria-label={label} data-testid={readOnly ? undefined : "builder-canvas"}>
      <ReactFlow<FlowRFNode, Edge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onNodeDragStop={(_, node) => {
          if (node.id !== START && node.id !== END) props.onMove?.(node.id, node.position);
          setDrag((d) => Object.fromEntries(Object.entries(d).filter(([k]) => k !== node.id)));
        }}
        onConnect={(c) => props.onConnect?.(c.source, c.target)}
        onPaneClick={() => props.onSelect?.(null)}
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = "move";
        }}
        onDrop={onDrop}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        elementsSelectable
        deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
        fitView
        fitViewOptions={{ padding: 0.15, maxZoom: 1.2, minZoom: readOnly ? 0.3 : 0.6 }}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
