"""Issue 16 (pytest as its users meet it): a gate nobody can answer fails the drill at once
with how to approve it (`--drills-approve`), and Ctrl-C stops the whole pytest session — the
drill heals and seals, and no further scenario starts. Real topologies, a real pytest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
WAIVED = {"checks": {"not_judged": dict.fromkeys(
    ("rto", "rpo", "sequence_continuity", "split_brain", "write_availability"), "no workload in this test")}}


def scenario(d: Path, name: str, steps: list[dict[str, object]]) -> Path:
    path = d / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "workload": {"kind": "none"}, "controller": {"kind": "none"},
                                    "stages": [{"name": "s", "steps": steps}], "objectives": WAIVED}, sort_keys=False))
    return path


def pytest_argv(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
            "--drills-out", str(tmp_path / "out"), *args]


def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DRILLS_APPROVE")}
    return {**clean, "DRILLS_HOME": str(tmp_path / "home"), "DRILLS_HISTORY_DB": str(tmp_path / "h.sqlite")}


def test_a_gate_nobody_can_answer_fails_at_once_and_drills_approve_passes_it(tmp_path: Path) -> None:
    gated = scenario(tmp_path, "gated", [{"gate": {"name": "go", "timeout": "10m"}}])
    t0 = time.monotonic()
    res = subprocess.run(pytest_argv(tmp_path, str(gated)), env=env(tmp_path), capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 1 and time.monotonic() - t0 < 60  # not the gate's 10 minutes
    assert "--drills-approve go" in res.stdout, res.stdout[-2000:]
    ok = subprocess.run(pytest_argv(tmp_path, "--drills-approve", "go", str(gated)), env=env(tmp_path),
                        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert ok.returncode == 0 and "1 passed" in ok.stdout, ok.stdout[-2000:]


def test_ctrl_c_stops_the_whole_session_after_the_drill_healed(tmp_path: Path) -> None:
    first = scenario(tmp_path, "first", [{"fault": {"type": "latency", "target": "app:dc1", "latency_ms": 50,
                                                    "name": "slow"}}, {"wait": "60s"}])
    second = scenario(tmp_path, "second", [{"wait": "10ms"}])
    proc = subprocess.Popen(pytest_argv(tmp_path, str(first), str(second)), env=env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 90
    journal = None
    while journal is None or '"fault.inject"' not in journal.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, "the first drill never injected its fault"
        found = list((tmp_path / "out").glob("first-*/journal.jsonl")) if (tmp_path / "out").exists() else []
        journal = found[0] if found else None
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode in (2, 130), out[-2000:]
    assert "interrupted by SIGINT" in out
    assert not list((tmp_path / "out").glob("second-*")), "a scenario started after Ctrl-C"
    result = json.loads((journal.parent / "result.json").read_text())
    assert result["status"] == "aborted"
    heals = [json.loads(line) for line in journal.read_text().splitlines() if '"fault.heal"' in line]
    assert [h["payload"]["name"] for h in heals] == ["slow"]
