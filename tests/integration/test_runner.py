"""`drills run` against the real topology: steps act on real servers, the record verifies,
and a SIGINT mid-run leaves nothing running and says `aborted`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from interrupted_run import interrupt_mid_step

from drills.journal import read, verify
from drills.runner.session import RunOptions, run

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: runner-smoke
description: sql, expect, wait, shell and a manual route switch on the real topology
params:
  buyer: 4242
stages:
  - name: write
    steps:
      - sql: {dc: dc1, statement: "INSERT INTO app.customers (id, name) VALUES (${buyer}, 'drill')"}
      - expect: {replication: running, dc: dc2, within: 5s}
      - name: replicated
        sql: {dc: dc2, statement: "SELECT name FROM app.customers WHERE id = ${buyer}"}
        retry: 20
      - expect: {read_only: {dc: dc1, value: false}}
  - name: switch
    parallel: true
    steps:
      - wait: 200ms
      - shell: "test -n \\"$DRILLS_DC1_PORT\\" && echo dc1 at $DRILLS_DC1_PORT"
      - route: {active: dc2}
  - name: verify
    steps:
      - expect: {active: dc2, within: 3s}
      - name: wrong-expectation-tolerated
        expect: {active: dc1, within: 300ms}
        on_failure: skip
"""


def test_scenario_runs_against_the_real_topology(clean_topology, tmp_path: Path) -> None:
    f = tmp_path / "runner-smoke.yaml"
    f.write_text(SCENARIO)
    out = run(RunOptions(scenario=str(f), out=tmp_path / "run", state_dir=clean_topology.state_dir, tty=False))
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    # the verdict of drills.checks on this state is theirs to test; every step went as written
    assert result["status"] in ("passed", "failed", "inconclusive"), result["reasons"]
    assert [r for r in result["reasons"] if not r.startswith("check ")] == [], result["reasons"]
    assert out.exit_code == {"passed": 0, "failed": 1, "inconclusive": 3}[result["status"]]
    assert verify(tmp_path / "run" / "journal.jsonl", result["journal_sha256"]).ok
    steps = {(s["stage"], s["step"]): s for s in result["steps"]}
    assert steps[("write", "replicated")]["status"] == "ok"
    assert steps[("verify", "wrong-expectation-tolerated")]["status"] == "skipped"
    journal = read(tmp_path / "run" / "journal.jsonl")
    ends = {(e["payload"]["stage"], e["payload"]["step"]): e["payload"] for e in journal if e["kind"] == "step.end"}
    assert ends[("write", "replicated")]["details"]["rows"] == [["drill"]]
    published = [e["payload"] for e in journal if e["kind"] == "route.published"]
    assert published == [{"by": "operator", "epoch": 2, "from": "dc1", "revision": published[0]["revision"], "to": "dc2"}]
    cc = clean_topology.config_center()
    try:
        assert cc.read().document["active"] == "dc2"  # the switch really happened in etcd
    finally:
        cc.close()
    assert result["environment"]["servers"]["dc1"]["flavor"] in ("mariadb", "mysql")
    assert result["topology"]["reused"] is True
    # a reused topology is left running
    assert all(_alive(pid) for pid in clean_topology.process_control.pids().values())
    secrets = clean_topology.secrets()
    text = (tmp_path / "run" / "journal.jsonl").read_text() + (tmp_path / "run" / "result.json").read_text()
    assert not any(s and s in text for s in secrets)


def test_sigint_mid_run_stops_everything_and_says_aborted(tmp_path: Path, drills_home: Path) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text("name: long\nstages:\n  - name: hold\n    steps:\n      - shell: {command: 'sleep 120', timeout: 5m}\n")
    run_dir = tmp_path / "run"
    returncode, stderr = interrupt_mid_step(scenario, run_dir, drills_home, settle=0.5)  # the `sleep` is running
    assert returncode == 130, stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "aborted"
    assert verify(run_dir / "journal.jsonl", result["journal_sha256"]).ok
    kinds = [e["kind"] for e in read(run_dir / "journal.jsonl")]
    assert "run.signal" in kinds and kinds[-1] == "run.end"
    state_dir = result["topology"]["state_dir"]
    leftovers = subprocess.run(["pgrep", "-f", state_dir], capture_output=True, text=True).stdout.split()
    assert leftovers == [], f"processes still running for {state_dir}: {leftovers}"
    sleeps = subprocess.run(["pgrep", "-f", "sleep 120"], capture_output=True, text=True).stdout.split()
    assert sleeps == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_failed_step_heals_a_real_fault_once(clean_topology, tmp_path: Path) -> None:
    f = tmp_path / "heal.yaml"
    f.write_text("name: heal\nstages:\n  - name: a\n    steps:\n"
                 "      - fault: {type: latency, target: 'app:dc1', latency_ms: 300}\n"
                 "      - shell: 'exit 5'\n")
    out = run(RunOptions(scenario=str(f), out=tmp_path / "run", state_dir=clean_topology.state_dir, tty=False))
    assert out.status == "failed" and out.exit_code == 1
    journal = read(tmp_path / "run" / "journal.jsonl")
    injects = [e["payload"] for e in journal if e["kind"] == "fault.inject"]
    heals = [e["payload"] for e in journal if e["kind"] == "fault.heal"]
    assert len(injects) == 1 and len(heals) == 1
    assert heals[0]["by"] == "runner" and heals[0]["ok"] is True
    assert clean_topology.toxiproxy().toxics("app:dc1") == []  # really gone from Toxiproxy
