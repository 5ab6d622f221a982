"""The README's main command, as a user runs it: its own topology, reports, no leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from drills.topology.processes import pids_with_marker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_reference_drill_end_to_end(tmp_path: Path, drills_home: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "DRILLS_HOME": str(drills_home), "DRILLS_HISTORY_DB": str(tmp_path / "history.sqlite")}
    res = subprocess.run(
        [sys.executable, "-m", "drills", "run", "scenarios/dc1-port-change-failover.yaml", "--approve", "failback",
         "--out", str(run_dir), "--junit", str(tmp_path / "junit.xml"), "--html", str(tmp_path / "report.html"),
         "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    result = json.loads((run_dir / "result.json").read_text())
    # --json: stdout is one object; the text summary (measured value, unit, objective) went to stderr
    summary = json.loads(res.stdout)
    assert summary["status"] == "passed" and summary["exit_code"] == 0 and summary["run_dir"] == str(run_dir)
    assert [c["name"] for c in summary["checks"]] == [c["name"] for c in result["checks"]]
    assert all(c["counts_as_pass"] is True for c in summary["checks"])
    assert "PASSED: dc1-port-change-failover" in res.stderr and "\033[" not in res.stderr
    assert any(line.startswith("  ok    rto") and " s (objective 5 s)" in line for line in res.stderr.splitlines())
    assert result["status"] == "passed" and {c["status"] for c in result["checks"]} == {"passed"}
    rto = next(c for c in result["checks"] if c["name"] == "rto")
    assert 0 < rto["measured"] <= rto["objective"]
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.find(".//testcase[@name='rto']") is not None
    html = (tmp_path / "report.html").read_text()
    assert result["journal_sha256"] in html and "<svg" in html
    verify = subprocess.run([sys.executable, "-m", "drills", "verify", str(run_dir)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    hist = subprocess.run([sys.executable, "-m", "drills", "history"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result["run_id"] in hist.stdout
    # the run brought its own topology up and took it down again
    state_dir = result["topology"]["state_dir"]
    assert not Path(state_dir).exists() and not pids_with_marker(state_dir)
