{{/*
Names, labels, images and shared environment of the runyard chart.
Every resource name goes through a `runyard.<component>.fullname` helper: at most 63 characters.
*/}}

{{- define "runyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "runyard.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.server.fullname" -}}
{{- printf "%s-server" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.migration.fullname" -}}
{{- printf "%s-migrate" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.redis.fullname" -}}
{{- printf "%s-redis" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.otel.fullname" -}}
{{- printf "%s-otel-collector" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.s3proxy.fullname" -}}
{{- printf "%s-s3proxy" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.data.fullname" -}}
{{- printf "%s-data" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.test.fullname" -}}
{{- printf "%s-test-ready" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of a compute pool's resources. Usage: include "runyard.pool.fullname" (dict "root" $ "pool" $pool) */}}
{{- define "runyard.pool.fullname" -}}
{{- printf "%s-pool-%s" (include "runyard.fullname" .root) .pool.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels. Usage: include "runyard.labels" (dict "root" $ "component" "server") */}}
{{- define "runyard.labels" -}}
helm.sh/chart: {{ include "runyard.chart" .root }}
{{ include "runyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: runyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "runyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runyard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations plus extra ones. Usage: include "runyard.annotations" (dict "root" $ "extra" $map) */}}
{{- define "runyard.annotations" -}}
{{- $all := merge (dict) (default (dict) .extra) (default (dict) .root.Values.commonAnnotations) -}}
{{- if $all -}}
annotations:
  {{- toYaml $all | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
Image reference. Usage: include "runyard.image" (dict "image" .Values.image "root" $)
An empty tag falls back to the chart appVersion; a digest wins over the tag.
*/}}
{{- define "runyard.image" -}}
{{- $registry := .image.registry -}}
{{- if .root.Values.global.imageRegistry -}}
{{- $registry = .root.Values.global.imageRegistry -}}
{{- end -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion | toString -}}
{{- $ref := .image.repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" $registry .image.repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets from global and the given list. Usage: include "runyard.imagePullSecrets" (dict "secrets" .Values.image.pullSecrets "root" $) */}}
{{- define "runyard.imagePullSecrets" -}}
{{- $names := concat (default (list) .root.Values.global.imagePullSecrets) (default (list) .secrets) | uniq -}}
{{- if $names }}
imagePullSecrets:
{{- range $names }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "runyard.serviceAccountName" -}}
{{- if .Values.server.serviceAccount.create -}}
{{- default (include "runyard.fullname" .) .Values.server.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.server.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Pod security context without the chart-only `enabled` switch. Usage: include "runyard.securityContext" $ctx */}}
{{- define "runyard.securityContext" -}}
{{- if .enabled -}}
{{- toYaml (omit . "enabled") -}}
{{- end -}}
{{- end -}}

{{- define "runyard.server.secretName" -}}
{{- default (printf "%s-server" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-") .Values.secrets.existingServerSecret -}}
{{- end -}}

{{- define "runyard.storage.secretName" -}}
{{- default (printf "%s-storage" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-") .Values.secrets.existingStorageSecret -}}
{{- end -}}

{{- define "runyard.redis.secretName" -}}
{{- default (printf "%s-redis-url" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-") .Values.secrets.existingRedisSecret -}}
{{- end -}}

{{- define "runyard.s3proxy.secretName" -}}
{{- default (printf "%s-s3proxy-azure" (include "runyard.fullname" .) | trunc 63 | trimSuffix "-") .Values.s3proxy.azure.existingSecret -}}
{{- end -}}

{{/* Whether storage credentials exist (inline or in an existing Secret). */}}
{{- define "runyard.storage.hasCredentials" -}}
{{- if or .Values.secrets.existingStorageSecret .Values.secrets.storage.accessKeyId -}}true{{- end -}}
{{- end -}}

{{/* Whether a server Secret exists (created by the chart or referenced). */}}
{{- define "runyard.server.hasSecret" -}}
{{- $s := .Values.secrets -}}
{{- if or $s.existingServerSecret $s.cookieSecret $s.agentToken $s.auth.oidc.providers (ne .Values.database.type "sqlite") -}}true{{- end -}}
{{- end -}}

{{- define "runyard.redis.inUse" -}}
{{- if and .Values.redis.enabled (or .Values.redis.install.enabled .Values.redis.external.url .Values.secrets.existingRedisSecret) -}}true{{- end -}}
{{- end -}}

{{- define "runyard.server.url" -}}
{{- printf "http://%s.%s.svc.%s:%v" (include "runyard.server.fullname" .) (include "runyard.namespace" .) .Values.clusterDomain .Values.server.service.port -}}
{{- end -}}

{{- define "runyard.otel.endpoint" -}}
{{- printf "http://%s.%s.svc.%s:4318" (include "runyard.otel.fullname" .) (include "runyard.namespace" .) .Values.clusterDomain -}}
{{- end -}}

{{- define "runyard.s3proxy.endpoint" -}}
{{- printf "http://%s.%s.svc.%s:%v" (include "runyard.s3proxy.fullname" .) (include "runyard.namespace" .) .Values.clusterDomain .Values.s3proxy.port -}}
{{- end -}}

{{/* OIDC providers as the TOML array text runyard reads from RUNYARD_OIDC_PROVIDERS. */}}
{{- define "runyard.oidcProvidersToml" -}}
{{- $items := list -}}
{{- range $provider := .Values.secrets.auth.oidc.providers -}}
{{- $fields := list -}}
{{- range $key := list "name" "key" "issuer_url" "client_id" "client_secret" "scopes" "pkce" "allow_sign_up" "require_email_verified" "allowed_domains" -}}
{{- if hasKey $provider $key -}}
{{- $fields = append $fields (printf "%s = %s" $key (toJson (get $provider $key))) -}}
{{- end -}}
{{- end -}}
{{- $items = append $items (printf "{ %s }" (join ", " $fields)) -}}
{{- end -}}
{{- printf "[%s]" (join ", " $items) -}}
{{- end -}}

{{/* OTEL_* variables for server and agent containers; nothing when the collector is disabled. Usage: include "runyard.otel.env" (dict "root" $ "service" "runyard-server") */}}
{{- define "runyard.otel.env" -}}
{{- if .root.Values.otelCollector.enabled }}
{{- $attrs := printf "deployment.environment.name=%s" (default .root.Release.Name .root.Values.otelCollector.resourceAttributes.environmentName) -}}
{{- with .root.Values.otelCollector.resourceAttributes.extra }}
{{- $attrs = printf "%s,%s" $attrs . -}}
{{- end }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ include "runyard.otel.endpoint" .root | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ $attrs | quote }}
{{- end }}
{{- end -}}

{{/* Prometheus scrape annotations. Usage: include "runyard.prometheus.annotations" (dict "port" 5050 "path" "/metrics") */}}
{{- define "runyard.prometheus.annotations" -}}
prometheus.io/scrape: "runyard"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: {{ .path | quote }}
{{- end -}}

{{/*
A compute pool with every unset key inherited from computeDefaults (shallow; `image` merged key by key).
Usage: include "runyard.pool.effective" (dict "root" $ "pool" $p) | fromYaml
*/}}
{{- define "runyard.pool.effective" -}}
{{- $defaults := deepCopy .root.Values.computeDefaults -}}
{{- $pool := deepCopy .pool -}}
{{- range $key, $value := $defaults -}}
{{- if not (hasKey $pool $key) -}}
{{- $_ := set $pool $key $value -}}
{{- else if eq $key "image" -}}
{{- $_ := set $pool "image" (merge (deepCopy (default (dict) (get $pool "image"))) $value) -}}
{{- end -}}
{{- end -}}
{{- $image := deepCopy .root.Values.image -}}
{{- if and $pool.image.tag (not $pool.image.digest) -}}
{{- $_ := set $image "digest" "" -}}
{{- end -}}
{{- range $key, $value := $pool.image -}}
{{- if $value -}}
{{- $_ := set $image $key $value -}}
{{- end -}}
{{- end -}}
{{- $_ := set $pool "image" $image -}}
{{- toYaml $pool -}}
{{- end -}}

{{/* The RUNYARD_POOLS JSON the server reads: name, gpus_per_replica, queues, labels of each pool. */}}
{{- define "runyard.pools.json" -}}
{{- $pools := list -}}
{{- range .Values.computePools -}}
{{- $p := include "runyard.pool.effective" (dict "root" $ "pool" .) | fromYaml -}}
{{- $pools = append $pools (dict "name" $p.name "gpus_per_replica" (int $p.gpusPerReplica) "queues" $p.queues "labels" (default (dict) $p.labels)) -}}
{{- end -}}
{{- toJson $pools -}}
{{- end -}}

{{/*
Environment the server reads from Secrets (never from the ConfigMap): the database URL assembled from the
Secret's parts with Kubernetes $(VAR) expansion, storage and Redis credentials, cookie secret, OIDC.
*/}}
{{- define "runyard.server.secretEnv" -}}
{{- $secret := include "runyard.server.secretName" . -}}
{{- $existing := .Values.secrets.existingServerSecret -}}
{{- if ne .Values.database.type "sqlite" }}
- name: DATABASE_USERNAME
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.dbUsername | quote }}}}
- name: DATABASE_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.dbPassword | quote }}}}
- name: DATABASE_HOST
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.dbHost | quote }}}}
- name: DATABASE_NAME
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.dbName | quote }}}}
- name: RUNYARD_BACKEND_STORE_URI
  value: {{ include "runyard.database.url" . | quote }}
{{- end }}
{{- if or $existing .Values.secrets.cookieSecret }}
- name: RUNYARD_COOKIE_SECRET
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.cookieSecret | quote }}, optional: {{ not (empty $existing) }}}}
{{- end }}
{{- if or $existing .Values.secrets.adminPassword }}
- name: RUNYARD_ADMIN_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.adminPassword | quote }}, optional: {{ not (empty $existing) }}}}
{{- end }}
{{- if or $existing .Values.secrets.auth.oidc.providers }}
- name: RUNYARD_OIDC_PROVIDERS
  valueFrom: {secretKeyRef: {name: {{ $secret | quote }}, key: {{ .Values.secrets.existingSecretKeys.oidcProviders | quote }}, optional: {{ not (empty $existing) }}}}
{{- end }}
{{- if include "runyard.storage.hasCredentials" . }}
- name: AWS_ACCESS_KEY_ID
  valueFrom: {secretKeyRef: {name: {{ include "runyard.storage.secretName" . | quote }}, key: {{ .Values.secrets.existingSecretKeys.accessKeyId | quote }}}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ include "runyard.storage.secretName" . | quote }}, key: {{ .Values.secrets.existingSecretKeys.secretAccessKey | quote }}}}
{{- end }}
{{- if include "runyard.redis.inUse" . }}
- name: RUNYARD_REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "runyard.redis.secretName" . | quote }}, key: {{ .Values.secrets.existingSecretKeys.redisUrl | quote }}}}
{{- end }}
{{- end -}}

{{/* Database URL (postgresql:// or mysql://) assembled at run time from the DATABASE_* variables (Kubernetes $(VAR) expansion). */}}
{{- define "runyard.database.url" -}}
{{- $url := printf "%s://$(DATABASE_USERNAME):$(DATABASE_PASSWORD)@$(DATABASE_HOST)/$(DATABASE_NAME)" .Values.database.type -}}
{{- with .Values.database.options -}}
{{- $url = printf "%s?%s" $url . -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{/* RUNYARD_SANDBOX_* for the agents; empty values leave the agent's default. */}}
{{- define "runyard.sandbox.env" -}}
{{- $s := .Values.sandbox }}
- name: RUNYARD_SANDBOX_ISOLATION
  value: {{ $s.isolation | quote }}
- name: RUNYARD_SANDBOX_NETWORK
  value: {{ $s.network | quote }}
- name: RUNYARD_SANDBOX_ALLOW_PROCESS
  value: {{ $s.allowProcess | quote }}
{{- range $key, $env := dict "memoryLimitMb" "RUNYARD_SANDBOX_MEMORY_LIMIT_MB" "cpuSeconds" "RUNYARD_SANDBOX_CPU_SECONDS" "maxProcesses" "RUNYARD_SANDBOX_MAX_PROCESSES" "maxFileSizeMb" "RUNYARD_SANDBOX_MAX_FILE_SIZE_MB" "timeoutSeconds" "RUNYARD_SANDBOX_TIMEOUT_SECONDS" }}
{{- $value := get $s $key }}
{{- if not (eq (toString $value) "") }}
- name: {{ $env }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The agent's probe: its heartbeat file (written on every successful heartbeat to the server, path in
RUNYARD_AGENT_HEARTBEAT_FILE) exists and is younger than heartbeatMaxAgeSeconds. The agent serves no
HTTP port, so the probe checks the one thing that proves it is alive and talking to the server.
*/}}
{{- define "runyard.agent.heartbeatCheck" -}}
import os, sys, time; p = os.environ.get("RUNYARD_AGENT_HEARTBEAT_FILE", "/tmp/runyard-agent/heartbeat"); sys.exit(0 if os.path.exists(p) and time.time() - os.path.getmtime(p) < {{ int .heartbeatMaxAgeSeconds }} else 1)
{{- end -}}
