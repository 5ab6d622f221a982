#!/usr/bin/env bash
# drills polls this until it exits 0 (controller.ready). It asks orchestrator to discover dc1
# and dc2 by their identity addresses, then succeeds only once orchestrator could fail over:
# it is the elected active node, past its start-up grace (no recoveries in its first 3 s),
# and its API shows one cluster holding both servers: dc1 a master with no master of its own,
# dc2 replicating from dc1 with both threads running, both last checks valid.
# Idempotent: discovering twice is harmless.
set -u

port_file=$DRILLS_RUN_DIR/orchestrator/http-port
[ -s "$port_file" ] || { echo "orchestrator has not written its port yet"; exit 1; }
base="http://127.0.0.1:$(cat "$port_file")/api"
dc1="$DRILLS_DC1_IDENTITY_HOST:$DRILLS_DC1_IDENTITY_PORT"

curl -fsS --max-time 2 "$base/discover/$DRILLS_DC1_IDENTITY_HOST/$DRILLS_DC1_IDENTITY_PORT" >/dev/null \
  || { echo "orchestrator's API does not answer (yet), or cannot discover dc1 at $dc1"; exit 1; }
curl -fsS --max-time 2 "$base/discover/$DRILLS_DC2_IDENTITY_HOST/$DRILLS_DC2_IDENTITY_PORT" >/dev/null \
  || { echo "orchestrator cannot discover dc2"; exit 1; }

# orchestrator polls and recovers only as the elected active node (200 from leader-check) ...
curl -fsS --max-time 2 -o /dev/null "$base/leader-check" || { echo "orchestrator is not the active node yet"; exit 1; }
# ... and runs no recovery for its first 3 x InstancePollSeconds (3 s)
started=$(cat "$DRILLS_RUN_DIR/orchestrator/started-at" 2>/dev/null || echo 0)
awk -v s="$started" -v now="$(date +%s.%N)" 'BEGIN {exit !(now - s >= 3.5)}' \
  || { echo "orchestrator started less than 3.5 s ago: it would not recover yet"; exit 1; }

cluster=$(curl -fsS --max-time 2 "$base/cluster/$dc1") || { echo "no cluster for $dc1 yet"; exit 1; }
jq -e --arg h1 "$DRILLS_DC1_IDENTITY_HOST" --argjson p1 "$DRILLS_DC1_IDENTITY_PORT" \
      --arg h2 "$DRILLS_DC2_IDENTITY_HOST" --argjson p2 "$DRILLS_DC2_IDENTITY_PORT" '
  (map(select(.Key.Hostname == $h1 and .Key.Port == $p1)) | first) as $m
  | (map(select(.Key.Hostname == $h2 and .Key.Port == $p2)) | first) as $r
  | length == 2 and $m != null and $r != null
    and $m.IsLastCheckValid and ($m.MasterKey.Hostname // "") == ""
    and $r.IsLastCheckValid
    and $r.MasterKey.Hostname == $h1 and $r.MasterKey.Port == $p1
    and $r.Slave_IO_Running and $r.Slave_SQL_Running
    and $m.ClusterName == $r.ClusterName' <<<"$cluster" >/dev/null || {
  echo "orchestrator does not yet see dc1 as master of dc2: $(jq -c 'map({k: "\(.Key.Hostname):\(.Key.Port)", m: "\(.MasterKey.Hostname):\(.MasterKey.Port)", ok: .IsLastCheckValid})' <<<"$cluster")"
  exit 1
}
echo "orchestrator sees $dc1 (dc1) as master of $DRILLS_DC2_IDENTITY_HOST:$DRILLS_DC2_IDENTITY_PORT (dc2)"
