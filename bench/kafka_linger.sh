#!/usr/bin/env bash
# The Kafka broker's CPU per event against the producer's linger (KAFKA_LINGER_MS): a
# single-node KRaft broker, Kafka's own ProducerPerformance at a fixed 10,000 events/s of
# 220 bytes with the relay's settings (acks=all, lz4, idempotence), each linger run twice.
# Prints µs of broker CPU (user + system, idle included) per event and the producer's latency.
#   bench/kafka_linger.sh [linger_ms ...]     (default: 5 20 50)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 0 ]; then LINGERS=("$@"); else LINGERS=(5 20 50); fi
LIBS=$("$ROOT/scripts/kafka.sh" --tools | tail -n1)
mapfile -t ports < <(python3 "$ROOT/bench/benchlib.py" freeports 2)
P=${ports[0]} C=${ports[1]}
T=$(mktemp -d)
KP=""
cleanup() {
  if [ -n "$KP" ]; then kill "$KP" 2>/dev/null || true; wait "$KP" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
printf '%s\n' "process.roles=broker,controller" "node.id=1" \
  "controller.quorum.voters=1@127.0.0.1:$C" \
  "listeners=PLAINTEXT://127.0.0.1:$P,CONTROLLER://127.0.0.1:$C" \
  "advertised.listeners=PLAINTEXT://127.0.0.1:$P" "controller.listener.names=CONTROLLER" \
  "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" \
  "log.dirs=$T/data" "num.partitions=3" "auto.create.topics.enable=true" \
  "offsets.topic.replication.factor=1" "transaction.state.log.replication.factor=1" \
  "transaction.state.log.min.isr=1" >"$T/server.properties"
J=(java -Xmx512m -Dlog4j.configuration=file:/dev/null -cp "$LIBS/*")
"${J[@]}" kafka.tools.StorageTool format -c "$T/server.properties" \
  -t "$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')" \
  >"$T/format.log" 2>&1
"${J[@]}" kafka.Kafka "$T/server.properties" >"$T/kafka.log" 2>&1 &
KP=$!
for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.5; done
cpu() { awk '{print $14 + $15}' "/proc/$KP/stat"; }
EVENTS=150000
echo "linger_ms  broker_us_per_event  producer"
for round in 1 2; do
  for linger in "${LINGERS[@]}"; do
    before=$(cpu)
    "${J[@]}" org.apache.kafka.tools.ProducerPerformance --topic "linger-$round-$linger" \
      --num-records "$EVENTS" --record-size 220 --throughput 10000 --producer-props \
      "bootstrap.servers=127.0.0.1:$P" acks=all compression.type=lz4 "linger.ms=$linger" \
      enable.idempotence=true >"$T/perf.log" 2>&1 || { cat "$T/perf.log" >&2; exit 1; }
    after=$(cpu)
    printf '%-10s %-20s %s\n' "$linger" \
      "$(python3 -c "print(round(($after - $before) / $(getconf CLK_TCK) * 1e6 / $EVENTS, 1))")" \
      "$(tail -n1 "$T/perf.log" | sed 's/^[0-9]* records sent, //')"
  done
done
