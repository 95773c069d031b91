import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { ApiError, api } from "../api/client";
import { fetchIdentity, IDENTITY_KEY } from "../api/identity";
import { safeNext } from "../api/session";
import { ErrorBox, Loading } from "../components/common";

interface Provider {
  key: string;
  name: string;
  login_url: string;
}

export function LoginPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const identity = useQuery({ queryKey: IDENTITY_KEY, queryFn: fetchIdentity, staleTime: 60_000 });
  const providers = useQuery({
    queryKey: ["auth", "providers"],
    queryFn: () => api.getPath<{ providers: Provider[] }>("/api/v1/auth/providers"),
    enabled: identity.data?.state === "anonymous",
    staleTime: 300_000,
  });
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  if (identity.isLoading) return <Loading />;
  if (identity.data && identity.data.state !== "anonymous") return <Navigate to={next} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.postPath("/api/v1/auth/login", { username, password });
    } catch (failure) {
      setBusy(false);
      setError(
        failure instanceof ApiError && failure.status === 401 ? new Error("Wrong username or password.") : failure,
      );
      return;
    }
    await queryClient.refetchQueries({ queryKey: IDENTITY_KEY });
    navigate(next, { replace: true });
  };

  return (
    <div className="login">
      <form className="card login-card" onSubmit={(event) => void submit(event)} aria-label="Sign in">
        <h1>Sign in to runyard</h1>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error ? <ErrorBox error={error} /> : null}
        {providers.data?.providers.length ? (
          <div className="providers">
            <p className="muted">or</p>
            {providers.data.providers.map((provider) => (
              <a
                key={provider.key}
                className="button"
                href={`${provider.login_url}?next=${encodeURIComponent("/#" + next)}`}
              >
                Sign in with {provider.name}
              </a>
            ))}
          </div>
        ) : null}
        <ErrorBox error={providers.error} />
      </form>
    </div>
  );
}
