import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError ? `${error.errorCode}: ${error.message}` : String(error);
  return (
    <div className="error" role="alert">
      {message}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return <p className="muted">Loading{what ? " " + what : ""}…</p>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <div className="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function KeyValueTable({ rows, empty }: { rows: [string, ReactNode][]; empty: string }) {
  if (!rows.length) return <p className="muted">{empty}</p>;
  return (
    <table className="kv">
      <tbody>
        {rows.map(([key, value]) => (
          <tr key={key}>
            <th>{key}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span className={"badge state-" + state.toLowerCase()}>{state}</span>;
}
