{{/* Selector labels of the retention CronJob's pods: not the service's (its Service and PDB must not count them). */}}
{{- define "ca.retentionSelectorLabels" -}}
app.kubernetes.io/name: {{ include "ca.name" . }}-retention
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* What every container that opens the ledger mounts: the settings, /tmp, the data volume, the profiles. */}}
{{- define "ca.ledgerMounts" -}}
- {name: config, mountPath: /etc/canary-analyzer/config.yaml, subPath: config.yaml, readOnly: true}
- {name: tmp, mountPath: /tmp}
- {name: data, mountPath: /var/lib/canary-analyzer}
{{- if .Values.profiles }}
- {name: profiles, mountPath: /etc/canary-analyzer/profiles, readOnly: true}
{{- end }}
{{- end -}}

{{- define "ca.ledgerVolumes" -}}
- name: config
  configMap: {name: {{ include "ca.fullname" . }}}
- name: tmp
  emptyDir: {}
- name: data
  {{- if eq .Values.database.type "sqlite" }}
  persistentVolumeClaim: {claimName: {{ include "ca.fullname" . }}-data}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- if .Values.profiles }}
- name: profiles
  configMap: {name: {{ include "ca.fullname" . }}-profiles}
{{- end }}
{{- end -}}
