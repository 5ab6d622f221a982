"""Judging a recorded drill: every check, as a pure function of the record.

`judge_record(run_dir, scenario)` reads the journal (up to `run.checks`) and the ledger and
returns the verdicts result.json lists — the runner calls it once the observations are
recorded (`drills.runner.judging`), and `drills judge RUN_DIR` calls it again later, from the
run directory alone, reaching the same verdicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from drills import events as ev
from drills.checks import (
    cutover_protocol,
    data_consistency,
    filters,
    replication_conflicts,
    rpo,
    rto,
    sequence_continuity,
    split_brain,
    unit_isolation,
    units_classic,
    write_availability,
    write_ban_window,
)
from drills.checks.history import History
from drills.checks.verdict import PASSED, UNKNOWN, Verdict
from drills.scenario.model import Scenario

CheckFunction = Callable[[History, Scenario], Verdict]


def _rto(hist: History, scenario: Scenario) -> Verdict:
    o = scenario.objectives
    return rto.check(hist, rto=o.rto, switchover_window=o.switchover_window)


def _rpo(hist: History, scenario: Scenario) -> Verdict:
    return rpo.check(hist, objective=scenario.objectives.rpo)


def _sequence(hist: History, scenario: Scenario) -> Verdict:
    return sequence_continuity.check(hist, sequence_name=scenario.workload.sequence.name)


def _filters(hist: History, scenario: Scenario) -> Verdict:
    return filters.check(hist)  # the declared list as drilled is in the record (`filters.declared`)


def _split_brain(hist: History, scenario: Scenario) -> Verdict:
    return split_brain.check(hist)


def _write_availability(hist: History, scenario: Scenario) -> Verdict:
    o = scenario.objectives
    return write_availability.check(hist, objective=o.write_availability, rto=o.rto)


def _consistency(hist: History, scenario: Scenario) -> Verdict:
    return data_consistency.check(hist, sequence_table=scenario.workload.sequence.table)


# The names result.json uses, in the order the issue lists them.
CHECKS: dict[str, CheckFunction] = {
    "rto": _rto,
    "rpo": _rpo,
    "sequence_continuity": _sequence,
    "filter_tables": _filters,
    "data_consistency": _consistency,
    "split_brain": _split_brain,
    "write_availability": _write_availability,
}

def _unit_isolation(hist: History, scenario: Scenario) -> Verdict:
    return unit_isolation.check(hist)


def _cutover_protocol(hist: History, scenario: Scenario) -> Verdict:
    return cutover_protocol.check(hist)


def _write_ban_window(hist: History, scenario: Scenario) -> Verdict:
    return write_ban_window.check(hist, objective=scenario.objectives.write_ban_window)


def _replication_conflicts(hist: History, scenario: Scenario) -> Verdict:
    return replication_conflicts.check(hist)


# An active-active run (the record holds `aa.topology`) has no single active DC to measure a
# switch from: its own checks, and the single-writer ones asked the two-writer question
# (drills.checks.units_classic). rto and write_availability have no meaning there; the
# write-ban window is their counterpart.
ACTIVE_ACTIVE_CHECKS: dict[str, CheckFunction] = {
    "rpo": lambda hist, scenario: units_classic.rpo(hist, scenario.objectives.rpo),
    "sequence_continuity": lambda hist, scenario: units_classic.sequence_continuity(hist),
    "filter_tables": lambda hist, scenario: units_classic.filter_tables(hist),
    "data_consistency": lambda hist, scenario: units_classic.data_consistency(hist),
    "split_brain": lambda hist, scenario: units_classic.split_brain(hist),
    "unit_isolation": _unit_isolation,
    "cutover_protocol": _cutover_protocol,
    "write_ban_window": _write_ban_window,
    "replication_conflicts": _replication_conflicts,
}


def registry(hist: History) -> dict[str, CheckFunction]:
    """The checks this record is judged by: decided from the record, so a re-judge agrees."""
    return ACTIVE_ACTIVE_CHECKS if hist.first(ev.AA_TOPOLOGY) is not None else CHECKS


# The checks that judge writes against the route timeline: a pass is only as good as it.
ROUTE_CHECKS = frozenset({"rto", "rpo", "sequence_continuity", "data_consistency", "split_brain"})


def _blind_spot(hist: History) -> str | None:
    """Why the route timeline cannot back a pass: the client wrote under an epoch the watch
    never saw while the watch had lost etcd — the key may have moved and come back unseen."""
    gaps = hist.watch_gaps()
    if not gaps:
        return None
    for o in hist.unseen_epoch_ops():
        t = o.invoke_ns if o.invoke_ns is not None else (o.time_ns or 0)
        for start, end in gaps:
            if start <= t and (end is None or t <= end):
                return (f"The runner's watch of the routing key had lost etcd when the client wrote under epoch "
                        f"{o.epoch} (op {o.op}), which the watch never saw: the route timeline has a hole, so a pass "
                        "cannot be trusted.")
    return None


# Judging a record without its scenario (`drills judge` of a run directory that lost it):
# no objectives, no waivers, the default sequence.
NO_SCENARIO = Scenario(name="no-scenario")


def judge_record(run_dir: str | os.PathLike[str], scenario: Scenario | None) -> list[dict[str, Any]]:
    """Every check, as a pure function of the run directory's journal and ledger and the
    scenario's objectives. An `unknown` the scenario waives (`objectives.checks.not_judged`)
    carries the reason as `waived`; it stays `unknown` — never rounded up to a pass. Whether a
    failure was expected is decided here and nowhere else."""
    scenario = scenario or NO_SCENARIO
    hist = History.load(run_dir)
    checks = scenario.objectives.checks
    blind = _blind_spot(hist)
    # someone else's environment may keep a drill from judging some checks (`writes: none`):
    # the record says which and why (`run.environment`), so a re-judge waives the same ones
    env_waivers: dict[str, str] = {}
    for e in hist.of(ev.RUN_ENVIRONMENT):
        waive = e.get("waive")
        if isinstance(waive, dict):
            env_waivers.update({str(k): str(v) for k, v in waive.items()})
    verdicts = []
    for name, fn in registry(hist).items():
        try:
            verdict = fn(hist, scenario)
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, not fatal to the run
            verdict = Verdict(name, UNKNOWN, None, None, f"The {name} check could not be computed ({type(exc).__name__}).",
                              {"error": f"{type(exc).__name__}: {exc}"})
        if blind and name in ROUTE_CHECKS and verdict.status == PASSED:
            verdict = Verdict(name, UNKNOWN, verdict.measured, verdict.objective, blind, {**verdict.evidence, "passed_but": blind})
        verdict.expected_failure = name in checks.expected_to_fail
        if hist.ledger_problems:
            verdict.evidence.setdefault("ledger_problems", hist.ledger_problems[:20])
        if hist.route_problems and name in ROUTE_CHECKS:
            verdict.evidence.setdefault("route_problems", hist.route_problems[:20])
        entry = verdict.as_dict()
        if verdict.status == UNKNOWN and name in checks.not_judged:
            entry["waived"] = checks.not_judged[name]
        elif verdict.status == UNKNOWN and name in env_waivers:
            entry["waived"] = env_waivers[name]
        verdicts.append(entry)
    return verdicts


__all__ = ["ACTIVE_ACTIVE_CHECKS", "CHECKS", "NO_SCENARIO", "Verdict", "judge_record"]
