#!/usr/bin/env bash
# Load benchmark of the count services, DeathStarBench style: a peak (closed loop, wrk), then
# latency percentiles at a fixed request rate (open loop, vegeta, half of each target's peak),
# one explicit request shape per scenario, and the baselines (nginx, redis-benchmark, the
# FastAPI + uvicorn + redis-py stack of bench/seed_stack/) measured in the same run on the same
# machine. Also idle RSS and start-up time of every binary.
#
#   bench/run.sh                 install tools, build release, measure, print, update docs/BENCHMARKS.md
#   bench/run.sh --no-docs       the same without touching docs/BENCHMARKS.md
#   bench/run.sh --quick         short runs (3 s peak, 5 s fixed rate, 2 start-ups), no docs: a smoke test
#   bench/run.sh --requests-only the request-level scenarios only (no C++, pipeline, live, console
#                                benchmarks), no docs: the generated section needs them all
#   bench/run.sh --profile       also `perf record -g` count-write-service during one more
#                                increment peak (after the measured ones, which it does not disturb)
#
# Every run also writes its CPU cost per request of each process to bench/results/requests.json
# (read by bench/capacity.py, docs/SCALING.md).
#
# Everything runs on free loopback ports inside a temporary directory and is stopped by PID at
# the end. Exits non-zero when a step fails; a missed target is reported, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PEAK_SECONDS=${BENCH_PEAK_SECONDS:-10}
# Before each measured peak, the same load unmeasured: caches, connection pools and the Kafka
# broker's JIT reach their steady state, as in a service that has been running for a while.
WARM_SECONDS=${BENCH_WARM_SECONDS:-5}
# The increment through the write service warms longer: it is the first load the Kafka broker
# gets, and a JVM's JIT compiles the produce path for about a minute (C2 threads measured busy
# 40 s in; docs/BENCHMARKS.md, "The broker's JIT"). A broker in service has long finished.
WRITE_WARM_SECONDS=${BENCH_WRITE_WARM_SECONDS:-60}
RATE_SECONDS=${BENCH_RATE_SECONDS:-15}
READY_REPEATS=${BENCH_READY_REPEATS:-5}
END_TO_END=1     # the C++, pipeline, live and console benchmarks after the request-level ones
PROFILE=""
DOCS=docs/BENCHMARKS.md
VEGETA_VERSION=v12.12.0
TOOLS=$ROOT/bench/.tools     # local tool binaries; not in git
for arg in "$@"; do
  case "$arg" in
    --no-docs) DOCS="" ;;
    --quick) PEAK_SECONDS=3 WARM_SECONDS=1 WRITE_WARM_SECONDS=1 RATE_SECONDS=5 READY_REPEATS=2 DOCS="" ;;
    --requests-only) END_TO_END="" DOCS="" ;;
    --profile) PROFILE=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $arg (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
lib() { python3 "$ROOT/bench/benchlib.py" "$@"; }

# ---------------------------------------------------------------------------- 1. tools
step "installing tools (scripts/setup.sh --test --bench, vegeta $VEGETA_VERSION)"
# --bench: nginx, wrk, redis-benchmark, FastAPI + uvicorn + redis-py, perf; --test: redis-server and PostgreSQL 15, which the
# benchmark starts just as the integration tests do.
scripts/setup.sh --test --bench >&2
# `go install` leaves the version out of the binary, so a stamp file records it.
if [ ! -x "$TOOLS/vegeta" ] || [ "$(cat "$TOOLS/vegeta.version" 2>/dev/null)" != "$VEGETA_VERSION" ]; then
  command -v go >/dev/null || die "vegeta needs Go to be installed (go install)"
  mkdir -p "$TOOLS"
  # A throwaway module pins the version: `go install pkg@version` also asks the proxy for the
  # module's version list (deprecation check), which some proxies refuse.
  gomod=$(mktemp -d)
  (cd "$gomod" && go mod init bench-tools >/dev/null 2>&1 &&
   go get "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" &&
   GOBIN="$TOOLS" go install github.com/tsenart/vegeta/v12) || { rm -rf "$gomod"; die "cannot install vegeta"; }
  rm -rf "$gomod"
  mv "$TOOLS/v12" "$TOOLS/vegeta" 2>/dev/null || true
  echo "$VEGETA_VERSION" >"$TOOLS/vegeta.version"
fi
VEGETA=$TOOLS/vegeta
# 16 workers to start, at most 64 requests in flight (wrk's 64 connections). Without a bound,
# vegeta answers any hiccup by adding workers and connections and, on 2 shared cores, collapses
# into seconds of queueing at ~10k req/s; bounded, it holds ~25-30k req/s here. When 64 are in
# flight the schedule slips: the report then shows an achieved rate below the one asked.
VEGETA_WORKERS="-workers=16 -max-workers=64"
"$VEGETA" -version >/dev/null || die "vegeta is not runnable: $VEGETA"
PG_BIN=/usr/lib/postgresql/15/bin
[ -z "$PROFILE" ] || command -v perf >/dev/null || die "missing tool: perf"
# The seeds' stack runs on Debian's Python (its packages are installed there), not on
# whatever python3 comes first in PATH.
SEED_PYTHON=/usr/bin/python3
"$SEED_PYTHON" -c 'import fastapi, uvicorn, redis, uvloop, httptools' ||
  die "the seeds' stack needs Debian's python3-fastapi python3-uvicorn python3-redis python3-uvloop python3-httptools"
for t in wrk nginx redis-server redis-cli redis-benchmark curl sha256sum runuser; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done
[ -x "$PG_BIN/postgres" ] || die "missing PostgreSQL 15 in $PG_BIN"

# ---------------------------------------------------------------------------- 2. build
step "building release binaries (scripts/build.sh release)"
if [ -n "$END_TO_END" ]; then
  scripts/build.sh release >&2   # everything: the C++ benchmarks and the end-to-end ones too
else                             # the request-level scenarios need only these four
  scripts/build.sh release --target count-write-service count-read-service \
    count-management-service count-system >&2
fi
WRITE_BIN=$ROOT/build/release/count-write-service/count-write-service
READ_BIN=$ROOT/build/release/count-read-service/count-read-service
MGMT_BIN=$ROOT/build/release/count-management-service/count-management-service
SYS_BIN=$ROOT/build/release/count-system/count-system
for b in "$WRITE_BIN" "$READ_BIN" "$MGMT_BIN" "$SYS_BIN"; do [ -x "$b" ] || die "not built: $b"; done

# ---------------------------------------------------------------------------- 3. processes
# Other work on the machine disturbs every figure: measure it, the report warns about it.
LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_BUSY_BEFORE=$(lib cpu-busy 3)
echo "machine: $CPU_BUSY_BEFORE % CPU busy before the run (load average $LOADAVG_BEFORE)" >&2

T=$(mktemp -d /tmp/count-bench.XXXXXX)
chmod 755 "$T"   # PostgreSQL runs as user postgres inside it
R=$T/results LOGS=$T/logs
mkdir -p "$R" "$LOGS"
PIDS=()          # started processes, stopped in reverse order
PG_PID=""        # the postmaster (runuser's child)

stop_pid() {     # stop_pid PID SIGNAL: signal, wait up to 15 s, then SIGKILL
  local pid=$1 sig=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "bench: PID $pid did not stop after SIG$sig; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" -ne 0 ] && [ -d "$LOGS" ]; then
    for f in "$LOGS"/*.log; do
      [ -s "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" TERM; done
  # PostgreSQL: SIGINT = fast shutdown; then the runuser that started it exits by itself.
  [ -n "$PG_PID" ] && stop_pid "$PG_PID" INT
  [ -n "${PG_RUNUSER:-}" ] && wait "$PG_RUNUSER" 2>/dev/null || true
  if [ -n "${BENCH_KEEP_TMP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KEY="bench_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
KEY_SHA=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)
# Commands for docs/BENCHMARKS.md, with the key and the temporary directory left symbolic.
note() { printf '%s\n' "$*" | sed -e "s#$KEY#\$KEY#g" -e "s#$T#\$T#g" -e "s#$ROOT/##g" >>"$R/commands.txt"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

mapfile -t ports < <(lib freeports 11)
[ ${#ports[@]} -eq 11 ] || die "cannot find free ports"
P_REDIS=${ports[0]} P_REPLICA=${ports[1]} P_PG=${ports[2]} P_WRITE=${ports[3]}
P_READ=${ports[4]} P_MGMT=${ports[5]} P_SYS=${ports[6]} P_NGINX=${ports[7]}
P_KAFKA=${ports[8]} P_KAFKA_CTL=${ports[9]} P_SEED=${ports[10]}

step "starting Kafka (KRaft, single node) :$P_KAFKA"
KAFKA_LIBS=$("$ROOT/scripts/kafka.sh" | tail -n1)
mkdir -p "$T/kafka"
printf '%s\n' "process.roles=broker,controller" "node.id=1" \
  "controller.quorum.voters=1@127.0.0.1:$P_KAFKA_CTL" \
  "listeners=PLAINTEXT://127.0.0.1:$P_KAFKA,CONTROLLER://127.0.0.1:$P_KAFKA_CTL" \
  "advertised.listeners=PLAINTEXT://127.0.0.1:$P_KAFKA" "controller.listener.names=CONTROLLER" \
  "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" \
  "log.dirs=$T/kafka/data" "num.partitions=3" "auto.create.topics.enable=true" \
  "offsets.topic.replication.factor=1" "transaction.state.log.replication.factor=1" \
  "transaction.state.log.min.isr=1" "group.initial.rebalance.delay.ms=0" \
  >"$T/kafka/server.properties"
KAFKA_JAVA=(java -Xmx512m -Dlog4j.configuration=file:/dev/null -cp "$KAFKA_LIBS/*")
CLUSTER_ID=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
"${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -c "$T/kafka/server.properties" -t "$CLUSTER_ID" \
  >"$LOGS/kafka-format.log" 2>&1 || die "kafka storage format failed (see $LOGS/kafka-format.log)"
"${KAFKA_JAVA[@]}" kafka.Kafka "$T/kafka/server.properties" >"$LOGS/kafka.log" 2>&1 &
PIDS+=($!); KAFKA_PID=$!
note "java -cp \"\$(scripts/kafka.sh)/*\" kafka.Kafka server.properties   # KRaft, single node, 3 partitions"

step "starting Redis primary :$P_REDIS and replica :$P_REPLICA"
mkdir -p "$T/redis" "$T/replica"
redis-server --bind 127.0.0.1 --port "$P_REDIS" --dir "$T/redis" --appendonly yes \
  --appendfsync everysec --save '' --daemonize no >"$LOGS/redis.log" 2>&1 &
PIDS+=($!); REDIS_PID=$!
note "redis-server --bind 127.0.0.1 --port $P_REDIS --dir $T/redis --appendonly yes --appendfsync everysec --save ''"
redis-server --bind 127.0.0.1 --port "$P_REPLICA" --dir "$T/replica" --save '' \
  --replicaof 127.0.0.1 "$P_REDIS" --daemonize no >"$LOGS/replica.log" 2>&1 &
PIDS+=($!); REPLICA_PID=$!
note "redis-server --bind 127.0.0.1 --port $P_REPLICA --dir $T/replica --save '' --replicaof 127.0.0.1 $P_REDIS"

step "starting PostgreSQL 15 :$P_PG"
mkdir -p "$T/pg/sock"
chown -R postgres: "$T/pg"
runuser -u postgres -- "$PG_BIN/initdb" -D "$T/pg/data" -U postgres --auth=trust -E UTF8 \
  --no-sync >"$LOGS/initdb.log" 2>&1 || die "initdb failed (see $LOGS/initdb.log)"
runuser -u postgres -- "$PG_BIN/postgres" -D "$T/pg/data" -p "$P_PG" -k "$T/pg/sock" \
  -c listen_addresses=127.0.0.1 >"$LOGS/postgres.log" 2>&1 &
PG_RUNUSER=$!
note "runuser -u postgres -- $PG_BIN/initdb -D $T/pg/data -U postgres --auth=trust -E UTF8 --no-sync"
note "runuser -u postgres -- $PG_BIN/postgres -D $T/pg/data -p $P_PG -k $T/pg/sock -c listen_addresses=127.0.0.1"
for _ in $(seq 300); do
  [ -s "$T/pg/data/postmaster.pid" ] && PG_PID=$(head -n1 "$T/pg/data/postmaster.pid")
  [ -n "$PG_PID" ] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$P_PG" -U postgres && break
  kill -0 "$PG_RUNUSER" 2>/dev/null || die "postgres exited (see $LOGS/postgres.log)"
  sleep 0.1
done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$P_PG" -U postgres || die "PostgreSQL did not start"
"$PG_BIN/psql" -q -h 127.0.0.1 -p "$P_PG" -U postgres -c 'CREATE DATABASE countinfo' >/dev/null
note "psql -h 127.0.0.1 -p $P_PG -U postgres -c 'CREATE DATABASE countinfo'"

for _ in $(seq 100); do
  redis-cli -p "$P_REPLICA" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
  sleep 0.1
done
redis-cli -p "$P_REPLICA" info replication | grep -q 'master_link_status:up' ||
  die "the Redis replica did not connect to the primary"

for _ in $(seq 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$P_KAFKA") 2>/dev/null && break
  kill -0 "$KAFKA_PID" 2>/dev/null || die "Kafka exited (see $LOGS/kafka.log)"
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$P_KAFKA") 2>/dev/null || die "Kafka did not start (see $LOGS/kafka.log)"
export KAFKA_BROKERS="127.0.0.1:$P_KAFKA"

DATABASE_URL="postgresql://postgres@127.0.0.1:$P_PG/countinfo"
REDIS_URL="redis://127.0.0.1:$P_REDIS"
REDIS_REPLICA_URL="redis://127.0.0.1:$P_REPLICA"
COUNT_API_KEYS="[{\"name\":\"bench\",\"scopes\":[\"admin\"],\"sha256\":\"$KEY_SHA\"}]"
export HOST=127.0.0.1 LOG_LEVEL=warn COUNT_API_KEYS

step "migrating (count-management-service migrate)"
DATABASE_URL=$DATABASE_URL "$MGMT_BIN" migrate >"$LOGS/migrate.log" 2>&1 ||
  die "migrate failed (see $LOGS/migrate.log)"
note "DATABASE_URL=$DATABASE_URL count-management-service migrate"

step "starting services: write :$P_WRITE, read :$P_READ, management :$P_MGMT, standalone :$P_SYS"
declare -A PID_OF
PORT=$P_WRITE REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL "$WRITE_BIN" >"$LOGS/write.log" 2>&1 &
PIDS+=($!); PID_OF[count-write-service]=$!
PORT=$P_READ REDIS_REPLICA_URL=$REDIS_REPLICA_URL "$READ_BIN" >"$LOGS/read.log" 2>&1 &
PIDS+=($!); PID_OF[count-read-service]=$!
PORT=$P_MGMT REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL "$MGMT_BIN" >"$LOGS/management.log" 2>&1 &
PIDS+=($!); PID_OF[count-management-service]=$!
mkdir -p "$T/standalone"
COUNT_ADMIN_KEY=$KEY "$SYS_BIN" up --port "$P_SYS" --data "$T/standalone" >"$LOGS/standalone.log" 2>&1 &
PIDS+=($!); PID_OF[count-system]=$!
common_env="HOST=127.0.0.1 LOG_LEVEL=warn COUNT_API_KEYS='[{\"name\":\"bench\",\"scopes\":[\"admin\"],\"sha256\":\"<sha256 of \$KEY>\"}]'"
note "$common_env KAFKA_BROKERS=$KAFKA_BROKERS PORT=$P_WRITE REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL count-write-service"
note "$common_env PORT=$P_READ REDIS_REPLICA_URL=$REDIS_REPLICA_URL count-read-service"
note "$common_env KAFKA_BROKERS=$KAFKA_BROKERS PORT=$P_MGMT REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL count-management-service"
note "COUNT_ADMIN_KEY=$KEY LOG_LEVEL=warn count-system up --port $P_SYS --data $T/standalone"
for p in $P_WRITE $P_READ $P_MGMT $P_SYS; do
  lib wait-ready "http://127.0.0.1:$p/ready" 20 || die "no 200 on :$p/ready"
done
for name in "${!PID_OF[@]}"; do
  rss_kib "${PID_OF[$name]}" >"$R/rss-$name-startup.txt"
done

step "starting nginx :$P_NGINX (baseline)"
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:$P_NGINX;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
EOF
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >"$LOGS/nginx.log" 2>&1 &
PIDS+=($!); NGINX_PID=$!
note "nginx -c $T/nginx/nginx.conf -p $T/nginx   # daemon off; worker_processes 2; access_log off; location / { return 200 '{\"ok\":true}'; }"
lib wait-ready "http://127.0.0.1:$P_NGINX/" 10 || die "nginx did not start"

step "starting the seeds' stack :$P_SEED (baseline: FastAPI + uvicorn, one worker, redis-py INCR)"
# uvicorn[standard]'s choices: uvloop and httptools. One worker = one process ($! serves).
REDIS_URL=$REDIS_URL "$SEED_PYTHON" -m uvicorn --workers 1 --host 127.0.0.1 --port "$P_SEED" \
  --loop uvloop --http httptools --log-level warning --no-access-log \
  --app-dir "$ROOT/bench/seed_stack" app:app >"$LOGS/seed-stack.log" 2>&1 &
PIDS+=($!); SEED_PID=$!
note "REDIS_URL=$REDIS_URL /usr/bin/python3 -m uvicorn --workers 1 --host 127.0.0.1 --port $P_SEED --loop uvloop --http httptools --log-level warning --no-access-log --app-dir bench/seed_stack app:app"
lib wait-ready "http://127.0.0.1:$P_SEED/ready" 20 || die "the seeds' stack did not start"

# ---------------------------------------------------------------------------- the counters
step "creating counter 'bench' (services and standalone)"
create() {  # create BASE_URL
  local code
  code=$(curl -s -o "$T/create.out" -w '%{http_code}' -X POST "$1/management/api/v1/counts" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"id":"bench"}')
  [ "$code" = 201 ] || [ "$code" = 409 ] || die "creating the counter at $1 gave $code: $(cat "$T/create.out")"
}
create "http://127.0.0.1:$P_MGMT"
create "http://127.0.0.1:$P_SYS"
note "curl -X POST http://127.0.0.1:$P_MGMT/management/api/v1/counts -H 'Authorization: Bearer $KEY' -H 'Content-Type: application/json' -d '{\"id\":\"bench\"}'   # and the same on :$P_SYS"
INC_BODY='{"amount":1}'
expect_200() {  # expect_200 METHOD URL [BODY]: one request must answer 200 before loading it
  local code args=(-s -o "$T/check.out" -w '%{http_code}' -X "$1" "$2" -H "Authorization: Bearer $KEY")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' -d "$3")
  for _ in $(seq 50); do
    code=$(curl "${args[@]}") || true
    [ "$code" = 200 ] && return 0
    sleep 0.1   # the read service reads the replica: allow replication to catch up
  done
  die "$1 $2 gave $code: $(cat "$T/check.out")"
}
expect_200 POST "http://127.0.0.1:$P_WRITE/api/v1/counts/bench/increment" "$INC_BODY"
expect_200 GET "http://127.0.0.1:$P_READ/api/v1/counts/bench"
expect_200 POST "http://127.0.0.1:$P_SYS/api/v1/counts/bench/increment" "$INC_BODY"
expect_200 GET "http://127.0.0.1:$P_SYS/api/v1/counts/bench"
expect_200 POST "http://127.0.0.1:$P_SEED/api/v1/counts/bench/increment" "$INC_BODY"

# ---------------------------------------------------------------------------- 4. baselines
step "baseline: redis-benchmark INCR on the bench primary"
redis-benchmark -h 127.0.0.1 -p "$P_REDIS" -t incr -n 200000 -c 50 -P 1 -q >"$R/redis-benchmark.txt" 2>&1 ||
  die "redis-benchmark failed"
tr '\r' '\n' <"$R/redis-benchmark.txt" | grep 'INCR' | tail -n1 >&2
note "redis-benchmark -h 127.0.0.1 -p $P_REDIS -t incr -n 200000 -c 50 -P 1 -q"

# ---------------------------------------------------------------------------- 5. scenarios
# A 1 s pause between measurements, during which no load runs: how busy the CPUs are then,
# less what this run's own (idle) processes use, is other work on the machine, which disturbs
# the figures; the report shows it.
pause() { lib cpu-busy 1 "${PIDS[@]}" ${PG_PID:+"$PG_PID"} >>"$R/busy-in-pauses.txt"; }
# CPU time (clock ticks, user + system) used so far by the given processes and their threads.
cpu_ticks() {
  local p total=0
  for p in "$@"; do
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
# Which processes serve each scenario: "server" and "Redis" CPU per request are reported.
server_pids() {
  case "$1" in
    nginx) echo "$NGINX_PID $(cat "/proc/$NGINX_PID/task/$NGINX_PID/children")" ;;
    write_increment) echo "${PID_OF[count-write-service]}" ;;
    seed_increment) echo "$SEED_PID" ;;
    read_get) echo "${PID_OF[count-read-service]}" ;;
    standalone_*) echo "${PID_OF[count-system]}" ;;
  esac
}
redis_pids() {
  case "$1" in
    write_increment|seed_increment) echo "$REDIS_PID $REPLICA_PID" ;;   # the replica applies every write too
    read_get) echo "$REPLICA_PID" ;;
  esac
}
kafka_pids() { [ "$1" = write_increment ] && echo "$KAFKA_PID" || true; }  # every increment is an event
# Waits (at most 60 s) until the given processes use under 5 % of a CPU: an earlier scenario
# can leave work behind in a server (count-system's pipeline catching up on its increments'
# events), which must not be counted as the next scenario's.
settle() {
  local a b i
  for i in $(seq 60); do
    a=$(cpu_ticks "$@"); sleep 1; b=$(cpu_ticks "$@")
    if [ $(((b - a) * 100 / CLK_TCK)) -lt 5 ]; then
      [ "$i" -gt 1 ] && echo "waited ${i} s for the server to be idle" >&2
      return 0
    fi
  done
  echo "note: the server is still busy after 60 s" >&2
}
measure() {  # measure KEY METHOD URL [BODY]
  local key=$1 method=$2 url=$3 body=${4:-} rate s0 r0 k0 warm=$WARM_SECONDS
  [ "$key" = write_increment ] && warm=$WRITE_WARM_SECONDS
  step "$key: warm-up ${warm}s, then peak, wrk -t2 -c64 -d${PEAK_SECONDS}s $method $url"
  local spids rpids kpids
  spids=$(server_pids "$key"); rpids=$(redis_pids "$key"); kpids=$(kafka_pids "$key")
  settle $spids
  BENCH_METHOD=$method BENCH_BODY=$body BENCH_KEY=$KEY \
    wrk -t2 -c64 -d"${warm}s" -s "$ROOT/bench/wrk/request.lua" "$url" >"$LOGS/warm-$key.txt" 2>&1 ||
    { cat "$LOGS/warm-$key.txt" >&2; die "wrk failed for the $key warm-up"; }
  pause
  # Increments: which commands the Redis primary ran, and how many, per request (group commit
  # shows as fewer script calls than requests).
  [[ $key == *increment && -n $rpids ]] && redis-cli -p "$P_REDIS" info commandstats >"$R/redis-cmds-$key-0.txt"
  s0=$(cpu_ticks $spids); r0=$(cpu_ticks $rpids); k0=$(cpu_ticks $kpids); p0=$(cpu_ticks $REDIS_PID)
  # The outbox relay: its named thread and librdkafka's threads (the producer), in whichever of
  # the write and management services holds the relay's lease (both run one; one leads).
  # The relay is reported apart, not in the write service's CPU per request: it works per
  # event, not per request, and in whichever process holds the lease, which varies from run
  # to run (server_relay_ticks: the part of it inside the measured server process).
  server_relay_ticks() {
    [ "$key" = write_increment ] || { echo 0; return; }
    lib thread-ticks "${PID_OF[count-write-service]}" outbox-relay rdk:
  }
  relay_ticks() {
    [ "$key" = write_increment ] || { echo 0; return; }
    echo $(( $(server_relay_ticks) +
             $(lib thread-ticks "${PID_OF[count-management-service]}" outbox-relay rdk:) ))
  }
  l0=$(relay_ticks) sl0=$(server_relay_ticks)
  # The broker's JIT compiler threads: in its figure, and reported as its share of it.
  jit_ticks() { [ -n "$kpids" ] && lib thread-ticks "$KAFKA_PID" "C1 CompilerThre" "C2 CompilerThre" || echo 0; }
  j0=$(jit_ticks)
  BENCH_METHOD=$method BENCH_BODY=$body BENCH_KEY=$KEY \
    wrk -t2 -c64 -d"${PEAK_SECONDS}s" --latency -s "$ROOT/bench/wrk/request.lua" "$url" \
    >"$R/wrk-$key.txt" 2>&1 || { cat "$R/wrk-$key.txt" >&2; die "wrk failed for $key"; }
  [[ $key == *increment && -n $rpids ]] && redis-cli -p "$P_REDIS" info commandstats >"$R/redis-cmds-$key-1.txt"
  echo "{\"server_ticks\": $(($(cpu_ticks $spids) - s0)), \"redis_ticks\": $(($(cpu_ticks $rpids) - r0)), \"redis_primary_ticks\": $(($(cpu_ticks $REDIS_PID) - p0)), \"kafka_ticks\": $(($(cpu_ticks $kpids) - k0)), \"kafka_jit_ticks\": $(($(jit_ticks) - j0)), \"relay_ticks\": $(($(relay_ticks) - l0)), \"server_relay_ticks\": $(($(server_relay_ticks) - sl0)), \"clk_tck\": $CLK_TCK, \"redis\": $([ -n "$rpids" ] && echo true || echo false), \"kafka\": $([ -n "$kpids" ] && echo true || echo false)}" >"$R/cpu-$key.json"
  grep -E 'Requests/sec|Non-2xx' "$R/wrk-$key.txt" >&2 || true
  if [ "$key" != nginx ]; then
    # nginx again, right after: the machine drifts over a run (clock speed, others' work), so
    # each scenario's CPU is compared with nginx's measured on either side of it (the peak
    # before it, the first nginx or the one after the previous scenario, and this one).
    local n0 nginx_pids
    nginx_pids=$(server_pids nginx); n0=$(cpu_ticks $nginx_pids)
    wrk -t2 -c64 -d"${PEAK_SECONDS}s" -s "$ROOT/bench/wrk/request.lua" "http://127.0.0.1:$P_NGINX/" \
      >"$R/wrk-nginx-after-$key.txt" 2>&1 || { cat "$R/wrk-nginx-after-$key.txt" >&2; die "wrk failed for nginx after $key"; }
    echo "{\"server_ticks\": $(($(cpu_ticks $nginx_pids) - n0)), \"clk_tck\": $CLK_TCK, \"redis\": false, \"kafka\": false}" >"$R/cpu-nginx-after-$key.json"
  fi
  if [ "$key" = nginx ]; then
    note "wrk -t2 -c64 -d${PEAK_SECONDS}s --latency -s bench/wrk/request.lua $url"
  else
    note "BENCH_METHOD=$method BENCH_BODY='$body' BENCH_KEY=$KEY wrk -t2 -c64 -d${PEAK_SECONDS}s --latency -s bench/wrk/request.lua $url"
  fi
  rate=$(lib half-rate "$R/wrk-$key.txt") || { cat "$R/wrk-$key.txt" >&2; die "no valid peak for $key"; }
  echo "$rate" >"$R/rate-$key.txt"
  {
    echo "$method $url"
    [ "$key" = nginx ] || echo "Authorization: Bearer $KEY"
    if [ -n "$body" ]; then
      printf '%s' "$body" >"$T/body-$key.json"
      echo "Content-Type: application/json"
      echo "@$T/body-$key.json"
    fi
  } >"$T/targets-$key.txt"
  pause  # let the peak's connections close
  step "$key: fixed rate $rate req/s for ${RATE_SECONDS}s (vegeta)"
  "$VEGETA" attack -targets="$T/targets-$key.txt" -rate="$rate/1s" -duration="${RATE_SECONDS}s" \
    -timeout=5s $VEGETA_WORKERS -output="$T/vegeta-$key.bin" 2>"$LOGS/vegeta-$key.log" || die "vegeta attack failed for $key"
  "$VEGETA" report -type=json "$T/vegeta-$key.bin" >"$R/vegeta-$key.json" || die "vegeta report failed"
  "$VEGETA" report "$T/vegeta-$key.bin" | grep -E '^(Requests|Latencies|Success|Status)' >&2 || true
  rm -f "$T/vegeta-$key.bin"
  note "$VEGETA attack -targets=$T/targets-$key.txt -rate=$rate/1s -duration=${RATE_SECONDS}s -timeout=5s $VEGETA_WORKERS | vegeta report -type=json   # targets: $(tr '\n' ' ' <"$T/targets-$key.txt")"
  pause
  if [ "$key" != nginx ]; then
    # Control: nginx at the same rate, so the latency the generator and the machine add by
    # themselves at this rate is known (it is not small on 2 shared cores).
    step "$key: control, nginx at $rate req/s for ${RATE_SECONDS}s (vegeta)"
    echo "GET http://127.0.0.1:$P_NGINX/" | "$VEGETA" attack -rate="$rate/1s" -duration="${RATE_SECONDS}s" \
      -timeout=5s $VEGETA_WORKERS -output="$T/control-$key.bin" 2>>"$LOGS/vegeta-$key.log" ||
      die "vegeta attack failed for the $key control"
    "$VEGETA" report -type=json "$T/control-$key.bin" >"$R/control-$key.json" || die "vegeta report failed"
    "$VEGETA" report "$T/control-$key.bin" | grep -E '^Latencies' >&2 || true
    rm -f "$T/control-$key.bin"
    note "echo 'GET http://127.0.0.1:$P_NGINX/' | vegeta attack -rate=$rate/1s -duration=${RATE_SECONDS}s -timeout=5s $VEGETA_WORKERS | vegeta report -type=json   # control"
    pause
  fi
}
note ""
note "# per scenario: peak with wrk, then vegeta at half of that peak"
measure nginx GET "http://127.0.0.1:$P_NGINX/"
measure write_increment POST "http://127.0.0.1:$P_WRITE/api/v1/counts/bench/increment" "$INC_BODY"
# Every increment is also an event, relayed from an outbox in Redis to Kafka: how far behind the
# relay is when the load stops, and how long it takes to catch up (not a failure if it does not).
outbox_backlog() {
  curl -s "http://127.0.0.1:$P_WRITE/metrics" | awk '$1 ~ /outbox_backlog$/ {printf "%d\n", $2; exit}'
}
backlog=$(outbox_backlog)
drain_start=$(date +%s.%N) drained=null
for _ in $(seq 600); do
  [ "$(outbox_backlog)" = 0 ] && { drained=$(python3 -c "import time; print(round(time.time() - $drain_start, 1))"); break; }
  sleep 0.1
done
echo "{\"backlog_after_load\": ${backlog:-null}, \"drain_seconds\": $drained}" >"$R/outbox.json"
echo "outbox: ${backlog:-?} events waiting after the load, drained after ${drained} s" >&2
measure seed_increment POST "http://127.0.0.1:$P_SEED/api/v1/counts/bench/increment" "$INC_BODY"
measure read_get GET "http://127.0.0.1:$P_READ/api/v1/counts/bench"
measure standalone_increment POST "http://127.0.0.1:$P_SYS/api/v1/counts/bench/increment" "$INC_BODY"
measure standalone_read GET "http://127.0.0.1:$P_SYS/api/v1/counts/bench"

pause; pause  # idle again
for name in "${!PID_OF[@]}"; do
  kill -0 "${PID_OF[$name]}" 2>/dev/null || die "$name died during the load"
  rss_kib "${PID_OF[$name]}" >"$R/rss-$name-after.txt"
done

# ---------------------------------------------------------------------------- profile
# What limits the write service: its CPU by symbol, sampled during one more increment peak so
# the measured peaks above are not disturbed by the profiler.
# One more increment peak under `perf record <args>`; `name` names its wrk output and log.
profile_peak() {
  local name=$1; shift
  step "profile: perf record $* count-write-service during one more ${PEAK_SECONDS}s increment peak"
  perf record "$@" -p "${PID_OF[count-write-service]}" -o "$T/perf.data" -- sleep "$PEAK_SECONDS" \
    >"$LOGS/$name.log" 2>&1 &
  local perf_pid=$!
  BENCH_METHOD=POST BENCH_BODY=$INC_BODY BENCH_KEY=$KEY \
    wrk -t2 -c64 -d"${PEAK_SECONDS}s" --latency -s "$ROOT/bench/wrk/request.lua" \
    "http://127.0.0.1:$P_WRITE/api/v1/counts/bench/increment" >"$R/wrk-$name.txt" 2>&1 ||
    die "wrk failed during the profile"
  wait "$perf_pid" || { cat "$LOGS/$name.log" >&2; die "perf record failed"; }
}
if [ -n "$PROFILE" ]; then
  profile_peak profile -g -F 999
  perf report -i "$T/perf.data" --stdio --no-children --sort sym -g none --percent-limit 0 \
    >"$R/perf-write_increment.txt" 2>"$LOGS/perf-report.log" || die "perf report failed"
  rm -f "$T/perf.data"
  # Who allocates: the release build has no frame pointers (nor has glibc), so the callers of
  # malloc and free come from DWARF unwinding, sampled more sparsely during one more peak.
  profile_peak profile-dwarf --call-graph dwarf,16384 -F 199
  perf report -i "$T/perf.data" --stdio --children --sort sym -g none --percent-limit 1 \
    >"$R/perf-write_increment-inclusive.txt" 2>>"$LOGS/perf-report.log" || die "perf report failed"
  perf report -i "$T/perf.data" --stdio --no-children --sort sym -g caller,0.5,callee,function,percent \
    --symbols=malloc,_int_malloc,_int_free,cfree,free,malloc_consolidate,__libc_calloc,operator\ new,operator\ new[],tc_malloc,tc_free,tc_calloc,tc_new,tc_newarray,tc_delete,tc_delete_sized,tc_deletearray,tc_deletearray_sized \
    --percent-limit 0.5 >"$R/perf-write_increment-malloc.txt" 2>>"$LOGS/perf-report.log" ||
    die "perf report failed"
  rm -f "$T/perf.data"
  { echo "== inclusive CPU by symbol (top 40 lines of perf-write_increment-inclusive.txt)"
    # awk reads the file itself: no pipe to break, and no failure when nothing is left
    awk '!/^#/ && NF { print; if (++n == 40) exit }' "$R/perf-write_increment-inclusive.txt"
    echo "== callers of the malloc family, glibc's or tcmalloc's (top 80 lines of perf-write_increment-malloc.txt)"
    awk '!/^#/ && NF { print; if (++n == 80) exit }' "$R/perf-write_increment-malloc.txt"; } >&2
  note ""
  note "perf record -g -F 999 -p <count-write-service> -- sleep $PEAK_SECONDS   # during one more increment peak (wrk as above)"
  note "perf report --stdio --no-children --sort sym -g none"
  note "perf record --call-graph dwarf,16384 -F 199 -p <count-write-service> -- sleep $PEAK_SECONDS   # one more peak"
  note "perf report --stdio --children --sort sym -g none   # inclusive: $R/perf-write_increment-inclusive.txt"
  note "perf report --stdio --no-children -g caller --symbols=<malloc family>   # $R/perf-write_increment-malloc.txt"
fi

# ---------------------------------------------------------------------------- start-up time
step "start-up time: process start to first 200 on /ready, $READY_REPEATS times each"
note ""
note "# start-up: benchlib.py starts each binary $READY_REPEATS times on a fresh port and polls GET /ready every 0.5 ms"
( export SHUTDOWN_TIMEOUT_SECONDS=5
  REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL \
    lib ready-time --name count-write-service --repeats "$READY_REPEATS" --out "$R/ready-count-write-service.json" -- "$WRITE_BIN"
  REDIS_REPLICA_URL=$REDIS_REPLICA_URL \
    lib ready-time --name count-read-service --repeats "$READY_REPEATS" --out "$R/ready-count-read-service.json" -- "$READ_BIN"
  REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL \
    lib ready-time --name count-management-service --repeats "$READY_REPEATS" --out "$R/ready-count-management-service.json" -- "$MGMT_BIN"
  COUNT_ADMIN_KEY=$KEY \
    lib ready-time --name count-system --repeats "$READY_REPEATS" --out "$R/ready-count-system.json" -- "$SYS_BIN" up --port '{port}' --data '{dir}'
) || die "start-up measurement failed"
note "python3 bench/benchlib.py ready-time --name count-system --repeats $READY_REPEATS --out ready.json -- count-system up --port '{port}' --data '{dir}'   # likewise for each service, same env as above"

# ---------------------------------------------------------------------------- C++ benchmarks
# Benchmarks that need the C++ code are GoogleTest programs labelled `bench` (bench/CMakeLists.txt);
# they start their own servers and print their figures.
if [ -n "$END_TO_END" ]; then
step "C++ benchmarks: ctest --preset release -L bench --verbose"
ctest --preset release -L bench --verbose >"$R/ctest-bench.txt" 2>&1 ||
  { tail -n 40 "$R/ctest-bench.txt" >&2; die "ctest -L bench failed"; }
grep -E '^[0-9]+: ' "$R/ctest-bench.txt" | grep -vE '^[0-9]+: (\[|Test command|Working Directory|Environment|Test timeout|Note: |Running main)' >&2 || true
note ""
note "ctest --preset release -L bench --verbose   # C++ benchmarks (bench/CMakeLists.txt)"

# ---------------------------------------------------------------------------- end to end
# Each starts its own servers (bench/pipeline.py and bench/live.py reuse the test fixtures).
step "end to end: event pipeline, live updates (10,000 streams), console (20 widgets)"
cmake --build --preset release --target live_load >/dev/null
python3 bench/pipeline.py --json "$R/pipeline.json" >"$R/pipeline.txt" 2>&1 ||
  { tail -n 30 "$R/pipeline.txt" >&2; die "bench/pipeline.py failed"; }
for mode in standalone services; do
  python3 bench/live.py --mode "$mode" --json "$R/live-$mode.json" >"$R/live-$mode.txt" 2>&1 ||
    { tail -n 30 "$R/live-$mode.txt" >&2; die "bench/live.py --mode $mode failed"; }
done
bench/console.sh >"$R/console.txt" 2>&1 || { tail -n 30 "$R/console.txt" >&2; die "bench/console.sh failed"; }
note ""
note "python3 bench/pipeline.py --json pipeline.json           # write → rollup visible, services and standalone"
note "python3 bench/live.py --mode standalone|services --json live.json   # 10,000 SSE streams, 1,000 writes/s"
note "bench/console.sh                                          # 20-widget dashboard, headless Chromium"
fi

# ---------------------------------------------------------------------------- 6. report
kafka_version=$(ls "$KAFKA_LIBS" | sed -n 's/^kafka_[0-9.]*-\(.*\)\.jar$/\1/p' | head -n1)
tools_json=$(python3 - "$VEGETA_VERSION" "${kafka_version:-?}" <<'EOF'
import json, re, subprocess, sys
def out(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip()
    except OSError:
        return "?"
def first(pattern, text):
    m = re.search(pattern, text)
    return m.group(1) if m else "?"
print(json.dumps({
    "nginx": first(r"nginx/(\S+)", out(["nginx", "-v"])),
    "wrk": first(r"wrk (\S+)", out(["wrk", "-v"])),
    "vegeta": sys.argv[1],
    "redis": first(r"v=(\S+)", out(["redis-server", "--version"])),
    "PostgreSQL": first(r"(\d+\.\d+)", out(["/usr/lib/postgresql/15/bin/postgres", "--version"])),
    "Kafka": sys.argv[2],
}))
EOF
)
source_rev=unknown   # read from .git without running git
gitdir=$ROOT/.git commondir=$ROOT/.git
if [ -f "$gitdir" ]; then   # a worktree: .git names its directory, which names the common one
  gitdir=$(sed -n 's/^gitdir: //p' "$ROOT/.git")
  commondir=$gitdir
  [ -f "$gitdir/commondir" ] && commondir=$(cd "$gitdir" && cd "$(cat commondir)" && pwd)
fi
if head=$(cat "$gitdir/HEAD" 2>/dev/null); then
  source_rev=$head
  if [[ $head == "ref: "* ]]; then
    ref=${head#ref: }
    commit=$(cat "$commondir/$ref" 2>/dev/null || awk -v r="$ref" '$2 == r {print $1}' "$commondir/packed-refs" 2>/dev/null || true)
    source_rev="${ref#refs/heads/} ${commit:0:12}"
  fi
fi
cat >"$R/info.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "peak_seconds": $PEAK_SECONDS, "rate_seconds": $RATE_SECONDS,
 "ready_repeats": $READY_REPEATS, "tools": $tools_json, "end_to_end": $([ -n "$END_TO_END" ] && echo true || echo false),
 "cpu_busy_before": $CPU_BUSY_BEFORE, "loadavg_before": "$LOADAVG_BEFORE",
 "loadavg_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "source": "working tree at $source_rev (release build, scripts/build.sh release)"}
EOF
step "results"
# bench/results/requests.json: the costs per operation of this run, read by bench/capacity.py.
COSTS=(--costs "$ROOT/bench/results/requests.json")
if [ -n "$DOCS" ]; then lib report "$R" --docs "$ROOT/$DOCS" "${COSTS[@]}"; else lib report "$R" "${COSTS[@]}"; fi
