import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import { ErrorBox, KeyValueTable, Loading, Section } from "../components/common";
import { formatTime } from "../lib/format";
import { type Assessment, type Span, type TraceInfo, assessmentValue, attributes, bar, decoded, formatMs, spanTree } from "../lib/traces";

const SHOWN_ELSEWHERE = new Set(["mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.traceRequestId", "mlflow.spanType"]);

function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="preview-text" aria-label={label}>
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

// One trace: its span tree as a waterfall (each bar placed and sized by the span's timing), the chosen
// span's inputs, outputs and attributes, and the trace's assessments.
export function TracePage() {
  const { traceId = "" } = useParams();
  const trace = useQuery({
    queryKey: ["trace", traceId],
    queryFn: () => api.get<{ trace: { trace_info: TraceInfo; spans?: Span[] } }>("/api/3.0/mlflow/traces/get", { trace_id: traceId }),
  });
  const rows = useMemo(() => spanTree(trace.data?.trace.spans ?? []), [trace.data]);
  const [chosen, setChosen] = useState<string | null>(null);
  if (trace.isLoading) return <Loading what="trace" />;
  if (trace.error || !trace.data) return <ErrorBox error={trace.error} />;
  const info = trace.data.trace.trace_info;
  const total = rows.reduce((end, r) => Math.max(end, r.startMs + r.durationMs), 0);
  const selected = rows.find((r) => r.span.span_id === chosen) ?? rows[0];
  const attrs = selected ? attributes(selected.span) : {};
  const experimentId = info.trace_location?.mlflow_experiment?.experiment_id;
  return (
    <div>
      <div className="crumbs">
        <Link to="/traces">Traces</Link> /
      </div>
      <h1>Trace {info.tags?.["mlflow.traceName"] ?? info.trace_id}</h1>
      <div className="columns">
        <Section title="Overview">
          <KeyValueTable
            empty=""
            rows={[
              ["Trace ID", <span className="mono">{info.trace_id}</span>],
              ["State", info.state ?? ""],
              ["Time", info.request_time ? formatTime(Date.parse(info.request_time)) : ""],
              ["Duration", info.execution_duration ?? ""],
              ["Spans", String(rows.length)],
              ["Experiment", experimentId ? <Link to={`/experiments/${experimentId}`}>{experimentId}</Link> : ""],
            ]}
          />
        </Section>
        <Section title="Assessments">
          {info.assessments?.length ? (
            <table className="grid">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Value</th>
                  <th>Source</th>
                  <th>Rationale</th>
                </tr>
              </thead>
              <tbody>
                {info.assessments.map((a: Assessment) => (
                  <tr key={a.assessment_id}>
                    <td>{a.assessment_name}</td>
                    <td className="mono">{assessmentValue(a)}</td>
                    <td>{[a.source?.source_type, a.source?.source_id].filter(Boolean).join(": ")}</td>
                    <td>{a.rationale ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No assessments.</p>
          )}
        </Section>
      </div>
      <Section title="Spans">
        <div className="waterfall" role="tree" aria-label="Span tree">
          {rows.map((row) => {
            const place = bar(row, total);
            const type = String(attributes(row.span)["mlflow.spanType"] ?? "");
            const failed = row.span.status?.code === "STATUS_CODE_ERROR";
            return (
              <div
                key={row.span.span_id}
                role="treeitem"
                aria-level={row.depth + 1}
                aria-selected={row === selected}
                aria-label={row.span.name}
                className={"waterfall-row" + (row === selected ? " selected" : "")}
                onClick={() => setChosen(row.span.span_id)}
              >
                <span className="waterfall-name" style={{ paddingLeft: 8 + row.depth * 16 }}>
                  {row.span.name} {type ? <span className="badge">{type}</span> : null}
                </span>
                <span className="waterfall-track">
                  <span className={"waterfall-bar" + (failed ? " failed" : "")} style={{ left: `${place.left}%`, width: `${place.width}%` }} />
                </span>
                <span className="waterfall-time small">{formatMs(row.durationMs)}</span>
              </div>
            );
          })}
        </div>
      </Section>
      {selected ? (
        <Section title={`Span ${selected.span.name}`}>
          <div className="columns">
            <div>
              <h3>Inputs</h3>
              <Json label="Span inputs" value={decoded(attrs["mlflow.spanInputs"] ?? null)} />
            </div>
            <div>
              <h3>Outputs</h3>
              <Json label="Span outputs" value={decoded(attrs["mlflow.spanOutputs"] ?? null)} />
            </div>
          </div>
          <h3>Attributes</h3>
          <KeyValueTable
            empty="No attributes."
            rows={[
              ["Start", `${formatMs(selected.startMs)} after the trace began`],
              ["Duration", formatMs(selected.durationMs)],
              ["Status", selected.span.status?.code ?? ""],
              ...Object.entries(attrs)
                .filter(([key]) => !SHOWN_ELSEWHERE.has(key))
                .map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)] as [string, string]),
            ]}
          />
        </Section>
      ) : null}
    </div>
  );
}

