{{/* The name of the chart's objects. */}}
{{- define "usepod-agent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "usepod-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "usepod-agent.labels" -}}
{{ include "usepod-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret that holds the enrollment code. */}}
{{- define "usepod-agent.secretName" -}}
{{- if .Values.enrollment.existingSecret -}}
{{- .Values.enrollment.existingSecret -}}
{{- else -}}
{{- printf "%s-enrollment" (include "usepod-agent.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Settings the chart cannot work without: fail early, in words. */}}
{{- define "usepod-agent.check" -}}
{{- if not (has .Values.mode (list "standalone" "sidecar")) -}}
{{- fail (printf "mode must be standalone or sidecar, not %q" .Values.mode) -}}
{{- end -}}
{{- if and (not .Values.enrollment.existingSecret) (not .Values.enrollment.code) -}}
{{- fail "set enrollment.existingSecret (a Secret with the enrollment code) or enrollment.code" -}}
{{- end -}}
{{- if eq .Values.mode "sidecar" -}}
{{- if not .Values.sidecar.inference.image -}}
{{- fail "mode sidecar needs sidecar.inference: the inference server's container (name, image, args, ports...)" -}}
{{- end -}}
{{- else if not .Values.backends -}}
{{- fail "mode standalone needs at least one entry in backends (kind and url of an inference server)" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" -}}
{{- end -}}
{{- end -}}

{{/* The backends the agent is given: the sidecar's, or the list. */}}
{{- define "usepod-agent.backends" -}}
{{- if eq .Values.mode "sidecar" -}}
{{- list (dict "kind" .Values.sidecar.backendKind "url" (printf "http://127.0.0.1:%d" (int .Values.sidecar.port))) | toJson -}}
{{- else -}}
{{- .Values.backends | toJson -}}
{{- end -}}
{{- end -}}
