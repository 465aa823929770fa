{{/* Names, labels and the environment every fileserver container shares. */}}

{{- define "fileserver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fileserver.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A component's object name: "<fullname>-<component>". */}}
{{- define "fileserver.component" -}}
{{- printf "%s-%s" (include "fileserver.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fileserver.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "fileserver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fileserver
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "name" "uploader"). */}}
{{- define "fileserver.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fileserver.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "fileserver.componentLabels" -}}
{{ include "fileserver.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "fileserver.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{- define "fileserver.secretName" -}}
{{- if .Values.secrets.create }}{{ include "fileserver.fullname" . }}{{ else }}{{ .Values.secrets.existingSecret }}{{ end }}
{{- end }}

{{- define "fileserver.serviceAccountName" -}}
{{- printf "%s-%s" (include "fileserver.fullname" .root) .name }}
{{- end }}

{{/* An env entry read from the release's Secret: (dict "root" $ "env" "NAME" "key" "k"). */}}
{{- define "fileserver.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "fileserver.secretName" .root }}
      key: {{ .key }}
{{- end }}

{{/*
Connection variables. Bundled servers get passwords from the Secret and URLs built with
Kubernetes' $(VAR) expansion, so the password is never in a ConfigMap; external servers' URLs
come whole from the Secret. Each defines FILESERVER_<X>_URL for the caller to reference.
*/}}
{{- define "fileserver.redisEnv" -}}
{{- if .Values.redis.enabled }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_REDIS_PASSWORD" "key" "redis-password") }}
- name: FILESERVER_REDIS_URL
  value: "redis://:$(FILESERVER_REDIS_PASSWORD)@{{ include "fileserver.fullname" . }}-redis:6379/0"
{{- else }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_REDIS_URL" "key" "redis-url") }}
{{- end }}
{{- end }}

{{- define "fileserver.mongoEnv" -}}
{{- if and .Values.mongodb.enabled .Values.mongodb.auth }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_MONGO_PASSWORD" "key" "mongo-password") }}
- name: FILESERVER_MONGO_URL
  value: "mongodb://fileserver:$(FILESERVER_MONGO_PASSWORD)@{{ include "fileserver.fullname" . }}-mongodb:27017/?authSource=admin"
{{- else if .Values.mongodb.enabled }}
- name: FILESERVER_MONGO_URL
  value: "mongodb://{{ include "fileserver.fullname" . }}-mongodb:27017/"
{{- else }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_MONGO_URL" "key" "mongo-url") }}
{{- end }}
{{- end }}

{{- define "fileserver.postgresEnv" -}}
{{- if .Values.postgresql.enabled }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_POSTGRES_PASSWORD" "key" "postgres-password") }}
- name: FILESERVER_DATABASE_URL
  value: "postgresql://{{ .Values.postgresql.database }}:$(FILESERVER_POSTGRES_PASSWORD)@{{ include "fileserver.fullname" . }}-postgresql:5432/{{ .Values.postgresql.database }}"
{{- else }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_DATABASE_URL" "key" "database-url") }}
{{- end }}
{{- end }}

{{/* The Drive client's settings (services/drive/config.py): Google or the bundled emulator. */}}
{{- define "fileserver.driveEnv" -}}
{{- if .Values.driveEmulator.enabled }}
- name: FILESERVER_DRIVE_ROOT_URL
  value: "http://{{ include "fileserver.fullname" . }}-drive-emulator:{{ .Values.driveEmulator.port }}/"
{{- with .Values.driveEmulator.publicUrl }}
- name: FILESERVER_DRIVE_WEB_URL
  value: {{ . | quote }}
- name: FILESERVER_DRIVE_USERCONTENT_URL
  value: {{ . | quote }}
{{- end }}
{{- else }}
- name: FILESERVER_DRIVE_ROOT_URL
  value: {{ .Values.drive.rootUrl | quote }}
{{- end }}
- name: FILESERVER_DRIVE_URL_FORM
  value: {{ .Values.drive.urlForm | quote }}
{{- if .Values.drive.apiKey }}
{{ include "fileserver.secretEnv" (dict "root" . "env" "FILESERVER_DRIVE_API_KEY" "key" "drive-api-key") }}
{{- end }}
{{- end }}

{{/*
"true" when the operator owns spec.replicas of the Uploader, worker, Downloader and Stats
Deployments (it runs and scales them): the chart then leaves the field out and passes each
component's replicas to the operator as its floor (docs/operator.md, "Scaling").
*/}}
{{- define "fileserver.operatorScales" -}}
{{- if and .Values.operator.enabled .Values.operator.scaleDeployments }}true{{ end }}
{{- end }}

{{/*
The scaled components' replica bounds as JSON {"min": {service: n}, "max": {...}}: each
component's replicas (the HA floor) and maxReplicas; a floor above its ceiling is refused
while the operator scales.
*/}}
{{- define "fileserver.replicaBounds" -}}
{{- $min := dict }}
{{- $max := dict }}
{{- range $service, $key := dict "uploader" "uploader" "downloader" "downloader" "stats" "stats" "uploader-worker" "uploaderWorker" }}
{{- $v := index $.Values $key }}
{{- if and (include "fileserver.operatorScales" $) (gt (int $v.replicas) (int $v.maxReplicas)) }}
{{- fail (printf "%s.replicas (%v, the operator's floor) exceeds %s.maxReplicas (%v)" $key $v.replicas $key $v.maxReplicas) }}
{{- end }}
{{- $_ := set $min $service (int $v.replicas) }}
{{- $_ := set $max $service (int $v.maxReplicas) }}
{{- end }}
{{- toJson (dict "min" $min "max" $max) }}
{{- end }}

{{/*
The namespace holding the Secrets DriveAccounts name: the only place the operator may read
Secrets (get, by name). Never the release namespace, where the release's own Secret (tokens,
Fernet key) and Helm's release Secrets live.
*/}}
{{- define "fileserver.credentialsNamespace" -}}
{{- $ns := .Values.operator.credentials.namespace | default (printf "%s-credentials" .Release.Namespace) | trunc 63 | trimSuffix "-" }}
{{- if eq $ns .Release.Namespace }}
{{- fail (printf "operator.credentials.namespace must not be the release namespace %q: the operator could then read the release's Secret (tokens, the Fernet key) and Helm's release Secrets" .Release.Namespace) }}
{{- end }}
{{- $ns }}
{{- end }}

{{- define "fileserver.downloaderUrl" -}}
http://{{ include "fileserver.fullname" . }}-downloader:{{ .Values.downloader.service.port }}
{{- end }}

{{- define "fileserver.uploaderUrl" -}}
http://{{ include "fileserver.fullname" . }}-uploader:{{ .Values.uploader.service.port }}
{{- end }}

{{/* extraEnv maps rendered as env entries. */}}
{{- define "fileserver.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
The project's source folders under /app, where the image installs the project editable and
skaffold's file sync (skaffold.yaml, profile "dev") writes changed files.
*/}}
{{- define "fileserver.sourceDirs" -}}
{{- toJson (list "apis" "services" "fileserver" "operator") }}
{{- end }}

{{/*
The container command: `python -m <module>` (or the given command), or under watchfiles when
devReload is on, so that a file synced by skaffold restarts the process. watchfiles watches the
source folders only (not the virtual environment's thousands of directories).
*/}}
{{- define "fileserver.command" -}}
{{- $command := .command | default (list "python" "-m" .module) }}
{{- if .root.Values.devReload }}
- python
- -m
- watchfiles
- --filter
- python
- --target-type
- command
- {{ join " " $command | quote }}
{{- range include "fileserver.sourceDirs" . | fromJsonArray }}
- /app/{{ . }}
{{- end }}
{{- else }}
{{- toYaml $command }}
{{- end }}
{{- end }}

{{/* Pod anti-affinity spreading one component's pods over nodes (highAvailability). */}}
{{- define "fileserver.affinity" -}}
{{- $ha := .root.Values.highAvailability }}
{{- if eq $ha.antiAffinity "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: {{ $ha.topologyKey }}
        labelSelector:
          matchLabels:
            {{- include "fileserver.selectorLabels" . | nindent 12 }}
{{- else if eq $ha.antiAffinity "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: {{ $ha.topologyKey }}
          labelSelector:
            matchLabels:
              {{- include "fileserver.selectorLabels" . | nindent 14 }}
{{- end }}
{{- end }}

{{/* prometheus.io scrape annotations: (dict "root" $ "port" 8001). */}}
{{- define "fileserver.scrapeAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the fileserver Deployments. */}}
{{- define "fileserver.podCommon" -}}
serviceAccountName: {{ include "fileserver.serviceAccountName" . }}
automountServiceAccountToken: {{ .automount | default false }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- include "fileserver.affinity" . }}
{{- end }}

{{/* The operator's rules on its custom resources and events (Role or ClusterRole). */}}
{{- define "fileserver.operatorWatchRules" -}}
- apiGroups: [fileserver.io]
  resources: [driveaccounts, filereplicas]
  verbs: [get, list, watch, patch]
- apiGroups: [fileserver.io]
  resources: [driveaccounts/status, filereplicas/status]
  verbs: [get, patch]
- apiGroups: [fileserver.io]
  resources: [filereplicas]
  verbs: [create, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/*
One egress rule from (dict "to" peers "ports" ports): peers empty means any destination on
those ports (ports: numbers or {port, protocol} maps).
*/}}
{{- define "fileserver.egressRule" -}}
- ports:
    {{- range .ports }}
    {{- if kindIs "map" . }}
    - {{ toJson . }}
    {{- else }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The ports of a server URL as a JSON array, for its egress rule: (dict "url" u "default" 5432).
Every host:port of the URL (MongoDB lists several); the default when it names none (or the URL
is empty: it then comes from secrets.existingSecret, unseen by the chart).
*/}}
{{- define "fileserver.urlPorts" -}}
{{- $ports := list }}
{{- if .url }}
{{- $host := (urlParse .url).host }}
{{- range regexFindAll ":[0-9]+(,|$)" $host -1 }}
{{- $ports = append $ports (trimSuffix "," . | trimPrefix ":" | int) }}
{{- end }}
{{- end }}
{{- toJson (ternary (list .default) ($ports | uniq) (empty $ports)) }}
{{- end }}
