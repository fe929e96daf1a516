{{- define "ca.notes" -}}
canary-analyzer {{ .Chart.AppVersion }} is installed as {{ include "ca.fullname" . }} in {{ .Release.Namespace }}.

Argo Rollouts calls it at:
  {{ include "ca.serviceURL" . }}/api/v1/analysis

Every request needs a bearer token: nothing is open.
{{- if not (or .Values.auth.apiTokens .Values.auth.existingSecret) }}
WARNING: no auth.apiTokens given: a token was generated into the Secret {{ include "ca.fullname" . }}. Read it with
  kubectl -n {{ .Release.Namespace }} get secret {{ include "ca.fullname" . }} -o jsonpath='{.data.api-tokens}' | base64 -d
{{- end }}
Tokens with other roles (promotion) or a namespace scope: canary-analyzer token create NAME --role ROLE [-n NS]

{{- if .Values.analysisTemplates.install }}

ClusterAnalysisTemplates installed: {{ include "ca.fullname" . }} (step) and {{ include "ca.fullname" . }}-background.
Reference them from a Rollout:

  strategy:
    canary:
      steps:
      - setWeight: 20
      - pause: {duration: 2m}
      - analysis:
          templates:
          - templateName: {{ include "ca.fullname" . }}
            clusterScope: true
          args:
          - name: namespace
            valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
          - name: rollout
            valueFrom: {fieldRef: {fieldPath: metadata.name}}
          - name: canary-hash
            valueFrom: {podTemplateHashValue: Latest}
          - name: stable-hash
            valueFrom: {podTemplateHashValue: Stable}

Each Rollout namespace needs the Secret {{ .Values.analysisTemplates.tokenSecretName }} (key `token`):
  kubectl -n <namespace> create secret generic {{ .Values.analysisTemplates.tokenSecretName }} --from-literal=token=<one of auth.apiTokens>
{{- else }}

Install the ClusterAnalysisTemplates with --set analysisTemplates.install=true, or apply
analysis-templates/cluster-analysis-template.yaml with its URL set to the address above.
{{- end }}

Check it:  kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "ca.fullname" . }} {{ .Values.service.port }} &
           curl localhost:{{ .Values.service.port }}/readyz
{{- end -}}
