"""Builds the recorded runs the report tests render from (deterministic; re-run after changing it).

Three hand-built runs, each the shape the runner writes (issue 3: result.json, journal.jsonl,
ledger.jsonl, scenario.yaml, filter_list.yaml):

- ``failover-passed``: dc1's port changes, the monitor fails over to dc2, dc1 is healed and
  failed back by hand; every check passes.
- ``sequence-filtered-failed``: the incident of the source documents (sequence table on the
  filter list) plus a lagging link: colliding IDs (expected), lost writes and differing keys
  (not expected), a reversed link missing a filter, split brain inconclusive. Its params carry
  a secret the runner failed to mask, so the renderers' masking is what the tests prove.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
T0_NS = 5_000_000_000_000
SECRET = "Tr0ub4dor&3-s3cret"


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

    def add(self, t: float, origin: str, event: str, /, **payload: Any) -> None:
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

    def write(self, path: Path) -> None:
        path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.rows), encoding="utf-8")


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
    j.add(1.000, "observer", "observe.filters", replica="dc2", source="dc1",
          effective={"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                     "wild_ignore_tables": ["app.tmp_%", "bi.%"]},
          declared={"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                    "wild_ignore_tables": ["app.tmp_%", "bi.%"]})
    j.add(4.990, "runner", "stage.start", stage="fault", parallel=False)
    j.add(4.995, "runner", "step.start", stage="fault", step="dc1-port", index=0, type="fault")
    j.add(5.000, "fault", "fault.inject", name="dc1-port", type="port_change", target="app:dc1",
          params={"listen": "127.0.0.1:0"})
    j.add(5.005, "runner", "step.end", stage="fault", step="dc1-port", index=0, type="fault", status="ok", attempts=1)
    t = 5.05
    while t < 8.4:
        led.write_order(t, "dc1", 1, oid, "fail", error="(2003, \"Can't connect to MySQL server on '127.0.0.1'\")",
                        error_code=2003, latency=0.05)
        oid += 1
        t = round(t + 0.2, 3)
    j.add(5.010, "runner", "step.start", stage="fault", step="expect active dc2", index=1, type="expect")
    j.add(5.900, "controller", "probe.fail", dc="dc1", error="connection refused", consecutive=1)
    j.add(7.200, "controller", "dc.failed", dc="dc1", verdict="unreachable", consecutive=3)
    j.add(7.250, "controller", "failover.start", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    j.add(7.400, "controller", "fence", dc="dc1", ok=True)
    j.add(7.550, "controller", "replication.stopped", dc="dc2")
    j.add(7.700, "controller", "promote", dc="dc2")
    j.add(7.900, "controller", "route.published", **{"from": "dc1", "to": "dc2", "epoch": 2, "revision": 42})
    j.add(7.950, "observer", "route.changed", active="dc2", epoch=2, revision=42)
    j.add(8.000, "controller", "failover.end", **{"from": "dc1", "to": "dc2", "ok": True})
    j.add(8.350, "workload", "workload.route", worker=0, active="dc2", epoch=2)
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
    j.add(12.100, "controller", "write_ban", dc="dc2")
    t = 12.15
    while t < 12.75:
        led.write_order(t, "dc2", 2, oid2, "fail", error="(1290, 'The MariaDB server is running with the --read-only option')",
                        error_code=1290)
        oid2 += 1
        t = round(t + 0.15, 3)
    j.add(12.300, "controller", "gtid.wait", dc="dc1", position="0-2-1288", ok=True, waited_ms=180)
    j.add(12.400, "controller", "link.reversed", source="dc1", replica="dc2",
          filters={"ignore_tables": ["app.app_config", "app.job_log", "app.job_switch"],
                   "wild_ignore_tables": ["app.tmp_%", "bi.%"]})
    j.add(12.500, "controller", "promote", dc="dc1")
    j.add(12.600, "controller", "route.published", **{"from": "dc2", "to": "dc1", "epoch": 3, "revision": 57})
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
    j.add(14.200, "observer", "observe.sequence", dc="dc1", name="order", next_val=40001)
    j.add(14.300, "observer", "observe.consistency", tables=["app.orders", "app.customers", "app.id_sequence"],
          identical=True, differences=[])
    checks = [
        {"name": "rto", "status": "passed", "expected_failure": False, "measured": 3.432, "objective": 10.0,
         "summary": "writes resumed on dc2 3.43 s after the fault (objective 10 s)",
         "evidence": {"unit": "s", "fault_seq": 12,
                      "phases": {"detected": 2.2, "fenced": 2.4, "promoted": 2.7, "route_published": 2.9,
                                 "first_client_on_new_route": 3.35, "first_ack": 3.432},
                      "failback_write_unavailable_s": 0.7}},
        {"name": "rpo", "status": "passed", "expected_failure": False, "measured": 0, "objective": 0,
         "summary": "no acknowledged write is missing on the surviving side",
         "evidence": {"acknowledged": 129, "lost_writes": [], "span_s": 0.0, "gtid_diff": ""}},
        {"name": "sequence_continuity", "status": "passed", "expected_failure": False, "measured": 0, "objective": 0,
         "summary": "no ID handed out twice; each switch allocated above every earlier ID",
         "evidence": {"colliding_ids": [], "duplicate_key_errors": 0,
                      "skipped_ranges": [[10046, 20000], [20117, 30000]], "high_water": {"dc1": 40001}}},
        {"name": "filter_tables", "status": "passed", "expected_failure": False, "measured": 0, "objective": 0,
         "summary": "declared and effective filters agree on both links; canaries stayed on their side",
         "evidence": {"links": {"dc1->dc2": "equal", "dc2->dc1": "equal"}, "differences": [],
                      "canaries": {"app.app_config": False, "app.job_log": False}}},
        {"name": "data_consistency", "status": "passed", "expected_failure": False, "measured": 0, "objective": 0,
         "summary": "3 replicated tables identical on both sides at GTID 0-1-1402",
         "evidence": {"tables": 3, "chunks": 12, "differing_keys": [], "gtid": "0-1-1402"}},
        {"name": "split_brain", "status": "passed", "expected_failure": False, "measured": 0, "objective": 0,
         "summary": "no write accepted under a superseded routing epoch",
         "evidence": {"epochs": {"1": "dc1", "2": "dc2", "3": "dc1"}, "stale_writes": []}},
    ]
    for i, c in enumerate(checks):
        j.add(14.400 + i * 0.05, "check", "check.result", name=c["name"], status=c["status"],
              measured=c["measured"], objective=c["objective"])
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
        "objectives": {"rto": "10s", "rpo": 0},
        "measurements": {"rto_s": 3.432, "rpo_lost_writes": 0, "failback_write_unavailable_s": 0.7},
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
  expect_fail: [sequence_continuity]
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
    j.add(0.450, "workload", "segment.fetched", dc="dc1", name="order", low=1, high=10000)
    oid = 1
    t = 0.5
    while t < 3.0:
        led.write_order(t, "dc1", 1, oid, "ok", worker=int(t * 10) % 2)
        oid += 1
        t = round(t + 0.1, 3)
    j.add(1.000, "fault", "fault.inject", name="link-lag", type="latency", target="link:dc1->dc2",
          params={"latency_ms": 800})
    j.add(3.000, "fault", "fault.inject", name="dc1-crash", type="crash", target="dc1", params={"signal": "SIGKILL"})
    t = 3.05
    while t < 7.0:
        led.write_order(t, "dc1", 1, oid, "fail", error="(2013, 'Lost connection to server during query')",
                        error_code=2013, latency=0.3)
        oid += 1
        t = round(t + 0.4, 3)
    j.add(4.100, "controller", "probe.fail", dc="dc1", error="connection refused", consecutive=1)
    j.add(5.600, "controller", "dc.failed", dc="dc1", verdict="dead", consecutive=3)
    j.add(5.650, "controller", "failover.start", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    j.add(5.700, "controller", "fence", dc="dc1", ok=False, error="dc1 unreachable (process gone)")
    j.add(5.800, "controller", "replication.stopped", dc="dc2")
    j.add(5.900, "controller", "promote", dc="dc2")
    j.add(6.100, "controller", "route.published", **{"from": "dc1", "to": "dc2", "epoch": 2, "revision": 18})
    j.add(6.150, "observer", "route.changed", active="dc2", epoch=2, revision=18)
    j.add(6.200, "controller", "failover.end", **{"from": "dc1", "to": "dc2", "ok": True})
    # dc2's sequence never advanced (filtered): it hands out 1.. again
    j.add(6.900, "workload", "segment.fetched", dc="dc2", name="order", low=1, high=10000)
    oid2 = 1
    t = 7.1
    while t < 9.0:
        led.write_order(t, "dc2", 2, oid2, "ok", worker=int(t * 10) % 2)
        oid2 += 1
        t = round(t + 0.1, 3)
    j.add(9.000, "workload", "workload.stop", ok=44, fail=10, info=0)
    j.add(9.200, "fault", "fault.heal", name="dc1-crash", type="crash", target="dc1", by="runner", ok=True)
    j.add(9.250, "fault", "fault.heal", name="link-lag", type="latency", target="link:dc1->dc2", by="runner", ok=True)
    j.add(9.300, "runner", "stage.end", stage="fault", status="ok")
    j.add(9.400, "observer", "observe.filters", replica="dc1", source="dc2",
          effective={"ignore_tables": ["app.app_config", "app.id_sequence", "app.job_switch"],
                     "wild_ignore_tables": ["app.tmp_%", "bi.%"]},
          declared={"ignore_tables": ["app.app_config", "app.id_sequence", "app.job_log", "app.job_switch"],
                    "wild_ignore_tables": ["app.tmp_%", "bi.%"]})
    colliding = list(range(1, 20))
    checks = [
        {"name": "rto", "status": "passed", "expected_failure": False, "measured": 4.112, "objective": 10.0,
         "summary": "writes resumed on dc2 4.11 s after the crash (objective 10 s)",
         "evidence": {"unit": "s", "phases": {"detected": 2.6, "fenced": 2.7, "promoted": 2.9,
                                             "route_published": 3.1, "first_ack": 4.112}}},
        {"name": "rpo", "status": "failed", "expected_failure": False,
         "measured": {"lost_writes": 3, "span_s": 0.2}, "objective": 0,
         "summary": "3 acknowledged writes on dc1 never reached dc2 (objective 0)",
         "evidence": {"lost_writes": [{"op": 23, "id": 23, "dc": "dc1", "wall": wall(2.7, base)},
                                      {"op": 24, "id": 24, "dc": "dc1", "wall": wall(2.8, base)},
                                      {"op": 25, "id": 25, "dc": "dc1", "wall": wall(2.9, base)}],
                      "span_s": 0.2, "gtid_diff": "0-1-88-90"}},
        {"name": "sequence_continuity", "status": "failed", "expected_failure": True,
         "measured": {"colliding_ids": len(colliding)}, "objective": 0,
         "summary": f"{len(colliding)} order IDs were handed out by both dc1 and dc2",
         "evidence": {"colliding_ids": colliding, "duplicate_key_errors": 0,
                      "high_water": {"dc2": 10001}, "max_id_in_use": 25,
                      "note": "dc2's app.id_sequence stayed at next_val=1: the table is on the filter list"}},
        {"name": "filter_tables", "status": "failed", "expected_failure": False, "measured": 1, "objective": 0,
         "summary": "the reversed link dc2->dc1 does not ignore app.job_log",
         "evidence": {"differences": [{"link": "dc2->dc1", "table": "app.job_log", "declared": True, "effective": False}],
                      "canaries": {"app.job_log": True}}},
        {"name": "data_consistency", "status": "failed", "expected_failure": False, "measured": 3, "objective": 0,
         "summary": "app.orders differs on 3 keys between dc1 and dc2",
         "evidence": {"differing_keys": [{"table": "app.orders", "key": {"id": 23}},
                                         {"table": "app.orders", "key": {"id": 24}},
                                         {"table": "app.orders", "key": {"id": 25}}],
                      "gtid": "0-2-12"}},
        {"name": "split_brain", "status": "unknown", "expected_failure": False, "measured": None, "objective": 0,
         "summary": "epoch history incomplete: the etcd watch was lost for 2.1 s",
         "evidence": {"error": "etcd watch lost between journal lines 18 and 21"}},
    ]
    for i, c in enumerate(checks):
        j.add(9.600 + i * 0.05, "check", "check.result", name=c["name"], status=c["status"],
              measured=c["measured"], objective=c["objective"])
    j.add(10.000, "runner", "run.end", status="failed")
    out.mkdir(parents=True, exist_ok=True)
    head = j.write(out / "journal.jsonl")
    led.write(out / "ledger.jsonl")
    (out / "scenario.yaml").write_text(FAILED_SCENARIO, encoding="utf-8")
    shutil.copy(ROOT / "fixtures" / "filter_list_incident.yaml", out / "filter_list.yaml")
    result = {
        "scenario": "sequence-table-filtered",
        "run_id": "20250301T110230Z-c41d",
        "status": "failed",
        "started_at": wall(0, base),
        "finished_at": wall(10, base),
        "objectives": {"rto": "10s", "rpo": 0, "expect_fail": ["sequence_continuity"]},
        "measurements": {"rto_s": 4.112, "rpo_lost_writes": 3},
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
                        ("crash-killed", build_killed)):
        target = HERE / name
        shutil.rmtree(target, ignore_errors=True)
        build(target)
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
