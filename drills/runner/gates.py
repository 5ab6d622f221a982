"""Manual approval points (the source documents' 人工卡点).

A gate blocks the drill until a person says go. Four ways to say it, so the same scenario
runs at a desk and in CI: answer on the terminal (only when stdin is a TTY), `--approve NAME`
on the command line, `DRILLS_APPROVE=NAME1,NAME2` / `DRILLS_APPROVE_ALL=1` in the
environment, or creating the file `<run_dir>/approvals/NAME` from another shell. A gate
that nobody approves before its timeout fails the step.

A gate nobody *can* answer — no terminal, no approval given in advance — fails at once with
the ways to approve it, instead of blocking a CI job silently until its timeout; waiting for
the approval file from another shell is then asked for explicitly (`DRILLS_GATE_WAIT=1`).
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TextIO

from drills.runner.stages import Cancelled, StepError
from drills.terminal import is_tty

_TERMINAL = threading.Lock()  # parallel gates ask one at a time


class Approvals:
    def __init__(
        self,
        approved: Iterable[str] = (),
        *,
        environ: Mapping[str, str] | None = None,
        run_dir: Path | None = None,
        stdin: TextIO | None = None,
        stderr: TextIO | None = None,
        interactive: bool | None = None,
    ):
        environ = os.environ if environ is None else environ
        self.flags = {a for a in approved if a}
        self.env = {a.strip() for a in environ.get("DRILLS_APPROVE", "").split(",") if a.strip()}
        self.env_all = environ.get("DRILLS_APPROVE_ALL", "").strip().lower() in ("1", "true", "yes")
        self.wait_for_file = environ.get("DRILLS_GATE_WAIT", "").strip().lower() in ("1", "true", "yes", "file")
        self.run_dir = run_dir
        self.stdin = stdin or sys.stdin
        self.stderr = stderr or sys.stderr
        self.interactive = is_tty(self.stdin) if interactive is None else interactive

    def standing(self, gate: str) -> str | None:
        """Approval given before the gate was reached: by whom, or None."""
        if gate in self.flags or "all" in self.flags:
            return "flag"
        if self.env_all or gate in self.env or "all" in self.env:  # DRILLS_APPROVE=all, as --approve all
            return "env"
        if self.run_dir is not None and (self.run_dir / "approvals" / gate).exists():
            return "file"
        return None

    def instructions(self, gate: str) -> str:
        ways = [f"--approve {gate}", f"DRILLS_APPROVE={gate}"]
        if self.run_dir is not None:
            ways.append(f"touch {self.run_dir / 'approvals' / gate}")
        if self.interactive:
            ways.insert(0, "answer y on this terminal")
        return ", ".join(ways)

    def wait(self, gate: str, timeout: float, cancel: threading.Event, *, message: str = "",
             on_wait: Callable[[], None] | None = None) -> str:
        """Block until approved (-> how) or raise StepError on timeout / refusal."""
        by = self.standing(gate)
        if by:
            return by
        if on_wait:
            on_wait()
        deadline = time.monotonic() + timeout
        if self.interactive:
            with _TERMINAL:
                return self._ask(gate, message, deadline, cancel)
        if not self.wait_for_file:
            raise StepError(f"gate {gate} needs an approval and nobody can give one here (no terminal): approve it "
                            f"in advance with --approve {gate} (pytest: --drills-approve {gate}), "
                            f"DRILLS_APPROVE={gate} or DRILLS_APPROVE_ALL=1 — or set DRILLS_GATE_WAIT=1 to wait up to "
                            f"{timeout:g}s for {self.instructions(gate).split(', ')[-1]} from another shell")
        while time.monotonic() < deadline:
            if cancel.wait(0.2):
                raise Cancelled("cancelled while waiting at gate " + gate)
            by = self.standing(gate)
            if by:
                return by
        raise StepError(f"gate {gate} was not approved within {timeout:g}s ({self.instructions(gate)})")

    def _ask(self, gate: str, message: str, deadline: float, cancel: threading.Event) -> str:
        prompt = f"\n[gate {gate}] {message + ' ' if message else ''}approve and continue? [y/N] "
        self.stderr.write(prompt)
        self.stderr.flush()
        while time.monotonic() < deadline:
            if cancel.is_set():
                raise Cancelled("cancelled while waiting at gate " + gate)
            by = self.standing(gate)
            if by:
                return by
            try:
                ready, _, _ = select.select([self.stdin], [], [], 0.2)
            except (OSError, ValueError, TypeError):
                ready = []
                time.sleep(0.2)
            if ready:
                answer = self.stdin.readline().strip().lower()
                if answer in ("y", "yes"):
                    return "terminal"
                raise StepError(f"gate {gate} refused on the terminal")
        raise StepError(f"gate {gate} was not approved in time")
