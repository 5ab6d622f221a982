"""`drills run` in a child process, interrupted with SIGINT once it is inside its first step —
what a user's Ctrl-C does. Shared by the runner's and the external controller's tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.journal import read

REPO = Path(__file__).resolve().parents[1]


def interrupt_mid_step(scenario: Path, run_dir: Path, drills_home: Path, *extra_args: str,
                       settle: float = 0.0) -> tuple[int, str]:
    """Run the scenario, send SIGINT `settle` seconds after its first `step.start`, and
    return the exit status and stderr."""
    env = dict(os.environ, DRILLS_HOME=str(drills_home), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "drills", "run", str(scenario), "--out", str(run_dir), *extra_args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (run_dir / "journal.jsonl").exists() and any(
                    e["kind"] == "step.start" for e in read(run_dir / "journal.jsonl")):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the run never reached its step")
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stderr
