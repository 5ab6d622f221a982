"""The runner's register of injected faults: what is still active, and the final heal.

A drill must never end with a fault in place, whatever happened (failure, exception,
Ctrl-C). `heal_all` heals every fault still active, newest first (a crash injected after
a link cut is undone before the link comes back, the reverse of how it was built), keeps
going when one heal fails and reports every failure, so one broken heal cannot leave the
others behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from drills.faults.base import Fault, FaultError
from drills.faults.catalogue import FaultSpecError, did_you_mean


@dataclass
class HealReport:
    healed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # fault name -> error message

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        if self.ok:
            return f"healed {len(self.healed)} fault(s)" + (f": {', '.join(self.healed)}" if self.healed else "")
        return "; ".join(f"{name}: {error}" for name, error in self.failed.items())


class ActiveFaults:
    """The runner's one register of faults. Thread-safe: the runner's steps, parallel stages
    and signal handling share one. Each fault journals its own inject and heal (the
    contract of `drills.faults.base.Fault`); this register only decides which to heal."""

    def __init__(self, on_change: Callable[[list[str]], None] | None = None) -> None:
        self._lock = threading.RLock()
        self._faults: list[Fault] = []  # every fault registered, in injection order
        self.on_change = on_change or (lambda _names: None)
        self._closed: tuple[str, str] | None = None  # (why, heal by) once no fault may be added

    def close(self, why: str, by: str) -> None:
        """No fault may be injected any more (a stop condition tripped): a later inject is
        refused, and one already under way when this is called is healed as soon as it lands."""
        with self._lock:
            self._closed = (why, by)

    def _changed(self) -> None:
        self.on_change([f.name for f in self.active()])

    def add(self, fault: Fault) -> Fault:
        """Register a fault (before or after injecting it). Two active faults may not share
        a name, since `heal: NAME` must mean one thing."""
        with self._lock:
            if any(f is fault for f in self._faults):
                return fault
            clash = [f for f in self._faults if f.name == fault.name and f.active]
            if clash:
                raise FaultError(f"a fault named {fault.name!r} is already active; heal it first or give the new "
                                 "fault another `name`")
            self._faults = [f for f in self._faults if f.name != fault.name]  # an old, healed namesake
            self._faults.append(fault)
            return fault

    def inject(self, fault: Fault) -> Fault:
        """Register, then inject: a fault that fails half-way and stays active is still
        known to the final heal."""
        with self._lock:
            if self._closed is not None:
                raise FaultError(f"fault {fault.name!r} not injected: {self._closed[0]}")
            self.add(fault)
        try:
            fault.inject()
        except BaseException:
            if not fault.active:
                with self._lock:
                    self._faults = [f for f in self._faults if f is not fault]
            raise
        finally:
            self._changed()
        with self._lock:
            closed = self._closed
        if closed is not None and fault.active:  # closed while it was being injected: undo it at once
            fault.heal(by=closed[1])
            self._changed()
            raise FaultError(f"fault {fault.name!r} healed as soon as it landed: {closed[0]}")
        return fault

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.active]

    def __len__(self) -> int:
        return len(self.active())

    def get(self, name: str) -> Fault | None:
        with self._lock:
            return next((f for f in self._faults if f.name == name), None)

    def heal(self, name_or_target: str, by: str = "step") -> list[Fault]:
        """Heal the fault with this name or, failing that, every fault on this target (newest
        first); `*` heals every active one. Already healed: nothing to do, no error. Returns
        the faults healed now. Raises FaultSpecError for a name or target no fault ever had,
        FaultError when a heal fails (after trying the others)."""
        with self._lock:
            matches = self.active() if name_or_target in ("*", "all") else \
                [f for f in self._faults if f.name == name_or_target]
            if not matches and name_or_target not in ("*", "all"):
                matches = [f for f in self._faults if f.target == name_or_target]
            if not matches and name_or_target not in ("*", "all"):
                known = sorted({f.name for f in self._faults} | {f.target for f in self._faults})
                listing = ", ".join(known) if known else "none yet"
                raise FaultSpecError(f"no fault named or targeting {name_or_target!r}"
                                     f"{did_you_mean(name_or_target, known)} (injected so far: {listing})")
        healed: list[Fault] = []
        errors: list[str] = []
        for fault in reversed(matches):
            try:
                if fault.heal(by=by):
                    healed.append(fault)
            except FaultError as exc:
                errors.append(exc.message)
        self._changed()
        if errors:
            raise FaultError("; ".join(errors))
        return healed

    def heal_all(self, by: str = "runner") -> HealReport:
        """Heal every active fault, newest first; never raises for a failed heal."""
        report = HealReport()
        for fault in reversed(self.active()):
            try:
                if fault.heal(by=by):
                    report.healed.append(fault.name)
            except Exception as exc:  # noqa: BLE001 - every fault gets its chance; the report carries the error
                report.failed[fault.name] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        self._changed()
        return report
