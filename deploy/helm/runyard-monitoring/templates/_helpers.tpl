{{/* Names, labels and images of the runyard-monitoring chart; every name is at most 63 characters. */}}

{{- define "monitoring.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "monitoring.fullname" -}}
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

{{- define "monitoring.grafana.fullname" -}}
{{- printf "%s-grafana" (include "monitoring.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "monitoring.prometheus.fullname" -}}
{{- printf "%s-prometheus" (include "monitoring.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "monitoring.loki.fullname" -}}
{{- printf "%s-loki" (include "monitoring.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "monitoring.logShipper.fullname" -}}
{{- printf "%s-log-shipper" (include "monitoring.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "monitoring.runyardNamespace" -}}
{{- default .Release.Namespace .Values.runyardNamespace -}}
{{- end -}}

{{/* Usage: include "monitoring.labels" (dict "root" $ "component" "grafana") */}}
{{- define "monitoring.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "monitoring.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: runyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "monitoring.selectorLabels" -}}
app.kubernetes.io/name: {{ include "monitoring.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "monitoring.annotations" -}}
{{- $all := merge (dict) (default (dict) .extra) (default (dict) .root.Values.commonAnnotations) -}}
{{- if $all -}}
annotations:
  {{- toYaml $all | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* Usage: include "monitoring.image" (dict "image" .Values.grafana.image "root" $) */}}
{{- define "monitoring.image" -}}
{{- $registry := default .image.registry .root.Values.global.imageRegistry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "monitoring.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "monitoring.storageClass" -}}
{{- default .Values.global.storageClass .Values.grafana.storageClass -}}
{{- end -}}

{{/* A PersistentVolumeClaim. Usage: include "monitoring.pvc" (dict "root" $ "name" $name "component" "loki" "size" "20Gi") */}}
{{- define "monitoring.pvc" -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace | quote }}
  labels:
    {{- include "monitoring.labels" (dict "root" .root "component" .component) | nindent 4 }}
  {{- with include "monitoring.annotations" (dict "root" .root) }}{{ . | nindent 2 }}{{ end }}
spec:
  accessModes: ["ReadWriteOnce"]
  {{- with include "monitoring.storageClass" .root }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ .size | quote }}
{{- end -}}

{{/* Restrictive container security context shared by every container of the chart. */}}
{{- define "monitoring.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "monitoring.validateValues" -}}
{{- $messages := list -}}
{{- if and .Values.grafana.existingSecret .Values.grafana.adminPassword -}}
{{- $messages = append $messages (printf "runyard-monitoring: grafana-secret-conflict\n    grafana.existingSecret=%s is set together with grafana.adminPassword. Remove grafana.adminPassword (the Secret's admin-password key holds it)." .Values.grafana.existingSecret) -}}
{{- end -}}
{{- if and .Values.grafana.enablePersistence (not (include "monitoring.storageClass" .)) -}}
{{- /* Allowed: the cluster default StorageClass is used. */ -}}
{{- end -}}
{{- if and (not .Values.prometheus.enabled) (not .Values.grafana.datasources.prometheusUrl) -}}
{{- $messages = append $messages "runyard-monitoring: prometheus-url\n    prometheus.enabled=false needs grafana.datasources.prometheusUrl (your Prometheus), or the dashboards have no data source." -}}
{{- end -}}
{{- if and (not .Values.loki.enabled) (not .Values.grafana.datasources.lokiUrl) -}}
{{- $messages = append $messages "runyard-monitoring: loki-url\n    loki.enabled=false needs grafana.datasources.lokiUrl (your Loki), or the logs dashboard has no data source." -}}
{{- end -}}
{{- if and .Values.logShipper.enabled (not .Values.loki.enabled) (not .Values.grafana.datasources.lokiUrl) -}}
{{- $messages = append $messages "runyard-monitoring: log-shipper-needs-loki\n    logShipper.enabled=true pushes to Loki: keep loki.enabled=true or set grafana.datasources.lokiUrl." -}}
{{- end -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}

{{- define "monitoring.prometheusUrl" -}}
{{- default (printf "http://%s.%s.svc.%s:9090" (include "monitoring.prometheus.fullname" .) .Release.Namespace .Values.clusterDomain) .Values.grafana.datasources.prometheusUrl -}}
{{- end -}}

{{- define "monitoring.lokiUrl" -}}
{{- default (printf "http://%s.%s.svc.%s:3100" (include "monitoring.loki.fullname" .) .Release.Namespace .Values.clusterDomain) .Values.grafana.datasources.lokiUrl -}}
{{- end -}}
