#!/usr/bin/env bash
# Runs one fault scenario (or all) against the release binaries and prints its measured
# result; docs/FAULTS.md records them.
#   scripts/fault.sh rolling-restart | crash | redis-failover | redis-cluster-failover | postgres-outage |
#                    kafka-outage | abuse | recovery | all
# Extra arguments go to pytest. FAULTS_RESULTS_DIR=<dir> also writes each result as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A files=(
  [rolling-restart]=test_rolling_restart.py
  [crash]=test_crash.py
  [redis-failover]=test_redis_failover.py
  [redis-cluster-failover]=test_redis_cluster_failover.py
  [postgres-outage]=test_postgres_outage.py
  [kafka-outage]=test_kafka_outage.py
  [abuse]=test_abuse.py
  [recovery]=test_recovery_drill.py
)
name="${1:-}"
shift || true
if [ "$name" = all ]; then
  exec /usr/bin/python3 -m pytest tests/faults "$@"
fi
if [ -z "$name" ] || [ -z "${files[$name]:-}" ]; then
  echo "usage: $0 {$(echo "${!files[@]}" | tr ' ' '|')|all} [pytest options]" >&2
  exit 2
fi
exec /usr/bin/python3 -m pytest "tests/faults/${files[$name]}" "$@"
