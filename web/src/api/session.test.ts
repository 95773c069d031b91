import { describe, expect, it } from "vitest";
import {
  apiHeaders,
  currentWorkspace,
  identityFrom,
  loginPath,
  rememberWorkspace,
  safeNext,
  workspaceCookie,
} from "./session";

function memory() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
    items,
  };
}

describe("workspace", () => {
  it("is default until one is chosen, then remembered and sent on every call", () => {
    const store = memory();
    expect(currentWorkspace(store)).toBe("default");
    expect(apiHeaders({}, store)).toEqual({ "X-MLFLOW-WORKSPACE": "default", "X-Requested-With": "runyard-ui" });
    rememberWorkspace("team-a", store);
    expect(currentWorkspace(store)).toBe("team-a");
    expect(apiHeaders({ "content-type": "application/json" }, store)).toEqual({
      "content-type": "application/json",
      "X-MLFLOW-WORKSPACE": "team-a",
      "X-Requested-With": "runyard-ui",
    });
    rememberWorkspace("default", store);
    expect(store.items.size).toBe(0);
  });

  it("ignores a stored name MLflow would refuse", () => {
    const store = memory();
    store.setItem("runyard.workspace", "Bad Name\r\nX-Evil: 1");
    expect(currentWorkspace(store)).toBe("default");
    // Choosing an invalid name falls back to the default workspace.
    rememberWorkspace("-bad-", store);
    expect(store.items.has("runyard.workspace")).toBe(false);
    expect(currentWorkspace(store)).toBe("default");
  });

  it("is kept in a cookie for what the browser fetches by itself; default clears it", () => {
    expect(workspaceCookie("team-a")).toBe("runyard_workspace=team-a; path=/; SameSite=Lax");
    expect(workspaceCookie("default")).toContain("max-age=0");
    expect(workspaceCookie("x; domain=evil")).toContain("max-age=0");
  });

  it("works without storage", () => {
    expect(currentWorkspace(null)).toBe("default");
  });
});

describe("after signing in", () => {
  it("lands on a page of this UI only", () => {
    expect(safeNext("/experiments/3")).toBe("/experiments/3");
    expect(safeNext("//evil.example.com")).toBe("/experiments");
    expect(safeNext("/\\evil.example.com")).toBe("/experiments");
    expect(safeNext("https://evil.example.com")).toBe("/experiments");
    expect(safeNext("/login?next=/x")).toBe("/experiments");
    expect(safeNext(null)).toBe("/experiments");
  });

  it("the login page remembers where the user was", () => {
    expect(loginPath("/models/m1")).toBe("/login?next=%2Fmodels%2Fm1");
    expect(loginPath("/experiments")).toBe("/login");
    expect(loginPath("/login")).toBe("/login");
  });
});

describe("who am I", () => {
  it("tells auth off, not signed in and signed in apart", () => {
    expect(identityFrom(401, {})).toEqual({ state: "anonymous" });
    expect(identityFrom(404, {})).toEqual({ state: "off" });
    expect(identityFrom(200, { kind: "local", name: "local", via: "none" })).toEqual({ state: "off" });
    const me = { kind: "user", name: "alice", via: "session", is_admin: false };
    expect(identityFrom(200, me)).toEqual({ state: "signed-in", me });
    expect(() => identityFrom(500, {})).toThrow("HTTP 500");
  });
});
