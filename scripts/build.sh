#!/usr/bin/env bash
# Configures and builds with a CMake preset (default: release). Extra arguments are
# passed to `cmake --build`, e.g. `scripts/build.sh release --target count-system`.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" "$@"
