{{/*
Chart name, truncated to 63 characters (a label value).
*/}}
{{- define "pose-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources: "<release>-<chart name>", or the release name when it already contains
the chart name; truncated to 63 characters (a DNS label).
*/}}
{{- define "pose-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of cluster-scoped resources (ClusterRole, ClusterRoleBinding): the full name plus the release namespace,
so that releases of the same name in different namespaces do not collide.
*/}}
{{- define "pose-operator.clusterScopedName" -}}
{{- printf "%s-%s" (include "pose-operator.fullname" .) .Release.Namespace }}
{{- end }}

{{/*
Chart label value: "<name>-<version>".
*/}}
{{- define "pose-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels of every resource.
*/}}
{{- define "pose-operator.labels" -}}
helm.sh/chart: {{ include "pose-operator.chart" . }}
{{ include "pose-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: pose
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels (Deployment selector, Service selector, ServiceMonitor selector). Never change them in an
upgrade: a Deployment's selector is immutable.
*/}}
{{- define "pose-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pose-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the operator pod: the selector labels win over podLabels, which win over the common labels.
*/}}
{{- define "pose-operator.podLabels" -}}
{{- $selector := include "pose-operator.selectorLabels" . | fromYaml }}
{{- $common := include "pose-operator.labels" . | fromYaml }}
{{- toYaml (merge $selector (deepCopy .Values.podLabels) $common) }}
{{- end }}

{{/*
Name of the ServiceAccount the operator runs as.
*/}}
{{- define "pose-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pose-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Operator image: "<image.repository>:<image.tag or appVersion>".
*/}}
{{- define "pose-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Trainer image of the stage Jobs: "<trainerImage.repository>:<trainerImage.tag or appVersion>".
*/}}
{{- define "pose-operator.trainerImage" -}}
{{- printf "%s:%s" .Values.trainerImage.repository (default .Chart.AppVersion .Values.trainerImage.tag) }}
{{- end }}

{{/*
The operator's RBAC rules on the namespaced resources it watches and creates. The single source of these rules:
included both by the ClusterRole (all namespaces) and by the per-namespace Roles (watchNamespaces).
*/}}
{{- define "pose-operator.rules" -}}
- apiGroups: ["pose.io"]
  resources: ["contextextensions"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["pose.io"]
  resources: ["contextextensions/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["pose.io"]
  resources: ["contextextensions/finalizers"]
  verbs: ["update"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps", "serviceaccounts", "services"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# The workspace claim: created once, then only its owner reference and retention annotation change
# (spec.workspaceRetention); never deleted by the operator itself.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["scheduling.volcano.sh"]
  resources: ["podgroups"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- end }}

{{/*
Cluster-scoped rule: reading the ContextExtension CRD (checked at operator start-up). Always a ClusterRole.
*/}}
{{- define "pose-operator.crdRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list"]
{{- end }}

{{/*
The ServiceAccount subject of the bindings, in the release namespace.
*/}}
{{- define "pose-operator.subjects" -}}
- kind: ServiceAccount
  name: {{ include "pose-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}
