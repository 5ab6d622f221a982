#!/usr/bin/env bash
# A home-grown failover monitor, written the way a team writes one: a loop that probes the
# writer, and after a few failed probes fences it, promotes the standby and flips the
# routing key. Nothing here knows about drills except the environment it is given
# (README: "Drill your own controller"):
#
#   DRILLS_DC1_IDENTITY_HOST/PORT, DRILLS_DC2_IDENTITY_HOST/PORT   how to reach each server
#   DRILLS_ADMIN_USER/PASSWORD                                      an account that may promote
#   DRILLS_ETCD_SERVICE_ENDPOINT, DRILLS_ROUTING_KEY               the routing key the app follows
#   DRILLS_EVENTS                                                   where to note our own phases
#
# ORDER=publish-first plants the classic bug: publish the new route, then promote (slowly).
# The application follows the route to a server that is still read-only, and cannot write
# until the promotion lands — which the drill must catch.
set -u

PROBE_INTERVAL=${PROBE_INTERVAL:-0.2}
FAILURES=${FAILURES:-3}
ORDER=${ORDER:-promote-first}
PROMOTE_DELAY=${PROMOTE_DELAY:-3}
export ETCDCTL_API=3

log() { printf '%s monitor: %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }

# One JSON line per phase, with our own clock.
event() { # phase dc [detail]
  printf '{"phase":"%s","dc":"%s","time":%s%s}\n' "$1" "$2" "$(date +%s.%N)" "${3:+,\"detail\":\"$3\"}" \
    >>"${DRILLS_EVENTS:-/dev/null}"
}

identity() { # dc -> "host port"
  case $1 in
    dc1) echo "$DRILLS_DC1_IDENTITY_HOST $DRILLS_DC1_IDENTITY_PORT" ;;
    dc2) echo "$DRILLS_DC2_IDENTITY_HOST $DRILLS_DC2_IDENTITY_PORT" ;;
  esac
}

sql() { # dc statement...   (the password travels in the environment, never on a command line)
  local host port
  read -r host port <<<"$(identity "$1")"
  shift
  MYSQL_PWD="$DRILLS_ADMIN_PASSWORD" mariadb --connect-timeout=1 -h "$host" -P "$port" \
    -u "$DRILLS_ADMIN_USER" -N -B -e "$*" 2>&1
}

etcd() { etcdctl --endpoints="$DRILLS_ETCD_SERVICE_ENDPOINT" --dial-timeout=1s --command-timeout=2s "$@"; }

# The route and its revision: sets ROUTE, ACTIVE, EPOCH, REVISION.
read_route() {
  local json
  json=$(etcd get "$DRILLS_ROUTING_KEY" -w json) || return 1
  REVISION=$(jq -r '.kvs[0].mod_revision' <<<"$json")
  ROUTE=$(jq -r '.kvs[0].value | @base64d' <<<"$json")
  ACTIVE=$(jq -r '.active' <<<"$ROUTE")
  EPOCH=$(jq -r '.epoch' <<<"$ROUTE")
  [ -n "$ACTIVE" ] && [ "$ACTIVE" != null ]
}

other() { [ "$1" = dc1 ] && echo dc2 || echo dc1; }

publish() { # new_active: compare-and-swap on the revision we read, never a blind put
  local doc
  doc=$(jq -c --arg a "$1" '.active = $a | .epoch += 1' <<<"$ROUTE")
  # etcdctl's txn reads a value as one double-quoted, backslash-escaped string: jq -R makes it
  if etcd txn <<EOF | head -1 | grep -q SUCCESS
mod("$DRILLS_ROUTING_KEY") = "$REVISION"

put $DRILLS_ROUTING_KEY $(jq -R . <<<"$doc")


EOF
  then
    log "published route: $doc"
    event published "$1" "epoch $((EPOCH + 1))"
  else
    log "the route changed under us; not publishing"
    return 1
  fi
}

promote() { # dc: stop replicating once the relay log is applied, then take writes
  local i status
  for i in $(seq 1 50); do
    status=$(sql "$1" "SHOW SLAVE STATUS\G") || break
    [ -z "$status" ] && break
    # applied everything it received: same file and position read and executed
    if awk -F': ' '$1 ~ /^ *Master_Log_File$/ {mf=$2} $1 ~ /Relay_Master_Log_File$/ {rf=$2}
                   $1 ~ /Read_Master_Log_Pos$/ {rp=$2} $1 ~ /Exec_Master_Log_Pos$/ {ep=$2}
                   END {exit !(mf == rf && rp == ep)}' <<<"$status"; then
      break
    fi
    sleep 0.1
  done
  sql "$1" "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0" >/dev/null && {
    log "promoted $1"
    event promoted "$1"
  }
}

failover() { # from to
  local from=$1 to=$2
  log "$from failed $FAILURES probes in a row: failing over to $to"
  event detected "$from"
  if sql "$from" "SET GLOBAL read_only = 1" >/dev/null; then
    event fenced "$from" "read_only"
  else
    event fence_failed "$from" "unreachable"
  fi
  if [ "$ORDER" = publish-first ]; then
    publish "$to" || return
    sleep "$PROMOTE_DELAY"
    promote "$to"
  else
    promote "$to"
    publish "$to"
  fi
}

trap 'log "stopping"; exit 0' TERM INT
fails=0
ready=0
while true; do
  if ! read_route; then
    log "cannot read the routing key"
    sleep "$PROBE_INTERVAL"
    continue
  fi
  if out=$(sql "$ACTIVE" "SELECT 1"); then
    fails=0
    if [ $ready = 0 ]; then
      ready=1
      log "watching $ACTIVE (epoch $EPOCH)"
      event watching "$ACTIVE"
    fi
  else
    fails=$((fails + 1))
    log "probe of $ACTIVE failed ($fails/$FAILURES): $out"
    if [ $ready = 1 ] && [ $fails -ge "$FAILURES" ]; then
      failover "$ACTIVE" "$(other "$ACTIVE")"
      fails=0
    fi
  fi
  sleep "$PROBE_INTERVAL"
done
