import { useQuery } from "@tanstack/react-query";
import { NavLink, Outlet } from "react-router";
import { ApiError, api } from "../api/client";

export const NAV = ["Experiments", "Models", "Traces", "Jobs", "Recipes", "Pools"] as const;

export interface Me {
  kind?: string;
  name?: string;
  workspace?: string;
  via?: string; // "none" when auth is off
}

// The auth seam: who the browser acts as. Auth off (no endpoint: 404, or an unauthenticated local
// principal: via "none") shows no user menu. 401 (auth on, not signed in) is null too until the UI
// has a login page.
export async function fetchMe(): Promise<Me | null> {
  try {
    const me = await api.getPath<Me>("/api/v1/auth/me");
    return me.via === "none" ? null : me;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 401)) return null;
    throw error;
  }
}

export function Layout() {
  const me = useQuery({ queryKey: ["auth", "me"], queryFn: fetchMe, staleTime: 60_000 });
  const user = me.data?.name ?? null;
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
        {user ? <span className="user-menu" title="Signed in">{user}</span> : null}
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}
