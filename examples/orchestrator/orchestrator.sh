#!/usr/bin/env bash
# Run the real openark/orchestrator (3.2.6) as a drills `kind: external` monitor.
#
# Everything orchestrator needs comes from the environment drills gives a monitor
# (README: "Drill your own controller"; drills/control/external.py):
#
#   DRILLS_DC1_IDENTITY_HOST/PORT, DRILLS_DC2_IDENTITY_HOST/PORT   the one address to manage each server by
#   DRILLS_ADMIN_USER/PASSWORD                                      orchestrator's topology account
#   DRILLS_RUN_DIR                                                  where its SQLite backend and port go (the record)
#   DRILLS_PRIVATE_DIR                                              where its config goes: it holds the password, and
#                                                                   this directory is never part of the record
#   DRILLS_ETCD_SERVICE_ENDPOINT, DRILLS_ROUTING_KEY, DRILLS_EVENTS used by the hooks (failover-hook.sh)
#
# The binary is $ORCHESTRATOR (default: `orchestrator` on PATH). It is not packaged for
# Debian or any registry; README.md beside this file builds it from source.
#
# This script writes the config (mode 0600, in the private directory) and then becomes
# orchestrator (`exec`), so drills' stop (SIGTERM to the process group) reaches it. Discovery
# is done by ready.sh through orchestrator's own HTTP API.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
ORCHESTRATOR=${ORCHESTRATOR:-orchestrator}
log() { printf '%s orchestrator.sh: %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }

bin=$(command -v "$ORCHESTRATOR" 2>/dev/null) || {
  log "orchestrator not found: \$ORCHESTRATOR is '$ORCHESTRATOR', which is not an executable on PATH."
  log "Build it from source (examples/orchestrator/README.md) and run e.g."
  log "  ORCHESTRATOR=/path/to/bin/orchestrator drills run examples/orchestrator/dc1-crash.yaml"
  exit 127
}
for v in DRILLS_RUN_DIR DRILLS_PRIVATE_DIR DRILLS_DC1_IDENTITY_HOST DRILLS_DC1_IDENTITY_PORT DRILLS_DC2_IDENTITY_HOST \
         DRILLS_DC2_IDENTITY_PORT DRILLS_ADMIN_USER DRILLS_ADMIN_PASSWORD; do
  [ -n "${!v:-}" ] || { log "$v is not set: run me from a drills scenario (controller: {kind: external})"; exit 2; }
done
for tool in jq curl etcdctl python3; do
  command -v "$tool" >/dev/null || { log "$tool is needed (by this script or the hooks) and is not on PATH"; exit 127; }
done

work=$DRILLS_RUN_DIR/orchestrator
umask 077
mkdir -p "$work"

# orchestrator serves its web UI from ./resources (relative to its working directory); the
# API, which is all we use, works without it. Link it when we can find it.
resources=${ORCHESTRATOR_RESOURCES:-$(dirname "$bin")/../resources}
[ -d "$resources" ] && ln -sfn "$(cd "$resources" && pwd)" "$work/resources"

# A free port for the HTTP API on loopback; ready.sh and the hooks read it from this file.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "$port" >"$work/http-port"

hook="$here/failover-hook.sh"
# The password goes in through jq's environment (env.DRILLS_ADMIN_PASSWORD), never argv.
conf=$DRILLS_PRIVATE_DIR/orchestrator.conf.json  # private to this run, removed by drills at the end
jq -n --arg listen "127.0.0.1:$port" --arg db "$work/orchestrator.sqlite3" --arg hook "$hook" '
{
  Debug: false,
  EnableSyslog: false,
  ListenAddress: $listen,
  BackendDB: "sqlite3",
  SQLite3DataFile: $db,
  MySQLTopologyUser: env.DRILLS_ADMIN_USER,
  MySQLTopologyPassword: env.DRILLS_ADMIN_PASSWORD,
  MySQLTopologyUseMixedTLS: false,

  # fast timings: one poll a second, give up on a connection after one second
  MySQLConnectTimeoutSeconds: 1,
  MySQLDiscoveryReadTimeoutSeconds: 1,
  MySQLTopologyReadTimeoutSeconds: 3,
  InstancePollSeconds: 1,
  ReasonableReplicationLagSeconds: 10,

  # the servers report their identity address (report_host/report_port): take it as is
  DiscoverByShowSlaveHosts: true,
  HostnameResolveMethod: "none",
  MySQLHostnameResolveMethod: "",
  SkipBinlogServerUnresolveCheck: true,

  # recover masters of every cluster, promote fully, and do not block a drill for an hour
  RecoverMasterClusterFilters: ["*"],
  RecoverIntermediateMasterClusterFilters: [],
  ApplyMySQLPromotionAfterMasterFailover: true,
  DelayMasterPromotionIfSQLThreadNotUpToDate: true,
  PreventCrossDataCenterMasterFailover: false,
  RecoveryPeriodBlockSeconds: 5,
  FailureDetectionPeriodBlockMinutes: 1,

  # hooks: our phases in $DRILLS_EVENTS, and the route published by compare-and-swap
  OnFailureDetectionProcesses: [$hook + " detected {failureType} {failedHost} {failedPort}"],
  PreFailoverProcesses: [$hook + " pre {failureType} {failedHost} {failedPort}"],
  PostMasterFailoverProcesses: [$hook + " post {failureType} {failedHost} {failedPort} {successorHost} {successorPort}"],
  PostUnsuccessfulFailoverProcesses: [$hook + " unsuccessful {failureType} {failedHost} {failedPort}"],

  AuditToBackendDB: true,
  AuditToSyslog: false,
  RaftEnabled: false,
  AutoPseudoGTID: false
}' >"$conf"
chmod 600 "$conf"

log "$bin $("$bin" --version 2>/dev/null | head -1), HTTP API on 127.0.0.1:$port"
log "managing dc1 as $DRILLS_DC1_IDENTITY_HOST:$DRILLS_DC1_IDENTITY_PORT, dc2 as $DRILLS_DC2_IDENTITY_HOST:$DRILLS_DC2_IDENTITY_PORT"
cd "$work"
# ready.sh waits until orchestrator may recover at all: it runs no recovery for its first
# 3 x InstancePollSeconds, and counts them from about now.
date +%s.%N >"$work/started-at"
# --grab-election: a fresh backend holds a placeholder leader row, and orchestrator would
# otherwise stay "Not elected as active node" (no polling, no recovery) for the first ~5 s
# (ActiveNodeExpireSeconds). It is alone with its own SQLite file, so taking over is safe.
# --verbose (ORCHESTRATOR_VERBOSE=0 to drop it): recovery steps and hook output in monitor.log.
verbose=--verbose
[ "${ORCHESTRATOR_VERBOSE:-1}" = 0 ] && verbose=
exec "$bin" --config="$conf" --grab-election $verbose http
