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


def objectives_of(scenario: Any) -> Any:
    """The scenario's `objectives`, whatever shape the caller holds (the pydantic model, a
    plain dict, or None for a history judged without its scenario)."""
    if scenario is None:
        return None
    if isinstance(scenario, dict):
        return scenario.get("objectives")
    return getattr(scenario, "objectives", None)


def objective(scenario: Any, name: str, default: Any = None) -> Any:
    """One objective (`rto`, `rpo`, `switchover_window`, `checks`); missing = default."""
    objs = objectives_of(scenario)
    if objs is None:
        return default
    value = objs.get(name, default) if isinstance(objs, dict) else getattr(objs, name, default)
    return default if value is None else value


def expected_to_fail(scenario: Any) -> set[str]:
    """Checks the scenario declares it expects to fail (a negative drill)."""
    checks = objective(scenario, "checks")
    if checks is None:
        return set()
    names = checks.get("expected_to_fail") if isinstance(checks, dict) else getattr(checks, "expected_to_fail", None)
    return set(names or [])


def duration_s(value: Any) -> float | None:
    """Objectives arrive parsed (float seconds) from the scenario model, but a dict-shaped
    scenario may still hold "5s" / "500ms"; both mean seconds here."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    text = str(value).strip().lower()
    for unit, factor in (("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * factor
            except ValueError:
                return None
    try:
        return float(text)
    except ValueError:
        return None
