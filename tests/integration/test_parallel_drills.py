"""Issue 17: drills run in parallel — `pytest -n 2` over scenario files, and `drills run` from
two shells at once — give the verdicts of serial runs, each on its own topology, with no port,
state-directory, run-directory or history collision. Real processes throughout."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "scenarios" / "dc1-port-change-failover.yaml"
NEGATIVE = REPO / "scenarios" / "sequence-table-filtered.yaml"


def env_for(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DRILLS_HOME": str(tmp_path / "home"), "DRILLS_HISTORY_DB": str(tmp_path / "history.sqlite"),
            "DRILLS_APPROVE": "failback"}


def test_two_shells_at_once_same_verdicts_no_collision(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    runs = {name: subprocess.Popen([sys.executable, "-m", "drills", "run", str(path), "--out", str(tmp_path / name)],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name, path in (("a", REFERENCE), ("c", NEGATIVE))}
    outputs = {name: p.communicate(timeout=300)[0] for name, p in runs.items()}
    results = {name: json.loads((tmp_path / name / "result.json").read_text()) for name in runs}
    for name, r in results.items():
        assert r["status"] == "passed", (name, r["reasons"], outputs[name][-2000:])
    assert {c["name"] for c in results["c"]["checks"] if c["status"] == "failed"} == {"sequence_continuity"}
    assert len({r["topology"]["state_dir"] for r in results.values()}) == 2  # a topology each
    assert len({r["run_id"] for r in results.values()}) == 2
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        recorded = {row[0] for row in db.execute("SELECT run_id FROM runs")}
    assert recorded == {r["run_id"] for r in results.values()}  # both in the history, none lost
    assert not any((tmp_path / "home").glob("run-*/state.json"))  # each tore its own topology down


def test_pytest_n_2_over_scenario_files(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "--rootdir", str(REPO),
                          "--drills-out", str(tmp_path / "out"), str(REFERENCE), str(NEGATIVE)],
                         env=env, capture_output=True, text=True, timeout=400, cwd=REPO)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "2 passed" in res.stdout
    dirs = sorted(p.name.rsplit("-", 2)[0] for p in (tmp_path / "out").iterdir())
    assert dirs == ["dc1-port-change-failover", "sequence-table-filtered"]
