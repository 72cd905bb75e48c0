{{/*
Prefix of every object name. Kept short enough that "<prefix>-cainjector" stays a valid DNS label.
*/}}
{{- define "certkeeper.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains "certkeeper" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-certkeeper" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Namespace of the components. */}}
{{- define "certkeeper.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/* Namespace of the leader-election Leases. */}}
{{- define "certkeeper.leaderElectionNamespace" -}}
{{- .Values.leaderElection.namespace | default (include "certkeeper.namespace" .) -}}
{{- end -}}

{{/* The one image of every component. */}}
{{- define "certkeeper.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
Labels of a component's objects and selectors: include with (list . "controller").
*/}}
{{- define "certkeeper.labels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: certkeeper
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- with index . 1 }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/*
A component's pod spec around its container: include with (list . "controller" <values of the component>).
*/}}
{{- define "certkeeper.podSpec" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $values := index . 2 -}}
serviceAccountName: {{ include "certkeeper.fullname" $root }}-{{ $component }}
automountServiceAccountToken: true
enableServiceLinks: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The container parts every component shares: include with (list . <values of the component>). */}}
{{- define "certkeeper.containerCommon" -}}
{{- $root := index . 0 -}}
{{- $values := index . 1 -}}
{{- with $values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.containerSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* The pod's volumes: a small in-memory /tmp, the only writable path. */}}
{{- define "certkeeper.volumes" -}}
volumes:
  - name: tmp
    emptyDir:
      medium: Memory
      sizeLimit: 16Mi
{{- end -}}

{{/* POD_NAMESPACE, which the flags refer to as $(POD_NAMESPACE). */}}
{{- define "certkeeper.env" -}}
env:
  - name: POD_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
{{- end -}}
