{{/* Labels of every resource of service $name (seed 004's app label plus the standard ones). */}}
{{- define "count.labels" -}}
app: {{ .name }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component | default "api" }}
app.kubernetes.io/part-of: count-system
app.kubernetes.io/version: {{ .root.Values.app.version | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* Image of service $name: registry prefix + name + tag (default app.version). */}}
{{- define "count.image" -}}
{{ .root.Values.image.registry }}{{ .name }}:{{ .root.Values.image.tag | default .root.Values.app.version }}
{{- end }}

{{/* PGUSER/PGPASSWORD for libpq, from postgresql-secret. */}}
{{- define "count.postgresEnv" -}}
- name: PGUSER
  valueFrom:
    secretKeyRef:
      name: postgresql-secret
      key: username
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: postgresql-secret
      key: password
{{- end }}

{{/* The restricted container security context. */}}
{{- define "count.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* The restricted pod security context. */}}
{{- define "count.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Chart-made Secrets are hooks: the migrate hook Job needs them before anything else. */}}
{{- define "count.secretHook" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: "-10"
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
