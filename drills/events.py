"""The vocabulary of the journal and the ledger: one place that says what each event means.

Checks judge only from these records, so a name here is a contract between the part that
writes it (runner, faults, controller, workload, observer) and the checks and reports that
read it. Add kinds freely; do not rename or re-purpose one.

Journal line (see `drills.journal`)::

    {"seq": 0, "mono_ns": ..., "wall": "...Z", "source": "runner", "kind": "run.start",
     "payload": {...}, "prev": "<sha256 of previous line>"}

Sources: runner, fault, controller, workload, observer, check.

Ledger line (`ledger.jsonl`, written by the workload; same monotonic clock)::

    {"op": 17, "type": "invoke", "f": "write_order", "id": 10042, "dc": "dc1", "epoch": 1,
     "worker": 2, "mono_ns": ..., "wall": "..."}
    {"op": 17, "type": "ok" | "fail" | "info", ..., "error": "...", "error_code": 1062}
    {"op": 17, "type": "settle", "f": "write_order", "id": 10042, "dc": "dc1", "epoch": 1,
     "present": {"dc1": true, "dc2": false}, "mono_ns": ..., "wall": "..."}

`op` pairs an invoke with its completion. `f` is one of LEDGER_FUNCTIONS. `info` means the
outcome is unknown (timeout, connection lost after sending); a later `settle` line records
what reading the row back on the observer path found on each side.
"""

from __future__ import annotations

# ---- runner ---------------------------------------------------------------------------
RUN_START = "run.start"  # {scenario, run_id, scenario_sha256, params (secrets masked)}
RUN_END = "run.end"  # {status}
STAGE_START = "stage.start"  # {stage, parallel}
STAGE_END = "stage.end"  # {stage, status}
STEP_START = "step.start"  # {stage, step, index, type}
STEP_END = "step.end"  # {stage, step, index, type, status: ok|failed|skipped, error?, attempts}
GATE_WAIT = "gate.wait"  # {gate}
GATE_APPROVED = "gate.approved"  # {gate, by: terminal|flag|env}
SIGNAL = "run.signal"  # {signal}
RUN_TOPOLOGY = "run.topology"  # {action: up|reuse|reset|ready|kept|down, state_dir, provider?, pids?}
RUN_EXCEPTION = "run.exception"  # {error, where}            (a harness error, not a verdict)
RUN_CLEANUP_ERROR = "run.cleanup_error"  # {what, error}
RUN_BASELINE = "run.baseline"  # {regression, tolerance}     (--baseline: RTO regressed against past runs)
RUN_CHECKS = "run.checks"  # {names}        (judging starts: the record judged ends here)
RUN_ENVIRONMENT = "run.environment"  # {name, provider: external, writes, protected, allow, waive: {check: reason}}
#   someone else's environment (--environment FILE): what the drill was allowed; `waive` names
#   the checks this environment cannot let a drill judge (writes: none), read by the judge

# ---- safety (someone else's environment: drills.runner.safety) ------------------------------
SAFETY_LOCK = "safety.lock"  # {action: acquired|released|refresh_failed, key, ttl_s?}
SAFETY_ARMED = "safety.armed"  # {stop_conditions, max_fault_duration_s}
SAFETY_TRIPPED = "safety.tripped"  # {name, kind, detail, tripped_mono_ns}   (a stop condition)
SAFETY_HEALED = "safety.healed"  # {name, healed, failed, took_s}   (every fault healed after a trip)
SAFETY_FAULT_EXPIRED = "safety.fault_expired"  # {name, target, limit_s}   (healed: active too long)

# ---- faults -----------------------------------------------------------------------------
FAULT_INJECT = "fault.inject"  # {name, type, target, params}
FAULT_HEAL = "fault.heal"  # {name, type, target, by: step|runner, ok, error?}

# ---- controller (the monitor) -------------------------------------------------------------
PROBE_FAIL = "probe.fail"  # {dc, error, consecutive}        (only on changes, not every probe)
PROBE_OK = "probe.ok"  # {dc}                                 (first success after failures)
DC_FAILED = "dc.failed"  # {dc, verdict: unreachable|dead, consecutive}   == "detected"
FAILOVER_START = "failover.start"  # {from, to, mode: auto|forced|manual}
FAILOVER_REFUSED = "failover.refused"  # {from, to, reason}
FAILOVER_BLOCKED = "failover.blocked"  # {dc, reason: anti-flapping, until_mono_ns}
FENCE = "fence"  # {dc, ok, method: read_only|edge, error?, paths? (edge)}
#   read_only: the DC refuses commits from then on; edge: its service paths (application and
#   link proxies) are cut, so nothing it commits can reach a client — what a load balancer,
#   VIP or security-group change does for a primary that cannot be told to stop (hung).
FENCE_LIFTED = "fence.lifted"  # {dc, method, reason}   (a write ban undone, an edge restored)
REPLICATION_STOPPED = "replication.stopped"  # {dc}
PROMOTE = "promote"  # {dc}                                     (read_only=0 on the new side)
ROUTE_PUBLISHED = "route.published"  # {from, to, epoch, revision}
ROUTE_CAS_LOST = "route.cas_lost"  # {expected_revision, actual_revision}
FAILOVER_END = "failover.end"  # {from, to, ok, error?}
SWITCHOVER_START = "switchover.start"  # {kind: switchover|failback, from, to}
WRITE_BAN = "write_ban"  # {dc}                 (planned: old side read_only; a read-only fence)
GTID_WAIT = "gtid.wait"  # {dc, source, position, ok, waited_ms}   (dc applied source's position)
LINK_REVERSED = "link.reversed"  # {source, replica, filters: {ignore_tables, wild_ignore_tables}}
SWITCHOVER_END = "switchover.end"  # {kind, from, to, ok, error?}

# ---- an external controller (kind external: the user's own monitor and commands) -----------------
CONTROLLER_MONITOR = "controller.monitor"  # {action: started|exited|stopped, pid?, command?, exit_status?, ran_s?}
CONTROLLER_READY = "controller.ready"  # {ok, waited_ms, attempts, exit_status?, output?}
CONTROLLER_EVENT = "controller.event"  # {phase, dc?, at_mono_ns, clock: controller|read, detail?, line}
#   a line the controller wrote to $DRILLS_EVENTS (its own phases: detected, fenced, promoted,
#   published, ...); shown as RTO phases, never taken as proof of anything a check judges
CONTROLLER_EVENT_PROBLEM = "controller.event_problem"  # {line, problem, text}   (a line that could not be read)

# ---- workload -----------------------------------------------------------------------------
WORKLOAD_START = "workload.start"  # {kind, workers, rate}
WORKLOAD_ROUTE = "workload.route"  # {worker, active, epoch}      (first client op on a new route)
SEGMENT_FETCHED = "segment.fetched"  # {dc, name, low, high}
WORKLOAD_STOP = "workload.stop"  # {ok, fail, info, requested_mono_ns?}  (written once the workers finished)

# ---- observer (direct connections; what the checks read) ---------------------------------------
ROUTE_CHANGED = "route.changed"  # {active, epoch, revision, initial?, problem?}  (the runner's own etcd watch,
#   whoever wrote the key; `problem`: a value the application would not follow)
ROUTE_WATCH = "route.watch"  # {ok, error?}                (the watch lost etcd / saw the key again)
OBSERVE_IDS = "observe.ids"  # {dc, table, ranges: [[lo, hi], ...], count}
OBSERVE_SEQUENCE = "observe.sequence"  # {dc, table, name, next_val, role?: standby, source?, source_next_val?, caught_up?, when?}
#   role standby: read after the standby caught up with what the active side had when its own
#   value (source_next_val) was read — the standby's high-water mark against the active's
OBSERVE_FILTERS = "observe.filters"  # {replica, source, effective: {...}, declared: {...}}
FILTERS_DECLARED = "filters.declared"  # {ignore_tables, wild_ignore_tables, when}   (the list as drilled)
OBSERVE_SCHEMA = "observe.schema"  # {table, definitions: {dc1: "...", dc2: "..."}}
CANARY_PLAN = "canary.plan"  # {round, source, replica, tables, control, when}   (what a canary round must cover)
CANARY_WRITE = "canary.write"  # {table, source, replica, marker, filtered, key, round?, by: harness|scenario}
CANARY_OBSERVED = "canary.observed"  # {table, source, replica, marker, found, caught_up: true|false|null}
#   caught_up null: the link of that direction no longer ran when the canary was looked for;
#   the judge then needs a catch-up of that direction after the write (gtid.wait, observe.link)
OBSERVE_GTID = "observe.gtid"  # {dc, gtid_executed, gtid_binlog_state (MariaDB)}
OBSERVE_CONSISTENCY = "observe.consistency"  # {tables, identical, differences: [...]}
OBSERVE_LINK = "observe.link"  # {source, replica, io_running, sql_running, lag_s, caught_up, waited_ms, position}
OBSERVE_ERROR = "observe.error"  # {what, dc, error}       (evidence that could not be collected)

# ---- checks ---------------------------------------------------------------------------------
CHECK_RESULT = "check.result"  # {name, status, measured, objective, expected_failure, summary}

LEDGER_FUNCTIONS = ("write_order", "alloc_segment", "write_job_log", "read")
LEDGER_TYPES = ("invoke", "ok", "fail", "info", "settle")

# ---- active-active mode (drills.active_active) ---------------------------------------------
AA_TOPOLOGY = "aa.topology"  # {central, links: {"dc1->dc2": {filters, running}}, domains: {dc: id}}
AA_LOOP_CHECK = "aa.loop_check"  # {ok, rows: {origin: {dc: n}}, slave_pos: {dc: str}, problems}
AA_RULES = "aa.rules"  # {unit_epoch, units, ban, revision, by}: a unit-rule version published to etcd
AA_ACK = "aa.ack"  # {client, dc, unit_epoch, ban_epoch, banned}: a client applied this rule version
AA_CUTOVER_STEP = "aa.cutover"  # {cutover, step, ...}: one step of the cut-over protocol (journaled as done)
AA_LINK = "aa.link"  # {source, replica, io, sql, errno, error, gtid_slave_pos}: a link's state as observed
AA_ROWS = "aa.rows"  # {dc, rows: {id: [token, unit]}}: the unit table read back at the end (settlement)
AA_SETTLE = "aa.settle"  # {caught_up, link_errors, waited_ms}: the end-of-run wait for both links before the read-back
AA_REJOIN = "aa.rejoin"  # {dc, source, filters, running}: a returned unit took its link again (failback in active-active)
