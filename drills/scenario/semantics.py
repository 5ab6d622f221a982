"""The checks of a scenario that look across its parts: fault specs against the fault
catalogue, `heal:` names against the faults before them, gate and stage names, and steps
against the workload and controller sections.

They run part by part on the document, each part validated on its own, so that a
structural error in one step (a typo'd key, a bad duration) does not hide an unknown fault
target three stages later: `drills validate` lists every problem of a file in one pass, each
at its own `file:line:col`. A part that is itself structurally broken is left out of these
checks (its structural error is already reported, and guessing at it would only add noise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from drills.errors import UserError
from drills.yamlsource import Path_, SourceMap, key_text

if TYPE_CHECKING:
    from drills.scenario.model import Scenario, Step

HEAL_ALL = ("*", "all")


@dataclass(frozen=True)
class Problem:
    path: Path_
    message: str
    key: bool = False  # located at the key itself rather than its value


@dataclass(frozen=True)
class _StepAt:
    stage: int
    index: int
    step: Step

    @property
    def path(self) -> Path_:
        return ("stages", self.stage, "steps", self.index)


def coherence_problems(stage_names: Iterable[tuple[int, Any]], steps: Iterable[tuple[Path_, str]],
                       workload_kind: str | None, controller_kind: str | None) -> list[Problem]:
    """Stage names unique; `workload:` steps need a workload, switch steps a controller and
    `route:` steps none. A kind of None (that section is broken) skips its checks. The
    model's own validator says the same through this function (one source of truth)."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, name in stage_names:
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(Problem(("stages", i, "name"), f"stage names must be unique; repeated: {key_text(name)} "
                                    f"(first used by stage {first[name] + 1})"))
        else:
            first[name] = i
    for path, kind in steps:
        if workload_kind == "none" and kind == "workload":
            problems.append(Problem((*path, "workload"), "a `workload: start|stop` step needs a `workload:` section "
                                    "(kind orders or external)"))
        if controller_kind == "none" and kind in ("switchover", "failover", "failback"):
            problems.append(Problem((*path, kind), "switchover/failover/failback steps need a controller; with "
                                    "`controller: {kind: none}` use `route:` steps"))
        if controller_kind not in (None, "none") and kind == "route":
            problems.append(Problem((*path, "route"), "`route:` steps write the routing key by hand; they are for "
                                    "`controller: {kind: none}` only"))
    return problems


def scenario_problems(doc: Any, smap: SourceMap, scenario: Scenario | None) -> list[tuple[str, str]]:
    """(where, what) of every cross-part problem, in file order. `scenario` is the validated
    scenario, or None when the document as a whole did not validate (then each part is
    validated on its own and only the sound parts are checked)."""
    stages = _list(doc.get("stages")) if isinstance(doc, Mapping) else []
    steps = _steps(stages, scenario)
    if scenario is not None:
        workload_kind: str | None = scenario.workload.kind
        controller_kind: str | None = scenario.controller.kind
    else:
        workload_kind = _kind(doc, "workload")
        controller_kind = _kind(doc, "controller")
    names = [(i, s.get("name")) for i, s in enumerate(stages) if isinstance(s, Mapping)]
    problems = coherence_problems(names, [(s.path, s.step.kind) for s in steps], workload_kind, controller_kind)
    problems += _fault_problems(steps)
    problems += _heal_problems(stages, steps)
    problems += _gate_problems(steps)
    located = [(smap.mark(p.path, key=p.key), smap.where(p.path, key=p.key), p.message) for p in problems]
    located.sort(key=lambda t: (t[0].line, t[0].column) if t[0] else (0, 0))
    return [(where, what) for _, where, what in located]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _steps(stages: list[Any], scenario: Scenario | None) -> list[_StepAt]:
    if scenario is not None:
        return [_StepAt(i, j, step) for i, stage in enumerate(scenario.stages) for j, step in enumerate(stage.steps)]
    from drills.scenario.model import Step

    out: list[_StepAt] = []
    for i, stage in enumerate(stages):
        raw_steps = _list(stage.get("steps")) if isinstance(stage, Mapping) else []
        for j, raw in enumerate(raw_steps):
            try:
                out.append(_StepAt(i, j, Step.model_validate(raw)))
            except ValidationError:
                continue  # reported by the whole-document validation
    return out


def _kind(doc: Mapping[str, Any], section: str) -> str | None:
    """The kind of the workload/controller section when that section is sound on its own."""
    from drills.scenario.model import ControllerSpec, WorkloadSpec

    if section not in doc:
        return "none"
    model = WorkloadSpec if section == "workload" else ControllerSpec
    try:
        return model.model_validate(doc[section]).kind
    except ValidationError:
        return None


def _fault_problems(steps: list[_StepAt]) -> list[Problem]:
    """Each `fault:` against the fault catalogue's own rules (types, targets and the ranges
    Toxiproxy and the servers accept), so validating refuses what injecting would refuse."""
    from drills.faults.catalogue import validate_spec

    problems: list[Problem] = []
    for s in steps:
        if s.step.fault is None:
            continue
        try:
            validate_spec(s.step.fault.model_dump(exclude_none=True))
        except UserError as exc:
            key = getattr(exc, "key", None)
            path = (*s.path, "fault")
            problems.append(Problem((*path, key) if key else path, exc.message))
    return problems


def _heal_problems(stages: list[Any], steps: list[_StepAt]) -> list[Problem]:
    """A `heal: X` must name (or target) a fault injected before it, or in the same parallel
    stage; at run time it would fail with "no fault named or targeting X". Faults are read
    from the raw document, so a fault step with an unrelated error still counts. One walk in
    file order (a 10,000-stage file must validate in well under a second)."""
    heals: dict[tuple[int, int], str] = {(s.stage, s.index): s.step.heal for s in steps
                                         if s.step.heal is not None and s.step.heal not in HEAL_ALL}
    if not heals:
        return []
    problems: list[Problem] = []
    known: set[str] = set()
    for i, raw_stage in enumerate(stages):
        raw_steps = _list(raw_stage.get("steps")) if isinstance(raw_stage, Mapping) else []
        if isinstance(raw_stage, Mapping) and raw_stage.get("parallel") is True:
            for raw in raw_steps:  # steps of a parallel stage run together: any order is possible
                known |= _fault_names(raw)
        for j, raw in enumerate(raw_steps):
            known |= _fault_names(raw)
            heal = heals.get((i, j))
            if heal is not None and heal not in known:
                problems.append(Problem(("stages", i, "steps", j, "heal"), _unknown_heal(heal, known)))
    return problems


def _fault_names(raw: Any) -> set[str]:
    """The names a `heal:` may use for this raw step's fault: its name (given or default) and target."""
    fault = raw.get("fault") if isinstance(raw, Mapping) else None
    if not isinstance(fault, Mapping):
        return set()
    ftype, target, name = fault.get("type"), fault.get("target"), fault.get("name")
    names = {str(v) for v in (target, name) if isinstance(v, str)}
    if name is None and isinstance(ftype, str):
        names.add(f"{ftype}@{target}")
    return names


def _unknown_heal(heal: str, known: set[str], shown: int = 10) -> str:
    from drills.yamlsource import did_you_mean

    ordered = sorted(known)
    close = did_you_mean(heal, ordered)
    hint = f"; did you mean `{key_text(close)}`?" if close else ""
    listing = ", ".join(key_text(n) for n in ordered[:shown]) + (f" and {len(ordered) - shown:,} more" if len(ordered) > shown else "")
    return f"heal `{key_text(heal)}` names no fault injected before it{hint} (fault names and targets so far: {listing or 'none'})"


def _gate_problems(steps: list[_StepAt]) -> list[Problem]:
    """Gate names are unique: an approval is given by name (`--approve NAME`, DRILLS_APPROVE,
    the file approvals/NAME), so a second gate of the same name would be passed by the
    approval given for the first, and nobody would be asked."""
    problems: list[Problem] = []
    first: dict[str, _StepAt] = {}
    for s in steps:
        if s.step.gate is None:
            continue
        name = s.step.gate.name
        if name in first:
            f = first[name]
            problems.append(Problem((*s.path, "gate", "name"), f"gate `{key_text(name)}` is already the name of step "
                                    f"{f.index + 1} of stage {f.stage + 1}; an approval of one would pass both"))
        else:
            first[name] = s
    return problems
