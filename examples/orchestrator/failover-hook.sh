#!/usr/bin/env bash
# orchestrator's hooks (orchestrator.sh puts them in its config). orchestrator runs them with
# its own environment (the DRILLS_* variables drills gave the monitor) plus ORC_* variables,
# and these placeholders on the command line — nothing secret travels in argv:
#
#   failover-hook.sh detected     {failureType} {failedHost} {failedPort}      OnFailureDetectionProcesses
#   failover-hook.sh pre          {failureType} {failedHost} {failedPort}      PreFailoverProcesses
#   failover-hook.sh post         {failureType} {failedHost} {failedPort} {successorHost} {successorPort}
#                                                                              PostMasterFailoverProcesses
#   failover-hook.sh unsuccessful {failureType} {failedHost} {failedPort}      PostUnsuccessfulFailoverProcesses
#
# Phases written to $DRILLS_EVENTS: suspected (UnreachableMaster: dc1 does not answer but dc2
# still says it replicates; orchestrator only watches), detected (e.g. DeadMaster),
# recovering (it decided to fail over), promoted (the successor is writable: orchestrator
# has run RESET SLAVE ALL and read_only=0 before it calls the post hook), published (our
# compare-and-swap of the routing key), and fenced / fence_failed: orchestrator does NOT fence
# before promoting. After promoting it tries, once and in the background, to set the old
# master read_only=1 ("applying read-only=1 on demoted master" in its recovery audit); we
# report what that attempt says, found through its API, with the moment we saw it.
set -u
export ETCDCTL_API=3

# orchestrator shows a hook's output only in its verbose log: keep our own in hooks.log too
hooks_log=${DRILLS_RUN_DIR:-/tmp}/orchestrator/hooks.log
log() { printf '%s hook[%s]: %s\n' "$(date +%H:%M:%S.%3N)" "${what:-?}" "$*" | tee -a "$hooks_log" >&2; }

event() { # phase dc [detail]
  local detail=""
  [ -n "${3:-}" ] && detail=",\"detail\":$(jq -R . <<<"$3")"
  printf '{"phase":"%s","dc":"%s","time":%s%s}\n' "$1" "$2" "$(date +%s.%N)" "$detail" \
    >>"${DRILLS_EVENTS:-/dev/null}"
}

dc_of() { # host port -> dc1 | dc2 | "" : orchestrator knows each server by its identity address
  if [ "$1" = "$DRILLS_DC1_IDENTITY_HOST" ] && [ "$2" = "$DRILLS_DC1_IDENTITY_PORT" ]; then echo dc1
  elif [ "$1" = "$DRILLS_DC2_IDENTITY_HOST" ] && [ "$2" = "$DRILLS_DC2_IDENTITY_PORT" ]; then echo dc2
  fi
}

etcd() { etcdctl --endpoints="$DRILLS_ETCD_SERVICE_ENDPOINT" --dial-timeout=1s --command-timeout=2s "$@"; }

read_route() { # sets ROUTE, ACTIVE, EPOCH, REVISION
  local json
  json=$(etcd get "$DRILLS_ROUTING_KEY" -w json) || return 1
  REVISION=$(jq -r '.kvs[0].mod_revision' <<<"$json")
  ROUTE=$(jq -r '.kvs[0].value | @base64d' <<<"$json")
  ACTIVE=$(jq -r '.active' <<<"$ROUTE")
  EPOCH=$(jq -r '.epoch' <<<"$ROUTE")
  [ -n "$ACTIVE" ] && [ "$ACTIVE" != null ]
}

publish() { # new_active: compare-and-swap on the revision we read, never a blind put
  local doc attempt
  for attempt in 1 2 3 4 5; do
    read_route || { log "cannot read the routing key (attempt $attempt)"; sleep 0.2; continue; }
    if [ "$ACTIVE" = "$1" ]; then
      log "the route already names $1 (epoch $EPOCH); nothing to publish"
      return 0
    fi
    doc=$(jq -c --arg a "$1" '.active = $a | .epoch += 1' <<<"$ROUTE")
    # etcdctl's txn reads a value as one double-quoted, backslash-escaped string: jq -R makes it
    if etcd txn <<EOF | head -1 | grep -q SUCCESS
mod("$DRILLS_ROUTING_KEY") = "$REVISION"

put $DRILLS_ROUTING_KEY $(jq -R . <<<"$doc")


EOF
    then
      log "published route: $doc"
      event published "$1" "epoch $((EPOCH + 1))"
      return 0
    fi
    log "the route changed under us (revision $REVISION); reading it again"
  done
  log "could not publish the route to $1"
  event publish_failed "$1"
  return 1
}

port_file=${DRILLS_RUN_DIR:-.}/orchestrator/http-port
api() { curl -fsS --max-time 2 "http://127.0.0.1:$(cat "$port_file")/api/$1"; }

# orchestrator's own (background, best-effort) fence of the demoted master, as its audit says
watch_fence() { # dc uid
  local i steps msg
  for i in $(seq 1 50); do
    steps=$(api "audit-recovery-steps/$2" 2>/dev/null) || steps='[]'
    msg=$(jq -r '[.[] | .Message | select(test("read-only=1 on demoted master"))] | last // empty' <<<"$steps" 2>/dev/null)
    if [ -n "$msg" ]; then
      log "orchestrator says: $msg"
      case $msg in
        *success=true*) event fenced "$1" "orchestrator: read_only=1 after promotion" ;;
        *) event fence_failed "$1" "orchestrator: read_only=1 after promotion failed (unreachable)" ;;
      esac
      return
    fi
    sleep 0.2
  done
  log "no word from orchestrator on fencing $1"
}

what=${1:-}
shift || true
type=${1:-} failed_host=${2:-} failed_port=${3:-}
failed_dc=$(dc_of "$failed_host" "$failed_port")
case $what in
  detected)
    log "orchestrator detected $type on $failed_host:$failed_port (${failed_dc:-unknown dc})"
    # UnreachableMaster: the master does not answer but its replica still says it replicates;
    # orchestrator waits (no action plan). DeadMaster (and the rest) is what it acts on.
    case $type in
      Unreachable*) event suspected "${failed_dc:-$failed_host:$failed_port}" "$type" ;;
      *) event detected "${failed_dc:-$failed_host:$failed_port}" "$type" ;;
    esac
    ;;
  pre)
    log "orchestrator will recover $type on $failed_host:$failed_port; it does not fence before promoting"
    event recovering "${failed_dc:-$failed_host:$failed_port}" "$type"
    ;;
  post)
    succ_host=${4:-} succ_port=${5:-}
    succ_dc=$(dc_of "$succ_host" "$succ_port")
    if [ -z "$succ_dc" ]; then
      log "successor $succ_host:$succ_port is neither dc1 nor dc2's identity address: not publishing"
      event publish_refused "$succ_host:$succ_port" "unknown successor"
      exit 1
    fi
    log "orchestrator promoted $succ_dc ($succ_host:$succ_port) after $type on ${failed_dc:-$failed_host:$failed_port}"
    event promoted "$succ_dc" "$type"
    publish "$succ_dc"
    rc=$?
    # orchestrator waits for its hooks' output: the fence watch must not hold our stdout/stderr
    if [ -n "${ORC_RECOVERY_UID:-}" ] && [ -n "$failed_dc" ]; then
      watch_fence "$failed_dc" "$ORC_RECOVERY_UID" </dev/null >/dev/null 2>&1 &
    fi
    exit $rc
    ;;
  unsuccessful)
    log "orchestrator could not recover $type on $failed_host:$failed_port"
    event failover_failed "${failed_dc:-$failed_host:$failed_port}" "$type"
    ;;
  *)
    log "usage: $0 detected|pre|post|unsuccessful failureType failedHost failedPort [successorHost successorPort]"
    exit 2
    ;;
esac
