// Shapes of the MLflow-compatible and platform API responses the UI reads. The routes parse raw JSON
// bodies, so the OpenAPI document names the paths but not these bodies: they are typed here by hand.
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: "active" | "deleted";
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface Metric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: string;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: { dataset: { name: string; digest: string; source_type?: string; source?: string } }[] };
  outputs?: { model_outputs?: { model_id: string; step: number }[] };
}

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: { alias: string; version: string }[];
}

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: KeyValue[];
  aliases?: string[];
}

export interface FileInfo {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}

export interface Job {
  job_id: string;
  recipe: string;
  recipe_version: number;
  queue: string;
  state: string;
  parameters: Record<string, unknown>;
  resources: Record<string, unknown>;
  priority: number;
  max_retries: number;
  attempt: number;
  worker_id: string | null;
  run_id: string | null;
  experiment_id: string | null;
  reason: string | null;
  exit_code: number | null;
  user_id: string | null;
  submitted_time: number;
  started_time: number | null;
  finished_time: number | null;
}

export interface Attempt {
  attempt: number;
  worker_id: string;
  run_id: string | null;
  state: string;
  reason: string | null;
  exit_code: number | null;
  assigned_time: number;
  started_time: number | null;
  finished_time: number | null;
}

export interface JobEvent {
  event_id: number;
  attempt: number;
  time: number;
  kind: string;
  from_state: string | null;
  to_state: string | null;
  worker_id: string | null;
  message: string | null;
}

export interface LogLine {
  line_id: number;
  attempt: number;
  stream: string;
  ts: number;
  line: string;
}

export interface RecipeVersion {
  name: string;
  version: number;
  digest: string;
  manifest: { description?: string; parameters?: JsonSchema; resources?: Record<string, unknown>; entrypoint?: unknown };
  bundle_size: number;
  creation_time: number;
  bundle_url: string;
}

export interface Recipe {
  name: string;
  description: string | null;
  latest_version: number;
  creation_time: number;
  last_update_time: number;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  description?: string;
  title?: string;
  minimum?: number;
  maximum?: number;
}

export interface Pool {
  name: string;
  gpus_per_replica: number;
  labels: Record<string, string>;
  queues: string[];
  source: string;
  workers: number;
  gpus_total: number;
  gpus_in_use: number;
  slots_total: number;
  jobs_running: number;
}

export interface Queue {
  name: string;
  priority: number;
  description: string | null;
  pools: string[];
  queued: number;
  assigned: number;
  running: number;
  served: boolean;
}

export interface Worker {
  worker_id: string;
  name: string;
  pool: string;
  hostname: string | null;
  gpus: string[];
  gpus_in_use: string[];
  slots: number;
  jobs: string[];
  state: string;
  last_heartbeat: number;
  lease_expires_at: number;
}

export interface DownsampledSeries {
  run_id: string;
  key: string;
  total_points: number;
  points_in_range: number;
  returned: number;
  downsampled: boolean;
  x: number[];
  y: number[];
  step: number[];
  markers: { x: number; step: number; kind: "nan" | "inf" | "-inf" }[];
}

export interface Downsampled {
  x: "step" | "wall" | "relative";
  width: number;
  x_min: number | null;
  x_max: number | null;
  series: DownsampledSeries[];
}
