#!/usr/bin/env bash
# Configures and builds with a CMake preset (default: release). Extra arguments are
# passed to `cmake --build`, e.g. `scripts/build.sh release --target count-system`.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
# Paths relative to the tree, and not the locale, in the compiler cache's keys: a clone
# elsewhere, or an image's builder stage (/src, no LANG; scripts/images.sh), reuses what this
# one compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-locale}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" "$@"
