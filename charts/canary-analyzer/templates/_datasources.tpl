{{/*
Datasources (values `datasources`, the service's `datasources` setting: analyzer/sources/datasources.py).
What is not secret goes into the ConfigMap; each credential is a key of an existing Secret (a CA bundle: of a
Secret or a ConfigMap) projected as a file under /etc/canary-analyzer/datasources/NAME/, which the settings
name and the service reads per request; header values go into the chart's Secret.
*/}}
{{- define "ca.datasourceDir" -}}/etc/canary-analyzer/datasources{{- end -}}

{{/* The files to project, as a JSON list of {from: secret|configMap, name, key, path}. */}}
{{- define "ca.datasourceFiles" -}}
{{- $files := list -}}
{{- range $name, $ds := .Values.datasources -}}
{{- with $ds.basicAuth -}}
{{- $files = append $files (dict "from" "secret" "name" .passwordSecret.name "key" .passwordSecret.key "path" (printf "%s/password" $name)) -}}
{{- end -}}
{{- with $ds.bearerTokenSecret -}}
{{- $files = append $files (dict "from" "secret" "name" .name "key" .key "path" (printf "%s/bearer-token" $name)) -}}
{{- end -}}
{{- with $ds.oauth2 -}}
{{- $files = append $files (dict "from" "secret" "name" .clientSecretSecret.name "key" .clientSecretSecret.key "path" (printf "%s/client-secret" $name)) -}}
{{- end -}}
{{- with $ds.caSecret -}}
{{- $files = append $files (dict "from" "secret" "name" .name "key" .key "path" (printf "%s/ca.crt" $name)) -}}
{{- end -}}
{{- with $ds.caConfigMap -}}
{{- $files = append $files (dict "from" "configMap" "name" .name "key" .key "path" (printf "%s/ca.crt" $name)) -}}
{{- end -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/* The `datasources` setting, for config.yaml: URLs, tenants, usernames, and the files holding the secrets. */}}
{{- define "ca.datasourceSettings" -}}
{{- $dir := include "ca.datasourceDir" . -}}
{{- $out := dict -}}
{{- range $name, $ds := .Values.datasources -}}
{{- $at := printf "%s/%s" $dir $name -}}
{{- if and $ds.caSecret $ds.caConfigMap -}}
{{- fail (printf "datasources.%s: caSecret or caConfigMap, not both" $name) -}}
{{- end -}}
{{- if gt (len (compact (list $ds.basicAuth $ds.bearerTokenSecret $ds.oauth2))) 1 -}}
{{- fail (printf "datasources.%s: one of basicAuth, bearerTokenSecret or oauth2 (each sets the Authorization header)" $name) -}}
{{- end -}}
{{- $d := dict "url" $ds.url -}}
{{- with $ds.tenant -}}{{- $_ := set $d "tenant" . -}}{{- end -}}
{{- with $ds.basicAuth -}}
{{- $_ := set $d "basic_auth" (dict "username" .username "password" (dict "file" (printf "%s/password" $at))) -}}
{{- end -}}
{{- if $ds.bearerTokenSecret -}}{{- $_ := set $d "bearer_token" (dict "file" (printf "%s/bearer-token" $at)) -}}{{- end -}}
{{- with $ds.oauth2 -}}
{{- $_ := set $d "oauth2" (dict "token_url" .tokenUrl "client_id" .clientId "client_secret" (dict "file" (printf "%s/client-secret" $at)) "scopes" (default (list) .scopes)) -}}
{{- end -}}
{{- if or $ds.caSecret $ds.caConfigMap -}}{{- $_ := set $d "ca_file" (printf "%s/ca.crt" $at) -}}{{- end -}}
{{- $_ := set $out $name $d -}}
{{- end -}}
{{- toYaml (dict "datasources" $out) -}}
{{- end -}}

{{/* Header values by datasource ({NAME: {headers: {…}}}), for the chart's Secret; empty when none has headers. */}}
{{- define "ca.datasourceHeaders" -}}
{{- $out := dict -}}
{{- range $name, $ds := .Values.datasources -}}
{{- with $ds.headers -}}{{- $_ := set $out $name (dict "headers" .) -}}{{- end -}}
{{- end -}}
{{- if $out -}}{{- toJson $out -}}{{- end -}}
{{- end -}}

{{- define "ca.datasourceMount" -}}
{{- if fromJsonArray (include "ca.datasourceFiles" .) -}}
- {name: datasources, mountPath: {{ include "ca.datasourceDir" . }}, readOnly: true}
{{- end }}
{{- end -}}

{{- define "ca.datasourceVolume" -}}
{{- $files := fromJsonArray (include "ca.datasourceFiles" .) -}}
{{- if $files -}}
- name: datasources
  projected:
    defaultMode: 0440
    sources:
      {{- range $files }}
      - {{ .from }}:
          name: {{ .name }}
          items: [{key: {{ .key | quote }}, path: {{ .path | quote }}}]
      {{- end }}
{{- end }}
{{- end -}}

{{- define "ca.datasourceEnv" -}}
{{- if include "ca.datasourceHeaders" . -}}
- name: CANARY_ANALYZER_DATASOURCES  # header values, merged into the datasources of config.yaml
  valueFrom:
    secretKeyRef:
      name: {{ include "ca.fullname" . }}
      key: datasource-headers
{{- end }}
{{- end -}}
