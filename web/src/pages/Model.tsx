import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import type { ModelVersion, RegisteredModel } from "../api/types";
import { ErrorBox, KeyValueTable, Loading, Section } from "../components/common";
import { formatTime, quote } from "../lib/format";

export function ModelPage() {
  const { name = "" } = useParams();
  const model = useQuery({
    queryKey: ["registered-model", name],
    queryFn: () => api.get<{ registered_model: RegisteredModel }>("/api/2.0/mlflow/registered-models/get", { name }),
  });
  const versions = useQuery({
    queryKey: ["model-versions", name],
    queryFn: () =>
      api.get<{ model_versions?: ModelVersion[] }>("/api/2.0/mlflow/model-versions/search", {
        filter: `name = ${quote(name)}`,
        max_results: 1000,
      }),
  });
  if (model.isLoading) return <Loading what="model" />;
  if (model.error) return <ErrorBox error={model.error} />;
  const m = model.data!.registered_model;
  return (
    <div>
      <div className="crumbs">
        <Link to="/models">Models</Link> /
      </div>
      <h1>{m.name}</h1>
      {m.description ? <p>{m.description}</p> : null}
      <div className="columns">
        <Section title="Aliases">
          <KeyValueTable empty="No aliases." rows={(m.aliases ?? []).map((a) => [`@${a.alias}`, <Link to={`/models/${encodeURIComponent(name)}/versions/${a.version}`}>Version {a.version}</Link>])} />
        </Section>
        <Section title="Tags">
          <KeyValueTable empty="No tags." rows={(m.tags ?? []).map((t) => [t.key, t.value])} />
        </Section>
      </div>
      <Section title="Versions">
        <ErrorBox error={versions.error} />
        <table className="grid">
          <thead>
            <tr>
              <th>Version</th>
              <th>Created</th>
              <th>Stage</th>
              <th>Aliases</th>
              <th>Source run</th>
            </tr>
          </thead>
          <tbody>
            {(versions.data?.model_versions ?? [])
              .sort((a, b) => Number(b.version) - Number(a.version))
              .map((v) => (
                <tr key={v.version}>
                  <td>
                    <Link to={`/models/${encodeURIComponent(name)}/versions/${v.version}`}>Version {v.version}</Link>
                  </td>
                  <td>{formatTime(v.creation_timestamp)}</td>
                  <td>{v.current_stage}</td>
                  <td>{(v.aliases ?? []).map((a) => <span key={a} className="chip">@{a}</span>)}</td>
                  <td className="mono">{v.run_id?.slice(0, 12)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
