"""The parts a drill plugs in — faults, controller, workload, checks, reports — found by name.

They are built by other areas of the harness and may be absent from a build (or not written
yet). A scenario that does not need a part runs without it; one that does is refused before
anything starts, with a message that says which part and why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drills.errors import UserError
from drills.scenario.model import Scenario


@dataclass(frozen=True)
class Part:
    module: str
    attr: str
    why: str  # what in the scenario needs it


def find(module: str, attr: str) -> Callable[..., Any] | None:
    """The callable, or None when the module is not in this build. A module that exists but
    fails to import is a bug in it, reported as such rather than as "missing"."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            return None
        raise UserError(f"{module} is present but cannot be imported: {exc}") from None
    return getattr(mod, attr, None)


def needed(scenario: Scenario) -> list[Part]:
    parts: list[Part] = []
    kinds = scenario.step_kinds()
    if "fault" in kinds:
        parts.append(Part("drills.faults", "make_fault", "the scenario has `fault:` steps"))
    if scenario.controller.kind != "none":
        parts.append(Part("drills.control", "make_controller", f"controller kind {scenario.controller.kind}"))
    if scenario.workload.kind != "none":
        parts.append(Part("drills.workload", "make_workload", f"workload kind {scenario.workload.kind}"))
    obj = scenario.objectives
    if obj.checks.required or obj.checks.expected_to_fail or obj.rto is not None or obj.rpo is not None \
            or obj.switchover_window is not None:
        parts.append(Part("drills.checks", "evaluate", "the scenario declares objectives/checks"))
    return parts


def require(scenario: Scenario) -> dict[str, Callable[..., Any]]:
    """Resolve every part the scenario needs, or refuse with one message listing all missing."""
    found: dict[str, Callable[..., Any]] = {}
    missing: list[str] = []
    for part in needed(scenario):
        fn = find(part.module, part.attr)
        if fn is None:
            missing.append(f"{part.module}.{part.attr} ({part.why})")
        else:
            found[part.attr] = fn
    if missing:
        raise UserError(
            f"scenario {scenario.name} needs parts this build does not have: {'; '.join(missing)}",
            hint="run a scenario without them, or install a build that includes them",
        )
    return found


def optional(module: str, attr: str) -> Callable[..., Any] | None:
    try:
        return find(module, attr)
    except UserError:
        return None
