#!/usr/bin/env bash
# Every test: installs what is needed, builds, runs the unit and integration tests
# (real PostgreSQL and Redis started by the fixtures), then the black-box HTTP suite
# against the standalone binary and against the separate services (on one Redis, and on a
# Redis Cluster of three primaries and three replicas), the rolling-restart fault scenario
# (two replicas each of write and read behind HAProxy) and the Redis Cluster primary killed
# under idempotent retries (docs/FAULTS.md, h), the web console's browser tests, the deploy
# artifacts on a Kubernetes built here from source (docs/DEPLOY.md), every container image
# built and run (podman), and last compose.yaml brought up on Docker Engine with the
# black-box suite against it.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's heading carries the seconds since the start: where CI's time goes.
step() { echo "== [${SECONDS} s] $*"; }
step "setup (scripts/setup.sh --test)"
scripts/setup.sh --test
# What the Kubernetes steps need and nothing before them does: the deploy tools and the
# cluster's binaries, built from source once (cached, `nice -n 15`), in the background while
# the build and the tests below run (a fresh machine: about 20 minutes of Go builds and
# downloads).
prepare_log="$(mktemp)"
{ scripts/check-deploy.sh --tools && scripts/cluster.sh build; } >"$prepare_log" 2>&1 &
prepare=$!

step "build (scripts/build.sh release)"
scripts/build.sh release

step "formatting (clang-format)"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

step "capacity model: its arithmetic on a fixture (bench/capacity_test.py, docs/SCALING.md)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider bench/capacity_test.py

step "Kafka broker artifacts (Maven, cached)"
scripts/kafka.sh >/dev/null

step "unit and integration tests (ctest)"
ctest --preset release --output-on-failure -j 2 -LE bench

step "fuzzing, a short run of each target (docs/FUZZING.md)"
scripts/fuzz.sh 20

# The test venv (scripts/setup.sh --test): Debian's python3 and pytest, plus openapi-spec-validator.
test_python="${COUNT_TEST_VENV:-/opt/count-test-venv}/bin/python3"
for mode in standalone services; do
  step "black-box suite, $mode mode"
  COUNT_MODE=$mode "$test_python" -m pytest -q -p no:cacheprovider tests/blackbox
done
step "black-box suite, services mode on a Redis Cluster (3 primaries, 3 replicas)"
COUNT_MODE=services COUNT_REDIS=cluster "$test_python" -m pytest -q -p no:cacheprovider tests/blackbox

step "fault scenario: rolling restart behind HAProxy (zero failed requests)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/faults/test_rolling_restart.py

step "fault scenario: a Redis Cluster primary SIGKILLed (0 acknowledged writes lost)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/faults/test_redis_cluster_failover.py

# The web console in headless Chromium against standalone (web/tests/browser); the build
# above installed web/node_modules (npm ci) and embedded the console. Screenshots are kept
# in web/test-artifacts/<run>/ (printed).
step "browser tests (web console, Chromium)"
(cd web && node --test tests/browser/console.test.mjs)

step "deploy tools and the cluster's binaries (started in the background after setup)"
wait "$prepare" || { cat "$prepare_log"; exit 1; }
step "deploy artifacts (scripts/check-deploy.sh)"
scripts/check-deploy.sh  # k8s/, overlays, Helm chart, Dockerfiles: rendered, validated, agreed,
                         # and applied to a real kube-apiserver (--dry-run=server)

step "a real single-node Kubernetes (scripts/cluster.sh): pods, Services, DNS, Pod Security"
scripts/e2e-kubernetes.sh --node

step "container images: built, run as non-root, HEALTHCHECK, exit 0 on SIGTERM (podman)"
IMAGES_REPORT='' scripts/images.sh

step "compose.yaml on Docker Engine: health-ordered start, the black-box suite, down -v"
scripts/e2e-compose.sh
step "all passed"
