import { useQuery } from "@tanstack/react-query";
import { NavLink, Outlet } from "react-router";
import { ApiError, api } from "../api/client";

export const NAV = ["Experiments", "Models", "Traces", "Jobs", "Recipes", "Pools"] as const;

interface Me {
  user?: { name?: string; username?: string };
  name?: string;
  username?: string;
}

// The auth seam: with auth off the server has no /api/v1/auth/me (404) and the UI shows no user menu.
export async function fetchMe(): Promise<Me | null> {
  try {
    return await api.getPath<Me>("/api/v1/auth/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export function Layout() {
  const me = useQuery({ queryKey: ["auth", "me"], queryFn: fetchMe, staleTime: 60_000 });
  const user = me.data ? (me.data.user?.username ?? me.data.user?.name ?? me.data.username ?? me.data.name) : null;
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
