#!/usr/bin/env bash
# The deploy artifacts against a real Kubernetes API server (docs/DEPLOY.md, "A real
# cluster here"), on a cluster of its own that scripts/cluster.sh starts and stops.
#
#   scripts/e2e-kubernetes.sh --server-side RENDER_DIR
#       run by scripts/check-deploy.sh with its renderings (RENDER_DIR) and its helm (HELM):
#       etcd and kube-apiserver only (no nodes), then
#         1. every rendering applied with --dry-run=server (the Gateway API's and the
#            Prometheus Operator's CRDs installed first): the API server accepts every
#            object and Pod Security "restricted" warns about no pod template;
#         2. k8s/deploy.sh on a first deploy waits for the infrastructure it just applied
#            (nodes never come, so it must stop there, timed out, before the init Jobs);
#         3. the Helm chart installs over what `deploy.sh --infrastructure` applied.
#       The cluster is its own (state ${COUNT_CLUSTER_STATE}, API port 16444), so a cluster
#       someone runs for the full walk is never touched.
#
#   scripts/e2e-kubernetes.sh --node
#       the whole node (scripts/cluster.sh up): a Pod Security "restricted" namespace, an
#       image loaded into containerd without a registry, a Deployment Ready behind a
#       Service, reached from another pod by its DNS name (CoreDNS, kube-proxy, the pod
#       bridge) and from this machine through an Ingress and an HTTPRoute (Traefik), logs
#       and exec through the kubelet, a privileged pod refused, the namespace
#       deleted to nothing, and `cluster.sh down` leaving no process, bridge or rule.
#
#   scripts/e2e-kubernetes.sh --up
#       the system on the whole node as --deploy brings it up (k8s/deploy.sh --with-ingress),
#       left running: its overlay and API keys in /tmp/e2e-kubernetes-up.
#
#   scripts/e2e-kubernetes.sh --backup-drill
#       the system on the whole node as for --up, then backup and recovery as
#       docs/OPERATIONS.md gives them (tests/faults/k8s_backup.py): Redis' volume lost and the
#       values rebuilt (jobs/rebuild-values.yaml), a run of the backup CronJob, PostgreSQL's
#       volume lost and restored (jobs/postgresql-restore.yaml, deploy.sh again), Redis put
#       back at the run's RDB copy (jobs/redis-restore.yaml); fails when a value, record or
#       dashboard does not come back; then `cluster.sh down`.
#
#   scripts/e2e-kubernetes.sh --deploy
#       the system itself on the whole node: the service images and the infrastructure
#       stand-ins (scripts/infra-images.sh) imported into containerd, an overlay of the dev
#       overlay pointing at the stand-ins, k8s/deploy.sh --with-ingress with every pod Ready
#       and the init Jobs complete, the black-box suite through the Ingress, a rollout
#       restart of every service and a blue/green switch and back under load with zero
#       failed requests (tests/faults/k8s_rollout.py), the black-box suite through the
#       Gateway API route instead, Pod Security "restricted" enforced with no pod refused,
#       k8s/undeploy.sh --purge leaving no namespace; then the Helm chart the documented way
#       (`deploy.sh --infrastructure`, `helm install --wait` with its hooks), every pod
#       Ready, a smoke subset of the suite through the chart's Ingress, `helm uninstall`
#       leaving none of the chart's objects, undeploy.sh --purge; and `cluster.sh down`.
#       HELM: the helm binary (default: check-deploy.sh's version, installed once).
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT_DIR}"

usage() { sed -n "2,/^set -euo/p" "$0" | sed "\$d" >&2; exit 2; }
NS=count-system
failures=0
failed() { echo "   FAIL $*"; failures=$((failures + 1)); }
cluster() { scripts/cluster.sh "$@"; }
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

server_side() {
  local render helm gateway_api crds
  render="$(cd "$1" && pwd)"
  helm="${HELM:?HELM: the helm binary (scripts/check-deploy.sh sets it)}"
  export COUNT_CLUSTER_STATE="${COUNT_CLUSTER_STATE:-/var/lib/count-cluster-check}"
  export COUNT_CLUSTER_API_PORT=16444 COUNT_CLUSTER_ETCD_PORT=12479
  eval "$(cluster env)"
  trap 'cluster down; rm -rf "${work}"' EXIT
  cluster down >/dev/null 2>&1 || true  # a fresh etcd
  cluster up control-plane

  # The Gateway API CRDs (standard channel) of the release the schemas come from.
  gateway_api="$(sed -n 's/^GATEWAY_API_VERSION=//p' scripts/check-deploy.sh)"
  crds="$(cd "${work}" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@${gateway_api}" \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/config/crd/standard"
  kubectl apply --server-side -f "${crds}" >/dev/null
  # The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs (check-deploy.sh names
  # the files), for the monitoring objects of kustomize-monitoring and helm-full.
  local crd
  for crd in ${PROMETHEUS_CRDS:?PROMETHEUS_CRDS: the CRD files (scripts/check-deploy.sh sets it)}; do
    kubectl apply --server-side -f "${crd}" >/dev/null
  done
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

}

node() {
  eval "$(cluster env)"
  local start=$SECONDS ns=count-smoke image=docker.io/library/count-smoke:1
  trap 'cluster down; rm -rf "${work}"' EXIT
  cluster down >/dev/null 2>&1 || true
  cluster up
  echo "== node Ready $((SECONDS - start)) s after \`cluster.sh up\` (binaries cached)"
  kubectl get nodes -o wide | sed 's/^/   /'

  echo "== an image into containerd without a registry (podman build, save, ctr import)"
  scripts/images.sh --base >/dev/null
  printf '%s\n' 'FROM debian:bookworm-slim' \
    'RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null && rm -rf /var/lib/apt/lists/*' \
    'USER 10001:10001' >"${work}/Containerfile"
  podman --runtime runc build --pull=never --network host --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
    -q -t "${image}" -f "${work}/Containerfile" "${work}" >/dev/null
  podman --runtime runc save -q --format docker-archive "${image}" -o "${work}/image.tar"
  ctr --address /run/count-cluster/containerd.sock -n k8s.io images import "${work}/image.tar" >/dev/null
  echo "   ${image} imported"

  echo "== a restricted namespace, a Deployment behind a Service, reached by name from a pod"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: web
          image: ${image}
          imagePullPolicy: Never
          command: [python3, -m, http.server, "8080", -d, /etc]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /hostname, port: 8080}, periodSeconds: 2}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: ${ns}}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: client
      image: ${image}
      imagePullPolicy: Never
      command: [sleep, infinity]
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
YAML
  local ready=$SECONDS
  if kubectl -n "${ns}" rollout status deploy/web --timeout=180s >/dev/null \
     && kubectl -n "${ns}" wait --for=condition=Ready pod/client --timeout=120s >/dev/null; then
    echo "   2 web pods and the client Ready in $((SECONDS - ready)) s"
  else
    failed "pods not Ready"; kubectl -n "${ns}" get pods,events | sed 's/^/     /'
  fi
  local name got
  # kube-proxy programs a Service's endpoints a moment after the pods turn Ready: up to
  # 10 tries a second apart.
  for name in web "web.${ns}.svc.cluster.local"; do
    for _ in $(seq 1 10); do
      got="$(kubectl -n "${ns}" exec client -- python3 -c \
        "import urllib.request; print(urllib.request.urlopen('http://${name}/hostname', timeout=5).status)" 2>&1)" || true
      [ "${got}" = 200 ] && break
      sleep 1
    done
    if [ "${got}" = 200 ]; then echo "   GET http://${name}/hostname from the client pod: 200"; else failed "GET http://${name}: $(printf '%s' "${got}" | tail -2)"; fi
  done
  # Every web pod's log (the Service spread the requests over both; deploy/web is only one),
  # asked again for a few seconds: a line reaches the kubelet's log file a little later.
  local logged=no
  for _ in $(seq 1 10); do
    for pod in $(kubectl -n "${ns}" get pods -l app=web -o name); do
      kubectl -n "${ns}" logs "${pod}" 2>/dev/null | grep -q 'GET /hostname' && logged=yes
    done
    [ "${logged}" = yes ] && break
    sleep 1
  done
  if [ "${logged}" = yes ]; then
    echo "   kubectl logs: the web pod logged the requests"
  else
    failed "kubectl logs shows no request"
  fi

  echo "== through the Ingress and the Gateway API controller (Traefik, 127.0.0.1:80)"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: ${ns}}
spec:
  ingressClassName: nginx
  rules:
    - host: ingress.smoke.local
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: smoke, namespace: ${ns}}
spec:
  gatewayClassName: nginx
  listeners: [{name: http, protocol: HTTP, port: 80, hostname: gateway.smoke.local}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: ${ns}}
spec:
  parentRefs: [{name: smoke}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
YAML
  local host code
  for host in ingress.smoke.local gateway.smoke.local; do
    code=000
    for _ in $(seq 1 20); do
      code="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: ${host}" http://127.0.0.1/hostname || true)"
      [ "${code}" = 200 ] && break
      sleep 1
    done
    if [ "${code}" = 200 ]; then echo "   GET http://${host}/hostname: 200"; else failed "GET http://${host}/hostname: ${code}"; fi
  done

  echo "== Pod Security restricted: a privileged pod is refused"
  if got="$(kubectl -n "${ns}" run privileged --image="${image}" --image-pull-policy=Never \
              --overrides='{"spec":{"containers":[{"name":"privileged","image":"'"${image}"'","securityContext":{"privileged":true}}]}}' \
              -- sleep 1 2>&1)"; then
    failed "a privileged pod was admitted"
  else
    echo "   refused: $(printf '%s' "${got}" | grep -o 'violates PodSecurity[^:]*')"
  fi

  echo "== the namespace deleted: nothing left"
  kubectl delete namespace "${ns}" --timeout=120s >/dev/null
  local ctr=(ctr --address /run/count-cluster/containerd.sock -n k8s.io)
  for _ in $(seq 1 60); do [ -z "$("${ctr[@]}" tasks ls -q)" ] && break; sleep 1; done
  if [ -z "$("${ctr[@]}" tasks ls -q)" ]; then
    echo "   no container runs"
  else
    failed "containers still run: $("${ctr[@]}" tasks ls -q | wc -l)"
  fi

  echo "== cluster.sh down"
  cluster down
  trap 'rm -rf "${work}"' EXIT
  local left
  left="$(cluster status 2>/dev/null | grep -c ': running' || true)"
  [ "${left}" = 0 ] || failed "${left} processes still run"
  ! ip link show count0 >/dev/null 2>&1 || failed "the bridge count0 is left"
  ! iptables-save 2>/dev/null | grep -q 'KUBE-' || failed "kube-proxy's or the kubelet's rules are left"
  [ "${failures}" -gt 0 ] || echo "   no process, no bridge, no kube-proxy rule left"
}

# Pod Security "restricted" on the namespace: enforced (the API server refuses a privileged
# pod, asked with --dry-run=server) and no pod of what ran there refused (no FailedCreate).
pod_security() {  # WHAT
  local got refused
  if got="$(kubectl -n "${NS}" run privileged-check --image=busybox --dry-run=server \
              --overrides='{"spec":{"containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}}' 2>&1)"; then
    failed "a privileged pod is admitted to ${NS}: Pod Security restricted is not enforced"
  elif ! printf '%s' "${got}" | grep -q 'violates PodSecurity "restricted'; then
    failed "a privileged pod was refused, but not by Pod Security: ${got}"
  fi
  refused="$(kubectl -n "${NS}" get events --field-selector reason=FailedCreate \
    -o jsonpath='{range .items[*]}{.involvedObject.kind}/{.involvedObject.name}: {.message}{"\n"}{end}')"
  if [ -n "${refused}" ]; then
    failed "pods refused during $1:"; printf '%s\n' "${refused}" | sed 's/^/     /'
  else
    echo "   Pod Security restricted enforced (a privileged pod refused); no pod refused during $1"
  fi
}

# The helm of scripts/check-deploy.sh (same version and cache), installed once.
helm_binary() {
  local version dir
  version="$(sed -n 's/^HELM=.*@//p' scripts/check-deploy.sh)"
  dir="${COUNT_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/count-system/deploy-tools}/helm-${version}"
  [ -x "${dir}/helm" ] || GOBIN="${dir}" GOFLAGS=-mod=mod nice -n 15 go install "helm.sh/helm/v3/cmd/helm@${version}" >&2
  echo "${dir}/helm"
}

# The system itself on the node: k8s/deploy.sh with the dev overlay and the images loaded
# without a registry, every pod Ready, the black-box suite through the Ingress and again
# through the Gateway API route, then k8s/undeploy.sh --purge leaving nothing.
# The node up, the images imported, k8s/deploy.sh --with-ingress of the dev overlay with the
# stand-ins (OVERLAY), every pod Ready. Sets overlay, version, keys_json.
deploy_system() {
  eval "$(cluster env)"
  local start=$SECONDS s real local_name
  trap 'cluster down; rm -rf "${work}"' EXIT
  cluster down >/dev/null 2>&1 || true
  cluster up
  echo "== node Ready $((SECONDS - start)) s after \`cluster.sh up\`"

  echo "== images into containerd without a registry"
  version="$(sed -n 's/^project(count_system VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
  local services=(count-write-service count-read-service count-management-service
                  count-analysis-service dashboard-provision-service dashboard-update-service)
  local names=()
  for s in "${services[@]}"; do
    podman --runtime runc image exists "${s}:${version}" || IMAGES_REPORT='' scripts/images.sh "${s}"
    # The name the kubelet looks up for NAME:TAG.
    podman --runtime runc tag "${s}:${version}" "docker.io/library/${s}:${version}"
    names+=("docker.io/library/${s}:${version}")
  done
  overlay="${OVERLAY_DIR:-${work}/overlay}"
  mkdir -p "${overlay}"
  cat >"${overlay}/kustomization.yaml" <<YAML
# The dev overlay with the infrastructure stand-ins of scripts/infra-images.sh.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to="${overlay}" overlays/dev)]
# The suite's own setting (tests/blackbox/support.py, base_env): quick SSE heartbeats.
patches:
  - patch: |-
      {apiVersion: v1, kind: ConfigMap, metadata: {name: app-config, namespace: count-system}, data: {sse.heartbeat.seconds: "1"}}
images:
YAML
  while IFS='=' read -r real local_name; do
    names+=("${local_name}")
    # Also under its real name, so that the Jobs an operator creates from k8s/jobs/ by hand
    # (no overlay renders them: postgresql-restore.yaml, rebuild-values.yaml) run as written.
    case "${real}" in
      */*) ;;
      *) podman --runtime runc tag "${local_name}" "docker.io/library/${real}"
         names+=("docker.io/library/${real}") ;;
    esac
    printf '  - {name: %s, newName: %s, newTag: "%s"}\n' "${real%:*}" "${local_name%:*}" \
      "${local_name##*:}" >>"${overlay}/kustomization.yaml"
  done < <(scripts/infra-images.sh)
  podman --runtime runc save -m -q --format docker-archive "${names[@]}" -o "${work}/images.tar"
  ctr --address /run/count-cluster/containerd.sock -n k8s.io images import "${work}/images.tar" >/dev/null
  rm -f "${work}/images.tar"
  echo "   ${#names[@]} images imported"

  echo "== k8s/deploy.sh --overlay (dev + stand-ins) --with-ingress"
  keys_json="$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/blackbox"); import support, json
k = support.Keys(); print(json.dumps({"json": k.api_keys_json(), "writer": k.writer, "reader": k.reader, "admin": k.admin}))')"
  COUNT_API_KEYS="$(printf '%s' "${keys_json}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["json"])')"
  export COUNT_API_KEYS
  start=$SECONDS
  if ! TIMEOUT=600s k8s/deploy.sh --overlay "${overlay}" --with-ingress >"${work}/deploy.log" 2>&1; then
    failed "deploy.sh: $(tail -5 "${work}/deploy.log")"
    kubectl -n "${NS}" get pods -o wide | sed 's/^/     /'
    return 1
  fi
  echo "   every pod Ready, the init Jobs complete: $((SECONDS - start)) s"
  kubectl -n "${NS}" get pods | sed 's/^/   /'
}

# Backup and recovery on the node, as docs/OPERATIONS.md gives them (tests/faults/k8s_backup.py):
# the values rebuilt after Redis lost its volume, a backup run of the CronJob, PostgreSQL's
# volume lost and restored by the restore Job, Redis put back at the run's RDB copy; fails
# when a value, record or dashboard does not come back.
backup_drill() {
  local overlay version keys_json
  deploy_system || return
  echo "== backup and recovery as docs/OPERATIONS.md gives them (tests/faults/k8s_backup.py)"
  if COUNT_EXTERNAL_KEYS="${keys_json}" /usr/bin/python3 tests/faults/k8s_backup.py count-system.local \
      read.count-system.local "${overlay}" >"${work}/backup.json" 2>"${work}/backup.err"; then
    echo "   $(cat "${work}/backup.json")"
  else
    failed "backup drill: $(cat "${work}/backup.json") $(tail -5 "${work}/backup.err")"
  fi
  kubectl -n "${NS}" get jobs | sed 's/^/   /'
  pod_security "the backup drill"
  cluster down
  trap 'rm -rf "${work}"' EXIT
}

# --up: the system left running, its overlay and API keys kept for the operator.
up() {
  local overlay version keys_json
  OVERLAY_DIR=/tmp/e2e-kubernetes-up/overlay
  rm -rf /tmp/e2e-kubernetes-up
  deploy_system || return
  trap 'rm -rf "${work}"' EXIT
  (umask 077 && printf '%s\n' "${keys_json}" >/tmp/e2e-kubernetes-up/keys.json)
  echo "   running: overlay ${overlay}, API keys /tmp/e2e-kubernetes-up/keys.json;" \
    "$(cluster env); scripts/cluster.sh down stops it"
}

deploy_walk() {
  local overlay version keys_json start
  deploy_system || return
  export COUNT_MODE=external COUNT_EXTERNAL_KEYS="${keys_json}"
  local host=count-system.local
  # The whole report of each run is kept in /tmp (printed); its summary is shown here.
  suite() {  # suite NAME READ_HOST [TEST...] (default: all of tests/blackbox)
    local log="/tmp/e2e-kubernetes-$1.log" read_host="$2"
    shift 2
    if COUNT_EXTERNAL_PORTS="write=${host}@80,read=${read_host}@80,management=${host}@80,analysis=${host}@80,provision=${host}@80,live=${host}@80" \
        "${COUNT_TEST_VENV:-/opt/count-test-venv}/bin/python3" -m pytest -q -p no:cacheprovider -rfE \
        "${@:-tests/blackbox}" >"${log}" 2>&1; then
      echo "   $(tail -1 "${log}")"
    else
      grep -E '^(FAILED|ERROR)' "${log}" | sed 's/^/   /'
      failed "the black-box suite through the $1: $(tail -1 "${log}") (report: ${log})"
    fi
  }
  echo "== the black-box suite through the Ingress (Traefik, 127.0.0.1:80)"
  suite ingress "read.${host}"

  echo "== rollout restart of each service, then blue/green, under load through the Ingress"
  if /usr/bin/python3 tests/faults/k8s_rollout.py "${host}" "read.${host}" "${version}" \
      count-write-service count-read-service count-management-service count-analysis-service \
      dashboard-provision-service dashboard-update-service >"${work}/rollout.json" 2>"${work}/rollout.err"; then
    echo "   $(cat "${work}/rollout.json")"
  else
    failed "rollout under load: $(cat "${work}/rollout.json") $(tail -5 "${work}/rollout.err")"
  fi

  echo "== the black-box suite through the Gateway API route (the Ingress removed)"
  kubectl -n "${NS}" delete ingress --all >/dev/null
  kubectl kustomize "${overlay}" | kubectl apply -f - -l 'app.kubernetes.io/component in (gateway)' >/dev/null
  suite gateway "${host}"
  pod_security "deploy.sh, the rollouts and blue/green"

  undeploy() {
    echo "== k8s/undeploy.sh --purge: nothing left"
    k8s/undeploy.sh --overlay "${overlay}" --purge >"${work}/undeploy.log" 2>&1 || failed "undeploy.sh: $(tail -3 "${work}/undeploy.log")"
    if kubectl get namespace "${NS}" >/dev/null 2>&1; then
      failed "namespace ${NS} is left"
    else
      echo "   namespace ${NS} gone"
    fi
  }
  undeploy

  # The Helm flow of docs/DEPLOY.md ("Helm"), hooks on: the infrastructure, the Secrets and
  # the init Jobs from deploy.sh, then the chart (its pre-install hook: the migrate Job
  # under its own ServiceAccount), the suite's one-second SSE heartbeats as above.
  echo "== Helm: k8s/deploy.sh --infrastructure, then helm install --wait (hooks on)"
  local helm
  helm="${HELM:-$(helm_binary)}"
  start=$SECONDS
  if ! TIMEOUT=600s k8s/deploy.sh --overlay "${overlay}" --infrastructure >"${work}/infra.log" 2>&1; then
    failed "deploy.sh --infrastructure: $(tail -5 "${work}/infra.log")"
    return
  fi
  echo "   infrastructure Ready, the init Jobs complete: $((SECONDS - start)) s"
  start=$SECONDS
  if ! "${helm}" install count-system helm/count-system -n "${NS}" -f helm/count-system/ci/values-dev.yaml \
       --set config.live.heartbeatSeconds=1 --wait --timeout 10m >"${work}/helm.log" 2>&1; then
    failed "helm install: $(tail -5 "${work}/helm.log")"
    kubectl -n "${NS}" get pods,jobs | sed 's/^/     /'
    return
  fi
  echo "   helm install --wait: every pod Ready $((SECONDS - start)) s after the command"
  echo "   $("${helm}" -n "${NS}" status count-system | grep -E '^(STATUS|REVISION)' | tr '\n' ' ')"
  echo "   hooks: $(kubectl -n "${NS}" get events --field-selector involvedObject.kind=Job,involvedObject.name=count-migrate \
    -o jsonpath='{range .items[*]}{.reason} {end}')(the migrate Job; it and its ServiceAccount deleted once it succeeded: $(
    kubectl -n "${NS}" get job/count-migrate serviceaccount/count-migrate --ignore-not-found -o name | wc -l) left)"
  kubectl -n "${NS}" get pods | sed 's/^/   /'
  echo "== a smoke subset of the suite through the chart's Ingress"
  suite helm "read.${host}" tests/blackbox/test_auth.py tests/blackbox/test_write.py tests/blackbox/test_read.py \
    tests/blackbox/test_management.py tests/blackbox/test_live.py tests/blackbox/test_pipeline.py \
    tests/blackbox/test_dashboards.py
  pod_security "helm install"
  echo "== helm uninstall: none of the chart's objects left"
  if "${helm}" uninstall count-system -n "${NS}" --wait --timeout 5m >"${work}/uninstall.log" 2>&1; then
    local left
    for _ in $(seq 1 90); do  # pods go after their grace period
      left="$(kubectl -n "${NS}" get all,configmaps,secrets,serviceaccounts,ingresses,networkpolicies,poddisruptionbudgets,jobs \
        -l app.kubernetes.io/managed-by=Helm -o name)"
      [ -z "${left}" ] && break
      sleep 1
    done
    if [ -n "${left}" ]; then
      failed "the chart left: $(printf '%s' "${left}" | tr '\n' ' ')"
    else
      echo "   nothing labelled managed-by=Helm left; $(kubectl -n "${NS}" get pods -o name | wc -l) pods left (the infrastructure's)"
    fi
  else
    failed "helm uninstall: $(tail -3 "${work}/uninstall.log")"
  fi
  undeploy
  cluster down
  trap 'rm -rf "${work}"' EXIT
}

case "${1:-}" in
  --server-side) [ -d "${2:-}" ] || usage; server_side "$2" ;;
  --node) node ;;
  --deploy) deploy_walk ;;
  --up) up ;;
  --backup-drill) backup_drill ;;
  *) usage ;;
esac
if [ "${failures}" -gt 0 ]; then
  echo "e2e-kubernetes ${1}: ${failures} failure(s)"
  exit 1
fi
echo "e2e-kubernetes ${1}: everything passed"
