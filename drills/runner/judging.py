"""The run's judging phase: look at the servers once more, then judge from the record alone.

Observation (the evidence collector and the consistency engine, on the observer path)
writes what it saw into the journal and the ledger and ends with a `run.checks` line; then
every check judges the record up to that line (`drills.checks.judge_record`), and each
verdict is journaled as `check.result`. A verdict therefore never rests on anything the
record does not hold.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drills import events as ev
from drills.checks.judge import ACTIVE_ACTIVE_CHECKS, CHECKS, judge_record
from drills.checks.verdict import PASSED
from drills.journal import Journal
from drills.observe.collector import OBSERVE_ERROR, record_observation
from drills.record import LEDGER_FILE


def evaluate(run_dir: str | os.PathLike[str], scenario: Any, topo: Any, journal: Journal) -> list[dict[str, Any]]:
    """Observe (when a topology is given), then judge every check from the record alone,
    journal a `check.result` for each, and return the verdicts as result.json lists them.

    The observations end with a `run.checks` line: the record judged is everything before
    it, which is also exactly what `drills judge RUN_DIR` reads later."""
    run_dir = Path(run_dir)
    active_active = topo is not None and getattr(topo, "active_active", None) is not None
    if active_active:  # two writers: the unit observer (drills.active_active.observe) instead
        from drills.active_active.observe import collect_end

        try:
            collect_end(topo, journal)
        except Exception as exc:  # noqa: BLE001 - judging must still happen on what was recorded
            journal.record("check", OBSERVE_ERROR, what="collect", error=str(exc))
    elif topo is not None:
        from drills.observe import collector

        try:
            collector.collect(topo, journal, scenario, run_dir / LEDGER_FILE)
        except Exception as exc:  # noqa: BLE001 - judging must still happen on what was recorded
            journal.record("check", OBSERVE_ERROR, what="collect", error=str(exc))
        _observe_consistency(topo, journal)
    journal.record("runner", ev.RUN_CHECKS, names=list(ACTIVE_ACTIVE_CHECKS if active_active else CHECKS))
    verdicts = judge_record(run_dir, scenario)
    for v in verdicts:
        journal.record("check", ev.CHECK_RESULT, name=v["name"], status=v["status"], measured=v["measured"],
                       objective=v["objective"], expected_failure=v["expected_failure"], summary=v["summary"],
                       **({"waived": v["waived"]} if v.get("waived") else {}))
    return verdicts


# ---- data_consistency: the engine (drills.observe.consistency) journals what it found --------------


def _observe_consistency(topo: Any, journal: Journal) -> None:
    """Run the consistency engine and journal its outcome as `observe.consistency` — the
    verdict, like every other, is read from the journal. It runs whatever the link's state:
    after a failover whose old primary was not rejoined the differences are still evidence
    (the judge separates those the failover explains from the rest)."""
    from drills.observe import consistency
    from drills.observe.collector import OBSERVE_ERROR

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


