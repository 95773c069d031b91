import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import type { RegisteredModel } from "../api/types";
import { ErrorBox, Loading, Section } from "../components/common";
import { formatTime, quote } from "../lib/format";

interface LoggedModel {
  model_id: string;
  name: string;
  experiment_id: string;
  source_run_id?: string;
  creation_timestamp_ms?: number;
  status?: string;
}

export function ModelsPage() {
  const [search, setSearch] = useState("");
  const models = useQuery({
    queryKey: ["registered-models", search],
    queryFn: () =>
      api.get<{ registered_models?: RegisteredModel[] }>("/api/2.0/mlflow/registered-models/search", {
        max_results: 1000,
        filter: search.trim() ? `name ILIKE ${quote("%" + search.trim() + "%")}` : undefined,
      }),
  });
  const logged = useQuery({
    queryKey: ["logged-models"],
    queryFn: async () => {
      const experiments = await api.post<{ experiments?: { experiment_id: string }[] }>("/api/2.0/mlflow/experiments/search", { max_results: 100 });
      const ids = (experiments.experiments ?? []).map((e) => e.experiment_id);
      if (!ids.length) return { models: [] as { info: LoggedModel }[] };
      return api.postPath<{ models?: { info: LoggedModel }[] }>("/api/2.0/mlflow/logged-models/search", { experiment_ids: ids, max_results: 100 });
    },
  });
  return (
    <div>
      <h1>Models</h1>
      <div className="toolbar">
        <input type="search" placeholder="Search models" aria-label="Search models" value={search} onChange={(e) => setSearch(e.target.value)} />
      </div>
      <ErrorBox error={models.error} />
      <Section title="Registered models">
        {models.isLoading ? <Loading /> : null}
        {models.data && !models.data.registered_models?.length ? <p className="empty">No registered models.</p> : null}
        {models.data?.registered_models?.length ? (
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>Latest version</th>
                <th>Aliases</th>
                <th>Last modified</th>
              </tr>
            </thead>
            <tbody>
              {models.data.registered_models.map((m) => {
                const latest = (m.latest_versions ?? []).map((v) => Number(v.version)).sort((a, b) => b - a)[0];
                return (
                  <tr key={m.name}>
                    <td>
                      <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                    </td>
                    <td>{latest ? <Link to={`/models/${encodeURIComponent(m.name)}/versions/${latest}`}>Version {latest}</Link> : "—"}</td>
                    <td>{(m.aliases ?? []).map((a) => <span key={a.alias} className="chip">@{a.alias}: v{a.version}</span>)}</td>
                    <td>{formatTime(m.last_updated_timestamp)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
      </Section>
      <Section title="Logged models">
        {logged.error ? <p className="muted">Logged models are not available.</p> : null}
        {logged.data && !logged.data.models?.length ? <p className="empty">No logged models.</p> : null}
        {logged.data?.models?.length ? (
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>Model ID</th>
                <th>Source run</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {logged.data.models.map(({ info }) => (
                <tr key={info.model_id}>
                  <td>{info.name}</td>
                  <td className="mono">{info.model_id}</td>
                  <td>{info.source_run_id ? <Link to={`/experiments/${info.experiment_id}/runs/${info.source_run_id}`}>{info.source_run_id.slice(0, 12)}</Link> : "—"}</td>
                  <td>{formatTime(info.creation_timestamp_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
    </div>
  );
}
