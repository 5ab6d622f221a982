"""What the person watching a drill sees: where it is, what is broken, who is active, how long.

On a terminal that is one line rewritten in place; in a CI log (not a TTY) it is one plain
line per event, because carriage returns make logs unreadable.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from drills import masking
from drills.terminal import is_tty


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 active_dc: Callable[[], str | None] | None = None, refresh_s: float = 0.5):
        self.stream = stream or sys.stderr
        self.tty = is_tty(self.stream) if tty is None else tty
        self.active_dc = active_dc or (lambda: None)
        self.refresh_s = refresh_s
        self.started = time.monotonic()
        self.stage = ""
        self.steps: list[str] = []
        self.faults: list[str] = []
        self._dc: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._width = 0

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.started = time.monotonic()
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(2)
        if self.tty and self._width:
            with self._lock:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()

    # ---- events ---------------------------------------------------------------------------------
    def set_stage(self, name: str) -> None:
        with self._lock:
            self.stage = name
            self.steps = []
        self.say(f"stage {name}")

    def step_started(self, label: str) -> None:
        with self._lock:
            self.steps.append(label)
        if not self.tty:
            self.say(f"  step {label} ...")

    def step_ended(self, label: str, status: str, error: str | None = None) -> None:
        with self._lock:
            if label in self.steps:
                self.steps.remove(label)
        if not self.tty or status != "ok":
            self.say(f"  step {label}: {status}" + (f" — {error}" if error else ""))

    def set_faults(self, handles: list[str]) -> None:
        with self._lock:
            self.faults = list(handles)

    def say(self, text: str) -> None:
        """A line that stays (in both modes)."""
        with self._lock:
            if self.tty and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self._width = 0
            self.stream.write(masking.mask(f"[{self._elapsed()}] {text}") + "\n")
            self.stream.flush()

    # ---- the live line ---------------------------------------------------------------------------
    def line(self) -> str:
        steps = ", ".join(self.steps) or "-"
        faults = ", ".join(self.faults) or "none"
        dc = self._dc or "?"
        return f"[{self._elapsed()}] stage {self.stage or '-'} | step {steps} | faults {faults} | active {dc}"

    def _elapsed(self) -> str:
        s = int(time.monotonic() - self.started)
        return f"{s // 60:02d}:{s % 60:02d}"

    def _tick(self) -> None:
        last_dc = 0.0
        while not self._stop.wait(self.refresh_s):
            if time.monotonic() - last_dc >= 1.0:
                try:
                    self._dc = self.active_dc()
                except Exception:  # the display must never break a drill
                    self._dc = None
                last_dc = time.monotonic()
            with self._lock:
                text = masking.mask(self.line())
                pad = max(0, self._width - len(text))
                self.stream.write("\r" + text + " " * pad)
                self.stream.flush()
                self._width = len(text)


# ---- the closing summary ------------------------------------------------------------------------

MARKS = {True: "ok", False: "FAIL", None: "??"}


def check_mark(check: dict[str, Any]) -> str:
    """ok (counts towards a pass), FAIL (fails the run), ?? (no verdict), -- (waived: the
    scenario does not judge it, so it changes nothing)."""
    from drills.report.run_record import check_outcome

    outcome = check_outcome(check)
    return "--" if outcome.kind == "waived" else MARKS[outcome.ok]


def check_line(check: dict[str, Any]) -> str:
    """What was measured, in its unit, against what objective; for a check without a verdict,
    why (its own summary, or the scenario's reason for waiving it)."""
    from drills.report.run_record import check_outcome, check_unit, fmt_value

    outcome = check_outcome(check)
    unit = check_unit(check)
    measured = fmt_value(check.get("measured"), unit)
    objective = check.get("objective")
    against = f" (objective {fmt_value(objective, unit)})" if objective not in (None, "") else ""
    if outcome.ok is None:
        why = " ".join(str(check.get("summary") or "").split()) or "no reason recorded"
        label = f"not judged ({outcome.waived})" if outcome.kind == "waived" else "unknown"
        return f"{label}: {why}"
    label = "" if outcome.kind in ("passed", "failed") else f" — {outcome.label}"
    return f"{measured}{against}{label}"


def closing_summary(record: dict[str, Any], result_path: Path, *, colour: bool) -> str:
    """The lines a run ends with: the verdict, then one per check (mark, name, measured value
    or why unknown), then the reasons. `colour` only for a terminal (drills.terminal)."""
    from drills.terminal import paint

    status = str(record.get("status") or "error").upper()
    duration = record.get("duration_s")
    took = f" ({duration:.1f}s)" if isinstance(duration, int | float) else ""
    lines = [f"{paint(status, status, colour)}: {record.get('scenario')}{took} — {result_path}"]
    checks = [c for c in record.get("checks") or [] if isinstance(c, dict)]
    width = max((len(str(c.get("name"))) for c in checks), default=0)
    for c in checks:
        mark = check_mark(c)
        lines.append(f"  {paint(mark, mark, colour)}{' ' * (4 - len(mark))}  {str(c.get('name')):<{width}}  "
                     f"{check_line(c)}")
    lines += [f"  - {reason}" for reason in record.get("reasons") or []]
    return "".join(masking.mask(line) + "\n" for line in lines)


def summary_object(record: dict[str, Any], result_path: Path) -> dict[str, Any]:
    """`drills run --json`: the run's outcome as one JSON object (a subset of result.json,
    which stays the record; numbers as numbers, booleans as booleans), every string masked."""
    from drills.report.run_record import check_outcome, check_unit

    checks = []
    for c in record.get("checks") or []:
        if not isinstance(c, dict):
            continue
        outcome = check_outcome(c)
        checks.append({"name": c.get("name"), "status": c.get("status"), "mark": check_mark(c),
                       "counts_as_pass": outcome.ok, "verdict": outcome.kind, "measured": c.get("measured"),
                       "unit": check_unit(c) or None, "objective": c.get("objective"),
                       "expected_failure": bool(c.get("expected_failure")), "summary": c.get("summary"),
                       "waived": c.get("waived")})
    return masking.masker().value({
        "status": record.get("status"), "exit_code": record.get("exit_code"), "scenario": record.get("scenario"),
        "run_id": record.get("run_id"), "run_dir": str(result_path.parent), "result": str(result_path),
        "duration_s": record.get("duration_s"), "checks": checks, "reasons": list(record.get("reasons") or []),
    })
