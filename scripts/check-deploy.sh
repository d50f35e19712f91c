#!/usr/bin/env bash
# Proves the deploy artifacts without a cluster (issue 6's CI):
#   1. renders k8s/ and every overlay (Kustomize), lints and renders the Helm chart over a
#      matrix of values (helm lint --strict, helm template);
#   2. validates every rendering against the schemas of a pinned Kubernetes version, of
#      the Gateway API and of the Prometheus Operator (ServiceMonitor, PrometheusRule)
#      (kubeconform -strict, offline); the alerts (promtool check rules, and promtool test
#      rules on helm/count-system/monitoring/alerts-test.yaml); the Grafana dashboard against
#      Grafana's dashboard model (npm @grafana/schema, made a JSON schema);
#   3. applies the policy checks (kube-score; each exception justified below);
#   4. shellcheck on every shell script;
#   5. runs the database init script twice on a real PostgreSQL (it must be idempotent);
#   6. the agreement test (scripts/deploy_agreement.py): Kustomize, Helm, Dockerfiles and
#      the binaries agree on images, ports, probes, environment names and resources, and
#      every metric the alerts and the Grafana dashboard use is one a binary exports; and
#      its self-test: a port, probe path or environment name of a dashboard service changed
#      on one side only must make it fail;
#   7. every rendering applied with --dry-run=server to a real kube-apiserver, and
#      deploy.sh and the Helm flow run against it (scripts/e2e-kubernetes.sh --server-side,
#      on a cluster of its own from scripts/cluster.sh: built from source once, cached).
#
#   scripts/check-deploy.sh          (builds the service binaries first if they are missing)
#   scripts/check-deploy.sh --tools  only installs the tools and schemas below (scripts/test.sh
#                                    runs it in the background while the tests run)
#
# Tools are Go modules at pinned versions, built once with `go install` into
#   ${COUNT_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/count-system/deploy-tools}
# and the schemas are generated there from the pinned modules' own files, so after the
# first run nothing is fetched. kube-linter is not available from the Go module proxy
# here; kube-score is the policy check instead. Go itself: the machine's go if it is 1.24
# or newer, else a pinned toolchain from the Go module proxy (scripts/lib/go-toolchain.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION=1.34.4
GATEWAY_API_VERSION=v1.3.0
KUSTOMIZE=sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
HELM=helm.sh/helm/v3/cmd/helm@v3.19.0
KUBECONFORM=github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0
KUBE_SCORE=github.com/zegl/kube-score/cmd/kube-score@v1.20.0
PROMTOOL=github.com/prometheus/prometheus/cmd/promtool@v0.316.0
# The module whose example/prometheus-operator-crd/ holds the Operator's CRDs.
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0
# PyPI: parses the PromQL of the alerts and the dashboard (scripts/deploy_agreement.py).
PROMQL_PARSER=promql-parser==0.11.0
# npm: Grafana's dashboard model (TypeScript types), made a JSON schema and validated with
# (scripts/grafana_dashboard_schema.mjs).
GRAFANA_NPM=(@grafana/schema@13.2.3 ts-json-schema-generator@2.4.0 ajv@8.20.0)

tools="${COUNT_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/count-system/deploy-tools}"
python=/usr/bin/python3
bin_dir="${COUNT_BIN_DIR:-build/release}"
services=(count-write-service count-read-service count-management-service count-analysis-service
          dashboard-provision-service dashboard-update-service)

# ---- installs (Debian packages, then Go modules)
missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
$python -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
command -v unshare >/dev/null || missing+=(util-linux)
command -v redis-server >/dev/null || missing+=(redis-server)  # the replica probe check
$python -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
{ command -v node && command -v npm; } >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# shellcheck source=scripts/lib/go-toolchain.sh
GO_TOOLCHAIN_DIR="${tools}" source scripts/lib/go-toolchain.sh

# go_tool MODULE@VERSION [FLAG...]: prints the path of the installed binary, building it
# (with the go install flags given) if needed.
go_tool() {
  local module="${1%@*}" version="${1#*@}" name dir
  shift
  name="$(basename "${module}")"
  case "$name" in v[0-9]*) name="$(basename "$(dirname "${module}")")" ;; esac
  dir="${tools}/${name}-${version}"
  if [ ! -x "${dir}/${name}" ]; then
    echo "installing ${name} ${version} (go install, once)" >&2
    GOBIN="${dir}" GOFLAGS=-mod=mod nice -n 15 go install "$@" "${module}@${version}" >&2
  fi
  echo "${dir}/${name}"
}
kustomize="$(go_tool "$KUSTOMIZE")"
helm="$(go_tool "$HELM")"
kubeconform="$(go_tool "$KUBECONFORM")"
kube_score="$(go_tool "$KUBE_SCORE")"
# Without the service discovery plugins (cloud SDKs): rule checks and tests need none.
promtool="$(go_tool "$PROMTOOL" -tags remove_all_sd)"
# A virtual environment of its own for the PyPI package (with Debian's python3-yaml).
venv="${tools}/python-${PROMQL_PARSER/==/-}"
if ! "${venv}/bin/python" -c 'import promql_parser' 2>/dev/null; then
  echo "installing ${PROMQL_PARSER} (pip, once)" >&2
  rm -rf "${venv}"
  $python -m venv --system-site-packages "${venv}"
  "${venv}/bin/pip" install -q "${PROMQL_PARSER}" >&2
fi
grafana_tools="${tools}/grafana-schema-${GRAFANA_NPM[0]##*@}"
if [ ! -f "${grafana_tools}/.complete" ]; then
  echo "installing ${GRAFANA_NPM[*]} (npm, once)" >&2
  rm -rf "${grafana_tools}"
  mkdir -p "${grafana_tools}"
  echo '{"private": true}' >"${grafana_tools}/package.json"
  (cd "${grafana_tools}" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error "${GRAFANA_NPM[@]}" >&2)
  touch "${grafana_tools}/.complete"
fi

module_dir() { (cd "${tools}" && GOFLAGS=-mod=mod go mod download -json "$1" | $python -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); }
# The Operator's CRDs: the schemas below, and scripts/e2e-kubernetes.sh applies them.
prometheus_crds="$(module_dir "${PROMETHEUS_OPERATOR}")/example/prometheus-operator-crd"
export PROMETHEUS_CRDS="${prometheus_crds}/monitoring.coreos.com_servicemonitors.yaml ${prometheus_crds}/monitoring.coreos.com_prometheusrules.yaml"
schemas="${tools}/schemas-k8s-${K8S_VERSION}-gateway-${GATEWAY_API_VERSION}-prometheus-operator-${PROMETHEUS_OPERATOR#*@}"
if [ ! -f "${schemas}/.complete" ]; then
  echo "generating schemas: Kubernetes ${K8S_VERSION}, Gateway API ${GATEWAY_API_VERSION}, Prometheus Operator ${PROMETHEUS_OPERATOR#*@} (once)"
  k8s_dir="$(module_dir "k8s.io/kubernetes@v${K8S_VERSION}")"
  gw_dir="$(module_dir "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}")"
  rm -rf "${schemas}"
  # shellcheck disable=SC2086  # two paths
  $python scripts/k8s_schemas.py "${k8s_dir}/api/openapi-spec/swagger.json" \
    "${gw_dir}/config/crd/standard/gateway.networking.k8s.io_gateways.yaml" \
    "${gw_dir}/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" ${PROMETHEUS_CRDS} "${schemas}"
  touch "${schemas}/.complete"
fi

[ "${1:-}" != --tools ] || exit 0

out="$(mktemp -d)"
trap 'rm -rf "${out}"' EXIT

# ---- 1. renderings
echo "== render: Kustomize (k8s/ and overlays)"
"${kustomize}" build k8s >"${out}/kustomize-base.yaml"
for overlay in overlays/*/; do
  name="$(basename "${overlay}")"
  "${kustomize}" build "${overlay}" >"${out}/kustomize-${name}.yaml"
done
# components/monitoring on top of prod (an overlay of the check's own: Kustomize wants
# relative paths).
mkdir "${out}/monitoring"
rel="$(realpath --relative-to="${out}/monitoring" .)"
printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
  'resources:' "  - ${rel}/overlays/prod" 'components:' "  - ${rel}/components/monitoring" \
  >"${out}/monitoring/kustomization.yaml"
"${kustomize}" build "${out}/monitoring" >"${out}/kustomize-monitoring.yaml"
# components/redis-cluster on top of k8s/ (Redis Cluster as the value store; not with prod's
# Sentinel, which watches the single primary the component removes).
mkdir "${out}/cluster"
printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
  'resources:' "  - ${rel}/k8s" 'components:' "  - ${rel}/components/redis-cluster" \
  >"${out}/cluster/kustomization.yaml"
"${kustomize}" build "${out}/cluster" >"${out}/kustomize-cluster.yaml"
# The base with the recovery Jobs an operator creates by hand from k8s/jobs/ (not in the
# base), and the chart with the same Jobs (recovery.*): validated, scored and compared too.
recovery_run="$(sed -n 's/^ *value: "\([0-9]\{8\}T[0-9]\{6\}Z\)".*/\1/p' k8s/jobs/postgresql-restore.yaml)"
for f in "${out}/kustomize-base.yaml" k8s/jobs/postgresql-restore.yaml k8s/jobs/redis-restore.yaml \
         k8s/jobs/rebuild-values.yaml; do
  cat "$f"; echo "---"
done >"${out}/kustomize-recovery.yaml"
echo "== render: Helm (lint --strict and template, every values file)"
chart=helm/count-system
for values in default "${chart}"/ci/values-*.yaml; do
  args=()
  name=default
  if [ "${values}" != default ]; then
    args=(-f "${values}")
    name="$(basename "${values}" .yaml)"
    name="${name#values-}"
  fi
  "${helm}" lint --strict "${chart}" "${args[@]}" >/dev/null
  "${helm}" template count-system "${chart}" "${args[@]}" >"${out}/helm-${name}.yaml"
done
"${helm}" template count-system "${chart}" --set recovery.restoreRun="${recovery_run}" \
  --set recovery.redisRestoreRun="${recovery_run}" --set recovery.rebuildValues=true >"${out}/helm-recovery.yaml"
# The Secret templates, filled as deploy.sh fills them.
key_hash="$(printf '%s' check | sha256sum | cut -d' ' -f1)"
for f in k8s/secret/*.yaml; do
  # shellcheck disable=SC2016  # the placeholders are literal text
  sed -e 's/\${POSTGRES_USER}/countuser/' -e 's/\${POSTGRES_PASSWORD}/check-only/' \
      -e 's/\${STREAM_TOKEN_SECRET}/check-only-stream-token-secret-0123456789/' \
      -e "s/\\\${COUNT_API_KEYS}/[{\"name\":\"check\",\"scopes\":[\"admin\"],\"sha256\":\"${key_hash}\"}]/" "$f"
  echo "---"
done >"${out}/secrets.yaml"
for f in "${out}"/*.yaml; do echo "   $(basename "$f")"; done

# ---- 2. schemas
echo "== kubeconform -strict, Kubernetes ${K8S_VERSION} + Gateway API ${GATEWAY_API_VERSION} + Prometheus Operator ${PROMETHEUS_OPERATOR#*@}"
"${kubeconform}" -strict -summary -kubernetes-version "${K8S_VERSION}" \
  -schema-location "${schemas}/{{ .ResourceKind }}{{ .KindSuffix }}.json" "${out}"/*.yaml
for f in "${out}"/kustomize-monitoring.yaml "${out}"/helm-full.yaml; do
  for kind in ServiceMonitor PrometheusRule; do
    grep -q "^kind: ${kind}\$" "$f" || { echo "$(basename "$f") has no ${kind} to validate"; exit 1; }
  done
done
echo "== alerts: promtool check rules, promtool test rules (helm/count-system/monitoring/alerts-test.yaml)"
$python -c 'import sys, yaml; print(yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"]))' \
  helm/count-system/monitoring/prometheusrule.yaml >"${out}/rules.yml"
cp helm/count-system/monitoring/alerts-test.yaml "${out}/alerts-test.yml"
"${promtool}" check rules "${out}/rules.yml"
"${promtool}" test rules "${out}/alerts-test.yml"
echo "== Grafana dashboard: Grafana's dashboard model (@grafana/schema ${GRAFANA_NPM[0]##*@}), as a JSON schema"
node scripts/grafana_dashboard_schema.mjs "${grafana_tools}" helm/count-system/monitoring/dashboard.json

# ---- 3. policy
# One exception for everything, justified: images are immutable per release (the tag is
# app.version) and minikube runs locally built images, so IfNotPresent rather than Always.
# Exceptions for single objects sit beside them as kube-score/ignore annotations, each
# with its reason (k8s/statefulsets/, k8s/deployments/zookeeper.yaml, kafka.yaml, ...).
echo "== kube-score (policy)"
for f in "${out}"/kustomize-*.yaml "${out}"/helm-*.yaml; do
  extra=()
  # ci/values-minimal.yaml turns the chart's network policies off on purpose (a cluster
  # whose policies are managed elsewhere): the missing policy is what it tests.
  case "$f" in */helm-minimal.yaml) extra=(--ignore-test pod-networkpolicy) ;; esac
  "${kube_score}" score --output-format ci --ignore-test container-image-pull-policy "${extra[@]}" "$f" \
    >"${out}/score.txt" || true
  if grep -E '^\[(CRITICAL|WARNING)\]' "${out}/score.txt" || ! grep -q '^\[OK\]' "${out}/score.txt"; then
    echo "kube-score: findings in $(basename "$f")"
    exit 1
  fi
  echo "   $(basename "$f"): no findings"
done

# ---- 4. shell scripts
echo "== shellcheck"
shellcheck -x k8s/*.sh scripts/*.sh scripts/lib/*.sh infra/*/*.sh helm/count-system/redis-cluster/*.sh infra/kafka/bin/*

# ---- 5. the database init script, twice, on a real PostgreSQL
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
if [ -n "${pg_bin}" ]; then
  echo "== PostgreSQL init script (k8s/configmap/postgresql-init.sql), run twice"
  pg="${out}-pg"  # the server runs as nobody when this runs as root: its own directory
  mkdir -m 700 "${pg}"
  [ "$(id -u)" != 0 ] || chown nobody "${pg}"
  cp k8s/configmap/postgresql-init.sql "${pg}/init.sql"
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
  as_pg "${pg_bin}/initdb" -D "${pg}/data" -U count -A trust >/dev/null
  as_pg "${pg_bin}/pg_ctl" -D "${pg}/data" -o "-k ${pg} -c listen_addresses=''" -w start >/dev/null
  trap 'as_pg "${pg_bin}/pg_ctl" -D "${pg}/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "${out}" "${pg}"' EXIT
  for _ in 1 2; do
    as_pg "${pg_bin}/psql" -h "${pg}" -U count -d postgres -v ON_ERROR_STOP=1 -q -f "${pg}/init.sql" >/dev/null
  done
  dbs="$(as_pg "${pg_bin}/psql" -h "${pg}" -U count -d postgres -At -c \
    "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname IN ('countinfo','dashboardconfig')")"
  [ "${dbs}" = "countinfo,dashboardconfig" ] || { echo "init script made: ${dbs}"; exit 1; }
  echo "   created countinfo and dashboardconfig, and the second run changed nothing"
  as_pg "${pg_bin}/pg_ctl" -D "${pg}/data" -m fast stop >/dev/null
else
  echo "== PostgreSQL init script: skipped (no PostgreSQL server installed; scripts/setup.sh --test installs one)"
fi

# ---- 6. agreement
for s in "${services[@]}"; do
  if [ ! -x "${bin_dir}/${s}/${s}" ]; then
    scripts/build.sh release --target "${services[@]}" >/dev/null
    break
  fi
done
echo "== agreement: Kustomize, Helm, Dockerfiles, binaries"
"${venv}/bin/python" scripts/deploy_agreement.py "${out}" "${bin_dir}"
echo "== agreement self-test: one-sided changes are caught"
"${venv}/bin/python" scripts/deploy_agreement.py --self-test "${out}" "${bin_dir}"

# ---- 7. a real API server
echo "== server-side: a real kube-apiserver (scripts/e2e-kubernetes.sh --server-side)"
HELM="${helm}" scripts/e2e-kubernetes.sh --server-side "${out}"
