"""What `drills explore` may draw: the search space file, as typed models.

A space file is validated like a scenario (same reader, same `file:line:col` messages, the
fault catalogue's own rules for types, targets and parameter ranges) so that a typo is an
error before a topology is started, not a hundred examples that all test the wrong thing.

Every range is *quantised* (`step`): each value Hypothesis tries is a whole drill of several
seconds, so a duration range of 1s..7s in 2s steps (four values) shrinks in a few runs where
a millisecond range would take a dozen. The default step is a tenth of the range.

Nothing here draws or runs anything; `drills.explore.strategies` draws from a `Space` and
`drills.explore.schedule` turns a draw into a scenario.
"""

from __future__ import annotations

import builtins
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from drills.errors import ConfigError, UserError
from drills.faults.catalogue import FAULT_TYPES, validate_spec
from drills.scenario.model import CheckName, ControllerSpec, Objectives, Strict, WorkloadSpec
from drills.yamlsource import (
    MAX_REPORTED,
    Duration,
    SourceMap,
    did_you_mean,
    more_problems,
    parse,
    problems_error,
    read_text,
    validate_document,
)

SwitchKind = Literal["switchover", "failover", "failback"]
MAX_STEPS = 10
MAX_VALUES = 1000  # distinct values of one range: more is a millisecond grid nobody can shrink through


class _Graded(Strict):
    """What a range of durations and a range of numbers share: `min`..`max` in whole `step`s."""

    min: float
    max: float
    step: float | None

    @model_validator(mode="after")
    def _ordered(self) -> _Graded:
        _check_range(self.min, self.max, self.step)
        return self

    def values(self) -> int:
        """How many distinct values the range holds."""
        return _count(self.min, self.max, self.grain)

    @property
    def grain(self) -> float:
        return _grain(self.min, self.max, self.step)


class TimeRange(_Graded):
    """A duration drawn from `min`..`max` in whole `step`s (default: a tenth of the range)."""

    min: Duration = 0.0
    max: Duration = 0.0
    step: Duration | None = Field(None, gt=0, description="granularity; default a tenth of the range")

    def value(self, index: int) -> float:
        return round(min(self.max, self.min + index * self.grain), 6)


class NumberRange(_Graded):
    """A fault parameter drawn from `min`..`max` (in the parameter's own unit, e.g. ms)."""

    min: float
    max: float
    step: float | None = Field(None, gt=0, description="granularity; default a tenth of the range")

    def value(self, index: int, whole: bool) -> float | int:
        v = min(self.max, self.min + index * self.grain)
        return int(round(v)) if whole else round(v, 6)


def _grain(lo: float, hi: float, step: float | None) -> float:
    if step is not None:
        return float(step)
    return (hi - lo) / 10 if hi > lo else 1.0


def _count(lo: float, hi: float, grain: float) -> int:
    return int(math.floor((hi - lo) / grain + 1e-9)) + 1


def _check_range(lo: float, hi: float, step: float | None) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("min and max must be finite numbers")
    if lo > hi:
        raise ValueError(f"min ({lo:g}) is above max ({hi:g})")
    if _count(lo, hi, _grain(lo, hi, step)) > MAX_VALUES:
        raise ValueError(f"the range holds more than {MAX_VALUES} values; give a coarser `step` (each value is a drill)")


Scalar = str | int | float | bool
ParamChoice = NumberRange | Annotated[list[Scalar], Field(min_length=1)] | Scalar


class FaultChoice(Strict):
    """One fault type the search may inject, on which targets, with which parameter values."""

    type: str = Field(min_length=1, description="a fault type of the catalogue (drills.faults.catalogue)")
    targets: list[str] | None = Field(None, min_length=1, description="default: every target the type takes")
    params: dict[str, ParamChoice] = Field(
        default_factory=dict, description="per parameter: a fixed value, a list to choose from, or {min, max, step}")

    def target_list(self) -> list[str]:
        return list(self.targets) if self.targets else list(FAULT_TYPES[self.type].targets)


class PropertySpec(Strict):
    checks: list[CheckName] | None = Field(
        None, min_length=1, description="the checks that must not fail; default: every check the run can judge")


class Space(Strict):
    """The search space of `drills explore`."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    workload: WorkloadSpec = Field(default_factory=lambda: WorkloadSpec(kind="orders", rate=200.0, workers=4))
    controller: ControllerSpec = Field(default_factory=lambda: ControllerSpec(kind="reference"))
    faults: list[FaultChoice] = Field(default_factory=list)
    switches: list[SwitchKind] = Field(default_factory=list, description="switches a schedule may make")
    min_steps: int = Field(1, ge=0, le=MAX_STEPS)
    max_steps: int = Field(3, ge=1, le=MAX_STEPS, description="actions in a schedule, at most")
    at: TimeRange = Field(default_factory=lambda: TimeRange(min=0.0, max=3.0, step=0.5),
                          description="when an action starts, from the start of the schedule")
    duration: TimeRange = Field(default_factory=lambda: TimeRange(min=0.5, max=5.0, step=0.5),
                                description="how long a fault lasts before it is healed")
    warmup: Duration = Field(1.0, description="workload running before the schedule starts")
    settle: Duration = Field(2.0, description="after the schedule's last action, before the workload stops")
    property: PropertySpec = PropertySpec()
    objectives: Objectives = Objectives()

    # set by the loader
    _source: str = "<space>"

    @model_validator(mode="after")
    def _coherent(self) -> Space:
        if not self.faults and not self.switches:
            raise ValueError("a space needs at least one fault in `faults:` or one switch in `switches:`")
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps ({self.min_steps}) is above max_steps ({self.max_steps})")
        if self.workload.kind == "none":
            raise ValueError("explore needs a workload (kind orders or external): the checks judge its writes")
        if self.switches and self.controller.kind == "none":
            raise ValueError("switches need a controller; `controller: {kind: none}` cannot switch")
        return self

    @builtins.property
    def source(self) -> str:
        return self._source

    def property_checks(self) -> list[str] | None:
        return list(self.property.checks) if self.property.checks else None


def load_space(path: str | Path) -> Space:
    """Read and validate a space file; any problem -> ConfigError with file:line:col."""
    p = Path(path)
    return load_space_text(read_text(p), str(p))


def load_space_text(text: str, source: str = "<space>") -> Space:
    doc, smap = parse(text, source)
    space = validate_document(doc, smap, Space)
    _check_faults(space, smap)
    space._source = source
    _check_renders(space, source)
    return space


def _check_faults(space: Space, smap: SourceMap) -> None:
    """Each fault choice against the catalogue: the type exists, the targets are the type's,
    each parameter is the type's and both ends of its range are values the fault accepts."""
    problems: list[tuple[str, str]] = []
    for i, choice in enumerate(space.faults):
        here = ("faults", i)
        before = len(problems)
        ftype = FAULT_TYPES.get(choice.type)
        if ftype is None:
            close = did_you_mean(choice.type, list(FAULT_TYPES))
            hint = f"; did you mean `{close}`?" if close else ""
            problems.append((smap.where((*here, "type")),
                             f"unknown fault type `{choice.type}`{hint} (known: {', '.join(FAULT_TYPES)})"))
            continue
        for j, target in enumerate(choice.targets or []):
            if target not in ftype.targets:
                close = did_you_mean(target, list(ftype.targets))
                hint = f"; did you mean `{close}`?" if close else ""
                problems.append((smap.where((*here, "targets", j)),
                                 f"fault `{ftype.name}` cannot target `{target}`{hint} "
                                 f"({ftype.family} faults target: {', '.join(ftype.targets)})"))
        target = choice.target_list()[0]
        for pname, value in choice.params.items():
            where = (*here, "params", pname)
            if pname not in ftype.params:
                known = ", ".join(ftype.params) or "no parameters"
                close = did_you_mean(pname, list(ftype.params))
                hint = f"; did you mean `{close}`?" if close else ""
                problems.append((smap.where(where, key=True), f"fault `{ftype.name}` has no parameter `{pname}`{hint} "
                                 f"(it takes: {known})"))
                continue
            whole = ftype.params[pname].kind != "fraction"
            for sub, candidate in _extremes(value):
                problem = _param_problem(ftype.name, target, pname, candidate, whole=whole)
                if problem:
                    problems.append((smap.where((*where, *sub)), problem))
        if len(problems) == before:  # each parameter fine alone: together (a required one missing?)
            base = {"type": ftype.name, "target": target}
            for pname, value in choice.params.items():
                base[pname] = param_value(ftype.name, pname, _extremes(value)[0][1])
            try:
                validate_spec(base)
            except UserError as exc:
                problems.append((smap.where(here), exc.message))
    if problems:
        listed = [f"{where}: {what}" for where, what in problems[:MAX_REPORTED]]
        if len(problems) > MAX_REPORTED:
            listed.append(more_problems(problems[MAX_REPORTED][0], len(problems) - MAX_REPORTED))
        raise problems_error(smap.source, listed, len(problems))


def _extremes(value: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """The values of a parameter choice that bound what can be drawn, with where they sit."""
    if isinstance(value, NumberRange):
        return [(("min",), value.min), (("max",), value.max)]
    if isinstance(value, list):
        return [((k,), v) for k, v in enumerate(value)]
    return [((), value)]


def param_value(ftype: str, pname: str, value: Any) -> Any:
    """A drawn or written value as the fault takes it: whole-number parameters (ms, seconds,
    ints) get an int when the value is whole (YAML and ranges give floats)."""
    whole = FAULT_TYPES[ftype].params[pname].kind != "fraction"
    if whole and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _param_problem(ftype: str, target: str, pname: str, value: Any, *, whole: bool) -> str | None:
    if whole and isinstance(value, float) and not value.is_integer():
        return f"fault `{ftype}`: `{pname}` is a whole number, not {value:g}"
    try:
        validate_spec({"type": ftype, "target": target, pname: param_value(ftype, pname, value)})
    except UserError as exc:
        if getattr(exc, "key", None) == pname:
            return exc.message
    return None


def _check_renders(space: Space, source: str) -> None:
    """The smallest and the largest schedule of the space must be valid scenarios: what the
    space says about the workload, controller and objectives is checked by the scenario
    model itself, once, here, rather than failing every example."""
    from drills.explore.schedule import extreme_schedules, render_scenario
    from drills.scenario.loader import load_scenario_text

    for schedule in extreme_schedules(space):
        text = render_scenario(space, schedule, name=f"{space.name}-check")
        try:
            load_scenario_text(text, f"{source} (as a scenario)")
        except ConfigError as exc:
            raise ConfigError(f"{source}: the space does not make a valid scenario: {exc.message}",
                              hint="the workload, controller and objectives sections follow the scenario format "
                                   "(`drills schema`)") from None
