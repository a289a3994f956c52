{{- define "argus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "argus.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "argus.selector" (list . "gateway") */}}
{{- define "argus.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "argus.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "argus.secretName" -}}
{{- .Values.existingSecret | default (include "argus.fullname" .) -}}
{{- end -}}

{{- define "argus.keysSecretName" -}}
{{- .Values.signatures.existingKeysSecret | default (printf "%s-keys" (include "argus.fullname" .)) -}}
{{- end -}}

{{- define "argus.hasKeys" -}}
{{- if or .Values.signatures.keysYaml .Values.signatures.existingKeysSecret }}true{{ end -}}
{{- end -}}

{{- define "argus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "argus.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Settings and secrets every component reads, plus the keys mount. */}}
{{- define "argus.envFrom" -}}
- configMapRef:
    name: {{ include "argus.fullname" . }}
- secretRef:
    name: {{ include "argus.secretName" . }}
{{- end -}}

{{- define "argus.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if include "argus.hasKeys" . }}
- name: keys
  secret:
    secretName: {{ include "argus.keysSecretName" . }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "argus.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "argus.hasKeys" . }}
- name: keys
  mountPath: /etc/argus/keys
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* One signing key of signingKeys.existingSecret, mounted only into the component that signs
with it: (list . "receipt.key") for gateways, (list . "log.key") for processors. */}}
{{- define "argus.signingKeyVolume" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- with $root.Values.signingKeys.existingSecret }}
- name: signing-key
  secret:
    secretName: {{ . }}
    items: [{key: {{ $key }}, path: {{ $key }}}]
{{- end }}
{{- end -}}

{{- define "argus.signingKeyMount" -}}
{{- if .Values.signingKeys.existingSecret }}
- name: signing-key
  mountPath: /etc/argus/signing
  readOnly: true
{{- end }}
{{- end -}}

{{/* Fail rendering when the values cannot work. */}}
{{- define "argus.validate" -}}
{{- if gt (int .Values.processor.replicas) (int .Values.kafka.topicPartitions) -}}
{{- fail (printf "processor.replicas (%d) exceeds kafka.topicPartitions (%d): a replica beyond the partition count gets no partition" (int .Values.processor.replicas) (int .Values.kafka.topicPartitions)) -}}
{{- end -}}
{{- if and .Values.signingKeys.existingSecret (not .Values.signingKeys.receiptVerifierKeys) -}}
{{- fail "signingKeys.existingSecret needs signingKeys.receiptVerifierKeys (what `argus receipt-key` printed): without it the processors cannot check the gateways' attestations and store every source as null" -}}
{{- end -}}
{{- if lt (int .Values.processor.replicas) 1 -}}
{{- fail "processor.replicas must be at least 1" -}}
{{- end -}}
{{- if and .Values.gateway.autoscaling.enabled (gt (int .Values.gateway.autoscaling.minReplicas) (int .Values.gateway.autoscaling.maxReplicas)) -}}
{{- fail "gateway.autoscaling.minReplicas exceeds maxReplicas" -}}
{{- end -}}
{{- end -}}
