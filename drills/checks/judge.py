"""Judging a drill (see drills.checks): each check reads the recorded journal and ledger.

`evaluate` is what the runner calls once the stages are done: it first has the evidence
collector look at the servers (observer path) and write what it saw into the journal and
the ledger, then runs every check on the record re-read from disk (`judge_record`) — so a
verdict never rests on anything the journal does not hold, and `drills judge RUN_DIR`
reaches the same verdicts later from the run directory alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills import events as ev
from drills.checks import data_consistency, filters, rpo, rto, sequence, split_brain
from drills.checks.history import History
from drills.checks.verdict import PASSED, UNKNOWN, Verdict, duration_s, expected_to_fail, objective
from drills.journal import Journal

CheckFunction = Callable[[History, Any, Any], Verdict]


def _rto(hist: History, scenario: Any, topo: Any) -> Verdict:
    return rto.check(hist, rto=duration_s(objective(scenario, "rto")),
                     switchover_window=duration_s(objective(scenario, "switchover_window")))


def _rpo(hist: History, scenario: Any, topo: Any) -> Verdict:
    return rpo.check(hist, objective=objective(scenario, "rpo"))


def _sequence(hist: History, scenario: Any, topo: Any) -> Verdict:
    workload = getattr(scenario, "workload", None) if not isinstance(scenario, dict) else scenario.get("workload")
    seq = getattr(workload, "sequence", None) if not isinstance(workload, dict) else workload.get("sequence")
    name = getattr(seq, "name", None) if not isinstance(seq, dict) else seq.get("name")
    return sequence.check(hist, sequence_name=name)


def _filters(hist: History, scenario: Any, topo: Any) -> Verdict:
    return filters.check(hist)  # the declared list as drilled is in the record (`filters.declared`)


def _split_brain(hist: History, scenario: Any, topo: Any) -> Verdict:
    return split_brain.check(hist)


def _consistency(hist: History, scenario: Any, topo: Any) -> Verdict:
    return data_consistency.check(hist, sequence_table=_sequence_table_name(scenario))


def _sequence_table_name(scenario: Any) -> str | None:
    workload = getattr(scenario, "workload", None) if not isinstance(scenario, dict) else scenario.get("workload")
    seq = getattr(workload, "sequence", None) if not isinstance(workload, dict) else (workload or {}).get("sequence")
    return getattr(seq, "table", None) if not isinstance(seq, dict) else (seq or {}).get("table")


# The names result.json uses, in the order the issue lists them.
CHECKS: dict[str, CheckFunction] = {
    "rto": _rto,
    "rpo": _rpo,
    "sequence_continuity": _sequence,
    "filter_tables": _filters,
    "data_consistency": _consistency,
    "split_brain": _split_brain,
}


def evaluate(run_dir: str | os.PathLike[str], scenario: Any, topo: Any, journal: Journal) -> list[dict[str, Any]]:
    """Observe (when a topology is given), then judge every check from the record alone,
    journal a `check.result` for each, and return the verdicts as result.json lists them.

    The observations end with a `run.checks` line: the record judged is everything before
    it, which is also exactly what `drills judge RUN_DIR` reads later."""
    run_dir = Path(run_dir)
    if topo is not None:
        from drills.checks import evidence

        try:
            evidence.collect(topo, journal, scenario, run_dir / "ledger.jsonl")
        except Exception as exc:  # noqa: BLE001 - judging must still happen on what was recorded
            journal.record("check", evidence.OBSERVE_ERROR, what="collect", error=str(exc))
        _observe_consistency(topo, journal)
    journal.record("runner", ev.RUN_CHECKS, names=list(CHECKS))
    verdicts = judge_record(run_dir, scenario)
    for v in verdicts:
        journal.record("check", ev.CHECK_RESULT, name=v["name"], status=v["status"], measured=v["measured"],
                       objective=v["objective"], expected_failure=v["expected_failure"], summary=v["summary"],
                       **({"waived": v["waived"]} if v.get("waived") else {}))
    return verdicts


def judge_record(run_dir: str | os.PathLike[str], scenario: Any) -> list[dict[str, Any]]:
    """Every check, as a pure function of the run directory's journal and ledger and the
    scenario's objectives. An `unknown` the scenario waives (`objectives.checks.not_judged`)
    carries the reason as `waived`; it stays `unknown` — never rounded up to a pass."""
    hist = History.load(run_dir)
    expected = expected_to_fail(scenario)
    waivers = not_judged(scenario)
    verdicts = []
    for name, fn in CHECKS.items():
        try:
            verdict = fn(hist, scenario, None)
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, not fatal to the run
            verdict = Verdict(name, UNKNOWN, None, None, f"The {name} check could not be computed ({type(exc).__name__}).",
                              {"error": f"{type(exc).__name__}: {exc}"})
        verdict.expected_failure = name in expected
        if hist.ledger_problems:
            verdict.evidence.setdefault("ledger_problems", hist.ledger_problems[:20])
        entry = verdict.as_dict()
        if verdict.status == UNKNOWN and name in waivers:
            entry["waived"] = waivers[name]
        verdicts.append(entry)
    return verdicts


def not_judged(scenario: Any) -> dict[str, str]:
    """Checks the scenario waives, with the reason every report shows."""
    checks = objective(scenario, "checks")
    if checks is None:
        return {}
    waived = checks.get("not_judged") if isinstance(checks, dict) else getattr(checks, "not_judged", None)
    return dict(waived or {})


# ---- data_consistency: the engine (drills.checks.consistency) journals what it found --------------


def _observe_consistency(topo: Any, journal: Journal) -> None:
    """Run the consistency engine and journal its outcome as `observe.consistency` — the
    verdict, like every other, is read from the journal. It runs whatever the link's state:
    after a failover whose old primary was not rejoined the differences are still evidence
    (the judge separates those the failover explains from the rest)."""
    from drills.checks import consistency
    from drills.checks.evidence import OBSERVE_ERROR, record_observation

    try:
        result = consistency.check(topo, wait_timeout_s=10.0)
        body = result.as_dict(max_keys=5000)
    except Exception as exc:  # noqa: BLE001 - unreachable server, engine error: evidence of nothing
        record_observation(journal, OBSERVE_ERROR, what="consistency", error=str(exc))
        return
    tables = body.get("tables", [])
    record_observation(journal, ev.OBSERVE_CONSISTENCY, tables=[t.get("table") for t in tables],
                       identical=bool(body.get("verdict") == PASSED), differences=[t for t in tables if not t.get("identical")],
                       source=body.get("source"), replica=body.get("replica"), position=body.get("position"),
                       rows_compared=body.get("rows_compared"), skipped=body.get("skipped"))


__all__ = ["CHECKS", "Verdict", "evaluate", "judge_record", "not_judged"]
