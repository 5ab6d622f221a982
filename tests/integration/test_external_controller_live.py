"""Issue 19 in CI: a home-grown monitor (examples/home-grown-monitor/monitor.sh, a bash loop
with mariadb, etcdctl and jq — what a team writes, not a mock of anything) drilled through
the same contract as orchestrator, against the real topology.

- dc1 crashes, the monitor fails over alone: every check is judged (the route comes from the
  runner's own watch of the key), rto shows the monitor's own phases;
- the same monitor publishing the route before promoting: rto and write_availability fail,
  for the read-only window it caused, and nothing else does;
- every server reports the address its replica reaches it by, so a controller probing that
  address sees one topology;
- the monitor is stopped, with what it spawned, when the run fails or is interrupted."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from interrupted_run import interrupt_mid_step

from drills.checks.rejudge import judge_run_dir
from drills.journal import read
from drills.runner import run_scenario

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "home-grown-monitor"


def checks_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result["checks"]}


def test_a_home_grown_monitor_fails_over_alone_and_every_check_is_judged(topology: Any, tmp_path: Path) -> None:
    result = run_scenario(EXAMPLE / "dc1-crash.yaml", out_dir=tmp_path / "run", state_dir=topology.state_dir,
                          record_history=False)
    checks = checks_of(result)
    assert result["status"] == "passed", result["reasons"]
    assert {n: c["status"] for n, c in checks.items()} == dict.fromkeys(checks, "passed")
    journal = read(tmp_path / "run" / "journal.jsonl")
    # nobody but the monitor moved the key; the runner's watch saw it
    assert [e["kind"] for e in journal if e["kind"] == "route.published"] == []
    routes = [e["payload"] for e in journal if e["kind"] == "route.changed"]
    assert [(r["active"], r["epoch"]) for r in routes] == [("dc1", 1), ("dc2", 2)]
    change = checks["rto"]["evidence"]["changes"][0]
    phases = [p["phase"] for p in change["phases"]]
    assert {"controller:detected", "controller:promoted", "controller:published", "route_observed"} <= set(phases)
    assert change["fault"]["type"] == "crash" and change["measured_s"] < 3
    assert checks["rpo"]["measured"]["lost_writes"] == 0 or checks["rpo"]["status"] == "passed"
    monitor = [e["payload"] for e in journal if e["kind"] == "controller.monitor"]
    assert [m["action"] for m in monitor] == ["started", "stopped"]
    assert "failing over to dc2" in (tmp_path / "run" / "monitor.log").read_text()
    assert judge_run_dir(tmp_path / "run")["differences_from_result"] == []


def test_a_monitor_that_publishes_before_it_promotes_fails_rto_and_write_availability(
        topology: Any, tmp_path: Path) -> None:
    result = run_scenario(EXAMPLE / "publish-before-promote.yaml", out_dir=tmp_path / "run",
                          state_dir=topology.state_dir, record_history=False)
    assert result["status"] == "passed", result["reasons"]  # passed = exactly the expected failures
    checks = checks_of(result)
    assert {n for n, c in checks.items() if c["status"] == "failed"} == {"rto", "write_availability"}
    assert all(c["status"] == "passed" for n, c in checks.items() if n not in ("rto", "write_availability"))
    window = checks["write_availability"]["evidence"]["longest"][0]
    assert window["seconds"] > 5 and window["route_changes"][0]["active"] == "dc2"
    assert window["error_codes"].get("1290")  # the application met a read-only dc2: why it could not write
    # the clients retry every 5 s (the routing document's retry delay) against a promotion ~5 s
    # after the publish: either a retry lands after it (measured) or none did before the stop
    # (at least that long) — a failed recovery both ways, never "cannot be measured"
    change = checks["rto"]["evidence"]["changes"][0]
    figure = change["measured_s"] if change["measured_s"] is not None else change["at_least_s"]
    assert figure > 5, change


def test_each_server_reports_the_address_its_replica_reaches_it_by(clean_topology: Any) -> None:
    topo = clean_topology
    env = topo.endpoint_env()
    assert (env["DRILLS_DC1_IDENTITY_HOST"], int(env["DRILLS_DC1_IDENTITY_PORT"])) == topo.link_address("dc1", "dc2")
    assert env["DRILLS_LINK_DC1_TO_DC2"] == "%s:%d" % topo.link_address("dc1", "dc2")
    conn = topo.connect("dc1")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SLAVE HOSTS")
            hosts = cur.fetchall()
            cur.execute("SELECT @@report_host, @@report_port")
            own = cur.fetchone()
    finally:
        conn.close()
    # dc1 names itself by the address dc2 replicates from; its replica dc2 by dc2's identity
    assert (own[0], int(own[1])) == topo.identity_address("dc1")
    assert [(h[1], int(h[2])) for h in hosts] == [topo.identity_address("dc2")]
    dc2 = topo.connect("dc2")
    try:
        with dc2.cursor() as cur:
            cur.execute("SHOW SLAVE STATUS")
            row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=False))
    finally:
        dc2.close()
    assert (row["Master_Host"], int(row["Master_Port"])) == topo.identity_address("dc1")


MONITOR_THAT_LINGERS = """\
name: monitor-lifecycle
controller:
  kind: external
  monitor: 'sleep 300 & echo $! > "$DRILLS_RUN_DIR/child.pid"; echo $$ > "$DRILLS_RUN_DIR/monitor.pid"; wait'
  ready: 'test -s "$DRILLS_RUN_DIR/child.pid"'
  ready_timeout: 10s
stages:
  - name: s
    steps:
      - shell: {command: 'STEP', timeout: 2m}
objectives:
  checks:
    not_judged: {rto: "lifecycle only", rpo: "lifecycle only", sequence_continuity: "lifecycle only",
                 filter_tables: "lifecycle only", data_consistency: "lifecycle only", split_brain: "lifecycle only",
                 write_availability: "lifecycle only"}
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ")[1][0] == "Z"


def test_the_monitor_and_its_children_are_stopped_when_a_step_fails(topology: Any, tmp_path: Path) -> None:
    scenario = tmp_path / "fails.yaml"
    scenario.write_text(MONITOR_THAT_LINGERS.replace("STEP", "exit 3"))
    result = run_scenario(scenario, out_dir=tmp_path / "run", state_dir=topology.state_dir, record_history=False)
    assert result["status"] == "failed"
    for name in ("monitor.pid", "child.pid"):
        assert _gone(int((tmp_path / "run" / name).read_text()))


def test_the_monitor_and_its_children_are_stopped_on_ctrl_c(topology: Any, tmp_path: Path, drills_home: Path) -> None:
    scenario = tmp_path / "interrupted.yaml"
    scenario.write_text(MONITOR_THAT_LINGERS.replace("STEP", "sleep 100"))
    run_dir = tmp_path / "run"
    returncode, stderr = interrupt_mid_step(scenario, run_dir, drills_home, "--state-dir", str(topology.state_dir))
    assert returncode == 130, stderr
    assert json.loads((run_dir / "result.json").read_text())["status"] == "aborted"
    for name in ("monitor.pid", "child.pid"):
        assert _gone(int((run_dir / name).read_text()))
