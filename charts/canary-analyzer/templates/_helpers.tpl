{{- define "ca.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ca.fullname" -}}
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

{{- define "ca.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ca.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ca.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ca.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ca.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ca.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The chart's own Secret: needed unless every secret value comes from an existing Secret. */}}
{{- define "ca.needsSecret" -}}
{{- $db := and (eq .Values.database.type "postgresql") (not .Values.database.postgresql.existingSecret) -}}
{{- $tokens := not .Values.auth.existingSecret -}}{{/* given or generated (_auth.tpl) */}}
{{- $hooks := and (not .Values.webhooks.existingSecret) (or .Values.webhooks.slackUrl .Values.webhooks.url) -}}
{{- if or $db $tokens .Values.prometheus.headers (include "ca.datasourceHeaders" .) .Values.reports.signingKey .Values.notifications.enabled $hooks -}}true{{- end -}}
{{- end -}}

{{- define "ca.serviceURL" -}}
{{- printf "http://%s.%s.svc.cluster.local:%d" (include "ca.fullname" .) .Release.Namespace (int .Values.service.port) -}}
{{- end -}}

{{/* The ledger's URL from a Secret, for every container that opens the ledger (PostgreSQL only). */}}
{{- define "ca.databaseEnv" -}}
{{- if eq .Values.database.type "postgresql" }}
- name: CANARY_ANALYZER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "ca.fullname" .) .Values.database.postgresql.existingSecret }}
      key: {{ if .Values.database.postgresql.existingSecret }}{{ .Values.database.postgresql.existingSecretKey }}{{ else }}database-url{{ end }}
{{- end }}
{{- end -}}

{{- define "ca.rbacNamespaces" -}}
{{- if .Values.rbac.namespaces -}}{{ join "," .Values.rbac.namespaces }}{{- else -}}{{ .Release.Namespace }}{{- end -}}
{{- end -}}

{{/* The report-link key: the value, else the one this release's Secret already holds, else a new one. */}}
{{- define "ca.reportSigningKey" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "ca.fullname" .) -}}
{{- .Values.reports.signingKey | default (dig "data" "report-signing-key" "" $existing | b64dec) | default (randAlphaNum 48) -}}
{{- end -}}

{{/* Report-link keys from the chart's Secret (docs/reports.md); only for the service container. */}}
{{- define "ca.reportEnv" -}}
{{- if include "ca.needsSecret" . }}
- name: CANARY_ANALYZER_REPORT_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ca.fullname" . }}
      key: report-signing-key
{{- end }}
{{- if .Values.notifications.enabled }}
- name: CANARY_ANALYZER_REPORT_NOTIFICATION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ca.fullname" . }}
      key: report-notification-key
{{- end }}
{{- include "ca.webhookEnv" . }}
{{- end -}}

{{/* The webhook receivers' URLs and key, from the chart's Secret or webhooks.existingSecret (keys optional there). */}}
{{- define "ca.webhookEnv" -}}
{{- $existing := .Values.webhooks.existingSecret -}}
{{- $name := default (include "ca.fullname" .) $existing -}}
{{- range $env, $key := dict "CANARY_ANALYZER_NOTIFY_SLACK_URL" "slack-url" "CANARY_ANALYZER_NOTIFY_WEBHOOK_URL" "webhook-url" "CANARY_ANALYZER_NOTIFY_WEBHOOK_SECRET" "webhook-secret" }}
{{- if or $existing (and (eq $key "slack-url") $.Values.webhooks.slackUrl) (and (ne $key "slack-url") $.Values.webhooks.url) }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ $key }}
      {{- if $existing }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pods: replicaCount, else 2 on PostgreSQL (no gap in a rolling upgrade or a drain) and 1 on SQLite. */}}
{{- define "ca.replicas" -}}
{{- if .Values.replicaCount -}}
{{- .Values.replicaCount -}}
{{- else if eq .Values.database.type "postgresql" -}}
2
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* Whether the pods call the Kubernetes API (and so mount a service-account token). */}}
{{- define "ca.needsKubeApi" -}}
{{- if or .Values.promotion.enabled .Values.reactor.enabled .Values.auth.tokenReview.enabled -}}true{{- else -}}false{{- end -}}
{{- end -}}
