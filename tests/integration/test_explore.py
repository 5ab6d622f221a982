"""Issue 15 on real MariaDB, etcd and Toxiproxy processes: `drills explore` finds what a
controller weakened by scenario settings breaks, shrinks it to a short schedule, and the
scenario it writes fails the same check under `drills run`; against the reference controller
with its defaults it runs and judges every example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
WEAKENED = REPO / "explore" / "edge-fencing-off.yaml"

REFERENCE = """\
name: reference-short
description: the reference controller with its defaults; short faults on either side
workload: {kind: orders, rate: 200/s, workers: 4}
controller: {kind: reference}
faults:
  - {type: hang, targets: [dc1, dc2]}
  - type: latency
    targets: ["app:dc1", "link:dc1->dc2"]
    params: {latency_ms: {min: 50, max: 450, step: 200}}
switches: [switchover]
max_steps: 2
at: {min: 0s, max: 1s, step: 500ms}
duration: {min: 500ms, max: 2s, step: 500ms}
warmup: 500ms
settle: 1s
"""


def env_for(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DRILLS_HOME": str(tmp_path / "home"), "DRILLS_HISTORY_DB": str(tmp_path / "history.sqlite"),
            "PYTHONPATH": str(REPO)}


def drills(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drills", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_weakened_controller_failure_is_found_shrunk_and_replayed(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    res = drills("explore", str(WEAKENED), "--max-examples", "8", "--seed", "3", "--time-budget", "150s",
                 "--out", str(tmp_path / "out"), env=env, timeout=400)
    assert res.returncode == 1, res.stdout + res.stderr[-3000:]
    report = json.loads(next((tmp_path / "out").glob("*/explore.json")).read_text())
    assert report["finding"] == "failure", report["stopped"]
    minimal = report["minimal"]
    assert [c["name"] for c in minimal["failed_checks"]] == ["split_brain"]
    assert minimal["steps"] <= 3
    assert report["replay"]["outcome"] == "failed"
    assert report["errors"] == 0
    # progress on the terminal: examples run, failures, shrink steps, time left
    assert "failing," in res.stderr and "shrink steps," in res.stderr and " left] #1 generate" in res.stderr
    # every example is an ordinary run directory: journal, result, the scenario as run
    for ex in report["examples"]:
        if ex["run_dir"] and ex["same_as"] is None:
            d = Path(ex["run_dir"])
            assert (d / "journal.jsonl").exists() and (d / "result.json").exists() and (d / "scenario.yaml").exists()
    assert any((tmp_path / "out" / "hypothesis-db").iterdir())  # the failure is saved for next time
    scenario = Path(report["scenario_file"])
    assert scenario.parent == Path(minimal["run_dir"]).parent
    assert scenario.read_text().startswith("# Minimal failing schedule found by `drills explore`")

    replay = drills("run", str(scenario), "--out", str(tmp_path / "replay"), "--no-history", env=env, timeout=200)
    result = json.loads((tmp_path / "replay" / "result.json").read_text())
    assert replay.returncode == 1, replay.stdout[-2000:]
    assert {c["name"] for c in result["checks"] if c["status"] == "failed"} >= {"split_brain"}, result["reasons"]
    assert not any((tmp_path / "home").glob("explore-*/state.json"))  # explore tore its topology down


def test_reference_controller_examples_run_and_judged(tmp_path: Path) -> None:
    space = tmp_path / "reference-short.yaml"
    space.write_text(REFERENCE)
    res = drills("explore", str(space), "--max-examples", "3", "--seed", "11", "--time-budget", "120s",
                 "--out", str(tmp_path / "out"), env=env_for(tmp_path), timeout=300)
    report = json.loads(next((tmp_path / "out").glob("*/explore.json")).read_text())
    assert report["examples_drawn"] == 3, res.stderr[-3000:]  # --max-examples 3: three drawn
    assert report["examples_run"] == sum(ex["same_as"] is None for ex in report["examples"]) >= 1
    for ex in report["examples"]:
        assert ex["outcome"] in ("passed", "failed"), ex  # judged, not a harness error
        assert ex["judged"] >= 5, ex  # most checks reach a verdict on every example
        assert ex["reset_s"] is not None  # the topology was reused and reset, not restarted
    # a finding against the reference controller would be a result to report: the test says which
    assert res.returncode == 0, f"explore found a failure of the reference controller: {report['minimal']}"
    assert report["finding"] is None and "no check of the property failed" in res.stdout
