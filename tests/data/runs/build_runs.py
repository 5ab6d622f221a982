"""Builds the recorded runs the report tests render from (deterministic; re-run after changing it).

Four hand-built runs, each the shape the runner writes (issue 3: result.json, journal.jsonl,
ledger.jsonl, scenario.yaml, filter_list.yaml). Their `checks` carry the measured values,
evidence and plain-language `summary` in the shape and wording drills/checks give them
(issue 10), written out here rather than computed, so that a change to a check never changes
these records silently; each run's status and `reasons` come from the runner's own
`judge_checks`, so a record cannot claim a status its checks do not give.

- ``failover-passed``: dc1's port changes, the monitor fails over to dc2, dc1 is healed and
  failed back by hand; every check passes.
- ``sequence-filtered-failed``: the incident of the source documents (sequence table on the
  filter list) plus a lagging link: dc2 hands out IDs 1.. again, 22 writes hit duplicate-key
  errors and 3 lost IDs are reissued (sequence_continuity fails, as the scenario expects);
  lost writes, a reversed link missing a filter and an unexplained differing row fail
  unexpectedly; split brain could not be computed (an unwaived unknown). Its params carry a
  secret the runner failed to mask, so the renderers' masking is what the tests prove.
- ``diverged-waived-passed``: a row changed by hand on dc2, no switch: data_consistency fails
  as expected, rto and rpo are `unknown` and waived by the scenario — a passing run (exit 0).
- ``crash-killed``: the run was killed mid-failover: journal and ledger only, no result.json.

    python tests/data/runs/build_runs.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from drills.journal import GENESIS, line_hash
from drills.runner.result import judge_checks

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
T0_NS = 5_000_000_000_000
SECRET = "Tr0ub4dor&3-s3cret"
LISTED = 8  # evidence lists kept short here (the checks list up to 50; `measured` has the counts)


def wall(t: float, base: str) -> str:
    """Wall clock of a run starting at `base` (HH:MM:SS on 2025-03-01), `t` seconds in."""
    h, m, s = (int(x) for x in base.split(":"))
    ms_total = int(round(((h * 60 + m) * 60 + s) * 1000 + t * 1000))
    hh, rem = divmod(ms_total, 3_600_000)
    mm, rem = divmod(rem, 60_000)
    ss, ms = divmod(rem, 1000)
    return f"2025-03-01T{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}Z"


class JournalBuilder:
    def __init__(self, base: str) -> None:
        self.base = base
        self.lines: list[str] = []
        self.prev = GENESIS

    def add(self, t: float, origin: str, event: str, /, **payload: Any) -> int:
        """Append one line; returns its `seq` (evidence points back to journal lines)."""
        rec = {
            "seq": len(self.lines),
            "mono_ns": T0_NS + int(round(t * 1e9)),
            "wall": wall(t, self.base),
            "source": origin,
            "kind": event,
            "payload": payload,
            "prev": self.prev,
        }
        line = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=False)
        self.lines.append(line)
        self.prev = line_hash(line)
        return rec["seq"]

    def write(self, path: Path) -> str:
        path.write_text("".join(line + "\n" for line in self.lines), encoding="utf-8")
        return self.prev


class LedgerBuilder:
    def __init__(self, base: str) -> None:
        self.base = base
        self.rows: list[dict[str, Any]] = []
        self.op = 0

    def write_order(self, t: float, dc: str, epoch: int, oid: int | None, outcome: str, worker: int = 0,
                    latency: float = 0.012, error: str | None = None, error_code: int | None = None) -> None:
        self.op += 1
        inv = {"op": self.op, "type": "invoke", "f": "write_order", "id": oid, "dc": dc, "epoch": epoch,
               "worker": worker, "mono_ns": T0_NS + int(round(t * 1e9)), "wall": wall(t, self.base)}
        done = dict(inv, type=outcome, mono_ns=T0_NS + int(round((t + latency) * 1e9)),
                    wall=wall(t + latency, self.base))
        if error:
            done["error"] = error
        if error_code is not None:
            done["error_code"] = error_code
        self.rows += [inv, done]

    def ref(self, oid: int, dc: str) -> dict[str, Any]:
        """The compact reference the checks put in their evidence (`Op.ref()`), for the last
        write of order `oid` sent to `dc`."""
        done = [r for r in self.rows if r["type"] != "invoke" and r["id"] == oid and r["dc"] == dc][-1]
        out = {"op": done["op"], "f": done["f"], "id": oid, "dc": dc, "epoch": done["epoch"], "outcome": done["type"]}
        if "error_code" in done:
            out["error_code"] = done["error_code"]
        return out

    def write(self, path: Path) -> None:
        path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.rows), encoding="utf-8")


def judged(checks: list[dict[str, Any]], *, required: Any, expected_to_fail: Any) -> tuple[str, list[str]]:
    """The run's status and reasons as the runner derives them from its checks, so a recorded
    run can never claim a status its checks do not give."""
    return judge_checks(checks, required, expected_to_fail)


def journal_checks(j: JournalBuilder, t: float, checks: list[dict[str, Any]]) -> None:
    """One `check.result` line per check, with what drills.checks.judge journals."""
    for i, c in enumerate(checks):
        j.add(t + i * 0.05, "check", "check.result", name=c["name"], status=c["status"], measured=c["measured"],
              objective=c["objective"], expected_failure=c["expected_failure"], summary=c["summary"],
              **({"waived": c["waived"]} if c.get("waived") else {}))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def environment(scenario_file: str, scenario_sha: str, operator: str) -> dict[str, Any]:
    return {
        "drills_version": "0.1.0",
        "flavor": "mariadb",
        "topology": "local",
        "servers": {
            "dc1": {"flavor": "mariadb", "version": "10.11.6-MariaDB-0+deb12u1"},
            "dc2": {"flavor": "mariadb", "version": "10.11.6-MariaDB-0+deb12u1"},
            "etcd": {"version": "3.4.23"},
            "toxiproxy": {"version": "2.12.0"},
        },
        "scenario_file": scenario_file,
        "scenario_sha256": scenario_sha,
        "operator": operator,
        "host": "ci-runner-7",
        "python": "3.11.2",
    }


# --------------------------------------------------------------------------------------------
PASSED_SCENARIO = """\
# The drill of the source documents: dc1's port changes, the monitor fails over to dc2,
# dc1 is healed, nothing fails back by itself, then a manual failback.
name: dc1-port-change-failover
description: >-
  Port change on dc1: the monitor must fail over to dc2 automatically, must not fail back by
  itself once dc1 is healthy, and a manual failback must lose nothing.
params:
  workers: 4
  rate: 40
stages:
  - name: prepare
    steps:
      - workload: {kind: orders, workers: 4, rate: 40}
  - name: fault
    steps:
      - fault: {name: dc1-port, type: port_change, target: app:dc1}
      - expect: {active: dc2, within: 15s}
      - heal: dc1-port
  - name: failback
    steps:
      - failback: {to: dc1}
objectives:
  rto: 10s
  rpo: 0
"""


def build_passed(out: Path) -> None:
    base = "10:15:00"
    j, led = JournalBuilder(base), LedgerBuilder(base)
    scenario_sha = hashlib.sha256(PASSED_SCENARIO.encode()).hexdigest()
    j.add(0.000, "runner", "run.start", scenario="dc1-port-change-failover", run_id="20250301T101500Z-7f3a",
          scenario_sha256=scenario_sha, params={"workers": 4, "rate": 40})
    j.add(0.010, "runner", "stage.start", stage="prepare", parallel=False)
    j.add(0.020, "runner", "step.start", stage="prepare", step="workload", index=0, type="workload")
    j.add(0.100, "workload", "workload.start", kind="orders", workers=4, rate=40)
    j.add(0.150, "workload", "segment.fetched", dc="dc1", name="order", low=10001, high=20000)
    j.add(0.200, "runner", "step.end", stage="prepare", step="workload", index=0, type="workload", status="ok", attempts=1)
    j.add(0.210, "runner", "stage.end", stage="prepare", status="ok")
    oid = 10001
    t = 0.5
    while t < 5.0:
        led.write_order(t, "dc1", 1, oid, "ok", worker=int(t * 10) % 4)
        oid += 1
        t = round(t + 0.1, 3)
    seq: dict[str, int] = {}
    seq["filters"] = j.add(1.000, "observer", "observe.filters", replica="dc2", source="dc1",
          effective={"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                     "wild_ignore_tables": ["app.tmp_%", "bi.%"]},
          declared={"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                    "wild_ignore_tables": ["app.tmp_%", "bi.%"]})
    j.add(4.990, "runner", "stage.start", stage="fault", parallel=False)
    j.add(4.995, "runner", "step.start", stage="fault", step="dc1-port", index=0, type="fault")
    seq["fault"] = j.add(5.000, "fault", "fault.inject", name="dc1-port", type="port_change", target="app:dc1",
          params={"listen": "127.0.0.1:0"})
    j.add(5.005, "runner", "step.end", stage="fault", step="dc1-port", index=0, type="fault", status="ok", attempts=1)
    t = 5.0  # the first write after the port change fails at once: the outage starts at the fault
    while t < 8.4:
        led.write_order(t, "dc1", 1, oid, "fail", error="(2003, \"Can't connect to MySQL server on '127.0.0.1'\")",
                        error_code=2003, latency=0.05)
        oid += 1
        t = round(t + 0.2, 3)
    j.add(5.010, "runner", "step.start", stage="fault", step="expect active dc2", index=1, type="expect")
    j.add(5.900, "controller", "probe.fail", dc="dc1", error="connection refused", consecutive=1)
    seq["detected"] = j.add(7.200, "controller", "dc.failed", dc="dc1", verdict="unreachable", consecutive=3)
    j.add(7.250, "controller", "failover.start", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    seq["fenced"] = j.add(7.400, "controller", "fence", dc="dc1", ok=True)
    j.add(7.550, "controller", "replication.stopped", dc="dc2")
    seq["promoted2"] = j.add(7.700, "controller", "promote", dc="dc2")
    seq["route2"] = j.add(7.900, "controller", "route.published", **{"from": "dc1", "to": "dc2", "epoch": 2, "revision": 42})
    j.add(7.950, "observer", "route.changed", active="dc2", epoch=2, revision=42)
    j.add(8.000, "controller", "failover.end", **{"from": "dc1", "to": "dc2", "ok": True})
    seq["client2"] = j.add(8.350, "workload", "workload.route", worker=0, active="dc2", epoch=2)
    j.add(8.400, "workload", "segment.fetched", dc="dc2", name="order", low=20001, high=30000)
    j.add(8.500, "runner", "step.end", stage="fault", step="expect active dc2", index=1, type="expect", status="ok", attempts=1)
    oid2 = 20001
    t = 8.42
    while t < 12.1:
        led.write_order(t, "dc2", 2, oid2, "ok", worker=int(t * 10) % 4)
        oid2 += 1
        t = round(t + 0.1, 3)
    j.add(10.000, "runner", "step.start", stage="fault", step="heal dc1-port", index=2, type="heal")
    j.add(10.010, "fault", "fault.heal", name="dc1-port", type="port_change", target="app:dc1", by="step", ok=True)
    j.add(10.020, "runner", "step.end", stage="fault", step="heal dc1-port", index=2, type="heal", status="ok", attempts=1)
    j.add(10.030, "runner", "stage.end", stage="fault", status="ok")
    j.add(10.900, "controller", "probe.ok", dc="dc1")
    j.add(11.990, "runner", "stage.start", stage="failback", parallel=False)
    j.add(12.000, "controller", "switchover.start", kind="failback", **{"from": "dc2", "to": "dc1"})
    seq["ban"] = j.add(12.100, "controller", "write_ban", dc="dc2")
    t = 12.15
    while t < 12.75:
        led.write_order(t, "dc2", 2, oid2, "fail", error="(1290, 'The MariaDB server is running with the --read-only option')",
                        error_code=1290)
        oid2 += 1
        t = round(t + 0.15, 3)
    j.add(12.300, "controller", "gtid.wait", dc="dc1", position="0-2-1288", ok=True, waited_ms=180)
    seq["reversed"] = j.add(12.400, "controller", "link.reversed", source="dc1", replica="dc2",
          filters={"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                   "wild_ignore_tables": ["app.tmp_%", "bi.%"]})
    seq["promoted3"] = j.add(12.500, "controller", "promote", dc="dc1")
    seq["route3"] = j.add(12.600, "controller", "route.published", **{"from": "dc2", "to": "dc1", "epoch": 3, "revision": 57})
    j.add(12.650, "observer", "route.changed", active="dc1", epoch=3, revision=57)
    j.add(12.700, "controller", "switchover.end", kind="failback", ok=True, **{"from": "dc2", "to": "dc1"})
    j.add(12.760, "workload", "segment.fetched", dc="dc1", name="order", low=30001, high=40000)
    oid3 = 30001
    t = 12.8
    while t < 14.0:
        led.write_order(t, "dc1", 3, oid3, "ok", worker=int(t * 10) % 4)
        oid3 += 1
        t = round(t + 0.1, 3)
    j.add(13.000, "runner", "stage.end", stage="failback", status="ok")
    j.add(14.000, "workload", "workload.stop", ok=129, fail=21, info=0)
    seq["sequence"] = j.add(14.200, "observer", "observe.sequence", dc="dc1", name="order", next_val=40001)
    seq["consistency"] = j.add(14.300, "observer", "observe.consistency", tables=["app.orders", "app.customers", "app.id_sequence"],
          identical=True, differences=[])
    declared = {"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                "wild_ignore_tables": ["app.tmp_%", "bi.%"]}
    routes = [{"epoch": 1, "active": "dc1", "seq": None}, {"epoch": 2, "active": "dc2", "seq": seq["route2"]},
              {"epoch": 3, "active": "dc1", "seq": seq["route3"]}]
    no_writes: list[Any] = []
    checks = [
        {"name": "rto", "status": "passed", "expected_failure": False, "measured": 3.432, "objective": 10.0,
         "summary": "Orders were acknowledged again on dc2 3.43 s after the fault on dc1 (objective 10 s).",
         "evidence": {"changes": [
             {"from": "dc1", "to": "dc2", "epoch": 2, "route_seq": seq["route2"], "kind": "failover",
              "origin": "fault.inject", "objective_s": 10.0,
              "fault": {"name": "dc1-port", "type": "port_change", "target": "app:dc1"},
              "phases": [{"phase": "fault.inject", "seq": seq["fault"], "at_s": 0.0},
                         {"phase": "detected", "seq": seq["detected"], "at_s": 2.2},
                         {"phase": "fenced", "seq": seq["fenced"], "at_s": 2.4},
                         {"phase": "promoted", "seq": seq["promoted2"], "at_s": 2.7},
                         {"phase": "route_published", "seq": seq["route2"], "at_s": 2.9},
                         {"phase": "first_client_on_new_route", "seq": seq["client2"], "at_s": 3.35},
                         {"phase": "first_ack", "op": led.ref(20001, "dc2")["op"], "id": 20001, "at_s": 3.432}],
              "measured_s": 3.432, "first_ack": led.ref(20001, "dc2"), "status": "passed",
              "summary": "Orders were acknowledged again on dc2 3.43 s after the fault on dc1 (objective 10 s)."},
             {"from": "dc2", "to": "dc1", "epoch": 3, "route_seq": seq["route3"], "kind": "failback",
              "origin": "write_ban", "objective_s": 10.0,
              "phases": [{"phase": "write_ban", "seq": seq["ban"], "at_s": 0.0},
                         {"phase": "promoted", "seq": seq["promoted3"], "at_s": 0.4},
                         {"phase": "route_published", "seq": seq["route3"], "at_s": 0.5},
                         {"phase": "first_ack", "op": led.ref(30001, "dc1")["op"], "id": 30001, "at_s": 0.712}],
              "measured_s": 0.712, "first_ack": led.ref(30001, "dc1"), "status": "passed",
              "summary": "Orders were acknowledged again on dc1 0.71 s after the write ban on dc2 (objective 10 s)."}],
             "routes": routes}},
        {"name": "rpo", "status": "passed", "expected_failure": False,
         "measured": {"lost_writes": 0, "span_s": None, "gtid_transactions_missing": 0},
         "objective": {"max_writes": 0, "max_span_s": None},
         "summary": "Every one of the 45 write(s) committed on dc1 is present on dc2.",
         "evidence": {"changes": [
             {"from": "dc1", "to": "dc2", "epoch": 2, "route_seq": seq["route2"], "kind": "unplanned",
              "accepted_writes": 45, "lost": no_writes, "lost_count": 0, "status": "passed",
              "summary": "Every one of the 45 write(s) committed on dc1 is present on dc2."},
             {"from": "dc2", "to": "dc1", "epoch": 3, "route_seq": seq["route3"], "kind": "planned",
              "accepted_writes": 37, "lost": no_writes, "lost_count": 0, "status": "passed",
              "summary": "Every one of the 37 write(s) committed on dc2 is present on dc1."}]}},
        {"name": "sequence_continuity", "status": "passed", "expected_failure": False,
         "measured": {"committed_twice": 0, "duplicate_key_errors": 0, "overlapping_segments": 0,
                      "not_above_previous": 0, "standby_behind": 0, "skipped_ids": 29885},
         "objective": "no ID reused",
         "summary": "All 94 committed orders had distinct IDs, no two segments overlapped, every switch moved to "
                    "higher IDs, and the sequence on dc1 is ahead of them (29885 IDs left unused in abandoned segments).",
         "evidence": {"committed_twice": [], "duplicate_key_errors": [], "overlapping_segments": [],
                      "not_above_previous": [], "standby_high_water_mark": [],
                      "high_water_mark": {"active_dc": "dc1", "largest_id_in_use": 30012, "next_val": 40001,
                                          "name": "order", "seq": seq["sequence"], "ok": True},
                      "skipped_ids": {"total": 29885}}},
        {"name": "filter_tables", "status": "passed", "expected_failure": False,
         "measured": {"directions": 1, "filter_mismatches": 0, "canaries_leaked": 0, "canaries_inconclusive": 0,
                      "schema_drift": 0},
         "objective": "declared = effective; filtered rows never replicate; same schema",
         "summary": "The declared filter list was in force on the dc1->dc2 link, canaries on 2 filtered table(s) "
                    "stayed on their own side in each direction, and the filtered tables are defined alike on both sides.",
         "evidence": {"declared": declared,
                      "filters": {"directions": ["dc1->dc2"], "read_back": {"dc1->dc2": [seq["filters"], seq["reversed"]]},
                                  "mismatches": []},
                      "canaries": {"coverage": {"dc1->dc2": {"app.app_config": "stayed", "app.job_log": "stayed"}},
                                   "rows": []},
                      "schema": {"compared": ["app.app_config", "app.job_log"], "drift": []}}},
        {"name": "data_consistency", "status": "passed", "expected_failure": False,
         "measured": {"tables_compared": 3, "tables_differing": 0, "rows_compared": 94},
         "objective": "replicated tables identical on both sides, except where a failover explains it",
         "summary": "All 3 replicated tables hold the same rows on both data centres.",
         "evidence": {"seq": seq["consistency"], "position": {"exact": True, "gtid": "0-1-1402"}, "skipped": [],
                      "differences": []}},
        {"name": "split_brain", "status": "passed", "expected_failure": False,
         "measured": {"epochs_with_two_writers": 0, "split_brain_writes": 0, "proven_before_switch": 0,
                      "behind_edge_fence": 0},
         "objective": "one writer per epoch",
         "summary": "All 94 committed writes went to the single active data centre of their routing epoch.",
         "evidence": {"epochs_with_two_writers": [], "split_brain_writes": [], "proven_before_switch": [],
                      "behind_edge_fence": [], "routes": routes}},
    ]
    status, reasons = judged(checks, required=["rpo", "rto"], expected_to_fail=())
    assert status == "passed", reasons
    journal_checks(j, 14.400, checks)
    j.add(15.000, "runner", "run.end", status="passed")
    out.mkdir(parents=True, exist_ok=True)
    head = j.write(out / "journal.jsonl")
    led.write(out / "ledger.jsonl")
    (out / "scenario.yaml").write_text(PASSED_SCENARIO, encoding="utf-8")
    shutil.copy(ROOT / "fixtures" / "filter_list.yaml", out / "filter_list.yaml")
    result = {
        "scenario": "dc1-port-change-failover",
        "run_id": "20250301T101500Z-7f3a",
        "status": "passed",
        "started_at": wall(0, base),
        "finished_at": wall(15, base),
        "objectives": {"rto": 10.0, "rpo": 0, "switchover_window": None,
                       "checks": {"required": [], "expected_to_fail": [], "not_judged": {}}},
        "measurements": {"rto": 3.432, "rpo": {"lost_writes": 0, "span_s": None, "gtid_transactions_missing": 0}},
        "reasons": reasons,
        "params": {"workers": 4, "rate": 40},
        "checks": checks,
        "journal": "journal.jsonl",
        "journal_sha256": head,
        "environment": environment("scenarios/dc1-port-change-failover.yaml", scenario_sha, "ci-bot"),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
FAILED_SCENARIO = """\
# The incident of the source documents: the sequence table on the filter list, with a lagging link.
name: sequence-table-filtered
description: >-
  The global sequence table is on the filter list (the incident); after an unplanned failover
  dc2 hands out order IDs dc1 already used. The drill must catch the colliding IDs.
params:
  app_password: {secret: true, env: DRILLS_APP_PASSWORD}
  workers: 2
stages:
  - name: fault
    steps:
      - fault: {name: link-lag, type: latency, target: "link:dc1->dc2", latency_ms: 800}
      - fault: {name: dc1-crash, type: crash, target: dc1}
objectives:
  rto: 10s
  rpo: 0
  checks: {expected_to_fail: [sequence_continuity]}
"""


def build_failed(out: Path) -> None:
    base = "11:02:30"
    j, led = JournalBuilder(base), LedgerBuilder(base)
    scenario_sha = hashlib.sha256(FAILED_SCENARIO.encode()).hexdigest()
    j.add(0.000, "runner", "run.start", scenario="sequence-table-filtered", run_id="20250301T110230Z-c41d",
          scenario_sha256=scenario_sha, params={"workers": 2, "app_password": "***"})
    j.add(0.010, "runner", "stage.start", stage="fault", parallel=False)
    # a shell step whose command line carries the password: the journal masks by value only
    # when the secret was registered; this one was not, so the report must mask it
    j.add(0.020, "runner", "step.start", stage="fault", step="seed orders", index=0, type="shell",
          command=f"mysql -uapp -p{SECRET} -e 'CALL app.seed()'")
    j.add(0.300, "runner", "step.end", stage="fault", step="seed orders", index=0, type="shell", status="ok", attempts=1)
    j.add(0.400, "workload", "workload.start", kind="orders", workers=2, rate=20)
    seq: dict[str, int] = {}
    seq["segment1"] = j.add(0.450, "workload", "segment.fetched", dc="dc1", name="order", low=1, high=10000)
    oid = 1
    t = 0.5
    while t < 3.0:
        led.write_order(t, "dc1", 1, oid, "ok", worker=int(t * 10) % 2)
        oid += 1
        t = round(t + 0.1, 3)
    j.add(1.000, "fault", "fault.inject", name="link-lag", type="latency", target="link:dc1->dc2",
          params={"latency_ms": 800})
    seq["fault"] = j.add(3.000, "fault", "fault.inject", name="dc1-crash", type="crash", target="dc1", params={"signal": "SIGKILL"})
    t = 3.05
    while t < 7.0:
        led.write_order(t, "dc1", 1, oid, "fail", error="(2013, 'Lost connection to server during query')",
                        error_code=2013, latency=0.3)
        oid += 1
        t = round(t + 0.4, 3)
    j.add(4.100, "controller", "probe.fail", dc="dc1", error="connection refused", consecutive=1)
    seq["detected"] = j.add(5.600, "controller", "dc.failed", dc="dc1", verdict="dead", consecutive=3)
    j.add(5.650, "controller", "failover.start", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    j.add(5.700, "controller", "fence", dc="dc1", ok=False, error="dc1 unreachable (process gone)")
    j.add(5.800, "controller", "replication.stopped", dc="dc2")
    seq["promoted"] = j.add(5.900, "controller", "promote", dc="dc2")
    seq["route2"] = j.add(6.100, "controller", "route.published", **{"from": "dc1", "to": "dc2", "epoch": 2, "revision": 18})
    j.add(6.150, "observer", "route.changed", active="dc2", epoch=2, revision=18)
    j.add(6.200, "controller", "failover.end", **{"from": "dc1", "to": "dc2", "ok": True})
    # dc2's sequence never advanced (filtered): it hands out 1.. again. The orders table is
    # replicated, so IDs 1-22 are refused with a duplicate-key error; 23-25 were lost with the
    # lagging link, so dc2 accepts them again (reissued IDs hiding lost writes) and goes on
    seq["segment2"] = j.add(6.900, "workload", "segment.fetched", dc="dc2", name="order", low=1, high=10000)
    oid2 = 1
    t = 7.1
    while t < 10.0:
        if oid2 <= 22:
            led.write_order(t, "dc2", 2, oid2, "fail", worker=int(t * 10) % 2,
                            error=f"(1062, \"Duplicate entry '{oid2}' for key 'PRIMARY'\")", error_code=1062)
        else:
            led.write_order(t, "dc2", 2, oid2, "ok", worker=int(t * 10) % 2)
        oid2 += 1
        t = round(t + 0.1, 3)
    j.add(10.000, "workload", "workload.stop", ok=32, fail=32, info=0)
    j.add(10.200, "fault", "fault.heal", name="dc1-crash", type="crash", target="dc1", by="runner", ok=True)
    j.add(10.250, "fault", "fault.heal", name="link-lag", type="latency", target="link:dc1->dc2", by="runner", ok=True)
    j.add(10.300, "runner", "stage.end", stage="fault", status="ok")
    seq["filters"] = j.add(10.400, "observer", "observe.filters", replica="dc1", source="dc2",
                           effective={"ignore_tables": ["app.app_config", "app.id_sequence", "app.job_switch"],
                                      "wild_ignore_tables": ["app.tmp_%", "bi.%"]},
                           declared={"ignore_tables": ["app.app_config", "app.id_sequence", "app.job_log",
                                                       "app.job_switch"],
                                     "wild_ignore_tables": ["app.tmp_%", "bi.%"]})
    seq["consistency"] = j.add(10.500, "observer", "observe.consistency",
                               tables=["app.orders", "app.customers", "app.id_sequence"], identical=False)
    first_dc2 = led.ref(1, "dc2")["op"]
    before = led.ref(25, "dc1")  # the highest ID committed before the switch
    duplicate_key_errors = [
        {**led.ref(i, "dc2"), "error": f"(1062, \"Duplicate entry '{i}' for key 'PRIMARY'\")",
         "conflicts_with": [led.ref(i, "dc1")]} for i in range(1, 23)][:LISTED]
    not_above = [{**led.ref(i, "dc2"), "route_epoch": 2, "route_seq": seq["route2"], "highest_before_switch": before}
                 for i in range(1, 26)][:LISTED]
    lost = [{**led.ref(i, "dc1"), "acked_s_before_switch": round(6.1 - (0.5 + (i - 1) * 0.1 + 0.012), 3)}
            for i in (23, 24, 25)]
    checks = [
        {"name": "rto", "status": "passed", "expected_failure": False, "measured": 6.262, "objective": 10.0,
         "summary": "Orders were acknowledged again on dc2 6.26 s after the first failed write after the fault on "
                    "dc1 (objective 10 s).",
         "evidence": {"changes": [
             {"from": "dc1", "to": "dc2", "epoch": 2, "route_seq": seq["route2"], "kind": "failover",
              "origin": "fault.inject", "objective_s": 10.0, "first_failed_write_s_after_fault": 0.05,
              "fault": {"name": "dc1-crash", "type": "crash", "target": "dc1"},
              "phases": [{"phase": "fault.inject", "seq": seq["fault"], "at_s": -0.05},
                         {"phase": "writes_unavailable", "at_s": 0.0},
                         {"phase": "detected", "seq": seq["detected"], "at_s": 2.55},
                         {"phase": "promoted", "seq": seq["promoted"], "at_s": 2.85},
                         {"phase": "route_published", "seq": seq["route2"], "at_s": 3.05},
                         {"phase": "first_ack", "op": led.ref(23, "dc2")["op"], "id": 23, "at_s": 6.262}],
              "measured_s": 6.262, "first_ack": led.ref(23, "dc2"), "status": "passed"}],
             "routes": [{"epoch": 1, "active": "dc1", "seq": None}, {"epoch": 2, "active": "dc2", "seq": seq["route2"]}]}},
        {"name": "rpo", "status": "failed", "expected_failure": False,
         "measured": {"lost_writes": 3, "span_s": 0.2, "gtid_transactions_missing": 3},
         "objective": {"max_writes": 0, "max_span_s": None},
         "summary": "3 write(s) committed on dc1 are missing on dc2 after the switch (IDs 23, 24, 25; covering "
                    "0.20 s), more than the 0 lost write(s) allowed.",
         "evidence": {"changes": [
             {"from": "dc1", "to": "dc2", "epoch": 2, "route_seq": seq["route2"], "kind": "unplanned",
              "objective": {"max_writes": 0, "max_span_s": None}, "accepted_writes": 25, "unsettled": [],
              "gtid_missing": {"set": "0-1-88-90", "count": 3},
              "lost": lost, "lost_count": 3, "span_s": 0.2, "status": "failed"}]}},
        {"name": "sequence_continuity", "status": "failed", "expected_failure": True,
         "measured": {"committed_twice": 3, "duplicate_key_errors": 22, "overlapping_segments": 1,
                      "not_above_previous": 25, "standby_behind": 0, "skipped_ids": 19930},
         "objective": "no ID reused",
         "summary": "IDs were reused: 3 ID(s) were committed twice (first: 23, ops 23, 58); 22 write(s) hit a "
                    f"duplicate-key error (first: ID 1 in op {first_dc2}, already used by op 1); 1 pair(s) of allocated "
                    "segments overlap (first: 1-10000 from dc1 and 1-10000 from dc2, journal lines "
                    f"{seq['segment1']} and {seq['segment2']}); 25 ID(s) allocated after a switch were not above the "
                    f"IDs used before it (first: ID 1 in op {first_dc2} after the switch to epoch 2, while ID 25 had "
                    "been committed in op 25).",
         "evidence": {"committed_twice": [{"id": i, "ops": [led.ref(i, "dc1"), led.ref(i, "dc2")]} for i in (23, 24, 25)],
                      "duplicate_key_errors": duplicate_key_errors,
                      "overlapping_segments": [{"segments": [
                          {"low": 1, "high": 10000, "dc": "dc1", "name": "order", "seq": seq["segment1"]},
                          {"low": 1, "high": 10000, "dc": "dc2", "name": "order", "seq": seq["segment2"]}],
                          "ids": [1, 10000]}],
                      "not_above_previous": not_above, "standby_high_water_mark": [],
                      "high_water_mark": {"active_dc": "dc2", "largest_id_in_use": 29},
                      "skipped_ids": {"total": 19930}}},
        {"name": "filter_tables", "status": "failed", "expected_failure": False,
         "measured": {"directions": 1, "filter_mismatches": 1, "canaries_leaked": 0, "canaries_inconclusive": 0,
                      "schema_drift": 0},
         "objective": "declared = effective; filtered rows never replicate; same schema",
         "summary": "Filtering is wrong: the dc2->dc1 link's filters differ from the declared list (missing "
                    f"app.job_log; journal line {seq['filters']}).",
         "evidence": {"declared": {"ignore_tables": ["app.app_config", "app.id_sequence", "app.job_log", "app.job_switch"],
                                   "wild_ignore_tables": ["app.tmp_%", "bi.%"]},
                      "filters": {"directions": ["dc2->dc1"], "read_back": {"dc2->dc1": [seq["filters"]]},
                                  "mismatches": [{"seq": seq["filters"], "direction": "dc2->dc1",
                                                  "read_back_by": "observer", "missing": ["app.job_log"], "extra": []}]},
                      "canaries": {"coverage": {}, "rows": []}, "schema": {"compared": [], "drift": []}}},
        {"name": "data_consistency", "status": "failed", "expected_failure": False,
         "measured": {"tables_compared": 3, "tables_differing": 3, "rows_compared": 61, "explained_differences": 4,
                      "unexplained_differences": 1},
         "objective": "replicated tables identical on both sides, except where a failover explains it",
         "summary": "1 difference(s) between the data centres are not explained by the failover (first: "
                    "app.customers differs key 7).",
         "evidence": {"seq": seq["consistency"], "position": {"exact": False, "source": "0-1-90", "replica": "0-2-12"},
                      "skipped": [], "differences": [],
                      "explained": [{"table": "app.orders", "key": i, "what": "differs",
                                     "because": "an order lost at a failover and its ID reused by the survivor"}
                                    for i in (23, 24, 25)]
                      + [{"table": "app.id_sequence", "key": "order", "what": "differs",
                          "because": "the sequence allocated apart after a failover"}],
                      "unexplained": [{"table": "app.customers", "key": 7, "what": "differs"}]}},
        {"name": "split_brain", "status": "unknown", "expected_failure": False, "measured": None,
         "objective": "one writer per epoch",
         "summary": "The split_brain check could not be computed (ValueError).",
         "evidence": {"error": "ValueError: route.changed has no epoch (journal line 15)"}},
    ]
    status, reasons = judged(checks, required=(), expected_to_fail=["sequence_continuity"])
    assert status == "failed", status
    journal_checks(j, 10.600, checks)
    j.add(11.000, "runner", "run.end", status=status)
    out.mkdir(parents=True, exist_ok=True)
    head = j.write(out / "journal.jsonl")
    led.write(out / "ledger.jsonl")
    (out / "scenario.yaml").write_text(FAILED_SCENARIO, encoding="utf-8")
    shutil.copy(ROOT / "fixtures" / "filter_list_incident.yaml", out / "filter_list.yaml")
    result = {
        "scenario": "sequence-table-filtered",
        "run_id": "20250301T110230Z-c41d",
        "status": status,
        "started_at": wall(0, base),
        "finished_at": wall(11, base),
        "objectives": {"rto": 10.0, "rpo": 0, "switchover_window": None,
                       "checks": {"required": [], "expected_to_fail": ["sequence_continuity"], "not_judged": {}}},
        "measurements": {"rto": 6.262, "rpo": {"lost_writes": 3, "span_s": 0.2, "gtid_transactions_missing": 3}},
        "reasons": reasons,
        # deliberately unmasked: the renderers must not let it through
        "params": {"workers": 2, "app_password": SECRET,
                   "dc1_dsn": f"mysql://app:{SECRET}@127.0.0.1:33061/app"},
        "checks": checks,
        "journal": "journal.jsonl",
        "journal_sha256": head,
        # the spelling drills.runner.result.environment() uses (drills, hostname, provider, etcd beside servers)
        "environment": {
            "drills": "0.1.0", "python": "3.11.2", "platform": "Linux-6.1-x86_64", "hostname": "laptop-alice",
            "provider": "local", "flavor": "mariadb", "operator": "alice",
            "servers": {"dc1": {"flavor": "mariadb", "version": "10.11.6-MariaDB-0+deb12u1"},
                        "dc2": {"flavor": "mariadb", "version": "10.11.6-MariaDB-0+deb12u1"}},
            "etcd": {"etcdserver": "3.4.23", "etcdcluster": "3.4.0"},
            "toxiproxy": "2.12.0",
            "scenario_file": "scenarios/sequence-table-filtered.yaml", "scenario_sha256": scenario_sha,
        },
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
DIVERGED_SCENARIO = """\
# A row changed by hand on dc2; no switch happens, so the scenario waives rto and rpo.
name: diverged-replica
description: NEGATIVE - a row changed directly on dc2; data_consistency must fail naming the key
workload: {kind: orders, rate: 10/s, workers: 1}
stages:
  - name: load
    steps:
      - workload: start
      - wait: 1.5s
      - workload: stop
  - name: tamper-with-dc2
    steps:
      - sql: {dc: dc2, statement: "UPDATE app.customers SET email = 'changed-by-hand@dc2.test' WHERE id = 2"}
objectives:
  checks:
    required: [filter_tables, split_brain]
    expected_to_fail: [data_consistency]
    not_judged:
      rto: "no switch happens in this drill: there is no recovery to time"
      rpo: "no switch happens in this drill: nothing could be lost in one"
"""
NO_SWITCH_RTO = "no switch happens in this drill: there is no recovery to time"
NO_SWITCH_RPO = "no switch happens in this drill: nothing could be lost in one"


def build_diverged(out: Path) -> None:
    """A passing run with an expected failure and two waived checks: its exit code is 0, so
    JUnit must show no error and Allure nothing broken."""
    base = "09:30:00"
    j, led = JournalBuilder(base), LedgerBuilder(base)
    scenario_sha = hashlib.sha256(DIVERGED_SCENARIO.encode()).hexdigest()
    seq: dict[str, int] = {}
    j.add(0.000, "runner", "run.start", scenario="diverged-replica", run_id="20250301T093000Z-d1v3",
          scenario_sha256=scenario_sha, params={})
    j.add(0.010, "runner", "stage.start", stage="load", parallel=False)
    j.add(0.100, "workload", "workload.start", kind="orders", workers=1, rate=10)
    seq["segment"] = j.add(0.150, "workload", "segment.fetched", dc="dc1", name="order", low=1, high=10000)
    t, oid = 0.5, 1
    while t < 2.0:
        led.write_order(t, "dc1", 1, oid, "ok")
        oid += 1
        t = round(t + 0.1, 3)
    declared = {"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                "wild_ignore_tables": ["app.tmp_%", "bi.%"]}
    seq["filters"] = j.add(1.000, "observer", "observe.filters", replica="dc2", source="dc1", effective=declared,
                           declared=declared)
    j.add(2.000, "workload", "workload.stop", ok=15, fail=0, info=0)
    j.add(2.010, "runner", "stage.end", stage="load", status="ok")
    j.add(2.100, "runner", "stage.start", stage="tamper-with-dc2", parallel=False)
    j.add(2.110, "runner", "step.start", stage="tamper-with-dc2", step="sql on dc2", index=0, type="sql")
    j.add(2.150, "runner", "step.end", stage="tamper-with-dc2", step="sql on dc2", index=0, type="sql", status="ok",
          attempts=1)
    j.add(2.200, "runner", "stage.end", stage="tamper-with-dc2", status="ok")
    seq["sequence"] = j.add(2.500, "observer", "observe.sequence", dc="dc1", name="order", next_val=10001)
    seq["link"] = j.add(2.600, "observer", "observe.link", source="dc1", replica="dc2", io_running=True,
                        sql_running=True, caught_up=True, last_sql_error="")
    seq["consistency"] = j.add(2.700, "observer", "observe.consistency",
                               tables=["app.orders", "app.customers", "app.id_sequence"], identical=False)
    routes = [{"epoch": 1, "active": "dc1", "seq": None}]
    checks = [
        {"name": "rto", "status": "unknown", "expected_failure": False, "measured": None, "objective": None,
         "summary": "The active data centre never changed, so there was no recovery time to measure.",
         "evidence": {"routes": routes}, "waived": NO_SWITCH_RTO},
        {"name": "rpo", "status": "unknown", "expected_failure": False, "measured": None, "objective": None,
         "summary": "The active data centre never changed, so no data could have been lost in a switch.",
         "evidence": {}, "waived": NO_SWITCH_RPO},
        {"name": "sequence_continuity", "status": "passed", "expected_failure": False,
         "measured": {"committed_twice": 0, "duplicate_key_errors": 0, "overlapping_segments": 0,
                      "not_above_previous": 0, "standby_behind": 0, "skipped_ids": 9985},
         "objective": "no ID reused",
         "summary": "All 15 committed orders had distinct IDs, no two segments overlapped, every switch moved to "
                    "higher IDs, and the sequence on dc1 is ahead of them (9985 IDs left unused in abandoned segments).",
         "evidence": {"committed_twice": [], "duplicate_key_errors": [], "overlapping_segments": [],
                      "not_above_previous": [], "standby_high_water_mark": [],
                      "high_water_mark": {"active_dc": "dc1", "largest_id_in_use": 15, "next_val": 10001,
                                          "name": "order", "seq": seq["sequence"], "ok": True},
                      "skipped_ids": {"total": 9985}}},
        {"name": "filter_tables", "status": "passed", "expected_failure": False,
         "measured": {"directions": 1, "filter_mismatches": 0, "canaries_leaked": 0, "canaries_inconclusive": 0,
                      "schema_drift": 0},
         "objective": "declared = effective; filtered rows never replicate; same schema",
         "summary": "The declared filter list was in force on the dc1->dc2 link, canaries on 2 filtered table(s) "
                    "stayed on their own side in each direction, and the filtered tables are defined alike on both sides.",
         "evidence": {"declared": declared,
                      "filters": {"directions": ["dc1->dc2"], "read_back": {"dc1->dc2": [seq["filters"]]},
                                  "mismatches": []},
                      "canaries": {"coverage": {"dc1->dc2": {"app.app_config": "stayed", "app.job_log": "stayed"}},
                                   "rows": []},
                      "schema": {"compared": ["app.app_config", "app.job_log"], "drift": []}}},
        {"name": "data_consistency", "status": "failed", "expected_failure": True,
         "measured": {"tables_compared": 3, "tables_differing": 1, "rows_compared": 19, "explained_differences": 0,
                      "unexplained_differences": 1},
         "objective": "replicated tables identical on both sides, except where a failover explains it",
         "summary": "1 difference(s) between the data centres are not explained by the failover (first: "
                    "app.customers differs key 2).",
         "evidence": {"seq": seq["consistency"], "position": {"exact": True, "gtid": "0-1-42"}, "skipped": [],
                      "differences": [{"table": "app.customers", "identical": False, "key": ["id"],
                                       "differing": {"count": 1, "keys": [[2]]},
                                       "missing": {"dc1": {"count": 0, "keys": []}, "dc2": {"count": 0, "keys": []}},
                                       "rows": {"dc1": 4, "dc2": 4}}],
                      "link": {"source": "dc1", "replica": "dc2", "io_running": True, "sql_running": True,
                               "caught_up": True, "last_sql_error": "", "seq": seq["link"]},
                      "explained": [], "unexplained": [{"table": "app.customers", "key": 2, "what": "differs"}]}},
        {"name": "split_brain", "status": "passed", "expected_failure": False,
         "measured": {"epochs_with_two_writers": 0, "split_brain_writes": 0, "proven_before_switch": 0,
                      "behind_edge_fence": 0},
         "objective": "one writer per epoch",
         "summary": "All 15 committed writes went to the single active data centre of their routing epoch.",
         "evidence": {"epochs_with_two_writers": [], "split_brain_writes": [], "proven_before_switch": [],
                      "behind_edge_fence": [], "routes": routes}},
    ]
    status, reasons = judged(checks, required=["filter_tables", "split_brain"], expected_to_fail=["data_consistency"])
    assert status == "passed", reasons
    journal_checks(j, 2.800, checks)
    j.add(3.200, "runner", "run.end", status=status)
    out.mkdir(parents=True, exist_ok=True)
    head = j.write(out / "journal.jsonl")
    led.write(out / "ledger.jsonl")
    (out / "scenario.yaml").write_text(DIVERGED_SCENARIO, encoding="utf-8")
    shutil.copy(ROOT / "fixtures" / "filter_list.yaml", out / "filter_list.yaml")
    result = {
        "scenario": "diverged-replica",
        "run_id": "20250301T093000Z-d1v3",
        "status": status,
        "started_at": wall(0, base),
        "finished_at": wall(3.2, base),
        "objectives": {"rto": None, "rpo": None, "switchover_window": None,
                       "checks": {"required": ["filter_tables", "split_brain"], "expected_to_fail": ["data_consistency"],
                                  "not_judged": {"rto": NO_SWITCH_RTO, "rpo": NO_SWITCH_RPO}}},
        "measurements": {"rto": None, "rpo": None},
        "reasons": reasons,
        "params": {},
        "checks": checks,
        "journal": "journal.jsonl",
        "journal_sha256": head,
        "environment": environment("scenarios/diverged-replica.yaml", scenario_sha, "ci-bot"),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
KILLED_SCENARIO = """\
name: dc1-crash
description: dc1's server process is killed; the monitor must fail over to dc2.
stages:
  - name: fault
    steps:
      - fault: {name: dc1-crash, type: crash, target: dc1}
objectives:
  rto: 10s
"""


def build_killed(out: Path) -> None:
    base = "12:40:00"
    j, led = JournalBuilder(base), LedgerBuilder(base)
    scenario_sha = hashlib.sha256(KILLED_SCENARIO.encode()).hexdigest()
    j.add(0.000, "runner", "run.start", scenario="dc1-crash", run_id="20250301T124000Z-99e0",
          scenario_sha256=scenario_sha, params={})
    j.add(0.010, "runner", "stage.start", stage="fault", parallel=False)
    j.add(0.100, "workload", "workload.start", kind="orders", workers=2, rate=20)
    oid = 1
    t = 0.3
    while t < 2.0:
        led.write_order(t, "dc1", 1, oid, "ok")
        oid += 1
        t = round(t + 0.1, 3)
    j.add(2.000, "fault", "fault.inject", name="dc1-crash", type="crash", target="dc1", params={"signal": "SIGKILL"})
    led.write_order(2.05, "dc1", 1, oid, "info", error="(2013, 'Lost connection to server during query')",
                    error_code=2013, latency=0.5)
    j.add(3.400, "controller", "probe.fail", dc="dc1", error="connection refused", consecutive=1)
    j.add(4.600, "controller", "dc.failed", dc="dc1", verdict="dead", consecutive=3)
    j.add(4.650, "controller", "failover.start", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    out.mkdir(parents=True, exist_ok=True)
    j.write(out / "journal.jsonl")
    led.write(out / "ledger.jsonl")
    (out / "scenario.yaml").write_text(KILLED_SCENARIO, encoding="utf-8")


def main() -> None:
    for name, build in (("failover-passed", build_passed), ("sequence-filtered-failed", build_failed),
                        ("diverged-waived-passed", build_diverged), ("crash-killed", build_killed)):
        target = HERE / name
        shutil.rmtree(target, ignore_errors=True)
        build(target)
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
