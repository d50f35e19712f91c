#!/usr/bin/env bash
# The deploy artifacts against a real Kubernetes API server (docs/DEPLOY.md, "A real
# cluster here"), on a cluster of its own that scripts/cluster.sh starts and stops.
#
#   scripts/e2e-kubernetes.sh --server-side RENDER_DIR
#       run by scripts/check-deploy.sh with its renderings (RENDER_DIR) and its helm (HELM):
#       etcd and kube-apiserver only (no nodes), then
#         1. every rendering applied with --dry-run=server: the API server accepts every
#            object and Pod Security "restricted" warns about no pod template;
#         2. k8s/deploy.sh on a first deploy waits for the infrastructure it just applied
#            (nodes never come, so it must stop there, timed out, before the init Jobs);
#         3. the Helm chart installs over what `deploy.sh --infrastructure` applied.
#       The cluster is its own (state ${COUNT_CLUSTER_STATE}, API port 16444), so a cluster
#       someone runs for the full walk is never touched.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT_DIR}"

if [ "${1:-}" != --server-side ] || [ ! -d "${2:-}" ]; then sed -n 5,15p "$0" >&2; exit 2; fi
render="$(cd "$2" && pwd)"
helm="${HELM:?HELM: the helm binary (scripts/check-deploy.sh sets it)}"
NS=count-system

export COUNT_CLUSTER_STATE="${COUNT_CLUSTER_STATE:-/var/lib/count-cluster-check}"
export COUNT_CLUSTER_API_PORT=16444 COUNT_CLUSTER_ETCD_PORT=12479
cluster() { scripts/cluster.sh "$@"; }
eval "$(cluster env)"
work="$(mktemp -d)"
trap 'cluster down; rm -rf "${work}"' EXIT
cluster down >/dev/null 2>&1 || true  # a fresh etcd
cluster up control-plane

failures=0
failed() { echo "   FAIL $*"; failures=$((failures + 1)); }

# The Gateway API CRDs (standard channel) of the release the schemas come from.
gateway_api="$(sed -n 's/^GATEWAY_API_VERSION=//p' scripts/check-deploy.sh)"
crds="$(cd "${work}" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@${gateway_api}" \
  | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/config/crd/standard"
kubectl apply --server-side -f "${crds}" >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
# The namespace itself (the dry runs of what lives in it need it to exist).
kubectl apply -f "${render}/kustomize-base.yaml" -l app.kubernetes.io/component=namespace >/dev/null

echo "== 1. every rendering, kubectl apply --dry-run=server (Kubernetes $(kubectl version -o json \
  | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])'))"
for f in "${render}"/*.yaml; do
  if ! kubectl apply --dry-run=server -f "$f" >"${work}/out" 2>"${work}/err"; then
    failed "$(basename "$f"): refused"; sed 's/^/     /' "${work}/err"
  elif grep -q 'would violate PodSecurity' "${work}/err"; then
    failed "$(basename "$f"): Pod Security restricted"; grep 'PodSecurity' "${work}/err" | sed 's/^/     /'
  else
    echo "   $(basename "$f"): $(wc -l <"${work}/out") objects accepted, no Pod Security warning"
  fi
done

echo "== 2. k8s/deploy.sh, first deploy: waits for the infrastructure it applied"
export POSTGRES_PASSWORD=check-only STREAM_TOKEN_SECRET=check-only-stream-token-secret-0123456789
export COUNT_API_KEYS='[{"name":"check","scopes":["admin"],"sha256":"00"}]'
if TIMEOUT=3s k8s/deploy.sh --overlay dev --infrastructure >"${work}/deploy.log" 2>&1; then
  failed "deploy.sh finished although no pod can run (it waited for nothing)"
fi
if grep -q 'NotFound' "${work}/deploy.log"; then
  failed "deploy.sh looked for objects that do not exist yet:"; grep NotFound "${work}/deploy.log" | head -5
fi
if grep -q -- '--- 5\.' "${work}/deploy.log"; then
  failed "deploy.sh went on to the init Jobs without its infrastructure"
fi
if ! grep -q 'timed out waiting' "${work}/deploy.log"; then
  failed "deploy.sh did not wait for a rollout"
fi
if [ "${failures}" -eq 0 ]; then
  echo "   stopped in step 4, waiting: $(grep -m1 -E 'Waiting for|timed out' "${work}/deploy.log")"
else
  sed 's/^/     /' "${work}/deploy.log" | tail -20
fi

echo "== 3. helm install over what deploy.sh --infrastructure applied (hooks off: no nodes)"
# deploy.sh stopped in step 4 above: steps 1-4 are applied; the init Jobs of step 5 are
# k8s/'s own and the chart has none of them.
if "${helm}" install count-system helm/count-system -n "${NS}" -f helm/count-system/ci/values-dev.yaml \
     --no-hooks >"${work}/helm.log" 2>&1; then
  echo "   installed: $(kubectl -n "${NS}" get deploy -l app.kubernetes.io/managed-by=Helm -o name | wc -l) Deployments owned by the release"
else
  failed "helm install: $(tail -3 "${work}/helm.log")"
fi

if [ "${failures}" -gt 0 ]; then
  echo "server-side: ${failures} failure(s)"
  exit 1
fi
echo "server-side: everything accepted"
