// The browser's identity and workspace: who it acts as (GET /api/v1/auth/me), which workspace every
// API call names (X-MLFLOW-WORKSPACE, remembered in localStorage), and what happens on a 401.

export const WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE";
export const DEFAULT_WORKSPACE = "default";
const WORKSPACE_KEY = "runyard.workspace";

interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

// MLflow's workspace names: lower-case letters, digits and inner dashes.
const WORKSPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function currentWorkspace(store: Storage | null = storage()): string {
  const saved = store?.getItem(WORKSPACE_KEY) ?? null;
  return saved && WORKSPACE_NAME.test(saved) ? saved : DEFAULT_WORKSPACE;
}

// What the browser requests by itself (images, downloads, log streams) cannot carry the header: the
// server reads the same choice from this cookie when a request has no header.
export const WORKSPACE_COOKIE = "runyard_workspace";

export function workspaceCookie(name: string): string {
  const valid = name !== DEFAULT_WORKSPACE && WORKSPACE_NAME.test(name);
  return valid
    ? `${WORKSPACE_COOKIE}=${name}; path=/; SameSite=Lax`
    : `${WORKSPACE_COOKIE}=; path=/; SameSite=Lax; max-age=0`;
}

export function rememberWorkspace(name: string, store: Storage | null = storage()): void {
  if (typeof document !== "undefined") document.cookie = workspaceCookie(name);
  if (!store) return;
  if (name === DEFAULT_WORKSPACE || !WORKSPACE_NAME.test(name)) store.removeItem(WORKSPACE_KEY);
  else store.setItem(WORKSPACE_KEY, name);
}

// On start: the cookie follows what localStorage remembers (a cookie cleared on its own, a new tab).
export function syncWorkspaceCookie(): void {
  if (typeof document !== "undefined") document.cookie = workspaceCookie(currentWorkspace());
}

// Headers every API call carries. X-Requested-With tells the server not to ask for Basic credentials
// on a 401 (the browser would show its own password dialog): the UI shows its login page instead.
export function apiHeaders(extra: Record<string, string> = {}, store: Storage | null = storage()): Record<string, string> {
  return { ...extra, [WORKSPACE_HEADER]: currentWorkspace(store), "X-Requested-With": "runyard-ui" };
}

// --- 401: the UI goes to its login page ---

type Listener = () => void;
const listeners = new Set<Listener>();

export function onUnauthenticated(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function reportUnauthenticated(): void {
  listeners.forEach((listener) => listener());
}

// Where to land after signing in: a page of this UI only (never another site, never the login page).
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/experiments";
  if (next === "/login" || next.startsWith("/login?")) return "/experiments";
  return next;
}

export function loginPath(currentPath: string): string {
  const next = safeNext(currentPath);
  return next === "/experiments" ? "/login" : `/login?next=${encodeURIComponent(next)}`;
}

// --- who am I ---

export interface Me {
  kind: string;
  name: string;
  is_admin?: boolean;
  workspace?: string;
  via?: string;
}

// "off": auth is off (no login, no user menu); "anonymous": auth is on and nobody is signed in.
export type Identity = { state: "off" } | { state: "anonymous" } | { state: "signed-in"; me: Me };

export function identityFrom(status: number, body: unknown): Identity {
  if (status === 401) return { state: "anonymous" };
  if (status === 404) return { state: "off" }; // a server without the identity endpoints
  const me = body as Partial<Me> | null;
  if (status >= 200 && status < 300 && me && typeof me.name === "string" && typeof me.kind === "string") {
    return me.via === "none" || me.kind === "local" ? { state: "off" } : { state: "signed-in", me: me as Me };
  }
  throw new Error(`who am I: HTTP ${status}`);
}
