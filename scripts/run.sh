#!/usr/bin/env bash
# The front door: installs what is needed, builds, and runs the whole system in one
# process on SQLite (standalone). Arguments go to `count-system up`, e.g. --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release --target count-system
exec build/release/count-system/count-system up "$@"
