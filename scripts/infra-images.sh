#!/usr/bin/env bash
# Builds the infrastructure images k8s/ and compose.yaml use, from Debian 12 packages and
# the Maven jars of Kafka (infra/*/Dockerfile), for machines that reach no image registry:
#
#   postgres:15-alpine             → count-infra-postgres:15
#   redis:7-alpine                 → count-infra-redis:7
#   confluentinc/cp-zookeeper:7.7.1 → count-infra-zookeeper:<kafka version>
#   confluentinc/cp-kafka:7.7.1    → count-infra-kafka:<kafka version>
#
# The manifests keep the real names; scripts/e2e-compose.sh and overlays/local-images
# point them at these. Each image keeps the interface the manifests use (environment,
# user id, commands, health checks): see the comment at the top of each Dockerfile.
#
#   scripts/infra-images.sh          prints, last, one "real-name=local-name" line per image
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/images.sh --base >&2  # debian:bookworm-slim, made with debootstrap
podman=(podman --runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
build() {  # build CONTEXT TAG [podman build options...]
  local context="$1" tag="$2"
  shift 2
  echo "== build $tag" >&2
  "${podman[@]}" build --pull=never --network host "${limits[@]}" --format docker "$@" \
    -t "$tag" "$context" >"/tmp/infra-${tag%%:*}.log" 2>&1 \
    || { tail -30 "/tmp/infra-${tag%%:*}.log" >&2; exit 1; }
}

build infra count-infra-postgres:15 -f infra/postgres/Dockerfile
build infra count-infra-redis:7 -f infra/redis/Dockerfile

# The Kafka context: the Dockerfile, its scripts and the jars scripts/kafka.sh resolved.
libs="$(scripts/kafka.sh --tools)"
kafka_version="$(basename "$(dirname "$libs")")"
kafka_version="${kafka_version#kafka-}"
kafka_version="${kafka_version%-tools}"
context="$(mktemp -d)"
trap 'rm -rf "${context}"' EXIT
cp -r infra/kafka/. "${context}/"
cp -r "${libs}" "${context}/libs"
rm -f "${context}/libs/.complete"
build "${context}" "count-infra-zookeeper:${kafka_version}" --target zookeeper
build "${context}" "count-infra-kafka:${kafka_version}" --target kafka

echo "postgres:15-alpine=localhost/count-infra-postgres:15"
echo "redis:7-alpine=localhost/count-infra-redis:7"
echo "confluentinc/cp-zookeeper:7.7.1=localhost/count-infra-zookeeper:${kafka_version}"
echo "confluentinc/cp-kafka:7.7.1=localhost/count-infra-kafka:${kafka_version}"
