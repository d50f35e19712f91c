#!/usr/bin/env bash
# Installs what building, running and testing need, from Debian 12 packages.
# Idempotent: does nothing when everything is installed. Run as root (or with sudo).
#   scripts/setup.sh            build + run dependencies
#   scripts/setup.sh --test     also the servers and tools the tests start, and the Python
#                               test packages Debian lacks (tests/requirements.txt) in a venv
#                               that sees Debian's own (COUNT_TEST_VENV, /opt/count-test-venv)
#   scripts/setup.sh --bench    also the load generators and baselines
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
test_venv=0

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libhiredis-dev libpq-dev libsqlite3-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev
  librdkafka-dev libgoogle-perftools-dev
)
for arg in "$@"; do
  case "$arg" in
    --test) test_venv=1
            packages+=(redis-server redis-sentinel redis-tools postgresql-15 python3 python3-pytest python3-venv
                       curl clang-format default-jre-headless maven haproxy kcat chromium
                       clang-14 libclang-rt-14-dev) ;;  # libFuzzer: scripts/fuzz.sh
    --bench) packages+=(nginx-light wrk redis-tools curl python3 procps linux-perf
                        # the seeds' stack (bench/seed_stack/): uvicorn[standard] = uvloop + httptools
                        python3-fastapi python3-uvicorn python3-redis python3-uvloop python3-httptools) ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

# The web console is built with node and npm (web/): Debian's own unless a node with npm is
# already installed (a NodeSource node bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

# openapi-spec-validator (tests/blackbox/test_openapi.py) is not packaged by Debian 12: pip
# installs tests/requirements.txt into a venv built on Debian's python3 with its site
# packages (pytest stays Debian's). scripts/test.sh runs the black-box suite with it.
install_test_venv() {
  local venv="${COUNT_TEST_VENV:-/opt/count-test-venv}"
  if [ ! -x "$venv/bin/python3" ]; then
    $sudo /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  if ! cmp -s "$root/tests/requirements.txt" "$venv/requirements.txt"; then
    $sudo "$venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$root/tests/requirements.txt"
    $sudo cp "$root/tests/requirements.txt" "$venv/requirements.txt"
  fi
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  if [ "$test_venv" = 1 ]; then install_test_venv; fi
  exit 0
fi

echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian packages start system-wide servers; the tests start their own on free ports.
for svc in redis-server redis-sentinel postgresql nginx haproxy; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $sudo systemctl stop "$svc" || true
  fi
done
if [ "$test_venv" = 1 ]; then install_test_venv; fi
