{{/*
The API tokens of the chart's Secret (key api-tokens): auth.apiTokens when given, else the ones a
previous release generated, else one new random token. Nothing is open by default (issue 13).
*/}}
{{- define "ca.apiTokens" -}}
{{- if .Values.auth.apiTokens -}}
{{- toJson .Values.auth.apiTokens -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "ca.fullname" .) -}}
{{- dig "data" "api-tokens" "" $existing | b64dec | default (list (randAlphaNum 48) | toJson) -}}
{{- end -}}
{{- end -}}
