import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { ErrorBox, Loading, Section } from "../components/common";
import { formatTime } from "../lib/format";

interface Token {
  id: number;
  name: string;
  kind: string;
  owner: string;
  workspace: string | null;
  role: string | null;
  creation_time: number;
  expires_at: number | null;
  last_used_at: number | null;
}

const TOKENS_KEY = ["tokens"];

function CreateToken({ onCreated }: { onCreated: (secret: string, name: string) => void }) {
  const [name, setName] = useState("");
  const [expiresIn, setExpiresIn] = useState("");
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () =>
      api.postPath<{ token: string; token_info: Token }>("/api/v1/tokens", {
        name,
        ...(expiresIn.trim() ? { expires_in: expiresIn.trim() } : {}),
      }),
    onSuccess: (answer) => {
      onCreated(answer.token, answer.token_info.name);
      setName("");
      setExpiresIn("");
      void queryClient.invalidateQueries({ queryKey: TOKENS_KEY });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form className="toolbar" onSubmit={submit} aria-label="New token">
      <label className="inline">
        Token name
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label className="inline">
        Expires in
        <input value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)} placeholder="e.g. 30d (empty: never)" />
      </label>
      <button type="submit" disabled={create.isPending}>
        Create token
      </button>
      <ErrorBox error={create.error} />
    </form>
  );
}

export function TokensPage() {
  const queryClient = useQueryClient();
  const [created, setCreated] = useState<{ secret: string; name: string } | null>(null);
  const tokens = useQuery({ queryKey: TOKENS_KEY, queryFn: () => api.getPath<{ tokens: Token[] }>("/api/v1/tokens") });
  const revoke = useMutation({
    mutationFn: (name: string) => api.deletePath(`/api/v1/tokens/${encodeURIComponent(name)}`),
    onSuccess: (_answer, name) => {
      if (created?.name === name) setCreated(null);
      void queryClient.invalidateQueries({ queryKey: TOKENS_KEY });
    },
  });
  const rows = tokens.data?.tokens ?? [];
  return (
    <>
      <h1>Tokens</h1>
      <p className="muted">
        Personal tokens for scripts and CI: send one as <code>MLFLOW_TRACKING_TOKEN</code> or <code>RUNYARD_TOKEN</code>.
      </p>
      <Section title="New token">
        <CreateToken onCreated={(secret, name) => setCreated({ secret, name })} />
        {created ? (
          <div className="new-token" role="status" aria-label="New token secret">
            <p>
              Token <strong>{created.name}</strong> — copy it now, it is not shown again:
            </p>
            <code>{created.secret}</code>
          </div>
        ) : null}
      </Section>
      <Section title="Your tokens">
        <ErrorBox error={tokens.error ?? revoke.error} />
        {tokens.isLoading ? (
          <Loading />
        ) : rows.length ? (
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td>
                  <td>{token.kind}</td>
                  <td>{formatTime(token.creation_time)}</td>
                  <td>{token.expires_at ? formatTime(token.expires_at) : "never"}</td>
                  <td>{token.last_used_at ? formatTime(token.last_used_at) : "never"}</td>
                  <td>
                    <button
                      type="button"
                      aria-label={`Revoke ${token.name}`}
                      disabled={revoke.isPending}
                      onClick={() => revoke.mutate(token.name)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">No tokens yet.</p>
        )}
      </Section>
    </>
  );
}
