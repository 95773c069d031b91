// A small typed fetch client for runyard's APIs. Errors carry MLflow's {error_code, message}.
import type { paths } from "./schema";
import { apiHeaders, reportUnauthenticated } from "./session";

export type ApiPath = keyof paths & string;

export class ApiError extends Error {
  constructor(
    public status: number,
    public errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined | null | (string | number)[]>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

// fetch with the workspace header; a 401 (auth on, not signed in or the session ended) sends the UI to
// its login page, except from the sign-in endpoints themselves, which answer it to the login form.
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = apiHeaders(Object.fromEntries(new Headers(init.headers).entries()));
  const response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (response.status === 401 && !path.startsWith("/api/v1/auth/")) reportUnauthenticated();
  return response;
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await apiFetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await response.text();
  let data: unknown = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!response.ok) {
    const error = data as { error_code?: string; message?: string };
    throw new ApiError(response.status, error.error_code ?? "HTTP_" + response.status, error.message ?? response.statusText);
  }
  return data as T;
}

// Paths are checked against the server's OpenAPI document (src/api/schema.d.ts, generated).
export const api = {
  get: <T>(path: ApiPath, query?: Query, signal?: AbortSignal) => request<T>("GET", withQuery(path, query), undefined, signal),
  getPath: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", withQuery(path, query), undefined, signal),
  post: <T>(path: ApiPath, body: unknown = {}) => request<T>("POST", path, body),
  postPath: <T>(path: string, body: unknown = {}) => request<T>("POST", path, body),
  patch: <T>(path: ApiPath, body: unknown) => request<T>("PATCH", path, body),
  delete: <T>(path: ApiPath, body: unknown) => request<T>("DELETE", path, body),
  deletePath: <T>(path: string) => request<T>("DELETE", path),
};

export const MLFLOW = "/api/2.0/mlflow";
