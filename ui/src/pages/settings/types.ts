// The server's answers the Settings page reads (src/orca/server/_admin.py, _auth.py,
// _taskroutes.py and the token endpoints of /v1/auth/tokens).

export interface ModelSpec {
  provider: string;
  model: string;
  params: Record<string, unknown>;
}

export interface Profile {
  name: string;
  active: boolean;
  description: string;
  planner: ModelSpec;
  worker: ModelSpec;
}

export interface TokenInfo {
  id?: string;
  name: string;
  scope?: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  revoked_at?: string | null;
}

export interface CreatedToken extends TokenInfo {
  token: string;
}

export interface Capabilities {
  api_version: string;
  version: string;
  engines: { engine: string; local: boolean; models: string[] }[];
  max_context: number | null;
  concurrency: { max_running: number; max_queued: number; safe: number; running: number; mean_service_ms: number };
  rate_limits: { max_body_bytes: number; tasks: { policy: string } };
  feature_flags: Record<string, unknown>;
  workloads: string[];
}

export interface Health {
  status: string;
  version: string;
}
