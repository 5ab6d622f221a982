"""`pytest scenarios/X.yaml` through the plugin (registered by the `pytest11` entry point),
running a real drill on the session topology: the item passes, each check is reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_a_scenario_yaml_runs_as_a_pytest_item(topology, tmp_path: Path) -> None:  # noqa: ANN001 - Topology
    env = {**os.environ, "DRILLS_HISTORY_DB": str(tmp_path / "h.sqlite"), "DRILLS_APPROVE_ALL": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/diverged-replica.yaml", "-p", "no:cacheprovider", "-rA",
         "--drills-state-dir", str(topology.state_dir), "--drills-out", str(tmp_path / "out"),
         "--junitxml", str(tmp_path / "junit.xml")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "1 passed" in out and "data_consistency" in out  # the expected failure is reported as such
    assert (tmp_path / "junit.xml").read_text().count("<testcase") >= 1
    assert any((tmp_path / "out").rglob("result.json"))
