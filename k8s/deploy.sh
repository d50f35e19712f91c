#!/usr/bin/env bash
# Deploys the Count Management System in seed 004's order, waiting at each step:
#   1 namespace (+ default-deny policies)  2 ConfigMaps and Secrets  3 PVCs
#   4 PostgreSQL, Redis, ZooKeeper, Kafka  5 init Jobs (databases, schema, topic)
#   6 the services, the backup CronJob  7 optionally the Ingress and/or the Gateway API route
#
#   k8s/deploy.sh [--overlay dev|prod|DIR] [--with-ingress] [--with-gateway]
#   k8s/deploy.sh [--overlay dev|prod|DIR] --infrastructure    steps 1-5 only, for the Helm
#                                                               chart (docs/DEPLOY.md, Helm)
#
# The default is the base (k8s/). The rendering (kubectl kustomize) is applied phase by
# phase, selected by the label app.kubernetes.io/component every resource carries.
# Secrets come from the templates in secret/ (see there); POSTGRES_USER, POSTGRES_PASSWORD,
# COUNT_API_KEYS and STREAM_TOKEN_SECRET are read from the environment when they must be
# created (the password and the stream token secret are generated when unset).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(dirname "${SCRIPT_DIR}")"
NS=count-system
TIMEOUT="${TIMEOUT:-300s}"

overlay="${SCRIPT_DIR}"
with_ingress=false
with_gateway=false
infrastructure=false
while [ $# -gt 0 ]; do
  case "$1" in
    --overlay) overlay="$2"; shift ;;
    --with-ingress) with_ingress=true ;;
    --with-gateway) with_gateway=true ;;
    --infrastructure) infrastructure=true ;;
    *) echo "usage: $0 [--overlay dev|prod|DIR] [--with-ingress] [--with-gateway] [--infrastructure]" >&2; exit 2 ;;
  esac
  shift
done
case "$overlay" in dev|prod) overlay="${ROOT_DIR}/overlays/${overlay}" ;; esac

rendered="$(mktemp)"
trap 'rm -f "${rendered}"' EXIT

# Drops the documents of the given kinds from a multi-document YAML stream.
drop_kinds() {
  awk -v drop=" $* " 'BEGIN { RS = "\n---\n"; ORS = "\n---\n" }
    { kind = ""; if (match($0, /(^|\n)kind: [A-Za-z]+/)) { kind = substr($0, RSTART, RLENGTH); sub(/.*kind: /, "", kind) }
      if (index(drop, " " kind " ") == 0) print }'
}

skip=""
$with_ingress || skip="${skip} Ingress"
$with_gateway || skip="${skip} Gateway HTTPRoute"
# shellcheck disable=SC2086  # word splitting of the kind list is intended
kubectl kustomize "${overlay}" | drop_kinds ${skip} > "${rendered}"

apply() { kubectl apply -f "${rendered}" -l "app.kubernetes.io/component in ($1)"; }
# Applies the components' objects and waits for each of their Deployments and StatefulSets
# to roll out. The names come from what was applied (not from the cluster, where nothing
# exists yet on a first deploy).
apply_and_wait() {
  local applied r
  applied="$(kubectl apply -f "${rendered}" -l "app.kubernetes.io/component in ($1)" -o name)"
  printf '%s\n' "${applied}"
  for r in $(printf '%s\n' "${applied}" | grep -E '^(deployment|statefulset)\.apps/' || true); do
    kubectl -n "${NS}" rollout status "${r}" --timeout="${TIMEOUT}"
  done
}

# Fills a secret/ template from the environment and creates it, unless it exists.
ensure_secret() {
  local name="$1" template="$2" text
  if kubectl -n "${NS}" get secret "${name}" >/dev/null 2>&1; then
    echo "secret/${name} exists: kept"
    return
  fi
  text="$(cat "${template}")"
  text="${text//\$\{POSTGRES_USER\}/${POSTGRES_USER}}"
  text="${text//\$\{POSTGRES_PASSWORD\}/${POSTGRES_PASSWORD}}"
  text="${text//\$\{COUNT_API_KEYS\}/${COUNT_API_KEYS}}"
  text="${text//\$\{STREAM_TOKEN_SECRET\}/${STREAM_TOKEN_SECRET}}"
  printf '%s\n' "${text}" | kubectl apply -f -
}

echo "=== Count Management System: deploying ${overlay} ==="

echo "--- 1. namespace"
apply namespace

echo "--- 2. ConfigMaps and Secrets"
apply config
POSTGRES_USER="${POSTGRES_USER:-countuser}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-$(openssl rand -hex 24)}"
if [ -z "${COUNT_API_KEYS:-}" ] && ! kubectl -n "${NS}" get secret count-api-keys >/dev/null 2>&1; then
  admin_key="cms_$(openssl rand -hex 24)"
  COUNT_API_KEYS="[{\"name\":\"admin\",\"scopes\":[\"admin\"],\"sha256\":\"$(printf '%s' "${admin_key}" | sha256sum | cut -d' ' -f1)\"}]"
  echo "generated admin API key (shown once, only its hash is stored): ${admin_key}"
fi
COUNT_API_KEYS="${COUNT_API_KEYS:-}"
# Signs dashboard-update-service's stream tokens: one value for all its replicas, kept
# across deploys (ensure_secret never replaces it), at least 32 characters.
STREAM_TOKEN_SECRET="${STREAM_TOKEN_SECRET:-$(openssl rand -hex 32)}"
if [ "${#STREAM_TOKEN_SECRET}" -lt 32 ]; then
  echo "STREAM_TOKEN_SECRET needs at least 32 characters" >&2
  exit 2
fi
ensure_secret postgresql-secret "${SCRIPT_DIR}/secret/postgresql-secret.yaml"
ensure_secret count-api-keys "${SCRIPT_DIR}/secret/count-api-keys.yaml"
ensure_secret dashboard-stream-token "${SCRIPT_DIR}/secret/dashboard-stream-token.yaml"

echo "--- 3. PersistentVolumeClaims"
apply storage

echo "--- 4. infrastructure: PostgreSQL, Redis, ZooKeeper, Kafka"
apply_and_wait "database,cache,messaging"

echo "--- 5. init Jobs: databases, schemas (countinfo, dashboardconfig), topic"
# A Job's pod template cannot change: the finished Jobs go, the new ones run (idempotent).
kubectl -n "${NS}" delete job -l app.kubernetes.io/component=init --ignore-not-found
apply init
kubectl -n "${NS}" wait --for=condition=complete job -l app.kubernetes.io/component=init \
  --timeout="${TIMEOUT}"

if $infrastructure; then
  echo "=== infrastructure deployed (the services: helm upgrade --install, docs/DEPLOY.md) ==="
  kubectl -n "${NS}" get pods
  exit 0
fi

echo "--- 6. services"
apply_and_wait api

echo "--- 6a. backups: the CronJob, its volume and network policies (docs/OPERATIONS.md)"
apply backup

# components/monitoring: the ServiceMonitor, PrometheusRule and Grafana dashboard (the
# Prometheus Operator's CRDs must be installed).
if grep -q 'app.kubernetes.io/component: monitoring' "${rendered}"; then
  echo "--- 6b. monitoring"
  apply monitoring
fi

if $with_ingress || $with_gateway; then
  echo "--- 7. public routes"
  apply "ingress,gateway"
fi

echo "=== deployed ==="
kubectl -n "${NS}" get pods
