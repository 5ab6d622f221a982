"""What the person watching a drill sees: where it is, what is broken, who is active, how long.

On a terminal that is one line rewritten in place; in a CI log (not a TTY) it is one plain
line per event, because carriage returns make logs unreadable.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from drills import masking


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 active_dc: Callable[[], str | None] | None = None, refresh_s: float = 0.5):
        self.stream = stream or sys.stderr
        if tty is None:
            try:
                tty = self.stream.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
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
