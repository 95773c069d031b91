// Traces as the server returns them (MLflow 3's trace info and OTLP-shaped spans), made ready to show.

export interface AnyValue {
  string_value?: string;
  int_value?: string | number;
  double_value?: number;
  bool_value?: boolean;
  bytes_value?: string;
  array_value?: { values?: AnyValue[] };
  kvlist_value?: { values?: { key: string; value: AnyValue }[] };
}

export interface Span {
  span_id: string;
  parent_span_id?: string;
  name: string;
  start_time_unix_nano: string | number;
  end_time_unix_nano: string | number;
  attributes?: { key: string; value: AnyValue }[];
  status?: { code?: string; message?: string };
  events?: { name: string; time_unix_nano?: string | number; attributes?: { key: string; value: AnyValue }[] }[];
}

export interface Assessment {
  assessment_id: string;
  assessment_name: string;
  source?: { source_type?: string; source_id?: string };
  rationale?: string;
  feedback?: { value?: unknown; error?: { error_message?: string } };
  expectation?: { value?: unknown; serialized_value?: { value?: string } };
  create_time?: string;
  valid?: boolean;
}

export interface TraceInfo {
  trace_id: string;
  request_time?: string;
  state?: string;
  execution_duration?: string;
  request_preview?: string;
  response_preview?: string;
  tags?: Record<string, string>;
  trace_metadata?: Record<string, string>;
  assessments?: Assessment[];
  trace_location?: { mlflow_experiment?: { experiment_id?: string } };
}

// An OTLP attribute value as plain JSON.
export function plain(value: AnyValue | undefined): unknown {
  if (!value) return null;
  if (value.string_value !== undefined) return value.string_value;
  if (value.int_value !== undefined) return Number(value.int_value);
  if (value.double_value !== undefined) return value.double_value;
  if (value.bool_value !== undefined) return value.bool_value;
  if (value.bytes_value !== undefined) return value.bytes_value;
  if (value.array_value) return (value.array_value.values ?? []).map(plain);
  if (value.kvlist_value) return Object.fromEntries((value.kvlist_value.values ?? []).map((kv) => [kv.key, plain(kv.value)]));
  return null;
}

export function attributes(span: Span): Record<string, unknown> {
  return Object.fromEntries((span.attributes ?? []).map((a) => [a.key, plain(a.value)]));
}

// A JSON string (how MLflow stores span inputs and outputs) shown as the value it holds.
export function decoded(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export interface SpanRow {
  span: Span;
  depth: number;
  startMs: number; // from the trace's start
  durationMs: number;
}

const ms = (nanos: string | number) => Number(BigInt(String(nanos)) / 1000n) / 1000;

// Spans in tree order (each parent before its children, siblings by start time), with offsets in ms
// from the earliest span. A span whose parent is missing is shown as a root.
export function spanTree(spans: Span[]): SpanRow[] {
  if (!spans.length) return [];
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const span of spans) {
    const parent = span.parent_span_id;
    if (parent && ids.has(parent)) children.set(parent, [...(children.get(parent) ?? []), span]);
    else roots.push(span);
  }
  const byStart = (a: Span, b: Span) => ms(a.start_time_unix_nano) - ms(b.start_time_unix_nano);
  const origin = Math.min(...spans.map((s) => ms(s.start_time_unix_nano)));
  const rows: SpanRow[] = [];
  const visit = (span: Span, depth: number) => {
    const start = ms(span.start_time_unix_nano);
    rows.push({ span, depth, startMs: start - origin, durationMs: Math.max(0, ms(span.end_time_unix_nano) - start) });
    for (const child of (children.get(span.span_id) ?? []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) visit(root, 0);
  return rows;
}

// Where a span's bar sits in the waterfall, as percentages of the whole trace.
export function bar(row: SpanRow, totalMs: number): { left: number; width: number } {
  if (totalMs <= 0) return { left: 0, width: 100 };
  const left = (row.startMs / totalMs) * 100;
  return { left, width: Math.max(0.5, Math.min(100 - left, (row.durationMs / totalMs) * 100)) };
}

export function assessmentValue(assessment: Assessment): string {
  if (assessment.feedback) {
    if (assessment.feedback.error?.error_message) return `error: ${assessment.feedback.error.error_message}`;
    return JSON.stringify(assessment.feedback.value ?? null);
  }
  if (assessment.expectation) {
    const raw = assessment.expectation.value ?? assessment.expectation.serialized_value?.value;
    return typeof raw === "string" ? raw : JSON.stringify(raw ?? null);
  }
  return "";
}

export const formatMs = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);
