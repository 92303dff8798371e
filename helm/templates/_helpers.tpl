{{/* Names and labels. */}}
{{- define "morgan.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "morgan.fullname" -}}
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

{{/* Resource name of a component: (dict "root" $ "component" "core") */}}
{{- define "morgan.componentName" -}}
{{- printf "%s-%s" (include "morgan.fullname" .root | trunc 45 | trimSuffix "-") .component }}
{{- end }}

{{- define "morgan.selectorLabels" -}}
app.kubernetes.io/name: {{ include "morgan.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "morgan.labels" -}}
{{ include "morgan.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: morgan
{{- end }}

{{- define "morgan.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "morgan.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "morgan.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "morgan.generatedSecretName" -}}
{{- printf "%s-secrets" (include "morgan.fullname" .) }}
{{- end }}

{{/* Secret name for a (dict "root" $ "existing" NAME): the user's, or the generated one. */}}
{{- define "morgan.secretName" -}}
{{- default (include "morgan.generatedSecretName" .root) .existing }}
{{- end }}

{{/*
Pod-level placement, read only from values: placement.<component>.
(dict "root" $ "component" "ollamaMain")
*/}}
{{- define "morgan.podPlacement" -}}
{{- $p := index .root.Values.placement .component | default dict }}
{{- with $p.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $p.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $p.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if and (include "morgan.usesGpu" .) .root.Values.gpu.runtimeClassName }}
runtimeClassName: {{ .root.Values.gpu.runtimeClassName }}
{{- end }}
{{- end }}

{{/* Non-empty when the component asks for an NVIDIA GPU. */}}
{{- define "morgan.usesGpu" -}}
{{- $p := index .root.Values.placement .component | default dict }}
{{- if dig "resources" "limits" "nvidia.com/gpu" "" $p }}true{{ end }}
{{- end }}

{{/* Container resources from placement.<component>.resources. */}}
{{- define "morgan.resources" -}}
{{- $p := index .root.Values.placement .component | default dict }}
{{- with $p.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "morgan.podSecurityContext" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Restricted container security context; (dict "root" $ "readOnly" true) */}}
{{- define "morgan.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: {{ .readOnly }}
  runAsNonRoot: true
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/* In-cluster service URLs. */}}
{{- define "morgan.ollamaUrl" -}}
{{- printf "ollama://%s:%d" (include "morgan.componentName" (dict "root" .root "component" .component)) (int .root.Values.ollama.port) }}
{{- end }}

{{- define "morgan.postgresHost" -}}
{{- include "morgan.componentName" (dict "root" . "component" "postgres") }}
{{- end }}

{{/*
Environment shared by core and the migration Job: the database URL. The in-chart password is
read into MORGAN_POSTGRES_PASSWORD first so Kubernetes can expand it into the URL.
*/}}
{{- define "morgan.databaseEnv" -}}
{{- if .Values.postgres.enabled }}
- name: MORGAN_POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "morgan.secretName" (dict "root" . "existing" .Values.postgres.auth.existingSecret) }}
      key: {{ .Values.postgres.auth.passwordKey }}
- name: MORGAN_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(MORGAN_POSTGRES_PASSWORD)@%s:5432/%s" .Values.postgres.username (include "morgan.postgresHost" .) .Values.postgres.database | quote }}
{{- else }}
- name: MORGAN_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "externalDatabase.existingSecret is required when postgres.enabled=false" .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.urlKey }}
{{- end }}
{{- end }}


{{/* PVC access modes from a persistence block; ReadWriteOnce unless values say otherwise. */}}
{{- define "morgan.accessModes" -}}
accessModes: {{ toJson (default (list "ReadWriteOnce") .accessModes) }}
{{- end }}

{{/* The reranker's image: reranker.image when set (e.g. a GPU build), else Morgan's. */}}
{{- define "morgan.rerankerImage" -}}
{{- $repo := default .Values.image.repository .Values.reranker.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.reranker.image.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{/*
Init container: wait until the in-chart PostgreSQL accepts connections. -U and -d are explicit:
Morgan's uid 10001 has no passwd entry, and without -U libpq cannot name a user at all.
*/}}
{{- define "morgan.waitForPostgres" -}}
- name: wait-for-postgres
  image: {{ printf "%s:%s" .Values.postgres.image.repository .Values.postgres.image.tag }}
  imagePullPolicy: {{ .Values.postgres.image.pullPolicy }}
  command: ["/bin/sh", "-c", "until pg_isready -h \"$PGHOST\" -p \"$PGPORT\" -U \"$PGUSER\" -d \"$PGDATABASE\"; do sleep 2; done"]
  env:
    - {name: PGHOST, value: {{ include "morgan.postgresHost" . | quote }}}
    - {name: PGPORT, value: "5432"}
    - {name: PGUSER, value: {{ .Values.postgres.username | quote }}}
    - {name: PGDATABASE, value: {{ .Values.postgres.database | quote }}}
  resources:
    requests: {cpu: 10m, memory: 16Mi}
    limits: {memory: 64Mi}
  {{- include "morgan.containerSecurityContext" (dict "root" . "readOnly" true) | nindent 2 }}
{{- end }}

{{/*
Pod template labels: no chart version or app version, so bumping the chart does not restart
PostgreSQL, Qdrant, Redis or Ollama; an image or config change still rolls what it changes.
*/}}
{{- define "morgan.podLabels" -}}
{{ include "morgan.selectorLabels" . }}
app.kubernetes.io/part-of: morgan
{{- end }}
