"""Judging a drill (see drills.checks): each check reads the recorded journal and ledger.

`evaluate` is what the runner calls once the stages are done: it first has the evidence
collector look at the servers (observer path) and write what it saw into the journal and
the ledger, then runs every check on the record re-read from disk — so a verdict never
rests on anything the journal does not hold, and `drills report` can re-judge a run
directory later without a topology (`topo=None` skips the live observations).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills import events as ev
from drills.checks import filters, rpo, rto, sequence, split_brain
from drills.checks.history import History
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict, duration_s, expected_to_fail, objective
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
    declared = None
    if topo is not None:
        try:
            declared = topo.declared_filters
        except Exception:  # noqa: BLE001 - the journal's own `declared` is used instead
            declared = None
    return filters.check(hist, declared=declared)


def _split_brain(hist: History, scenario: Any, topo: Any) -> Verdict:
    return split_brain.check(hist)


def _consistency(hist: History, scenario: Any, topo: Any) -> Verdict:
    return consistency_verdict(hist)


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
    """Observe (when a topology is given), judge every check from the record, journal a
    `check.result` for each, and return the verdicts as result.json lists them."""
    run_dir = Path(run_dir)
    if topo is not None:
        from drills.checks import evidence

        try:
            evidence.collect(topo, journal, scenario, run_dir / "ledger.jsonl")
        except Exception as exc:  # noqa: BLE001 - judging must still happen on what was recorded
            journal.record("check", evidence.OBSERVE_ERROR, what="collect", error=str(exc))
        _observe_consistency(topo, journal)
    hist = History.load(run_dir)
    expected = expected_to_fail(scenario)
    verdicts = []
    for name, fn in CHECKS.items():
        try:
            verdict = fn(hist, scenario, topo)
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, not fatal to the run
            verdict = Verdict(name, UNKNOWN, None, None, f"The {name} check could not be computed ({type(exc).__name__}).",
                              {"error": f"{type(exc).__name__}: {exc}"})
        verdict.expected_failure = name in expected
        if hist.ledger_problems:
            verdict.evidence.setdefault("ledger_problems", hist.ledger_problems[:20])
        journal.record("check", ev.CHECK_RESULT, name=verdict.name, status=verdict.status, measured=verdict.measured,
                       objective=verdict.objective, expected_failure=verdict.expected_failure, summary=verdict.summary)
        verdicts.append(verdict.as_dict())
    return verdicts


# ---- data_consistency: the engine is drills.checks.consistency (built separately) --------------------


def _observe_consistency(topo: Any, journal: Journal) -> None:
    """Run the consistency engine, if present, and journal its outcome as
    `observe.consistency` so the verdict, like every other, is read from the journal."""
    from drills.checks.evidence import OBSERVE_ERROR, record_observation

    try:
        from drills.checks import consistency
    except ImportError:
        return
    try:
        result = consistency.check(topo)
        body = result.as_dict()
    except Exception as exc:  # noqa: BLE001 - unreachable server, engine error: evidence of nothing
        record_observation(journal, OBSERVE_ERROR, what="consistency", error=str(exc))
        return
    tables = body.get("tables", [])
    record_observation(journal, ev.OBSERVE_CONSISTENCY, tables=[t.get("table") for t in tables],
                   identical=bool(body.get("verdict") == PASSED), differences=[t for t in tables if not t.get("identical")],
                   source=body.get("source"), replica=body.get("replica"), position=body.get("position"),
                   rows_compared=body.get("rows_compared"), skipped=body.get("skipped"))


def consistency_verdict(hist: History) -> Verdict:
    """From the last `observe.consistency`: identical → passed, differences → failed with
    the tables and keys, no comparison recorded → unknown."""
    name = "data_consistency"
    e = hist.last(ev.OBSERVE_CONSISTENCY)
    objective_text = "replicated tables identical on both sides"
    if e is None:
        return Verdict(name, UNKNOWN, None, objective_text, "The two data centres' tables were never compared.", {})
    differences = e.get("differences") or []
    tables = e.get("tables") or []
    measured = {"tables_compared": len(tables), "tables_differing": len(differences), "rows_compared": e.get("rows_compared")}
    evidence = {"seq": e.seq, "differences": differences, "position": e.get("position"), "skipped": e.get("skipped")}
    link = hist.last(ev.OBSERVE_LINK)
    linked = link is not None and bool(link.get("io_running")) and bool(link.get("sql_running")) and link.get("caught_up") is True
    evidence["link"] = ({"source": link.get("source"), "replica": link.get("replica"), "io_running": link.get("io_running"),
                         "sql_running": link.get("sql_running"), "caught_up": link.get("caught_up"), "seq": link.seq}
                        if link is not None else None)
    if not linked:
        # Identical data is only promised across a running link that has caught up. After an
        # unplanned failover the old primary stays out until it is rejoined: differences then
        # are expected, and saying "failed" would blame the data for the topology.
        why = ("no replication link connects the data centres (the old primary was not rejoined)" if link is None
               else f"the link {link.get('source')}->{link.get('replica')} is not running and caught up")
        found = f"; {len(differences)} table(s) differ (listed as evidence)" if differences else ""
        return Verdict(name, UNKNOWN, measured, objective_text,
                       f"Not judged: {why}, so the two sides are not expected to hold the same data{found}.", evidence)
    if differences:
        first = differences[0]
        keys = []
        for part in ("differing",):
            keys += (first.get(part) or {}).get("keys", [])
        for missing in (first.get("missing") or {}).values():
            keys += missing.get("keys", [])
        shown = f" (first differing key: {keys[0]})" if keys else ""
        return Verdict(name, FAILED, measured, objective_text,
                       f"{len(differences)} replicated table(s) differ between the data centres, first {first.get('table')}{shown}.",
                       evidence)
    if not e.get("identical", False) or not tables:
        return Verdict(name, UNKNOWN, measured, objective_text, "The comparison did not cover any replicated table.", evidence)
    return Verdict(name, PASSED, measured, objective_text,
                   f"All {len(tables)} replicated tables hold the same rows on both data centres.", evidence)


__all__ = ["CHECKS", "Verdict", "evaluate", "consistency_verdict"]
