"""What a check concludes, in the shape `result.json` lists under `checks`.

A verdict is three-valued like Jepsen's `valid?`: `passed`, `failed`, or `unknown` when the
recorded history cannot decide (no fault happened, no write was acknowledged, an outcome was
never settled). `unknown` is not a soft pass: the runner turns it into an inconclusive run,
because an audit must not read "we could not tell" as "it was fine".

`evidence` always points back into the record — journal lines by `seq`, ledger operations by
`op` — so a reader can follow every claim to the line that supports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "unknown"]
PASSED: Status = "passed"
FAILED: Status = "failed"
UNKNOWN: Status = "unknown"


@dataclass
class Verdict:
    name: str
    status: Status
    measured: Any = None
    objective: Any = None
    summary: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    expected_failure: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "expected_failure": self.expected_failure,
            "measured": self.measured,
            "objective": self.objective,
            "summary": self.summary,
            "evidence": self.evidence,
        }


def combine(statuses: list[Status]) -> Status:
    """A failure anywhere fails the whole; otherwise anything undecided leaves it undecided."""
    if FAILED in statuses:
        return FAILED
    if UNKNOWN in statuses or not statuses:
        return UNKNOWN
    return PASSED


def seconds(ns: int | None) -> float | None:
    """Nanoseconds of the shared monotonic clock as seconds, rounded for people."""
    return None if ns is None else round(ns / 1e9, 3)
