{{/*
The services, as the code defines them (services/<name>/config.py): the DNS-safe component name
and the ports each listens on by default. tests/ops/test_helm_chart.py checks them against
the settings classes, so a changed default port cannot leave the chart behind. "internal":
an HTTP port no one outside the release calls (no webhooks: the email adapter goes out to
the mail servers), so neither the ingress controller nor an Ingress rule reaches it.
*/}}
{{- define "rapport.catalogue" -}}
web_adapter: {component: web-adapter, http: 8080, metrics: 9101}
sms_adapter: {component: sms-adapter, http: 8081, metrics: 9105}
social_adapter: {component: social-adapter, http: 8082, metrics: 9106}
agent_desk: {component: agent-desk, http: 8083, metrics: 9107}
email_adapter: {component: email-adapter, http: 8084, metrics: 9108, internal: true}
emotion: {component: emotion, grpc: 50051, metrics: 9102}
context: {component: context, grpc: 50052, metrics: 9103}
orchestrator: {component: orchestrator, metrics: 9104}
{{- end -}}

{{/* Who calls which gRPC server: the only pods its NetworkPolicy lets in, and the callers
whose tokens it accepts (RAPPORT_GRPC_CALLERS). */}}
{{- define "rapport.grpcCallers" -}}
emotion: [orchestrator]
context: [orchestrator, agent_desk, sms_adapter, social_adapter]
{{- end -}}

{{/* Who calls which HTTP service inside the release: the desk opens customers' media at
each adapter's /media; the social and email adapters fetch an agent's upload from the desk
to send it on WhatsApp, Telegram or by email (the other channels refuse agents' media). */}}
{{- define "rapport.httpCallers" -}}
web_adapter: [agent_desk]
sms_adapter: [agent_desk]
social_adapter: [agent_desk]
email_adapter: [agent_desk]
agent_desk: [social_adapter, email_adapter]
{{- end -}}

{{/* The Secret's keys each service reads besides gRPC tokens and the database password. */}}
{{- define "rapport.secretKeys" -}}
web_adapter: [MEDIA_SIGNING_KEY]
sms_adapter: [MEDIA_SIGNING_KEY, RAPPORT_SMS_AUTH_TOKEN]
social_adapter:
  - MEDIA_SIGNING_KEY
  - RAPPORT_SOCIAL_META_APP_SECRET
  - RAPPORT_SOCIAL_META_VERIFY_TOKEN
  - RAPPORT_SOCIAL_PAGE_ACCESS_TOKEN
  - RAPPORT_SOCIAL_WHATSAPP_ACCESS_TOKEN
  - RAPPORT_SOCIAL_TELEGRAM_BOT_TOKEN
  - RAPPORT_SOCIAL_TELEGRAM_SECRET_TOKEN
email_adapter: [MEDIA_SIGNING_KEY, RAPPORT_EMAIL_MAILBOXES]
agent_desk: [MEDIA_SIGNING_KEY]
context: [RAPPORT_CONTEXT_HASH_KEY]
emotion: []
orchestrator: []
{{- end -}}

{{/* Keys the chart generates when their value is empty: Rapport's own, not a provider's. */}}
{{- define "rapport.generatedKeys" -}}
[RAPPORT_GRPC_TOKEN_ORCHESTRATOR, RAPPORT_GRPC_TOKEN_AGENT_DESK, RAPPORT_GRPC_TOKEN_SMS_ADAPTER, RAPPORT_GRPC_TOKEN_SOCIAL_ADAPTER, RAPPORT_CONTEXT_HASH_KEY, MEDIA_SIGNING_KEY]
{{- end -}}

{{/* Services that run as one replica, and why: the chart refuses more (and autoscaling). */}}
{{- define "rapport.singleReplica" -}}
web_adapter: a visitor's socket lives in one web adapter process, so it runs as one replica (docs/architecture.md, Channels)
email_adapter: every email adapter reads every mailbox, so another replica would read and publish each mail again (the Message-ID dedupe would only drop the copies); it runs as one replica
{{- end -}}

{{/* Services whose media live on a volume mounted at /data. */}}
{{- define "rapport.mediaDirs" -}}
web_adapter: {variable: RAPPORT_WEB_MEDIA_DIR, path: /data/web_media}
agent_desk: {variable: RAPPORT_AGENT_DESK_MEDIA_DIR, path: /data/desk_media}
email_adapter: {variable: RAPPORT_EMAIL_MEDIA_DIR, path: /data/email_media}
{{- end -}}

{{/* Services with a database of their own on the PostgreSQL server: the variable its URL
goes in and the database.* value that names the database. */}}
{{- define "rapport.databases" -}}
context: {variable: DATABASE_URL, name: contextDatabase}
agent_desk: {variable: RAPPORT_AGENT_DESK_DATABASE_URL, name: agentDeskDatabase}
email_adapter: {variable: RAPPORT_EMAIL_DATABASE_URL, name: emailDatabase}
{{- end -}}

{{/* The ConfigMap of the orchestrator's knowledge folder: the operator's, the chart's own
(knowledge.articles), or "" for none. */}}
{{- define "rapport.knowledgeConfigMap" -}}
{{- with .Values.knowledge -}}
{{- if and .existingConfigMap .articles -}}
{{- fail "knowledge: set existingConfigMap or articles, not both" -}}
{{- end -}}
{{- if .existingConfigMap -}}
{{- .existingConfigMap -}}
{{- else if .articles -}}
{{- printf "%s-articles" (include "rapport.fullname" $ | trunc 53 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rapport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rapport.fullname" -}}
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

{{/* A service's resource name: (list $ "web_adapter") -> rapport-web-adapter. */}}
{{- define "rapport.componentName" -}}
{{- $root := index . 0 -}}
{{- $catalogue := include "rapport.catalogue" $root | fromYaml -}}
{{- printf "%s-%s" (include "rapport.fullname" $root | trunc 48 | trimSuffix "-") (index $catalogue (index . 1)).component -}}
{{- end -}}

{{- define "rapport.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: rapport
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one service's pods: (list $ "web_adapter"). */}}
{{- define "rapport.selectorLabels" -}}
{{- $root := index . 0 -}}
{{- $catalogue := include "rapport.catalogue" $root | fromYaml -}}
app.kubernetes.io/name: {{ include "rapport.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ (index $catalogue (index . 1)).component }}
{{- end -}}

{{- define "rapport.labels" -}}
{{ include "rapport.commonLabels" (index . 0) }}
{{ include "rapport.selectorLabels" . }}
{{- end -}}

{{- define "rapport.secretName" -}}
{{- default (include "rapport.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "rapport.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* A service's in-cluster address: (list $ "context" "grpc") -> rapport-context:50052. */}}
{{- define "rapport.address" -}}
{{- $root := index . 0 -}}
{{- $catalogue := include "rapport.catalogue" $root | fromYaml -}}
{{- printf "%s:%v" (include "rapport.componentName" (list $root (index . 1))) (index (index $catalogue (index . 1)) (index . 2)) -}}
{{- end -}}

{{/* One env entry read from the release's Secret: (list $ "ENV_NAME" "KEY" optional). */}}
{{- define "rapport.secretEnv" -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "rapport.secretName" (index . 0) }}
      key: {{ index . 2 }}
      {{- if index . 3 }}
      optional: true
      {{- end }}
{{- end -}}

{{/* A PostgreSQL URL from database.*, with the password taken from $(POSTGRES_PASSWORD). */}}
{{- define "rapport.databaseUrl" -}}
{{- $db := (index . 0).Values.database -}}
{{- printf "postgresql://%s:$(POSTGRES_PASSWORD)@%s:%v/%s" $db.user $db.host $db.port (index . 1) -}}
{{- with $db.options }}?{{ . }}{{ end -}}
{{- end -}}

{{- define "rapport.podSecurityContext" -}}
# The image's unprivileged user (infra/docker/Dockerfile: uid and gid 10001).
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "rapport.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
