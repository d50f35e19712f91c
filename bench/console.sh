#!/usr/bin/env bash
# The console's load benchmark: a dashboard of 20 widgets (14 count, 3 chart, 2 stat,
# 1 analysis) on standalone, opened in headless Chromium; prints the time from navigation
# start to interactive (grid built, values shown) for a first load and five reloads.
# Needs a built build/release/count-system/count-system and web/node_modules (the build's
# npm ci), and Debian's chromium (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/../web"
node --test --test-name-pattern='twenty widgets' tests/browser/console.test.mjs 2>&1 |
  grep -E '^# (\\# )?(benchmark|pass|fail)' | sed 's/^# \\# /# /'
