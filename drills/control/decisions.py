"""The controller's decisions as pure logic, so they can be driven by an in-memory model.

Nothing here touches a socket or a clock of its own: time is passed in (monotonic ns) and
the outcome is a value. The reference controller feeds these from real probes; the
property tests feed them from a model of two data centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERDICT_UNREACHABLE = "unreachable"
VERDICT_DEAD = "dead"


@dataclass(frozen=True)
class ProbeChange:
    """A change worth a journal line: the first failure, a new error, a recovery, a verdict."""

    kind: str  # probe.fail | probe.ok | dc.failed
    dc: str
    consecutive: int = 0
    error: str | None = None


@dataclass
class ProbeTracker:
    """Counts consecutive probe failures per DC and reports only changes.

    A DC is declared failed once, when the count reaches `failures`; it is declared again
    only after a successful probe has reset it (a flapping DC is a new failure each time,
    which is what anti-flapping is for).
    """

    failures: int
    consecutive: dict[str, int] = field(default_factory=dict)
    last_error: dict[str, str | None] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)

    def observe(self, dc: str, error: str | None) -> list[ProbeChange]:
        changes: list[ProbeChange] = []
        if error is None:
            if self.consecutive.get(dc, 0) > 0:
                changes.append(ProbeChange("probe.ok", dc))
            self.consecutive[dc] = 0
            self.last_error[dc] = None
            self.declared.discard(dc)
            return changes
        count = self.consecutive.get(dc, 0) + 1
        self.consecutive[dc] = count
        if count == 1 or self.last_error.get(dc) != error:
            changes.append(ProbeChange("probe.fail", dc, count, error))
        self.last_error[dc] = error
        if count >= self.failures and dc not in self.declared:
            self.declared.add(dc)
            changes.append(ProbeChange("dc.failed", dc, count, error))
        return changes

    def is_failed(self, dc: str) -> bool:
        return dc in self.declared

    def is_healthy(self, dc: str) -> bool:
        return self.consecutive.get(dc, 0) == 0


def verdict(source_seen_alive_by_replica: bool | None) -> str:
    """Unreachable if the replication link still sees the source alive (our path is the
    problem), dead otherwise. Unknown counts as dead: we cannot prove it is alive."""
    return VERDICT_UNREACHABLE if source_seen_alive_by_replica else VERDICT_DEAD


@dataclass
class AntiFlapping:
    """orchestrator's RecoveryPeriodBlockSeconds: after a recovery, block automatic ones."""

    block_period_ns: int
    last_recovery_ns: int | None = None

    def record_recovery(self, now_ns: int) -> None:
        self.last_recovery_ns = now_ns

    def blocked_until(self, now_ns: int) -> int | None:
        """The end of the block (monotonic ns) if an automatic recovery is blocked now."""
        if self.last_recovery_ns is None:
            return None
        until = self.last_recovery_ns + self.block_period_ns
        return until if now_ns < until else None


GUARD_PROMOTE = "promote"
GUARD_WAIT = "wait"
GUARD_REFUSE = "refuse"


@dataclass(frozen=True)
class PromotionGuard:
    """Refuse to promote a survivor that is behind by more than `max_lag` seconds, after
    waiting up to `lag_wait` for it to catch up; a forced request promotes anyway (the
    loss is then the RPO the checks measure). Unknown lag is treated as too much."""

    max_lag: float
    lag_wait: float

    def decide(self, lag: float | None, waited: float, forced: bool) -> str:
        if forced:
            return GUARD_PROMOTE
        if lag is not None and lag <= self.max_lag:
            return GUARD_PROMOTE
        return GUARD_WAIT if waited < self.lag_wait else GUARD_REFUSE
