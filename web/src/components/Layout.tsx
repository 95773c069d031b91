import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Navigate, NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { api } from "../api/client";
import { fetchIdentity, IDENTITY_KEY } from "../api/identity";
import { currentWorkspace, loginPath, onUnauthenticated, rememberWorkspace, type Identity, type Me } from "../api/session";
import { ErrorBox, Loading } from "./common";

export const NAV = ["Experiments", "Models", "Traces", "Jobs", "Recipes", "Pools"] as const;

interface Workspace {
  name: string;
  description?: string;
}

function WorkspaceSwitcher() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const workspaces = useQuery({
    queryKey: ["auth", "workspaces"],
    queryFn: () => api.getPath<{ workspaces?: Workspace[] }>("/api/3.0/mlflow/workspaces"),
    staleTime: 60_000,
  });
  const names = (workspaces.data?.workspaces ?? []).map((w) => w.name);
  const current = currentWorkspace();
  if (!names.length) return null;
  if (!names.includes(current)) names.unshift(current);
  const choose = (name: string) => {
    rememberWorkspace(name);
    navigate("/experiments");
    // Everything shown so far belongs to the previous workspace.
    void queryClient.resetQueries({ predicate: (query) => query.queryKey[0] !== "auth" });
  };
  return (
    <label className="workspace-switcher">
      <span>Workspace</span>
      <select aria-label="Workspace" value={current} onChange={(event) => choose(event.target.value)}>
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

function UserMenu({ me }: { me: Me }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const queryClient = useQueryClient();
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent) => {
      if (menu.current && !menu.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);
  const signOut = async () => {
    try {
      await api.postPath("/api/v1/auth/logout");
    } catch (failure) {
      setError(failure);
      return;
    }
    // The layout (watching the identity) goes to the login page; nothing of this user's stays in memory.
    queryClient.setQueryData<Identity>(IDENTITY_KEY, { state: "anonymous" });
    queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== "auth" });
    queryClient.removeQueries({ queryKey: ["auth", "workspaces"] });
  };
  return (
    <div className="user-menu" ref={menu}>
      <button type="button" aria-haspopup="menu" aria-expanded={open} aria-label="User menu" onClick={() => setOpen(!open)}>
        {me.name}
        {me.is_admin ? " (admin)" : ""}
      </button>
      {open ? (
        <div className="user-menu-items" role="menu">
          <p className="muted">Signed in as {me.name}</p>
          <NavLink role="menuitem" to="/tokens" onClick={() => setOpen(false)}>
            Tokens
          </NavLink>
          <button role="menuitem" type="button" onClick={() => void signOut()}>
            Sign out
          </button>
          <ErrorBox error={error} />
        </div>
      ) : null}
    </div>
  );
}

export function Layout() {
  const queryClient = useQueryClient();
  const location = useLocation();
  const identity = useQuery({ queryKey: IDENTITY_KEY, queryFn: fetchIdentity, staleTime: 60_000 });
  // Any API call answered 401 (a session that ended, a server restarted with a new secret): sign in again.
  useEffect(
    () => onUnauthenticated(() => queryClient.setQueryData<Identity>(IDENTITY_KEY, { state: "anonymous" })),
    [queryClient],
  );
  const state = identity.data?.state;
  if (state === "anonymous") return <Navigate to={loginPath(location.pathname + location.search)} replace />;
  return (
    <div className="app">
      <header className="top">
        <span className="brand">runyard</span>
        <nav>
          {NAV.map((name) => (
            <NavLink key={name} to={"/" + name.toLowerCase()}>
              {name}
            </NavLink>
          ))}
        </nav>
        {state ? <WorkspaceSwitcher /> : null}
        {identity.data?.state === "signed-in" ? <UserMenu me={identity.data.me} /> : null}
      </header>
      <main>
        {identity.error ? <ErrorBox error={identity.error} /> : null}
        {/* Pages wait for the identity: nothing is fetched on behalf of a browser that must sign in first. */}
        {state ? <Outlet /> : identity.isLoading ? <Loading /> : null}
      </main>
    </div>
  );
}
