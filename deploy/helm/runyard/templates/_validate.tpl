{{/*
Render-time validation: every rule adds a message that says what is wrong and which values to change;
the render fails once with all of them ("VALUES VALIDATION:"), in the manner of bitnami charts.
*/}}
{{- define "runyard.validateValues" -}}
{{- $messages := list -}}
{{- $messages = append $messages (include "runyard.validate.serverSecret" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.storageSecret" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.redis" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.cookieSecret" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.database" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.artifacts" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.s3proxy" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.pools" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.ingress" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.tracking" . | trim) -}}
{{- $messages = append $messages (include "runyard.validate.hpa" . | trim) -}}
{{- $messages = without $messages "" -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}

{{- define "runyard.validate.serverSecret" -}}
{{- $s := .Values.secrets -}}
{{- if $s.existingServerSecret -}}
{{- $inline := list -}}
{{- range $key := list "username" "password" "host" "database" -}}
{{- if get $s.db $key -}}{{- $inline = append $inline (printf "secrets.db.%s" $key) -}}{{- end -}}
{{- end -}}
{{- if $s.cookieSecret -}}{{- $inline = append $inline "secrets.cookieSecret" -}}{{- end -}}
{{- if $s.agentToken -}}{{- $inline = append $inline "secrets.agentToken" -}}{{- end -}}
{{- if $s.adminPassword -}}{{- $inline = append $inline "secrets.adminPassword" -}}{{- end -}}
{{- if $s.auth.oidc.providers -}}{{- $inline = append $inline "secrets.auth.oidc.providers" -}}{{- end -}}
{{- if $inline }}
runyard: existing-server-secret-conflict
    secrets.existingServerSecret={{ $s.existingServerSecret }} is set together with inline values. The existing
    Secret must hold them (keys dbUsername, dbPassword, dbHost, dbName, cookieSecret, oidcProviders, adminPassword,
    agentToken). Remove: {{ join ", " $inline }}.
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "runyard.validate.storageSecret" -}}
{{- $s := .Values.secrets -}}
{{- if $s.existingStorageSecret -}}
{{- $inline := list -}}
{{- if $s.storage.accessKeyId -}}{{- $inline = append $inline "secrets.storage.accessKeyId" -}}{{- end -}}
{{- if $s.storage.secretAccessKey -}}{{- $inline = append $inline "secrets.storage.secretAccessKey" -}}{{- end -}}
{{- if $inline }}
runyard: existing-storage-secret-conflict
    secrets.existingStorageSecret={{ $s.existingStorageSecret }} is set together with inline credentials. The
    existing Secret must hold them (keys accessKeyId, secretAccessKey). Remove: {{ join ", " $inline }}.
{{- end -}}
{{- else if and (not $s.storage.accessKeyId) $s.storage.secretAccessKey }}
runyard: storage-credentials-incomplete
    secrets.storage.secretAccessKey is set without secrets.storage.accessKeyId. Set both, or neither (to use
    the pod's cloud identity).
{{- else if and $s.storage.accessKeyId (not $s.storage.secretAccessKey) }}
runyard: storage-credentials-incomplete
    secrets.storage.accessKeyId is set without secrets.storage.secretAccessKey. Set both, or neither (to use
    the pod's cloud identity).
{{- end -}}
{{- end -}}

{{- define "runyard.validate.redis" -}}
{{- $r := .Values.redis -}}
{{- $existing := .Values.secrets.existingRedisSecret -}}
{{- $errors := list -}}
{{- if not $r.enabled -}}
{{- if or $r.install.enabled $r.external.url $existing -}}
{{- $errors = append $errors "redis.enabled=false, yet redis.install.enabled, redis.external.url or secrets.existingRedisSecret is set. Set redis.enabled=true to use Redis, or set redis.install.enabled=false and remove redis.external.url and secrets.existingRedisSecret." -}}
{{- end -}}
{{- else -}}
{{- if and $existing (or $r.auth.username $r.auth.password) -}}
{{- $errors = append $errors (printf "secrets.existingRedisSecret=%s cannot be used with inline Redis credentials: the Secret's redisUrl carries them. Remove redis.auth.username and redis.auth.password." $existing) -}}
{{- end -}}
{{- if and $existing $r.external.url -}}
{{- $errors = append $errors (printf "secrets.existingRedisSecret=%s and redis.external.url are both set: runyard would not know which URL to use. Remove redis.external.url (put the URL in the Secret's redisUrl key) or remove secrets.existingRedisSecret." $existing) -}}
{{- end -}}
{{- if and $r.install.enabled $r.external.url (not $existing) -}}
{{- $errors = append $errors "redis.install.enabled=true and redis.external.url are both set. Set redis.install.enabled=false to use the external Redis, or remove redis.external.url to use the in-cluster one." -}}
{{- end -}}
{{- if and (not $r.install.enabled) (not $r.external.url) (not $existing) -}}
{{- $errors = append $errors "redis.install.enabled=false requires redis.external.url (or secrets.existingRedisSecret). Set one of them, set redis.install.enabled=true, or set redis.enabled=false to run without Redis." -}}
{{- end -}}
{{- if and $r.auth.username (not $r.auth.password) -}}
{{- $errors = append $errors "redis.auth.username is set without redis.auth.password. Set redis.auth.password too." -}}
{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- range $errors -}}
{{- $out = append $out (printf "runyard: redis\n    %s" .) -}}
{{- end -}}
{{- join "\n" $out -}}
{{- end -}}

{{- define "runyard.validate.cookieSecret" -}}
{{- $s := .Values.secrets -}}
{{- if and $s.cookieSecret (lt (len $s.cookieSecret) 64) }}
runyard: cookie-secret-too-short
    secrets.cookieSecret is {{ len $s.cookieSecret }} characters long; it must be at least 64 (for example:
    `openssl rand -hex 32`), and the same on all server replicas.
{{- end -}}
{{- if and .Values.server.auth.enabled (not $s.cookieSecret) (not $s.existingServerSecret) }}
runyard: auth-requires-cookie-secret
    server.auth.enabled=true requires a cookie secret. Set secrets.cookieSecret (>= 64 characters) or the
    cookieSecret key of secrets.existingServerSecret.
{{- end -}}
{{- end -}}

{{- define "runyard.validate.database" -}}
{{- $replicas := int .Values.server.replicaCount -}}
{{- $hpa := .Values.server.autoscaling.hpa -}}
{{- if eq .Values.database.type "sqlite" -}}
{{- if or (gt $replicas 1) $hpa.enabled }}
runyard: sqlite-single-replica
    database.type=sqlite allows exactly one server replica (SQLite has one writer and its file lives on a
    ReadWriteOnce volume), but server.replicaCount={{ $replicas }}{{ if $hpa.enabled }} and server.autoscaling.hpa.enabled=true{{ end }}.
    Set database.type=postgresql with secrets.db.* (or secrets.existingServerSecret) for more replicas, or
    set server.replicaCount=1 and server.autoscaling.hpa.enabled=false.
{{- end -}}
{{- $s := .Values.secrets -}}
{{- if or $s.db.username $s.db.password $s.db.host $s.db.database }}
runyard: sqlite-with-database-credentials
    secrets.db.* is set but database.type=sqlite. Set database.type=postgresql (or mysql) to use it, or remove
    secrets.db.*.
{{- end -}}
{{- else -}}
{{- $s := .Values.secrets -}}
{{- if not $s.existingServerSecret -}}
{{- $missing := list -}}
{{- range $key := list "username" "password" "host" "database" -}}
{{- if not (get $s.db $key) -}}{{- $missing = append $missing (printf "secrets.db.%s" $key) -}}{{- end -}}
{{- end -}}
{{- if $missing }}
runyard: database-connection-incomplete
    database.type={{ .Values.database.type }} needs the connection: set {{ join ", " $missing }}, or set
    secrets.existingServerSecret to a Secret with keys dbUsername, dbPassword, dbHost, dbName.
{{- end -}}
{{- if regexMatch "[@:/?#\\[\\] ]" $s.db.password }}
runyard: database-password-not-url-safe
    secrets.db.password contains a character reserved in URLs (@ : / ? # [ ] or space); it is placed in the
    database URL, so percent-encode it (e.g. @ as %40, : as %3A, / as %2F).
{{- end -}}
{{- if and $s.db.host (not (regexMatch "^[^:/]+(:[0-9]+)?$" $s.db.host)) }}
runyard: database-host-format
    secrets.db.host={{ $s.db.host }} must be host or host:port (no scheme, no path), e.g. db.example.com:5432.
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "runyard.validate.artifacts" -}}
{{- $shared := or .Values.storage.artifactsDestination .Values.s3proxy.enabled -}}
{{- if and (not $shared) (or (gt (int .Values.server.replicaCount) 1) .Values.server.autoscaling.hpa.enabled) }}
runyard: artifacts-need-shared-store
    More than one server replica needs a shared artifact store, but storage.artifactsDestination is empty
    (artifacts would stay on one pod's volume). Set storage.artifactsDestination=s3://BUCKET/PREFIX (with
    storage.s3.* and secrets.storage.* or secrets.existingStorageSecret), or enable s3proxy.
{{- end -}}
{{- if and .Values.storage.registryUri (not .Values.storage.artifactsDestination) (not .Values.s3proxy.enabled) }}
runyard: registry-without-artifact-store
    storage.registryUri is set but storage.artifactsDestination is empty. Set storage.artifactsDestination
    to the same bucket (s3://BUCKET/artifacts) or remove storage.registryUri.
{{- end -}}
{{- end -}}

{{- define "runyard.validate.s3proxy" -}}
{{- $p := .Values.s3proxy -}}
{{- if $p.enabled -}}
{{- if .Values.storage.s3.endpoint }}
runyard: s3proxy-endpoint-conflict
    s3proxy.enabled=true points the server at the s3proxy Service, but storage.s3.endpoint={{ .Values.storage.s3.endpoint }}
    is set too. Remove storage.s3.endpoint, or set s3proxy.enabled=false to use that endpoint.
{{- end -}}
{{- if not .Values.storage.artifactsDestination }}
runyard: s3proxy-needs-bucket
    s3proxy.enabled=true needs storage.artifactsDestination=s3://CONTAINER/PREFIX (an Azure Blob container).
{{- end -}}
{{- if not (include "runyard.storage.hasCredentials" .) }}
runyard: s3proxy-needs-credentials
    s3proxy.enabled=true needs the S3 credentials the server presents to s3proxy: set
    secrets.storage.accessKeyId and secrets.storage.secretAccessKey, or secrets.existingStorageSecret.
{{- end -}}
{{- if $p.azure.existingSecret -}}
{{- if or $p.azure.storageAccount.name $p.azure.storageAccount.accessKey }}
runyard: s3proxy-azure-secret-conflict
    s3proxy.azure.existingSecret={{ $p.azure.existingSecret }} is set together with inline Azure credentials.
    Remove: s3proxy.azure.storageAccount.name, s3proxy.azure.storageAccount.accessKey.
{{- end -}}
{{- else if not (and $p.azure.storageAccount.name $p.azure.storageAccount.accessKey) }}
runyard: s3proxy-needs-azure-account
    s3proxy.enabled=true needs the Azure storage account: set s3proxy.azure.storageAccount.name and
    s3proxy.azure.storageAccount.accessKey, or s3proxy.azure.existingSecret.
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "runyard.validate.pools" -}}
{{- $names := dict -}}
{{- $fullnames := dict -}}
{{- range $index, $pool := .Values.computePools -}}
{{- if not $pool.name }}
runyard: compute-pool-name
    computePools[{{ $index }}] has no name. Give every pool a name (a DNS label such as "a100").
{{- else -}}
{{- if hasKey $names $pool.name }}
runyard: compute-pool-duplicate
    computePools has two pools named "{{ $pool.name }}". Pool names must be unique.
{{- end -}}
{{- $_ := set $names $pool.name true -}}
{{- $full := include "runyard.pool.fullname" (dict "root" $ "pool" $pool) -}}
{{- if hasKey $fullnames $full }}
runyard: compute-pool-name-too-long
    computePools "{{ $pool.name }}" and "{{ get $fullnames $full }}" both become "{{ $full }}" once cut to 63 characters.
    Shorten the pool names or set fullnameOverride.
{{- end -}}
{{- $_ := set $fullnames $full $pool.name -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "runyard.validate.ingress" -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
runyard: ingress-needs-hosts
    ingress.enabled=true needs at least one entry in ingress.hosts (host and paths).
{{- end -}}
{{- end -}}

{{- define "runyard.validate.tracking" -}}
{{- if and .Values.tracking.externalMlflow.enabled (not .Values.tracking.externalMlflow.url) }}
runyard: external-mlflow-needs-url
    tracking.externalMlflow.enabled=true needs tracking.externalMlflow.url (http(s)://host:port).
{{- end -}}
{{- end -}}

{{- define "runyard.validate.hpa" -}}
{{- $hpa := .Values.server.autoscaling.hpa -}}
{{- if $hpa.enabled -}}
{{- if and (eq (toString $hpa.targetCPU) "") (eq (toString $hpa.targetMemory) "") }}
runyard: hpa-needs-a-target
    server.autoscaling.hpa.enabled=true needs server.autoscaling.hpa.targetCPU and/or targetMemory (percent).
{{- end -}}
{{- if gt (int $hpa.minReplicas) (int $hpa.maxReplicas) }}
runyard: hpa-min-above-max
    server.autoscaling.hpa.minReplicas={{ $hpa.minReplicas }} is above maxReplicas={{ $hpa.maxReplicas }}.
{{- end -}}
{{- end -}}
{{- end -}}
