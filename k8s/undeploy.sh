#!/usr/bin/env bash
# Removes the Count Management System in the reverse of deploy.sh's order. Data survives:
# the PVCs, the Secrets and the namespace stay unless --purge is given.
#
#   k8s/undeploy.sh [--overlay dev|prod|DIR] [--purge]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(dirname "${SCRIPT_DIR}")"
NS=count-system

overlay="${SCRIPT_DIR}"
purge=false
while [ $# -gt 0 ]; do
  case "$1" in
    --overlay) overlay="$2"; shift ;;
    --purge) purge=true ;;
    *) echo "usage: $0 [--overlay dev|prod|DIR] [--purge]" >&2; exit 2 ;;
  esac
  shift
done
case "$overlay" in dev|prod) overlay="${ROOT_DIR}/overlays/${overlay}" ;; esac

remove() {
  echo "--- $1"
  kubectl -n "${NS}" delete "$2" -l "app.kubernetes.io/part-of=count-system,app.kubernetes.io/component in ($3)" \
    --ignore-not-found --wait=true
}

echo "=== Count Management System: removing ${overlay} ==="
kinds="deployments,statefulsets,jobs,services,serviceaccounts,poddisruptionbudgets,networkpolicies,horizontalpodautoscalers,configmaps"
remove "public routes" ingresses ingress
if kubectl api-resources --api-group=gateway.networking.k8s.io -o name | grep -q httproutes; then
  remove "Gateway API route" "httproutes,gateways" gateway
fi
remove "services" "${kinds}" api
# The backup volume (its runs) stays like the other PVCs.
remove "backups" "cronjobs,${kinds}" backup
remove "init Jobs" "${kinds}" init
remove "infrastructure" "${kinds}" "database,cache,messaging"
remove "configuration" configmaps config

if $purge; then
  echo "--- purge: the namespace with its volumes and Secrets"
  kubectl delete namespace "${NS}" --ignore-not-found --wait=true
else
  echo "kept: PVCs, Secrets and namespace ${NS} (--purge removes them)"
fi
echo "=== removed ==="
