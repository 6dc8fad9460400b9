// The shapes of the declarative workflow format (orca.flow/v1, contracts/workflow.schema.json)
// and of the /v1/flows answers, as the server writes them.

export const FORMAT = "orca.flow/v1";
export const START = "__start__";
export const END = "__end__";

export const KINDS = ["llm", "agent", "tool", "router", "map", "human", "subflow", "python"] as const;
export type Kind = (typeof KINDS)[number];

export const STATE_TYPES = ["string", "number", "integer", "boolean", "list", "object", "any"] as const;
export type StateType = (typeof STATE_TYPES)[number];
export const REDUCERS = ["overwrite", "append", "merge", "sum"] as const;
export type Reducer = (typeof REDUCERS)[number];
export const OPS = ["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists", "truthy"] as const;
export type Op = (typeof OPS)[number];

export interface Position {
  x: number;
  y: number;
}

export interface StateKey {
  key: string;
  type?: StateType;
  reducer?: Reducer;
  default?: unknown;
  description?: string;
}

export interface Condition {
  key: string;
  op?: Op;
  value?: unknown;
}

export interface Route {
  when: Condition;
  to: string;
}

/** One node of a flow: `kind` picks which of the other fields it may hold. */
export interface FlowNode {
  id: string;
  kind: Kind;
  position?: Position;
  description?: string;
  role?: "planner" | "worker";
  model?: string;
  max_tokens?: number;
  temperature?: number;
  prompt?: string;
  system?: string;
  output?: string | Record<string, string>;
  schema?: Record<string, unknown>;
  tools?: string[] | null;
  max_turns?: number;
  tool?: string;
  args?: Record<string, unknown>;
  routes?: Route[];
  default?: string;
  over?: string;
  to?: string;
  as?: string;
  choices?: string[];
  flow?: string;
  input?: Record<string, unknown>;
  ref?: string | null;
}

export interface FlowEdge {
  from: string;
  to: string;
  conditional?: boolean;
}

export interface FlowDoc {
  format: typeof FORMAT;
  name: string;
  description?: string;
  state: StateKey[];
  nodes: FlowNode[];
  edges: FlowEdge[];
  notes?: string[];
}

export interface VersionInfo {
  name: string;
  version: string;
  hash: string;
  created_at: string;
  message: string | null;
}

export interface FlowSummary {
  name: string;
  latest: VersionInfo;
  versions: number;
}

export interface FlowVersion {
  info: VersionInfo;
  flow: FlowDoc;
}

export interface ValidationError {
  path: string;
  node: string | null;
  field: string | null;
  message: string;
  fix: string;
}

export interface ValidateResult {
  ok: boolean;
  errors: ValidationError[];
  graph: unknown;
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface FlowDiff {
  from: string;
  to: string;
  flow?: FieldChange[];
  state: { added: string[]; removed: string[]; changed: { key: string; fields: FieldChange[] }[] };
  nodes: {
    added: string[];
    removed: string[];
    changed: { name: string; fields: FieldChange[] }[];
    moved?: string[];
  };
  edges: { added: FlowEdge[]; removed: FlowEdge[] };
}
