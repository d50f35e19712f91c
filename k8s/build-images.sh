#!/usr/bin/env bash
# Builds the image of every service (seed 004) with the repository root as build context.
#
#   REGISTRY=registry.example/count/ VERSION=0.2.0 k8s/build-images.sh [SERVICE...]
#
# REGISTRY is a prefix (empty: local images, e.g. for minikube: `eval $(minikube docker-env)`
# first); VERSION defaults to the project version (CMakeLists.txt), the tag k8s/ deploys
# (app.version). ENGINE is docker, else podman. All images share one builder stage (the
# common modules and every binary), so the first build compiles and the others reuse it.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(dirname "${SCRIPT_DIR}")"
REGISTRY="${REGISTRY:-}"
VERSION="${VERSION:-$(sed -n 's/^project(count_system VERSION \([0-9.]*\).*/\1/p' "${ROOT_DIR}/CMakeLists.txt")}"
ENGINE="${ENGINE:-$(command -v docker >/dev/null && echo docker || echo podman)}"

# podman's default (OCI) image format has no HEALTHCHECK.
format=()
if [ "${ENGINE}" = podman ]; then format=(--format docker); fi

build_image() {
  local service=$1
  local image_name="${REGISTRY}${service}:${VERSION}"
  echo "Building ${image_name}..."
  "${ENGINE}" build "${format[@]}" -f "${ROOT_DIR}/${service}/Dockerfile" -t "${image_name}" "${ROOT_DIR}"
}

if [ $# -gt 0 ]; then
  services=("$@")
else
  services=(count-write-service count-read-service count-management-service count-analysis-service
            dashboard-provision-service dashboard-update-service count-system)
fi
for service in "${services[@]}"; do
  build_image "${service}"
done
echo "Built ${#services[@]} image(s), tag ${VERSION}."
