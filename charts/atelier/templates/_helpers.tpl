{{/*
Shared named templates. Components call these with a context dict:
  (dict "root" $ "name" "<component>")   where "<component>" is also its values key.
A gRPC service's whole manifest set is one call:
  {{ include "atelier.grpcService" (dict "root" . "name" "customer") }}
*/}}

{{/* ------------------------------------------------------------------ names ---- */}}

{{- define "atelier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atelier.fullname" -}}
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

{{/* Name of a component's Deployment, Service, etc.: (dict "root" $ "name" "customer") */}}
{{- define "atelier.componentFullname" -}}
{{- printf "%s-%s" (include "atelier.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atelier.serviceAccountName" -}}
{{- if .Values.global.serviceAccount.create -}}
{{- default (include "atelier.fullname" .) .Values.global.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.global.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The chart-managed Secret (internal secret, JWT keys, database passwords). */}}
{{- define "atelier.secretName" -}}
{{- printf "%s-secrets" (include "atelier.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* JSON list of component names: the top-level values blocks with `port` and `calls`. */}}
{{- define "atelier.components" -}}
{{- $names := list -}}
{{- range $key, $val := .Values -}}
{{- if and (kindIs "map" $val) (hasKey $val "port") (hasKey $val "calls") -}}
{{- $names = append $names $key -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* ----------------------------------------------------------------- labels ---- */}}

{{- define "atelier.version" -}}
{{- default .Chart.AppVersion .Values.global.image.tag | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels: (dict "root" $ "name" "<component>"); name "" for release-wide objects. */}}
{{- define "atelier.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "atelier.selectorLabels" . }}
app.kubernetes.io/part-of: atelier
app.kubernetes.io/version: {{ include "atelier.version" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "atelier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atelier.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}
{{- end -}}

{{/* ------------------------------------------------------------------ image ---- */}}

{{- define "atelier.image" -}}
{{- $image := .Values.global.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* -------------------------------------------------------- security context ---- */}}

{{- define "atelier.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "atelier.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* -------------------------------------------------------------------- env ---- */}}

{{/* Environment every component gets: (dict "root" $ "name" "<component>"). */}}
{{- define "atelier.commonEnv" -}}
{{- $root := .root -}}
{{- $cfg := index $root.Values .name -}}
{{- $global := $root.Values.global -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: ATELIER_INTERNAL_SECRET
  valueFrom:
    secretKeyRef:
      {{- if $global.internalSecret.existingSecret }}
      name: {{ $global.internalSecret.existingSecret }}
      key: {{ $global.internalSecret.existingSecretKey }}
      {{- else }}
      name: {{ include "atelier.secretName" $root }}
      key: internal-secret
      {{- end }}
- name: ATELIER_LOG_LEVEL
  value: {{ $global.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .name | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=atelier,service.version=%s,service.instance.id=$(POD_NAME),k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)" (include "atelier.version" $root) | quote }}
{{- /* Without an endpoint spans stay real (trace ids in logs and events) but are not exported. */}}
{{- if $global.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $global.otel.endpoint | quote }}
{{- end }}
{{- range $callee := $cfg.calls }}
{{- $calleeCfg := index $root.Values $callee }}
{{- if $calleeCfg.enabled }}
- name: {{ printf "ATELIER_%s_ADDRESS" ($callee | upper | replace "-" "_") }}
  value: {{ printf "%s:%d" (include "atelier.componentFullname" (dict "root" $root "name" $callee)) (int $calleeCfg.port) | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment of a gRPC service: address, NATS, its own database. */}}
{{- define "atelier.grpcServiceEnv" -}}
{{- $root := .root -}}
{{- $cfg := index $root.Values .name -}}
{{- $db := $root.Values.global.database -}}
- name: ATELIER_GRPC_ADDRESS
  value: {{ printf "0.0.0.0:%d" (int $cfg.port) | quote }}
- name: ATELIER_NATS_URL
  value: {{ $root.Values.global.nats.url | quote }}
- name: ATELIER_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "atelier.secretName" $root) $db.existingSecret }}
      key: {{ printf "%s-db-password" .name }}
- name: ATELIER_DATABASE_URL
  value: {{ printf "postgresql://%s:$(ATELIER_DATABASE_PASSWORD)@%s:%d/%s?sslmode=%s" $cfg.database.user $db.host (int $db.port) $cfg.database.name $db.sslMode | quote }}
{{- end -}}

{{/* --------------------------------------------------------------- workload ---- */}}

{{/*
Deployment of one component. Context keys:
  root, name     as everywhere
  module         the Python module run by `python -m`
  ports          YAML list of containerPorts
  env            YAML list of component-specific EnvVars (after the common ones)
  probes         YAML map with startupProbe / livenessProbe / readinessProbe
*/}}
{{- define "atelier.deployment" -}}
{{- $root := .root -}}
{{- $cfg := index $root.Values .name -}}
{{- $global := $root.Values.global -}}
{{- include "atelier.validate" $root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "atelier.componentFullname" . }}
  labels:
    {{- include "atelier.labels" . | nindent 4 }}
spec:
  {{- if not $cfg.autoscaling.enabled }}
  replicas: {{ $cfg.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "atelier.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "atelier.labels" . | nindent 8 }}
        {{- with $global.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $annotations := merge (dict) ($cfg.podAnnotations | default dict) ($global.podAnnotations | default dict) }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "atelier.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $global.terminationGracePeriodSeconds }}
      {{- with $global.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        {{- include "atelier.podSecurityContext" $root | nindent 8 }}
      containers:
        - name: {{ .name }}
          image: {{ include "atelier.image" $root | quote }}
          imagePullPolicy: {{ $global.image.pullPolicy }}
          args:
            - {{ .module | quote }}
          ports:
            {{- .ports | nindent 12 }}
          env:
            {{- include "atelier.commonEnv" . | nindent 12 }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $global.env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $cfg.env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- .probes | nindent 10 }}
          {{- with $cfg.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- include "atelier.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
      {{- with $cfg.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $cfg.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $cfg.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        {{- if $cfg.topologySpreadConstraints }}
        {{- toYaml $cfg.topologySpreadConstraints | nindent 8 }}
        {{- else }}
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "atelier.selectorLabels" . | nindent 14 }}
        {{- end }}
{{- end -}}

{{/* gRPC probes on the service's port (grpc.health.v1, overall server health). The
startup probe leaves up to two minutes for the migrations applied at start. */}}
{{- define "atelier.grpcProbes" -}}
{{- $cfg := index .root.Values .name -}}
startupProbe:
  grpc:
    port: {{ $cfg.port }}
  periodSeconds: 2
  timeoutSeconds: 2
  failureThreshold: 60
livenessProbe:
  grpc:
    port: {{ $cfg.port }}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  grpc:
    port: {{ $cfg.port }}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* ------------------------------------------------------------- autoscaling ---- */}}

{{- define "atelier.hpa" -}}
{{- $cfg := index .root.Values .name -}}
{{- $hpa := $cfg.autoscaling -}}
{{- if $hpa.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "atelier.componentFullname" . }}
  labels:
    {{- include "atelier.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "atelier.componentFullname" . }}
  minReplicas: {{ $hpa.minReplicas }}
  maxReplicas: {{ $hpa.maxReplicas }}
  metrics:
    {{- if $hpa.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $hpa.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- if $hpa.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $hpa.targetMemoryUtilizationPercentage }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "atelier.pdb" -}}
{{- $cfg := index .root.Values .name -}}
{{- if $cfg.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "atelier.componentFullname" . }}
  labels:
    {{- include "atelier.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $cfg.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "atelier.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* --------------------------------------------------------- network policy ---- */}}

{{/* Ports parsed from a URL ("scheme://host:port"), with a default. */}}
{{- define "atelier.urlPort" -}}
{{- $host := (urlParse (trim .url)).host -}}
{{- $parts := splitList ":" $host -}}
{{- if gt (len $parts) 1 -}}{{ last $parts }}{{- else -}}{{ .default }}{{- end -}}
{{- end -}}

{{/* `- to: [...]` only when there are peers: no `to` means any destination. */}}
{{- define "atelier.egressTo" -}}
{{- with .peers }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
Egress rules of a component: DNS; PostgreSQL and NATS when "data" is true; the
collector when configured; the gRPC port of every enabled callee; extraEgress.
*/}}
{{- define "atelier.egressRules" -}}
{{- $root := .root -}}
{{- $cfg := index $root.Values .name -}}
{{- $global := $root.Values.global -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- include "atelier.egressTo" (dict "peers" $global.networkPolicy.dnsPeers) }}
{{- if .data }}
- ports:
    - port: {{ $global.database.port }}
      protocol: TCP
{{- include "atelier.egressTo" (dict "peers" $global.database.networkPolicyPeers) }}
- ports:
    {{- range $url := splitList "," $global.nats.url }}
    - port: {{ include "atelier.urlPort" (dict "url" $url "default" "4222") }}
      protocol: TCP
    {{- end }}
{{- include "atelier.egressTo" (dict "peers" $global.nats.networkPolicyPeers) }}
{{- end }}
{{- if $global.otel.endpoint }}
- ports:
    - port: {{ include "atelier.urlPort" (dict "url" $global.otel.endpoint "default" "4317") }}
      protocol: TCP
{{- include "atelier.egressTo" (dict "peers" $global.otel.networkPolicyPeers) }}
{{- end }}
{{- range $callee := $cfg.calls }}
{{- $calleeCfg := index $root.Values $callee }}
{{- if $calleeCfg.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "atelier.selectorLabels" (dict "root" $root "name" $callee) | nindent 10 }}
  ports:
    - port: {{ $calleeCfg.port }}
      protocol: TCP
{{- end }}
{{- end }}
{{- with $cfg.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Peers allowed to call a component: every enabled component whose `calls` names it. */}}
{{- define "atelier.callerPeers" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- range $caller := include "atelier.components" $root | fromJsonArray }}
{{- $callerCfg := index $root.Values $caller }}
{{- if and $callerCfg.enabled (has $name $callerCfg.calls) }}
- podSelector:
    matchLabels:
      {{- include "atelier.selectorLabels" (dict "root" $root "name" $caller) | nindent 6 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ----------------------------------------------------------- gRPC service ---- */}}

{{/* Everything one gRPC service needs: Deployment, Service, NetworkPolicy, HPA, PDB. */}}
{{- define "atelier.grpcService" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $cfg := index $root.Values $name -}}
{{- if $cfg.enabled -}}
{{- $ctx := dict "root" $root "name" $name -}}
{{- $ports := printf "- name: grpc\n  containerPort: %d\n  protocol: TCP" (int $cfg.port) -}}
{{- include "atelier.deployment" (dict "root" $root "name" $name "module" (default (printf "services.%s" $name) .module) "ports" $ports "env" (include "atelier.grpcServiceEnv" $ctx) "probes" (include "atelier.grpcProbes" $ctx)) }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "atelier.componentFullname" $ctx }}
  labels:
    {{- include "atelier.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "atelier.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $cfg.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
{{- if $root.Values.global.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "atelier.componentFullname" $ctx }}
  labels:
    {{- include "atelier.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "atelier.selectorLabels" $ctx | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  {{- $from := include "atelier.callerPeers" $ctx | fromYamlArray | default list }}
  {{- $from = concat $from ($cfg.networkPolicy.ingressFrom | default list) }}
  {{- if $from }}
  ingress:
    - from:
        {{- toYaml $from | nindent 8 }}
      ports:
        - port: {{ $cfg.port }}
          protocol: TCP
  {{- else }}
  ingress: []
  {{- end }}
  egress:
    {{- include "atelier.egressRules" (dict "root" $root "name" $name "data" true) | nindent 4 }}
{{- end }}
{{- include "atelier.hpa" $ctx }}
{{- include "atelier.pdb" $ctx }}
{{- end }}
{{- end -}}
