#!/bin/sh
# Makes a Redis Cluster of the nodes named in NODES (host names, space-separated, six for
# three primaries with one replica each) once every one answers: `redis-cli --cluster create
# --cluster-replicas 1`, which gives each primary an equal contiguous slot range. Run by the
# init Job of components/redis-cluster (and of the chart, redis.cluster.create) on every
# deploy, and by compose.yaml's redis-cluster-init: so it is idempotent. When the first node
# already serves all 16384 slots it creates nothing; a node that knows others but not every
# slot (a create that stopped half-way) is left alone, and the script fails naming it.
# The nodes announce their address on the bus (cluster-announce-ip), which CLUSTER MEET needs
# (it takes addresses, not names).
set -eu
: "${NODES:?NODES: the host names of the nodes}"
info() { redis-cli -h "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }
addresses=""
for host in $NODES; do
  until [ "$(redis-cli -h "$host" ping 2>/dev/null)" = PONG ]; do
    echo "waiting for ${host}"
    sleep 2
  done
  addresses="${addresses} $(redis-cli -h "$host" config get cluster-announce-ip | tail -n 1):6379"
done
first="${NODES%% *}"
if [ "$(info "$first" cluster_slots_assigned)" = 16384 ]; then
  echo "the cluster exists: nothing to create"
elif [ "$(info "$first" cluster_known_nodes)" != 1 ]; then
  echo "${first} knows other nodes but not every slot is assigned: repair by hand" \
    "(redis-cli --cluster check / fix; docs/DEPLOY.md, \"Redis Cluster\")" >&2
  exit 1
else
  # shellcheck disable=SC2086  # one argument per node
  redis-cli --cluster create ${addresses} --cluster-replicas 1 --cluster-yes
fi
until [ "$(info "$first" cluster_state)" = ok ]; do
  echo "waiting for cluster_state:ok"
  sleep 2
done
redis-cli -h "$first" cluster info | tr -d '\r' | grep -E '^cluster_(state|slots_ok|known_nodes|size):'
