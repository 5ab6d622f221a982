"""What every fault shares: inject and heal, both journaled, heal idempotent.

A drill is only as trustworthy as its heals: a fault left behind poisons the next run and
a stopped (SIGSTOP) server outlives the harness. So a fault counts as *active* from the
moment its first side effect may have happened, an inject that fails half-way is rolled
back (or, if even that fails, stays active for the runner's final heal), and a heal of a
fault that is not active is a no-op rather than an error.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import pymysql

from drills import events
from drills.errors import EnvironmentProblem, UserError
from drills.faults.catalogue import FaultSpec, FaultType
from drills.journal import Journal
from drills.topology.state import Topology

SOURCE = "fault"
HEAL_BY = ("step", "runner", "stop_condition", "max_fault_duration")  # who healed it (safety: drills.runner.safety)


class FaultError(EnvironmentProblem):
    """A fault could not be injected or healed; the message says which and why."""


class Fault:
    """One fault of the catalogue bound to a topology and a journal.

    Subclasses implement `_inject` (call `self._touch()` right before the first side
    effect) and `_heal` (must cope with a partial inject; reads what inject recorded in
    `self.details`)."""

    family: ClassVar[str] = ""

    def __init__(self, spec: FaultSpec, topo: Topology, journal: Journal | None):
        self.spec = spec
        self.name: str = spec.name
        self.type: str = spec.type
        self.target: str = spec.target
        self.params: dict[str, Any] = dict(spec.params)
        self.topo = topo
        self.journal = journal
        self.active = False
        self.details: dict[str, Any] = {}  # facts found while injecting (ports, pids, previous values)
        self._touched = False
        self._lock = threading.RLock()

    @property
    def fault_type(self) -> FaultType:
        return self.spec.fault_type

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ({'active' if self.active else 'inactive'})>"

    # ---- the contract ---------------------------------------------------------------------
    def inject(self) -> None:
        """Put the fault in place; journal `fault.inject` once it is. Raises FaultError (a
        UserError) with a clear message when it cannot, after undoing any partial effect."""
        with self._lock:
            if self.active:
                raise FaultError(f"fault {self.name!r} is already active; heal it first")
            self.details = {}
            self._touched = False
            try:
                self._inject()
            except BaseException as exc:
                if not self._touched:
                    raise self._as_fault_error("injecting", exc) from None
                self.active = True  # something may have happened: only a heal can tell
                try:
                    self._heal()
                    self.active = False
                except Exception as undo_exc:  # noqa: BLE001 - reported in the message
                    raise FaultError(
                        f"injecting fault {self.name!r} failed ({_reason(exc)}) and undoing it failed too "
                        f"({_reason(undo_exc)}); it stays active so that the final heal retries") from None
                raise self._as_fault_error("injecting", exc) from None
            self.active = self.fault_type.lasting
            self.injected_mono_ns = time.monotonic_ns()
            self._record(events.FAULT_INJECT, name=self.name, type=self.type, target=self.target,
                         params=self.params, details=self.details)

    def heal(self, by: str = "step") -> bool:
        """Undo the fault. Idempotent: False (and nothing journaled) when it is not active.
        Journals `fault.heal` with ok true/false; raises FaultError when the heal failed (the
        fault then stays active, so a later heal can retry)."""
        if by not in HEAL_BY:
            raise ValueError(f"heal by must be one of {HEAL_BY}, not {by!r}")
        with self._lock:
            if not self.active:
                return False
            heal_details: dict[str, Any] = {}
            try:
                heal_details = self._heal() or {}
            except Exception as exc:  # noqa: BLE001 - journaled, then re-raised as a FaultError
                error = self._as_fault_error("healing", exc)
                self._record(events.FAULT_HEAL, name=self.name, type=self.type, target=self.target, by=by, ok=False,
                             error=error.message)
                raise error from None
            self.active = False
            payload: dict[str, Any] = {"name": self.name, "type": self.type, "target": self.target, "by": by, "ok": True}
            if heal_details:
                payload["details"] = heal_details
            self._record(events.FAULT_HEAL, **payload)
            return True

    # ---- for subclasses -------------------------------------------------------------------------
    def _inject(self) -> None:
        raise NotImplementedError

    def _heal(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def _touch(self) -> None:
        """Mark that a side effect is about to happen (so a failure from here on is undone)."""
        self._touched = True

    def _record(self, kind: str, **payload: Any) -> None:
        if self.journal is not None:
            self.journal.record(SOURCE, kind, **payload)

    def _as_fault_error(self, doing: str, exc: BaseException) -> FaultError:
        if isinstance(exc, FaultError):
            return exc
        if isinstance(exc, UserError):
            return FaultError(f"{doing} fault {self.name!r}: {exc.message}", hint=exc.hint)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise exc
        return FaultError(f"{doing} fault {self.name!r} failed: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return exc.message
    if isinstance(exc, pymysql.err.MySQLError) and exc.args:
        return f"MySQL error {exc.args[0]}: {exc.args[-1]}" if len(exc.args) > 1 else f"MySQL error {exc.args[0]}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
