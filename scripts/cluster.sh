#!/usr/bin/env bash
# A single-node Kubernetes on this machine, from pinned upstream releases built from
# source (the Go module proxy), for scripts/e2e-kubernetes.sh (--server-side, run by
# scripts/check-deploy.sh; --node). docs/DEPLOY.md, "A real cluster here".
#
#   scripts/cluster.sh build [control-plane|ingress]
#                                             build the binaries into the cache (once);
#                                             ingress: Traefik only (the node includes it)
#   scripts/cluster.sh up [control-plane]     start etcd and kube-apiserver (control-plane),
#                                             or the whole node (default)
#   scripts/cluster.sh down                   stop every process it started, by PID
#   scripts/cluster.sh status                 what runs; `kubectl get --raw /readyz`
#   scripts/cluster.sh env                    prints KUBECONFIG=… and PATH=… to eval
#
# Binaries: ${COUNT_CLUSTER_CACHE:-/var/cache/count-cluster}/bin, with the Go build
# cache beside them, so a warm machine builds nothing. Every Go build runs under
# `nice -n 15` (the machine is shared). Cluster state (certificates, etcd data, logs,
# PIDs, the kubeconfig): ${COUNT_CLUSTER_STATE:-/var/lib/count-cluster}. The control
# plane listens on 127.0.0.1, the kubelet and CoreDNS on the pod bridge's gateway; nothing
# is reachable from outside this machine. Scripts always pass KUBECONFIG: a bare kubectl
# talks to localhost:8080.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"

K8S_VERSION=1.34.4
ETCD_VERSION=v3.5.35
CACHE="${COUNT_CLUSTER_CACHE:-/var/cache/count-cluster}"
STATE="${COUNT_CLUSTER_STATE:-/var/lib/count-cluster}"
BIN="${CACHE}/bin"
API_PORT="${COUNT_CLUSTER_API_PORT:-16443}"
ETCD_PORT="${COUNT_CLUSTER_ETCD_PORT:-12379}"
SERVICE_CIDR=10.96.0.0/16
# The pod network: one Linux bridge on this machine (CNI bridge + host-local); a pod has
# routes to the pods and, through the gateway (kube-proxy's rules), to the Services: none out.
POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
BRIDGE=count0
NODE_NAME=count-node
KUBELET_PORT=11250
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
RUNTIME_SOCK=/run/count-cluster/containerd.sock
COREDNS_VERSION=v1.12.4
# The Ingress and Gateway API controller (runs on this machine, like CoreDNS): the newest
# release the Go module proxy serves whole (v3.7 replaces a module it does not publish).
TRAEFIK_VERSION=v3.6.12
CONTROL_PLANE=(etcd kube-apiserver kubectl)
NODE=(kube-controller-manager kube-scheduler kubelet kube-proxy coredns)

export GOCACHE="${CACHE}/go-build" GOMODCACHE="${CACHE}/go-mod" GOFLAGS=-buildvcs=false
export GOWORK=off
export KUBECONFIG="${STATE}/admin.kubeconfig"

log() { echo "cluster: $*" >&2; }

# ---- build ------------------------------------------------------------------------------
module_dir() {
  (cd "${CACHE}" && go mod download -json "$1" \
     | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')
}

# A module's source, writable, with its replace directives that point into its own
# repository (module zips leave those directories out) pointed at the published modules of
# the same release instead: $2 is a sed expression doing that.
module_source() {
  local module="$1" rewrite="$2" dir="${CACHE}/src/${1//\//_}"
  if [ ! -f "${dir}/.ready" ]; then
    rm -rf "${dir}"
    mkdir -p "${CACHE}/src"
    cp -r "$(module_dir "${module}")" "${dir}"
    chmod -R u+w "${dir}"
    sed -E -i "${rewrite}" "${dir}/go.mod"
    touch "${dir}/.ready"
  fi
  echo "${dir}"
}

go_build() {  # DIR OUT PACKAGE [ldflags]
  log "building $(basename "$2") (nice -n 15 go build, once)"
  local start=$SECONDS
  (cd "$1" && CGO_ENABLED="${CGO:-0}" GOFLAGS="${GOFLAGS} -mod=mod" \
     nice -n 15 go build -trimpath -ldflags "-s -w ${4:-}" -o "$2.tmp" "$3")
  mv "$2.tmp" "$2"
  log "built $(basename "$2") in $((SECONDS - start)) s"
}

build() {
  local want=("${CONTROL_PLANE[@]}") c dir
  [ "${1:-}" = control-plane ] || want+=("${NODE[@]}")
  mkdir -p "${BIN}"
  # shellcheck source=scripts/lib/go-toolchain.sh
  GO_MIN_MINOR=26 GO_TOOLCHAIN_DIR="${CACHE}" source "${ROOT_DIR}/scripts/lib/go-toolchain.sh"
  if [ "${1:-}" != control-plane ] && [ ! -x "${BIN}/traefik" ]; then
    dir="$(module_source "github.com/traefik/traefik/v3@${TRAEFIK_VERSION}" '/=> \.\.?\//d')"
    go_build "${dir}" "${BIN}/traefik" ./cmd/traefik
  fi
  [ "${1:-}" != ingress ] || return 0
  if [ ! -x "${BIN}/etcd" ]; then
    # server/go.mod replaces its sibling modules (../api, ...) that it also requires at
    # this release: the replaces go, the requirements stay.
    dir="$(module_source "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" '/=> \.\.?\//d')"
    go_build "${dir}" "${BIN}/etcd" .
  fi
  local minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  local ldflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  if [[ " ${want[*]} " == *" coredns "* ]] && [ ! -x "${BIN}/coredns" ]; then
    dir="$(module_source "github.com/coredns/coredns@${COREDNS_VERSION}" '/=> \.\.?\//d')"
    go_build "${dir}" "${BIN}/coredns" .
  fi
  for c in "${want[@]}"; do
    case "$c" in etcd|coredns) continue ;; esac
    [ -x "${BIN}/$c" ] && continue
    # k8s.io/kubernetes replaces k8s.io/<x> by ./staging/src/k8s.io/<x>: the published
    # k8s.io/<x> v0.<minor>.<patch> is that same directory of the same release.
    dir="$(module_source "k8s.io/kubernetes@v${K8S_VERSION}" \
      "s#=> \./staging/src/(k8s\.io/[A-Za-z0-9._-]+)#=> \1 v0.${K8S_VERSION#*.}#")"
    # kubelet uses cgo (as upstream builds it); the rest are static.
    CGO=0
    [ "$c" = kubelet ] && CGO=1
    CGO=${CGO} go_build "${dir}" "${BIN}/$c" "./cmd/$c" "${ldflags}"
  done
}

# ---- certificates and kubeconfigs (openssl) ---------------------------------------------
PKI="${STATE}/pki"

# cert NAME SUBJECT [SAN]: a key and a certificate signed by the cluster's CA.
cert() {
  [ -f "${PKI}/$1.crt" ] && return
  local ext="${PKI}/$1.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' \
    "${3:+serverAuth,}clientAuth" >"${ext}"
  [ -z "${3:-}" ] || echo "subjectAltName=$3" >>"${ext}"
  openssl req -new -newkey rsa:2048 -nodes -keyout "${PKI}/$1.key" -subj "$2" -out "${PKI}/$1.csr" 2>/dev/null
  openssl x509 -req -in "${PKI}/$1.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "${ext}" -out "${PKI}/$1.crt" 2>/dev/null
  rm -f "${PKI}/$1.csr" "${ext}"
}

# kubeconfig NAME: ${STATE}/NAME.kubeconfig with the client certificate NAME.
kubeconfig() {
  local file="${STATE}/$1.kubeconfig"
  [ -f "${file}" ] && return
  cat >"${file}" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: count
    cluster:
      server: https://127.0.0.1:${API_PORT}
      certificate-authority: ${PKI}/ca.crt
users:
  - name: $1
    user:
      client-certificate: ${PKI}/$1.crt
      client-key: ${PKI}/$1.key
contexts:
  - name: count
    context: {cluster: count, user: $1}
current-context: count
YAML
}

pki() {
  mkdir -p "${PKI}"
  chmod 700 "${PKI}"
  if [ ! -f "${PKI}/ca.crt" ]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "${PKI}/ca.key" -subj "/CN=count-cluster-ca" \
      -days 3650 -sha256 -out "${PKI}/ca.crt" 2>/dev/null
  fi
  [ -f "${PKI}/sa.key" ] || openssl genrsa -out "${PKI}/sa.key" 2048 2>/dev/null
  [ -f "${PKI}/sa.pub" ] || openssl rsa -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null
  cert kube-apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:${SERVICE_CIDR%.0/*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=count-cluster-admin"
  cert kube-apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  kubeconfig admin
  cert kube-controller-manager "/CN=system:kube-controller-manager"
  cert kube-scheduler "/CN=system:kube-scheduler"
  cert kube-proxy "/CN=system:kube-proxy"
  cert kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}" "IP:${POD_GATEWAY},IP:127.0.0.1,DNS:${NODE_NAME}"
  cert coredns "/CN=system:count-coredns"
  cert traefik "/CN=system:count-traefik"
  local c
  for c in kube-controller-manager kube-scheduler kube-proxy kubelet coredns traefik; do kubeconfig "$c"; done
}

# ---- processes --------------------------------------------------------------------------
RUN="${STATE}/run"

# The program NAME: built here (BIN) or from a Debian package (containerd).
program() { if [ -x "${BIN}/$1" ]; then echo "${BIN}/$1"; else command -v "$1"; fi; }

running() {  # NAME: its PID file names a live process of that program
  local pid
  pid="$(cat "${RUN}/$1.pid" 2>/dev/null)" || return 1
  [ -n "${pid}" ] && [ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" = "$(readlink -f "$(program "$1")")" ]
}

start() {  # NAME ARGS...: runs BIN/NAME in the background, its log and PID under STATE
  local name="$1"; shift
  if running "${name}"; then log "${name} already runs (pid $(cat "${RUN}/${name}.pid"))"; return; fi
  mkdir -p "${RUN}" "${STATE}/log"
  setsid "$(program "${name}")" "$@" >>"${STATE}/log/${name}.log" 2>&1 </dev/null &
  echo $! >"${RUN}/${name}.pid"
  log "${name} started (pid $!, log ${STATE}/log/${name}.log)"
}

stop() {  # NAME: SIGTERM to its PID, SIGKILL after 20 s
  local pid
  if running "$1"; then
    pid="$(cat "${RUN}/$1.pid")"
    kill -TERM "${pid}"
    for _ in $(seq 1 40); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.5; done
    kill -0 "${pid}" 2>/dev/null && kill -KILL "${pid}"
    log "$1 stopped (pid ${pid})"
  fi
  rm -f "${RUN}/$1.pid"
}

wait_for() {  # WHAT SECONDS COMMAND...
  local what="$1" seconds="$2"; shift 2
  for _ in $(seq 1 "${seconds}"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "${what} not ready after ${seconds} s"
  return 1
}

up_control_plane() {
  pki
  start etcd --name count --data-dir "${STATE}/etcd" \
    --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "count=http://127.0.0.1:$((ETCD_PORT + 1))" --quota-backend-bytes 2147483648
  wait_for etcd 60 curl -fsS "http://127.0.0.1:${ETCD_PORT}/health"
  start kube-apiserver --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${API_PORT}" \
    --etcd-servers "http://127.0.0.1:${ETCD_PORT}" --service-cluster-ip-range "${SERVICE_CIDR}" \
    --tls-cert-file "${PKI}/kube-apiserver.crt" --tls-private-key-file "${PKI}/kube-apiserver.key" \
    --client-ca-file "${PKI}/ca.crt" --authorization-mode Node,RBAC \
    --kubelet-preferred-address-types InternalIP \
    --enable-admission-plugins NodeRestriction \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${PKI}/sa.pub" --service-account-signing-key-file "${PKI}/sa.key" \
    --kubelet-client-certificate "${PKI}/kube-apiserver-kubelet-client.crt" \
    --kubelet-client-key "${PKI}/kube-apiserver-kubelet-client.key" \
    --allow-privileged=true --cert-dir "${PKI}" --profiling=false
  wait_for kube-apiserver 180 "${BIN}/kubectl" get --raw /readyz
  log "control plane ready: KUBECONFIG=${KUBECONFIG}"
}

# ---- the node ----------------------------------------------------------------------------
node_packages() {
  local need=() p
  for p in containerd:containerd runc:runc iptables:iptables conntrack:conntrack podman:podman; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
  done
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
}

node_config() {
  local d="${STATE}/config"
  mkdir -p "${d}/cni" /run/count-cluster
  # containerd of its own (socket, root, state), CRI on, runc, Debian's CNI plugins.
  cat >"${d}/containerd.toml" <<TOML
version = 2
root = "${STATE}/containerd"
state = "/run/count-cluster/containerd"
[grpc]
  address = "${RUNTIME_SOCK}"
[ttrpc]
  address = "${RUNTIME_SOCK}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  enable_unprivileged_ports = false
  # This machine gives root no CAP_SYS_RESOURCE: no process may go below containerd's own
  # OOM score (0), where the kubelet asks -998 for the pause container.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${d}/cni"
TOML
  cat >"${d}/cni/10-count.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "count",
 "plugins": [
  {"type": "bridge", "bridge": "${BRIDGE}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${POD_GATEWAY}"}]],
            "routes": [{"dst": "${SERVICE_CIDR}"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  cat >"${d}/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The node's address is the pod bridge's gateway (a node IP may not be loopback): the API
# server reaches the kubelet there (logs, exec), on this machine.
address: ${POD_GATEWAY}
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((KUBELET_PORT - 2))
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI}/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: ${PKI}/kubelet.crt
tlsPrivateKeyFile: ${PKI}/kubelet.key
containerRuntimeEndpoint: unix://${RUNTIME_SOCK}
cgroupDriver: cgroupfs
# This machine runs cgroup v1: kubelet 1.34 still accepts it when told to.
failCgroupV1: false
failSwapOn: false
clusterDNS: [${POD_GATEWAY}]
clusterDomain: cluster.local
resolvConf: ${d}/resolv.conf
podCIDR: ${POD_CIDR}
serializeImagePulls: false
# The disk is shared with other work: no eviction for its use, images are never collected.
evictionHard: {memory.available: 200Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
  # Upstream for names outside the cluster: none (no traffic leaves this machine).
  : >"${d}/resolv.conf"
  cat >"${d}/Corefile" <<COREFILE
.:53 {
    bind ${POD_GATEWAY}
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${STATE}/coredns.kubeconfig count
        pods insecure
        ttl 5
    }
    cache 5
}
COREFILE
}

# The pause image (the pod sandbox), built from Kubernetes' own pause.c of this release,
# imported into containerd's k8s.io namespace under its upstream name.
pause_image() {
  local ctr=(ctr --address "${RUNTIME_SOCK}" -n k8s.io) dir
  "${ctr[@]}" images ls -q | grep -qx "${PAUSE_IMAGE}" && return
  dir="$(mktemp -d)"
  local src="${CACHE}/src/k8s.io_kubernetes@v${K8S_VERSION}/build/pause/linux/pause.c"
  gcc -Os -static -DVERSION="${PAUSE_IMAGE##*:}" -o "${dir}/pause" "${src}"
  strip "${dir}/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"${dir}/Containerfile"
  podman --runtime runc build --pull=never --network none -q -t "${PAUSE_IMAGE}" "${dir}" >/dev/null
  podman save -q --format docker-archive "${PAUSE_IMAGE}" -o "${dir}/pause.tar"
  "${ctr[@]}" images import "${dir}/pause.tar" >/dev/null
  rm -rf "${dir}"
  log "pause image ${PAUSE_IMAGE} built from pause.c and imported"
}

up_node() {
  node_packages
  node_config
  touch "${STATE}/node.up"
  local d="${STATE}/config"
  # Bridged pod traffic through iptables (Services), and forwarding between pods and the
  # host; the values before are put back by `down`.
  if [ ! -f "${STATE}/sysctl.saved" ]; then
    sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>/dev/null >"${STATE}/sysctl.saved" || true
  fi
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  # The bridge with its gateway address now, so that CoreDNS can listen there before the
  # first pod (the CNI bridge plugin takes it over as it is).
  if ! ip link show "${BRIDGE}" >/dev/null 2>&1; then
    ip link add "${BRIDGE}" type bridge
    ip addr add "${POD_GATEWAY}/${POD_CIDR#*/}" dev "${BRIDGE}"
  fi
  ip link set "${BRIDGE}" up
  start containerd --config "${d}/containerd.toml"
  wait_for containerd 30 ctr --address "${RUNTIME_SOCK}" version
  pause_image
  start kube-controller-manager --kubeconfig "${STATE}/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "${STATE}/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "${STATE}/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10357 --leader-elect=false \
    --service-account-private-key-file "${PKI}/sa.key" --root-ca-file "${PKI}/ca.crt" \
    --use-service-account-credentials --service-cluster-ip-range "${SERVICE_CIDR}" \
    --cluster-signing-cert-file "${PKI}/ca.crt" --cluster-signing-key-file "${PKI}/ca.key" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle' --profiling=false
  start kube-scheduler --kubeconfig "${STATE}/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "${STATE}/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "${STATE}/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10359 --leader-elect=false --profiling=false
  start kubelet --config "${d}/kubelet.yaml" --kubeconfig "${STATE}/kubelet.kubeconfig" \
    --hostname-override "${NODE_NAME}" --node-ip "${POD_GATEWAY}" --root-dir "${STATE}/kubelet" \
    --cert-dir "${PKI}/kubelet-certs"
  start kube-proxy --kubeconfig "${STATE}/kube-proxy.kubeconfig" --hostname-override "${NODE_NAME}" \
    --proxy-mode iptables --cluster-cidr "${POD_CIDR}" --bind-address 127.0.0.1 \
    --metrics-bind-address 127.0.0.1:10349 --healthz-bind-address 127.0.0.1:10356 \
    --conntrack-max-per-core 0
  "${BIN}/kubectl" apply -f - >/dev/null <<YAML
# CoreDNS (on this machine, not a pod) reads Services and EndpointSlices.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: count-coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:count-coredns}]
YAML
  start coredns -conf "${d}/Corefile"
  ingress_controller
  wait_for "node ${NODE_NAME}" 180 "${BIN}/kubectl" wait --for=condition=Ready "node/${NODE_NAME}" --timeout=1s
  volumes
  log "node ${NODE_NAME} ready"
}

# Traefik, on this machine like CoreDNS, as the cluster's Ingress and Gateway API
# controller: the IngressClass and GatewayClass "nginx" that the manifests name (as on
# minikube) are Traefik's here, so k8s/ingress/ is exercised as written. It listens on
# 127.0.0.1:80, the Gateway's listener port, and reaches the pods on the bridge. The
# Gateway API CRDs are those of the release Traefik is built against.
INGRESS_PORT=80
ingress_controller() {
  local gateway_api crds
  gateway_api="$(sed -n 's/^[[:space:]]*sigs.k8s.io\/gateway-api \(v[0-9.]*\)$/\1/p' \
    "${CACHE}/src/github.com_traefik_traefik_v3@${TRAEFIK_VERSION}/go.mod")"
  crds="$(module_dir "sigs.k8s.io/gateway-api@${gateway_api}")/config/crd/standard"
  "${BIN}/kubectl" apply --server-side -f "${crds}" >/dev/null
  "${BIN}/kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null
  "${BIN}/kubectl" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: count-traefik}
rules:
  - apiGroups: [""]
    resources: [services, endpoints, secrets, configmaps, namespaces, nodes]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses, ingressclasses]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses/status]
    verbs: [update, patch]
  - apiGroups: [gateway.networking.k8s.io]
    resources: ["*"]
    verbs: [get, list, watch, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: count-traefik}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: count-traefik}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:count-traefik}]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nginx}
spec: {controllerName: traefik.io/gateway-controller}
YAML
  KUBECONFIG="${STATE}/traefik.kubeconfig" start traefik \
    --entryPoints.web.address="127.0.0.1:${INGRESS_PORT}" \
    --providers.kubernetesIngress=true --providers.kubernetesGateway=true \
    --ping=true --ping.entryPoint=web --log.level=INFO --global.checkNewVersion=false \
    --global.sendAnonymousUsage=false
}

# The StorageClass "standard" (the manifests' PVCs name it, as minikube's does): local
# PersistentVolumes on this node, directories under STATE, made ahead (no provisioner is
# needed); `local` volumes, unlike hostPath, get the pod's fsGroup.
VOLUMES=12
volumes() {
  local i yaml=""
  for i in $(seq 1 "${VOLUMES}"); do
    mkdir -p "${STATE}/volumes/pv${i}"
    yaml+="---
apiVersion: v1
kind: PersistentVolume
metadata: {name: count-local-${i}}
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  local: {path: ${STATE}/volumes/pv${i}}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${NODE_NAME}]}]}]
"
  done
  "${BIN}/kubectl" apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
${yaml}
YAML
}

up() {
  build "${1:-}"
  local start_time=$SECONDS
  up_control_plane
  [ "${1:-}" = control-plane ] || up_node
  log "up in $((SECONDS - start_time)) s"
}

# kube-proxy's and the kubelet's iptables chains (KUBE-*), and the jumps into them.
iptables_cleanup() {
  local cmd t rule chain
  for cmd in iptables ip6tables; do
    command -v "${cmd}" >/dev/null || continue
    for t in filter nat mangle; do
      { "${cmd}" -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' || true; } | sed 's/^-A/-D/' \
        | while read -r rule; do eval "${cmd} -t $t ${rule}"; done
      for chain in $("${cmd}" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/ { print $2 }'); do "${cmd}" -t "$t" -F "${chain}"; done
      for chain in $("${cmd}" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/ { print $2 }'); do "${cmd}" -t "$t" -X "${chain}"; done
    done
  done
}

down() {
  local c
  # Pods first, while the kubelet and containerd still run: every container stopped.
  if running kubelet && running kube-apiserver; then
    "${BIN}/kubectl" delete namespace --all --wait=false >/dev/null 2>&1 || true
  fi
  for c in traefik coredns kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$c"; done
  if running containerd; then
    local ctr=(ctr --address "${RUNTIME_SOCK}" -n k8s.io) t
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks delete "$t" >/dev/null 2>&1 || true; done
    for t in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers delete "$t" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  # What the node changed on this machine, only if this state's node ran (a control-plane
  # cluster beside a node must not take the node's bridge or rules with it): leftover pod
  # network namespaces, the bridge, the KUBE-* rules, the sysctls, mounts left by pods.
  if [ -f "${STATE}/node.up" ]; then
    local netns m
    for netns in /run/netns/cni-*; do
      if [ -e "${netns}" ]; then ip netns delete "$(basename "${netns}")" || true; fi
    done
    if ip link show "${BRIDGE}" >/dev/null 2>&1; then ip link delete "${BRIDGE}"; fi
    iptables_cleanup
    if [ -f "${STATE}/sysctl.saved" ]; then
      mapfile -t saved <"${STATE}/sysctl.saved"
      sysctl -qw "net.ipv4.ip_forward=${saved[0]:-0}"
      if [ -n "${saved[1]:-}" ]; then sysctl -qw "net.bridge.bridge-nf-call-iptables=${saved[1]}"; fi
      rm -f "${STATE}/sysctl.saved"
    fi
    # Deepest first: secrets, emptyDirs, container root file systems.
    for m in $(findmnt -rn -o TARGET | grep -E "^(${STATE}|/run/count-cluster)/" | sort -r || true); do
      umount "${m}" 2>/dev/null || umount -l "${m}" || true
    done
    rm -f "${STATE}/node.up"
  fi
  # The cluster is a test fixture: its data goes with it (certificates and images stay).
  rm -rf "${STATE}/etcd" "${STATE}/kubelet" "${STATE}/volumes"
}

status() {
  local c rc=0
  for c in etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet kube-proxy coredns traefik; do
    if running "$c"; then echo "$c: running (pid $(cat "${RUN}/$c.pid"))"; else echo "$c: stopped"; fi
  done
  if running kube-apiserver; then
    echo "readyz: $("${BIN}/kubectl" get --raw /readyz 2>&1)" || rc=1
    "${BIN}/kubectl" get nodes 2>/dev/null || true
  else
    rc=1
  fi
  return "${rc}"
}

case "${1:-}" in
  build) shift; build "$@" ;;
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  env) echo "export KUBECONFIG=${KUBECONFIG} PATH=${BIN}:\${PATH}" ;;
  *) echo "usage: $0 build|up|down|status|env [control-plane]" >&2; exit 2 ;;
esac
