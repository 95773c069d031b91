import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import type { ModelVersion, Run } from "../api/types";
import { ErrorBox, KeyValueTable, Loading, Section } from "../components/common";
import { formatTime } from "../lib/format";

export function ModelVersionPage() {
  const { name = "", version = "" } = useParams();
  const mv = useQuery({
    queryKey: ["model-version", name, version],
    queryFn: () => api.get<{ model_version: ModelVersion }>("/api/2.0/mlflow/model-versions/get", { name, version }),
  });
  const runId = mv.data?.model_version.run_id;
  // Lineage: the run that produced the version (and through it, the experiment).
  const run = useQuery({
    queryKey: ["run", runId],
    enabled: Boolean(runId),
    queryFn: () => api.get<{ run: Run }>("/api/2.0/mlflow/runs/get", { run_id: runId! }),
  });
  const download = useQuery({
    queryKey: ["model-version-download", name, version],
    queryFn: () => api.get<{ artifact_uri: string }>("/api/2.0/mlflow/model-versions/get-download-uri", { name, version }),
  });
  if (mv.isLoading) return <Loading what="model version" />;
  if (mv.error) return <ErrorBox error={mv.error} />;
  const v = mv.data!.model_version;
  const source = run.data?.run;
  return (
    <div>
      <div className="crumbs">
        <Link to="/models">Models</Link> / <Link to={`/models/${encodeURIComponent(name)}`}>{name}</Link> /
      </div>
      <h1>
        {name} version {v.version}
      </h1>
      <div className="columns">
        <Section title="Details">
          <KeyValueTable
            empty=""
            rows={[
              ["Created", formatTime(v.creation_timestamp)],
              ["Status", v.status ?? ""],
              ["Stage", v.current_stage ?? ""],
              ["Aliases", (v.aliases ?? []).map((a) => "@" + a).join(" ")],
              ["Source", <span className="mono">{v.source}</span>],
              ["Download URI", <span className="mono">{download.data?.artifact_uri ?? ""}</span>],
              ["Description", v.description ?? ""],
            ]}
          />
        </Section>
        <Section title="Lineage">
          {source ? (
            <KeyValueTable
              empty=""
              rows={[
                ["Source run", <Link to={`/experiments/${source.info.experiment_id}/runs/${source.info.run_id}`}>{source.info.run_name || source.info.run_id}</Link>],
                ["Experiment", <Link to={`/experiments/${source.info.experiment_id}`}>{source.info.experiment_id}</Link>],
              ]}
            />
          ) : (
            <p className="muted">{runId ? "Loading source run…" : "No source run."}</p>
          )}
        </Section>
        <Section title="Tags">
          <KeyValueTable empty="No tags." rows={(v.tags ?? []).map((t) => [t.key, t.value])} />
        </Section>
      </div>
    </div>
  );
}
