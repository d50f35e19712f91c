#!/usr/bin/env bash
# Every test: installs what is needed, builds, runs the unit and integration tests
# (real PostgreSQL and Redis started by the fixtures), then the black-box HTTP suite
# against the standalone binary and against the separate services.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh release

echo "== formatting (clang-format)"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

echo "== Kafka broker artifacts (Maven, cached)"
scripts/kafka.sh >/dev/null

echo "== unit and integration tests (ctest)"
ctest --preset release --output-on-failure -j 2 -LE bench

echo "== fuzzing, a short run of each target (docs/FUZZING.md)"
scripts/fuzz.sh 20

scripts/check-deploy.sh  # k8s/, overlays, Helm chart, Dockerfiles: rendered, validated, agreed

for mode in standalone services; do
  echo "== black-box suite, $mode mode"
  COUNT_MODE=$mode /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/blackbox
done
