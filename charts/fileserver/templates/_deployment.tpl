{{/*
One fileserver Deployment. Parameters (a dict):
  root      the chart's root context
  name      component name (uploader, downloader, ...)
  values    the component's values (replicas, resources, extraEnv, ...)
  module    the Python module run as `python -m <module>` (unless command is given)
  command   optional explicit command (a list)
  port      the container's HTTP port (probes and metrics)
  liveness  liveness path;  readiness: readiness path (empty: none)
  startup   failureThreshold of a startup probe (0: none)
  env       extra env entries, already rendered
  dataDir   mount path of a writable emptyDir (empty: none; /tmp always gets one)
  automount mount the ServiceAccount token (only the operator talks to the API server)
With devReload (skaffold's "dev" profile) the source folders under /app become writable
emptyDirs filled from the image by an init container, so that skaffold's sync can write them
while the root file system stays read-only; the process runs under watchfiles.
  scaled    the operator owns spec.replicas (fileserver.operatorScales): the manifest leaves it
            out, as for an HPA, so that `helm upgrade` never resets what the operator set
*/}}
{{- define "fileserver.deployment" -}}
{{- $root := .root }}
{{- $v := .values }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "fileserver.component" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "fileserver.componentLabels" . | nindent 4 }}
spec:
  {{- if not .scaled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "fileserver.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "fileserver.componentLabels" . | nindent 8 }}
      annotations:
        # A change of the settings rolls the pods (the Secret's values never change).
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- if not .noScrape }}
        {{- include "fileserver.scrapeAnnotations" (dict "root" $root "port" (.metricsPort | default .port)) | trim | nindent 8 }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "fileserver.podCommon" . | nindent 6 }}
      terminationGracePeriodSeconds: {{ .grace | default 30 }}
      {{- if $root.Values.devReload }}
      initContainers:
        # The image's source folders into the writable emptyDir skaffold syncs into.
        - name: source
          image: {{ include "fileserver.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            - cp
            - -a
            {{- range include "fileserver.sourceDirs" . | fromJsonArray }}
            - /app/{{ . }}
            {{- end }}
            - /source/
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: source
              mountPath: /source
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "fileserver.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- include "fileserver.command" . | trim | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
            {{- if .metricsPort }}
            - name: metrics
              containerPort: {{ .metricsPort }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "fileserver.fullname" $root }}
          env:
            - name: FILESERVER_HEALTH_URL
              value: "http://127.0.0.1:{{ .port }}{{ .liveness }}"
            {{- $lines := list }}
            {{- range splitList "\n" .env }}{{ if trim . }}{{ $lines = append $lines . }}{{ end }}{{ end }}
            {{- join "\n" $lines | nindent 12 }}
            {{- with $v.extraEnv }}
            {{- include "fileserver.extraEnv" . | trim | nindent 12 }}
            {{- end }}
          {{- if .startup }}
          startupProbe:
            httpGet: {path: {{ .liveness }}, port: http}
            periodSeconds: 5
            failureThreshold: {{ .startup }}
          {{- end }}
          livenessProbe:
            httpGet: {path: {{ .liveness }}, port: http}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          {{- if .readiness }}
          readinessProbe:
            httpGet: {path: {{ .readiness }}, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .dataDir }}
            - name: data
              mountPath: {{ .dataDir }}
            {{- end }}
            {{- if $root.Values.devReload }}
            {{- range include "fileserver.sourceDirs" . | fromJsonArray }}
            - name: source
              mountPath: /app/{{ . }}
              subPath: {{ . }}
            {{- end }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- if $root.Values.devReload }}
        - name: source
          emptyDir: {}
        {{- end }}
        {{- if .dataDir }}
        - name: data
          {{- if .claim }}
          persistentVolumeClaim:
            claimName: {{ .claim }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
{{- end }}
