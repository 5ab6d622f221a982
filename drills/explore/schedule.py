"""A drawn schedule, and the ordinary scenario that runs it.

A schedule is a list of *actions* on one timeline: a fault injected at `at` seconds and
healed `duration` later, or a switch (switchover, failover, failback) made at `at`. Faults
may overlap; two faults on the same target may not (the second would act on a component
the first already holds, and healing one would undo the other), so a fault whose target is
still under an earlier fault is moved to start when that one is healed. The move is a
function of the draw, so Hypothesis still shrinks the draw and the schedule follows.

The scenario is the timeline written out as steps (`wait` between events), between a
warm-up stage (workload on, writes proven on dc1) and a settle stage (workload off). It is
a plain scenario file: `drills run` replays it, `drills validate` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from drills.durations import format_duration

SWITCH_KINDS = ("switchover", "failover", "failback")


@dataclass(frozen=True)
class Action:
    kind: str  # "fault" or one of SWITCH_KINDS
    at: float  # seconds from the start of the schedule
    fault: dict[str, Any] = field(default_factory=dict)  # type, target and parameters (kind fault)
    duration: float = 0.0  # kind fault: how long until it is healed

    @property
    def end(self) -> float:
        return self.at + self.duration if self.kind == "fault" else self.at

    def label(self) -> str:
        if self.kind != "fault":
            return f"{self.kind} at {format_duration(self.at)}"
        params = ", ".join(f"{k}={v}" for k, v in self.fault.items() if k not in ("type", "target"))
        return (f"{self.fault['type']}@{self.fault['target']}{f' ({params})' if params else ''} "
                f"at {format_duration(self.at)} for {format_duration(self.duration)}")


@dataclass(frozen=True)
class Schedule:
    actions: tuple[Action, ...]

    def __len__(self) -> int:
        return len(self.actions)

    def describe(self) -> str:
        return "; ".join(a.label() for a in self.actions) or "(no action)"


def normalise(actions: list[Action]) -> Schedule:
    """Ordered by start; a fault on a target still held by an earlier fault starts when that
    one is healed (see the module docstring)."""
    out: list[Action] = []
    busy: dict[str, float] = {}  # target -> when its fault is healed
    for action in sorted(actions, key=lambda a: a.at):
        if action.kind == "fault":
            target = action.fault["target"]
            start = max(action.at, busy.get(target, 0.0))
            action = Action("fault", round(start, 6), dict(action.fault), action.duration)
            busy[target] = action.end
        out.append(action)
    return Schedule(tuple(sorted(out, key=lambda a: a.at)))


def timeline(schedule: Schedule) -> list[dict[str, Any]]:
    """The schedule as scenario steps: events in time order with the waits between them.
    At the same instant a heal comes before an injection (a target freed, then taken) — except
    the heal of a fault that lasts 0s, which comes right after its own injection (a crash and
    its restart): a heal before its fault is no scenario."""
    events: list[tuple[float, int, int, int, dict[str, Any]]] = []
    for i, action in enumerate(schedule.actions):
        name = f"f{i + 1}-{action.fault['type']}" if action.kind == "fault" else ""
        if action.kind == "fault":
            events.append((action.at, 1, i, 0, {"fault": {**action.fault, "name": name}}))
            events.append((action.end, 0 if action.duration > 0 else 1, i, 1, {"heal": name}))
        else:
            # a switch the controller refuses (nothing to fail back from, a lagging replica) is
            # the controller's right: skipped, it does not fail the run
            events.append((action.at, 1, i, 0, {action.kind: {}, "on_failure": "skip"}))
    steps: list[dict[str, Any]] = []
    now = 0.0
    for when, _order, _i, _sub, step in sorted(events, key=lambda e: e[:4]):
        if when > now + 1e-9:
            steps.append({"wait": format_duration(round(when - now, 6))})
            now = when
        steps.append(step)
    return steps


def scenario_document(space: Any, schedule: Schedule, *, name: str, description: str = "") -> dict[str, Any]:
    """The scenario (a plain dict, as YAML would give it) that runs `schedule` in `space`."""
    workload = space.workload.model_dump(mode="json", exclude_unset=True)
    workload.setdefault("kind", space.workload.kind)
    controller = space.controller.model_dump(mode="json", exclude_unset=True)
    controller.setdefault("kind", space.controller.kind)
    objectives = space.objectives.model_dump(mode="json", exclude_unset=True)
    prop = space.property_checks()
    if prop:  # the property's checks are the written scenario's contract: `drills run` must pass them
        checks = objectives.setdefault("checks", {})
        checks["required"] = sorted(set(checks.get("required", [])) | set(prop))
    schedule_steps = timeline(schedule) or [{"wait": "0s"}]
    doc: dict[str, Any] = {
        "name": name,
        "description": description or f"drawn by drills explore from space {space.name}: {schedule.describe()}",
        "workload": workload,
        "controller": controller,
        "stages": [
            {"name": "warm-up", "steps": [{"workload": "start"},
                                          {"expect": {"writes_succeed": {"dc": "dc1", "within": "10s"}}},
                                          {"wait": format_duration(space.warmup)}]},
            {"name": "schedule", "steps": schedule_steps},
            {"name": "settle", "steps": [{"wait": format_duration(space.settle)}, {"workload": "stop"}]},
        ],
    }
    if objectives:
        doc["objectives"] = objectives
    return doc


def render_scenario(space: Any, schedule: Schedule, *, name: str, description: str = "", comment: str = "") -> str:
    """The scenario file's text; `comment` (any number of lines) goes on top as `#` lines."""
    doc = scenario_document(space, schedule, name=name, description=description)
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    head = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines()) if comment else ""
    return head + body


def schedule_key(schedule: Schedule) -> str:
    """What makes two examples the same drill: the schedule's steps (not its name)."""
    return yaml.safe_dump(timeline(schedule), sort_keys=True)


def extreme_schedules(space: Any) -> list[Schedule]:
    """The smallest and the largest schedule the space can draw (every choice at its first
    value, then at its last), to validate a space once as scenarios."""
    from drills.explore.space import param_value

    out: list[Schedule] = []
    for pick in (0, -1):
        n = space.min_steps if pick == 0 else space.max_steps
        actions: list[Action] = []
        kinds = [("fault", f) for f in space.faults] + [(s, None) for s in space.switches]
        for i in range(n):
            kind, choice = kinds[i % len(kinds)] if pick == -1 else kinds[0]
            at = space.at.value(0 if pick == 0 else space.at.values() - 1)
            if kind != "fault":
                actions.append(Action(kind, at))
                continue
            fault: dict[str, Any] = {"type": choice.type, "target": choice.target_list()[pick]}
            for pname, value in choice.params.items():
                fault[pname] = param_value(choice.type, pname, _end(value, pick))
            duration = space.duration.value(0 if pick == 0 else space.duration.values() - 1)
            actions.append(Action("fault", at, fault, duration))
        out.append(normalise(actions))
    return out


def _end(value: Any, pick: int) -> Any:
    from drills.explore.space import NumberRange

    if isinstance(value, NumberRange):
        return value.min if pick == 0 else value.max
    if isinstance(value, list):
        return value[pick]
    return value
