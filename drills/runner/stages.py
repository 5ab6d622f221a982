"""Running stages and steps: order, parallelism, retries, failure policy, time bounds.

The engine knows nothing about databases: each step kind is an *action* (a callable) handed
in by the drill (`drills.runner.steps`). That keeps the control flow — which is where a drill
harness goes wrong (a fault never healed, a Ctrl-C that leaves a thread writing) — small and
testable on its own.

Every attempt runs in a worker thread while the calling thread waits in short slices: the
main thread stays responsive to SIGINT/SIGTERM, and a step that outlives its time bound is
abandoned (its `cancel` event is set so cooperative actions stop) instead of hanging the run.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drills import events
from drills.journal import Journal
from drills.scenario.model import Stage, Step

SOURCE = "runner"
RETRY_PAUSE_S = 0.2
CANCEL_GRACE_S = 2.0


class StepError(Exception):
    """A step did not do what it says (the message is the reason a person reads)."""


class Cancelled(Exception):
    """The run was interrupted or a sibling step aborted the stage."""


@dataclass
class StepCall:
    """What an action gets besides its step: where it is, how long it may take, when to stop."""

    stage: str
    index: int
    label: str
    deadline: float  # time.monotonic()
    cancel: threading.Event
    details: dict[str, Any] = field(default_factory=dict)  # goes into the step.end journal line

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("cancelled")

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early (raising Cancelled) when the run stops."""
        if self.cancel.wait(max(0.0, seconds)):
            raise Cancelled("cancelled")


Action = Callable[[Step, StepCall], "dict[str, Any] | None"]


@dataclass
class StepRecord:
    stage: str
    index: int
    label: str
    kind: str
    status: str  # ok | failed | skipped
    attempts: int = 0
    error: str | None = None
    on_failure: str = "abort"
    started_ns: int = 0
    ended_ns: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def counts_as_failure(self) -> bool:
        return self.status == "failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "index": self.index, "step": self.label, "type": self.kind,
            "status": self.status, "attempts": self.attempts, "error": self.error,
            "on_failure": self.on_failure, "duration_s": round((self.ended_ns - self.started_ns) / 1e9, 3),
        }


@dataclass
class EngineOutcome:
    status: str  # completed | failed | aborted
    records: list[StepRecord]

    @property
    def failures(self) -> list[StepRecord]:
        return [r for r in self.records if r.counts_as_failure]


def default_timeout(step: Step) -> float:
    """The safety net when a step gives no `timeout:`: its own bound plus slack."""
    kind = step.kind
    if kind == "wait":
        return float(step.wait or 0) + 5.0
    if kind == "expect" and step.expect is not None:
        return step.expect.window + 10.0
    if kind == "gate" and step.gate is not None:
        return step.gate.timeout + 1.0
    if kind == "shell" and step.shell_spec is not None:
        return step.shell_spec.timeout + 5.0
    return {"sql": 60.0, "fault": 60.0, "heal": 60.0, "route": 30.0, "workload": 60.0}.get(kind, 180.0)


class Engine:
    def __init__(
        self,
        journal: Journal,
        actions: Mapping[str, Action],
        *,
        interrupted: threading.Event | None = None,
        on_step: Callable[[str, StepRecord | None, Step | None], None] | None = None,
        slice_s: float = 0.05,
        retry_pause_s: float = RETRY_PAUSE_S,
    ):
        self.retry_pause_s = retry_pause_s
        self.journal = journal
        self.actions = actions
        self.interrupted = interrupted or threading.Event()
        self.on_step = on_step or (lambda *_: None)
        self.slice_s = slice_s
        self.records: list[StepRecord] = []
        self._lock = threading.Lock()

    # ---- stages -------------------------------------------------------------------------------
    def run(self, stages: list[Stage]) -> EngineOutcome:
        failed = False
        for stage in stages:
            if self.interrupted.is_set():
                return EngineOutcome("aborted", self.records)
            self.journal.record(SOURCE, events.STAGE_START, stage=stage.name, parallel=stage.parallel)
            self.on_step("stage", None, None)
            stop, stage_failed = (self._parallel if stage.parallel else self._serial)(stage)
            status = "aborted" if self.interrupted.is_set() else ("failed" if stage_failed else "ok")
            self.journal.record(SOURCE, events.STAGE_END, stage=stage.name, status=status)
            failed = failed or stage_failed
            if self.interrupted.is_set():
                return EngineOutcome("aborted", self.records)
            if stop:
                return EngineOutcome("failed", self.records)
        return EngineOutcome("failed" if failed else "completed", self.records)

    def _serial(self, stage: Stage) -> tuple[bool, bool]:
        """-> (stop the run, the stage failed)."""
        failed = False
        for i, step in enumerate(stage.steps):
            if self.interrupted.is_set():
                return True, failed
            rec = self.run_step(stage, i, step, self.interrupted)
            if rec.status == "failed":
                failed = True
                if rec.on_failure == "abort":
                    return True, True
        return False, failed

    def _parallel(self, stage: Stage) -> tuple[bool, bool]:
        stage_cancel = _Either(self.interrupted)
        results: dict[int, StepRecord] = {}

        def branch(i: int, step: Step) -> None:
            rec = self.run_step(stage, i, step, stage_cancel)
            results[i] = rec
            if rec.status == "failed" and rec.on_failure == "abort":
                stage_cancel.set()  # the siblings stop at their next cancellation point

        threads = [threading.Thread(target=branch, args=(i, s), name=f"step-{stage.name}-{i}", daemon=True)
                   for i, s in enumerate(stage.steps)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(self.slice_s)
                if self.interrupted.is_set():
                    stage_cancel.set()
        recs = [results[i] for i in sorted(results)]
        failed = any(r.status == "failed" for r in recs)
        stop = any(r.status == "failed" and r.on_failure == "abort" for r in recs)
        return stop, failed

    # ---- one step -----------------------------------------------------------------------------
    def run_step(self, stage: Stage, index: int, step: Step, cancel: threading.Event) -> StepRecord:
        label = step.label(index)
        kind = step.kind
        rec = StepRecord(stage.name, index, label, kind, "ok", on_failure=step.on_failure, started_ns=time.monotonic_ns())
        self.journal.record(SOURCE, events.STEP_START, stage=stage.name, step=label, index=index, type=kind)
        self.on_step("start", rec, step)
        errors: list[str] = []
        action = self.actions.get(kind)
        for attempt in range(1, step.retry + 2):
            rec.attempts = attempt
            if action is None:
                errors.append(f"no action for step type {kind!r} in this build")
                break
            error, cancelled = self._attempt(action, stage, index, label, step, cancel, rec)
            if error is None:
                errors.clear()
                break
            errors.append(error)
            if cancelled or cancel.is_set():
                break
            if attempt <= step.retry:
                try:
                    StepCall(stage.name, index, label, time.monotonic() + 1, cancel).sleep(self.retry_pause_s)
                except Cancelled:
                    break
        if errors:
            rec.error = errors[-1]
            interrupted = cancel.is_set() and not self.interrupted.is_set() and errors[-1].startswith("cancelled")
            if interrupted:
                rec.status = "skipped"  # a sibling aborted the stage; this step did not fail by itself
            elif step.on_failure == "skip" and not self.interrupted.is_set():
                rec.status = "skipped"
            else:
                rec.status = "failed"
        rec.ended_ns = time.monotonic_ns()
        payload: dict[str, Any] = {
            "stage": stage.name, "step": label, "index": index, "type": kind,
            "status": rec.status, "attempts": rec.attempts,
        }
        if rec.error:
            payload["error"] = rec.error
            payload["on_failure"] = step.on_failure
        if len(errors) > 1:
            payload["attempt_errors"] = errors
        if rec.details:
            payload["details"] = rec.details
        self.journal.record(SOURCE, events.STEP_END, **payload)
        with self._lock:
            self.records.append(rec)
        self.on_step("end", rec, step)
        return rec

    def _attempt(self, action: Action, stage: Stage, index: int, label: str, step: Step,
                 cancel: threading.Event, rec: StepRecord) -> tuple[str | None, bool]:
        """-> (error or None, cancelled)."""
        bound = step.timeout if step.timeout is not None else default_timeout(step)
        attempt_cancel = _Either(cancel)
        call = StepCall(stage.name, index, label, time.monotonic() + bound, attempt_cancel)
        outcome: dict[str, Any] = {}

        def body() -> None:
            try:
                details = action(step, call)
                outcome["details"] = details
            except Cancelled as exc:
                outcome["cancelled"] = str(exc) or "cancelled"
            except StepError as exc:
                outcome["error"] = str(exc)
            except Exception as exc:  # an action's own bug or an environment error: the step fails, the run goes on to cleanup
                text = str(exc) or type(exc).__name__
                outcome["error"] = f"{type(exc).__name__}: {text}" if not _is_user_error(exc) else text
                if not _is_user_error(exc):
                    outcome["traceback"] = traceback.format_exc(limit=5)

        worker = threading.Thread(target=body, name=f"attempt-{stage.name}-{index}", daemon=True)
        worker.start()
        timed_out = False
        while worker.is_alive():
            worker.join(self.slice_s)
            if not worker.is_alive():
                break
            if cancel.is_set():
                attempt_cancel.set()
                worker.join(CANCEL_GRACE_S)
                break
            if time.monotonic() > call.deadline:
                timed_out = True
                attempt_cancel.set()
                worker.join(CANCEL_GRACE_S)
                break
        rec.details.update(call.details)
        if isinstance(outcome.get("details"), dict):
            rec.details.update(outcome["details"])
        if "traceback" in outcome:
            rec.details["traceback"] = outcome["traceback"]
        if timed_out:
            return f"timed out after {bound:g}s", False
        if "cancelled" in outcome or (cancel.is_set() and "error" not in outcome and "details" not in outcome):
            return "cancelled" if not self.interrupted.is_set() else "cancelled: run interrupted", True
        if "error" in outcome:
            return outcome["error"], False
        return None, False


def _is_user_error(exc: BaseException) -> bool:
    from drills.errors import UserError

    return isinstance(exc, UserError)


class _Either(threading.Event):
    """An event that is also set when its parent is: a step stops when its stage or the run does."""

    def __init__(self, parent: threading.Event):
        super().__init__()
        self._parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self._parent.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.is_set():
                return True
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            super().wait(0.05 if left is None else min(0.05, left))
