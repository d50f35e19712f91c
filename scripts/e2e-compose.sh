#!/usr/bin/env bash
# compose.yaml on a real container engine (docs/DEPLOY.md, "Compose for real"): Docker
# Engine and docker-compose from Debian's packages, on a daemon of its own.
#
#   scripts/e2e-compose.sh
#
# 1. the service images (scripts/images.sh) and the infrastructure stand-ins
#    (scripts/infra-images.sh) are built with podman and loaded into the daemon;
# 2. `docker-compose up -d`: the health checks gate the start order (PostgreSQL → init and
#    migrations → the services; Redis → replica; ZooKeeper → Kafka → topic → writers);
# 3. every service answers /health/ready on its published port;
# 4. the black-box suite runs against the stack (COUNT_MODE=external);
# 5. `docker-compose down -v` leaves no container, volume or network of the project.
#
# Why Docker rather than podman-compose: Debian 12's podman-compose (1.0.3) starts the
# services in order but does not wait for `condition: service_healthy` or
# `service_completed_successfully`, which is the start order compose.yaml promises;
# docker-compose 1.29 does. The daemon runs with its own data and socket, without iptables
# rules (the compose network is a bridge, the published ports go through docker-proxy), and
# is stopped by PID at the end.
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
cd "${ROOT_DIR}"

if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io docker-compose
fi

state="${COUNT_COMPOSE_STATE:-/var/lib/count-compose}"
mkdir -p "${state}"
export DOCKER_HOST="unix://${state}/docker.sock"
project=count-e2e
work="$(mktemp -d)"
daemon=""
cleanup() {
  if [ -n "${daemon}" ]; then
    docker-compose -p "${project}" -f compose.yaml down -v --remove-orphans >/dev/null 2>&1 || true
    kill "${daemon}" 2>/dev/null || true
    wait "${daemon}" 2>/dev/null || true
  fi
  rm -rf "${work}"
}
trap cleanup EXIT

echo "== 1. images"
version="$(sed -n 's/^project(count_system VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
services=(count-write-service count-read-service count-management-service count-analysis-service
          dashboard-provision-service dashboard-update-service)
for s in "${services[@]}"; do
  podman --runtime runc image exists "${s}:${version}" || IMAGES_REPORT='' scripts/images.sh "${s}"
done
scripts/infra-images.sh >"${work}/infra"
declare -A infra
while IFS='=' read -r real local; do infra["${real}"]="${local}"; done <"${work}/infra"

# A daemon a killed run left behind (its pid file would stop the new one).
if [ -f "${state}/docker.pid" ] && kill "$(cat "${state}/docker.pid")" 2>/dev/null; then
  for _ in $(seq 1 40); do [ -e "${state}/docker.pid" ] || break; sleep 0.5; done
fi
dockerd --data-root "${state}/root" --exec-root "${state}/exec" --pidfile "${state}/docker.pid" \
  -H "${DOCKER_HOST}" --iptables=false --bridge=none >"${state}/dockerd.log" 2>&1 &
daemon=$!
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null
podman --runtime runc save -m --format docker-archive \
  "${services[@]/%/:${version}}" "${infra[@]}" | docker load -q >/dev/null
for s in "${services[@]}"; do docker tag "localhost/${s}:${version}" "${s}:${version}"; done

echo "== 2. docker-compose up (docker-compose $(docker-compose version --short), Docker $(docker version -f '{{.Server.Version}}'))"
keys_json="$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/blackbox"); import support, json
k = support.Keys(); print(json.dumps({"json": k.api_keys_json(), "writer": k.writer, "reader": k.reader, "admin": k.admin}))')"
COUNT_API_KEYS="$(printf '%s' "${keys_json}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["json"])')"
STREAM_TOKEN_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export COUNT_API_KEYS STREAM_TOKEN_SECRET VERSION="${version}"
export POSTGRES_IMAGE="${infra[postgres:15-alpine]}" REDIS_IMAGE="${infra[redis:7-alpine]}"
export ZOOKEEPER_IMAGE="${infra[confluentinc/cp-zookeeper:7.7.1]}"
export KAFKA_IMAGE="${infra[confluentinc/cp-kafka:7.7.1]}"
# compose.yaml asks 65536 open files for the SSE service; a container cannot get more than
# the engine's own hard limit, which may be lower on a small machine (20000 here).
compose=(docker-compose -p "${project}" -f compose.yaml)
hard="$(ulimit -Hn)"
if [ "${hard}" != unlimited ] && [ "${hard}" -lt 65536 ]; then
  printf 'services:\n  dashboard-update-service:\n    ulimits:\n      nofile: {soft: %s, hard: %s}\n' \
    "${hard}" "${hard}" >"${work}/nofile.yaml"
  compose+=(-f "${work}/nofile.yaml")
  echo "   open files of dashboard-update-service: ${hard} (this engine's hard limit)"
fi
# The settings the suite gives the processes it starts itself (tests/blackbox/support.py,
# base_env): the debug endpoints it tests, its environment name, quick SSE heartbeats.
{
  echo "services:"
  for s in "${services[@]}"; do
    printf '  %s:\n    environment:\n      APP_ENV: test\n      ENABLE_DEBUG_ENDPOINTS: "true"\n      SSE_HEARTBEAT_SECONDS: "1"\n' "$s"
  done
} >"${work}/suite.yaml"
compose+=(-f "${work}/suite.yaml")
start=$(date +%s)
"${compose[@]}" up -d 2>&1 | sed 's/^/   /'

echo "== 3. every service ready"
ports=(write=3000 read=3001 management=3002 analysis=3003 provision=3004 live=3005)
for entry in "${ports[@]}"; do
  port="${entry#*=}"
  ok=no
  for _ in $(seq 1 120); do
    if curl -fs -o /dev/null "http://127.0.0.1:${port}/health/ready"; then ok=yes; break; fi
    sleep 1
  done
  [ "${ok}" = yes ] || { echo "   FAIL ${entry%%=*} (port ${port}) not ready"; "${compose[@]}" ps; exit 1; }
done
echo "   all ready $(( $(date +%s) - start )) s after docker-compose up"
"${compose[@]}" ps | sed 's/^/   /'

echo "== 4. black-box suite against the stack"
COUNT_EXTERNAL_PORTS="$(IFS=,; echo "${ports[*]}")"
export COUNT_MODE=external COUNT_EXTERNAL_PORTS COUNT_EXTERNAL_KEYS="${keys_json}"
# The test venv (scripts/setup.sh --test): Debian's pytest plus openapi-spec-validator.
[ -x "${COUNT_TEST_VENV:-/opt/count-test-venv}/bin/python3" ] || scripts/setup.sh --test
"${COUNT_TEST_VENV:-/opt/count-test-venv}/bin/python3" -m pytest -q -p no:cacheprovider tests/blackbox "$@"

echo "== 5. docker-compose down -v"
"${compose[@]}" down -v --remove-orphans 2>&1 | sed 's/^/   /'
left="$(docker ps -aq --filter "label=com.docker.compose.project=${project}")$(docker volume ls -q --filter "label=com.docker.compose.project=${project}")$(docker network ls -q --filter "label=com.docker.compose.project=${project}")"
[ -z "${left}" ] || { echo "   FAIL left behind: ${left}"; exit 1; }
echo "   nothing of ${project} left"
