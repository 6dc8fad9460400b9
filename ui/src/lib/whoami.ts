// Who the server takes this browser for (GET /v1/auth/whoami): the pages that change
// things offer their forms to a token with scope admin only (the server checks again).
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";

export interface Whoami {
  name: string | null;
  scope: string;
  scopes: string[];
  auth: boolean;
  /** "token" (an Orca token), "oidc" (signed in with the identity provider), or null. */
  kind?: string | null;
  subject?: string | null;
  tenant?: string | null;
  role?: string | null;
}

export function useWhoami() {
  return useQuery({ queryKey: ["whoami"], queryFn: ({ signal }) => api<Whoami>("/v1/auth/whoami", { signal }) });
}

/** Whether the server lets this browser's token change budgets, prices and tokens. */
export function useIsAdmin(): boolean {
  const { data } = useWhoami();
  return data?.scopes.includes("admin") ?? false;
}
