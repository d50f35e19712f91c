#!/usr/bin/env bash
# Blue/green for one or more services (seed 002): a second colour runs beside the live one,
# the Service's selector moves to it in one step, and moves back as quickly.
#
#   k8s/blue-green.sh deploy   green 0.2.0 [SERVICE...]  start the green pods, image tag 0.2.0
#   k8s/blue-green.sh switch   green [SERVICE...]         send the traffic to green
#   k8s/blue-green.sh rollback [SERVICE...]               send it back to the previous colour
#   k8s/blue-green.sh retire   blue [SERVICE...]          remove the idle colour's pods
#
# Blue is the Deployment <service> that deploy.sh made; green is <service>-green, a copy
# with another image tag. Pods carry the label colour; the Service selects app + colour,
# and remembers the colour it left in the annotation count-system/previous-colour. The
# first deploy labels the live pods blue (a rolling restart without downtime). PDBs and
# NetworkPolicies select by app and so cover both colours; the HPA scales blue only.
# Default SERVICE: the six services. Both colours share the databases: a release whose
# schema change the previous release cannot read is not a blue/green candidate.
set -euo pipefail

NS=count-system
TIMEOUT="${TIMEOUT:-300s}"
usage() { sed -n '4,8p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
command="$1"; shift

deployment_of() { if [ "$2" = blue ]; then echo "$1"; else echo "$1-$2"; fi; }
colour_of() { kubectl -n "${NS}" get service "$1" -o jsonpath='{.spec.selector.colour}'; }
select_colour() {  # service colour previous
  kubectl -n "${NS}" patch service "$1" --type merge -p \
    "{\"spec\":{\"selector\":{\"app\":\"$1\",\"colour\":\"$2\"}},\"metadata\":{\"annotations\":{\"count-system/previous-colour\":\"$3\"}}}"
}

# Labels the live pods blue and pins the Service to them, once.
adopt_blue() {
  local svc="$1"
  [ -n "$(colour_of "${svc}")" ] && return
  kubectl -n "${NS}" patch deployment "${svc}" --type merge \
    -p '{"spec":{"template":{"metadata":{"labels":{"colour":"blue"}}}}}'
  kubectl -n "${NS}" rollout status "deployment/${svc}" --timeout="${TIMEOUT}"
  select_colour "${svc}" blue ""
}

deploy() {  # colour version services...
  local colour="$1" version="$2" svc name; shift 2
  for svc in "$@"; do
    adopt_blue "${svc}"
    name="$(deployment_of "${svc}" "${colour}")"
    if [ "${name}" = "${svc}" ]; then
      kubectl -n "${NS}" set image "deployment/${svc}" "${svc}=${svc}:${version}"
    else
      # A copy of blue: other name, colour in selector and labels, the new image tag.
      kubectl -n "${NS}" get deployment "${svc}" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin); name, colour, image = sys.argv[1:4]
meta = d["metadata"]
d["metadata"] = {"name": name, "namespace": meta["namespace"], "labels": {**meta.get("labels", {}), "colour": colour}}
d.pop("status", None)
d["spec"]["selector"]["matchLabels"]["colour"] = colour
d["spec"]["template"]["metadata"]["labels"]["colour"] = colour
d["spec"]["template"]["spec"]["containers"][0]["image"] = image
print(json.dumps(d))' "${name}" "${colour}" "${svc}:${version}" | kubectl apply -f -
    fi
    kubectl -n "${NS}" rollout status "deployment/${name}" --timeout="${TIMEOUT}"
  done
}

switch() {  # colour services...
  local colour="$1" svc; shift
  for svc in "$@"; do
    kubectl -n "${NS}" get deployment "$(deployment_of "${svc}" "${colour}")" >/dev/null
    select_colour "${svc}" "${colour}" "$(colour_of "${svc}")"
    echo "${svc}: traffic on ${colour}"
  done
}

rollback() {
  local svc previous
  for svc in "$@"; do
    previous="$(kubectl -n "${NS}" get service "${svc}" -o jsonpath='{.metadata.annotations.count-system/previous-colour}')"
    [ -n "${previous}" ] || { echo "${svc}: no previous colour recorded" >&2; exit 1; }
    select_colour "${svc}" "${previous}" "$(colour_of "${svc}")"
    echo "${svc}: traffic back on ${previous}"
  done
}

retire() {  # colour services...
  local colour="$1" svc; shift
  for svc in "$@"; do
    if [ "$(colour_of "${svc}")" = "${colour}" ]; then
      echo "${svc}: ${colour} is live, not retired" >&2; exit 1
    fi
    if [ "${colour}" = blue ]; then
      kubectl -n "${NS}" scale "deployment/${svc}" --replicas=0
    else
      kubectl -n "${NS}" delete deployment "$(deployment_of "${svc}" "${colour}")" --ignore-not-found
    fi
  done
}

default_services=(count-write-service count-read-service count-management-service count-analysis-service
                  dashboard-provision-service dashboard-update-service)
case "${command}" in
  deploy)   [ $# -ge 2 ] || usage; c="$1"; v="$2"; shift 2
            [ $# -gt 0 ] || set -- "${default_services[@]}"; deploy "$c" "$v" "$@" ;;
  switch)   [ $# -ge 1 ] || usage; c="$1"; shift
            [ $# -gt 0 ] || set -- "${default_services[@]}"; switch "$c" "$@" ;;
  rollback) [ $# -gt 0 ] || set -- "${default_services[@]}"; rollback "$@" ;;
  retire)   [ $# -ge 1 ] || usage; c="$1"; shift
            [ $# -gt 0 ] || set -- "${default_services[@]}"; retire "$c" "$@" ;;
  *) usage ;;
esac
