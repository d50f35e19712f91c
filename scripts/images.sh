#!/usr/bin/env bash
# Builds every image and proves each one: it runs as a non-root user, passes its own
# HEALTHCHECK, and exits 0 on SIGTERM. Image sizes go to docs/IMAGES.md.
#
#   scripts/images.sh [SERVICE...]     default: every <dir>/Dockerfile of the repository
#   scripts/images.sh --base           only the base image (scripts/e2e-kubernetes.sh)
#
# No Docker engine is needed: podman builds from a Debian 12 base made here with
# debootstrap (minbase) and imported as debian:bookworm-slim, so nothing is pulled from
# an image registry. The first image compiles every binary (the shared builder stage,
# several minutes on 2 cores, or well under one when the host's compiler cache, mounted into
# it, holds what scripts/build.sh release compiled); the others reuse that stage from
# podman's cache.
# Environment: VERSION (default: the project version in CMakeLists.txt); IMAGES_REPORT
# (default docs/IMAGES.md; empty: print only, as the test command does).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in podman debootstrap runc; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman debootstrap runc uidmap fuse-overlayfs slirp4netns containernetworking-plugins
fi

# runc and explicit limits: what works in this CI's containers (crun and the default
# ulimits of podman do not).
podman=(podman --runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
version="${VERSION:-$(sed -n 's/^project(count_system VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}"

if ! "${podman[@]}" image exists debian:bookworm-slim; then
  echo "== base image debian:bookworm-slim (debootstrap --variant=minbase bookworm)"
  rootfs="$(mktemp -d)"
  debootstrap --variant=minbase bookworm "$rootfs" >/dev/null
  # What the official slim image leaves out: package caches, docs, man pages, locales.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
         "$rootfs"/usr/share/locale/*
  tar -C "$rootfs" -c . | "${podman[@]}" import - debian:bookworm-slim >/dev/null
  rm -rf "$rootfs"
fi

[ "${1:-}" != --base ] || exit 0

if [ $# -gt 0 ]; then services=("$@"); else
  services=()
  for f in */Dockerfile; do services+=("${f%/Dockerfile}"); done
fi

# What a pod gets from k8s/ (dependencies unreachable here: the container has no network,
# which the services tolerate — readiness says so, liveness does not care).
key_hash="$(printf '%s' image-check | sha256sum | cut -d' ' -f1)"
env=(-e "COUNT_API_KEYS=[{\"name\":\"check\",\"scopes\":[\"admin\"],\"sha256\":\"$key_hash\"}]"
     -e REDIS_URL=redis://redis-value:6379 -e REDIS_REPLICA_URL=redis://redis-replica:6379
     -e DATABASE_URL=postgresql://postgresql:5432/countinfo -e KAFKA_BROKERS=kafka:9092
     -e COUNTINFO_DATABASE_URL=postgresql://postgresql:5432/countinfo
     -e STREAM_TOKEN_SECRET=image-check-stream-token-secret-0123456789
     -e PGUSER=count -e PGPASSWORD=check -e APP_VERSION="$version")

# A site whose egress inspects TLS adds its own CA to the host's trust store
# (/usr/local/share/ca-certificates); the builder's `npm ci` then needs it too. It is mounted
# for the build only: nothing of it stays in an image.
build_mounts=()
if [ -n "$(ls -A /usr/local/share/ca-certificates 2>/dev/null)" ]; then
  npmrc="$(mktemp)"
  trap 'rm -f "$npmrc"' EXIT
  echo "cafile=/run/host-ca-bundle.crt" >"$npmrc"
  build_mounts=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca-bundle.crt:ro
                --volume "$npmrc:/root/.npmrc:ro")
fi

# The host's compiler cache, when there is one: the builder stage then compiles only what
# the host has not (scripts/build.sh release fills it with the same flags and relative paths).
if command -v ccache >/dev/null; then
  cache_dir="$(ccache --get-config cache_dir)"
  mkdir -p "$cache_dir"
  build_mounts+=(--volume "$cache_dir:/ccache")
fi

report="${IMAGES_REPORT-docs/IMAGES.md}"
rows=""
failed=0
for svc in "${services[@]}"; do
  image="$svc:$version"
  echo "== build $image"
  start=$(date +%s)
  seconds=0
  # Docker format: the OCI format has no HEALTHCHECK.
  "${podman[@]}" build --pull=never --network host "${limits[@]}" "${build_mounts[@]}" --format docker \
    -f "$svc/Dockerfile" -t "$image" . >"/tmp/images-$svc.log" 2>&1 \
    || { tail -30 "/tmp/images-$svc.log"; exit 1; }
  seconds=$(( $(date +%s) - start ))
  echo "   built in ${seconds} s"

  name="images-check-$svc"
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  # As k8s/ runs it: no capabilities, no privilege escalation, read-only root, /tmp tmpfs.
  # No health timer (it needs systemd); the checks below run the HEALTHCHECK themselves.
  "${podman[@]}" run -d --name "$name" --network none "${limits[@]}" --read-only \
    --health-interval disable \
    --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges "${env[@]}" "$image" \
    >/dev/null 2>"/tmp/images-$svc.podman.log" || { cat "/tmp/images-$svc.podman.log"; exit 1; }
  uid="$("${podman[@]}" exec "$name" id -u)"
  healthy=no
  for _ in $(seq 1 30); do
    if "${podman[@]}" healthcheck run "$name" >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 1
  done
  "${podman[@]}" stop -t 45 "$name" >/dev/null 2>>"/tmp/images-$svc.podman.log"
  code="$("${podman[@]}" inspect "$name" --format '{{.State.ExitCode}}')"
  "${podman[@]}" logs "$name" >"/tmp/images-$svc.run.log" 2>&1 || true
  "${podman[@]}" rm "$name" >/dev/null 2>&1
  size="$("${podman[@]}" image inspect "$image" --format '{{.Size}}')"
  mb="$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')"
  verdict=ok
  if [ "$uid" = 0 ] || [ "$healthy" != yes ] || [ "$code" != 0 ]; then verdict=FAILED; failed=1; fi
  echo "   uid $uid, healthcheck $healthy, exit on SIGTERM $code, $mb MB: $verdict"
  rows+="| \`$image\` | $mb | $seconds | $uid | $healthy | $code |"$'\n'
done

if [ $# -eq 0 ] && [ -n "$report" ]; then
  {
    echo "# Container images"
    echo
    echo "Written by \`scripts/images.sh\` (podman, Debian 12 minbase). Each image is run as k8s/"
    echo "runs it (read-only root, no capabilities, no network) and must run as non-root, pass"
    echo "its HEALTHCHECK (\`/health/live\`) and exit 0 on SIGTERM."
    echo
    echo "Sizes are whole images; all but the last layer (the stripped binary, about 1.5 MB) are"
    echo "shared: the Debian base ($("${podman[@]}" image inspect debian:bookworm-slim --format '{{.Size}}' | awk '{ printf "%.1f", $1 / 1e6 }') MB) and one layer of runtime libraries. The"
    echo "first build compiles every binary in the shared builder stage, served by the host's"
    echo "compiler cache when it has one; the others reuse it (build times below are this run's;"
    echo "a first build without a cache took 600 s on 2 busy cores)."
    echo
    echo "| image | size (MB) | build (s) | uid | healthcheck | exit on SIGTERM |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$rows"
  } >"$report"
  echo "== sizes written to $report"
fi
exit "$failed"
