"""`evaluate` over a recorded run directory, without a topology (as `drills report` would)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_check_filters import observed
from test_check_history import failover_drill

from drills import events as ev
from drills import journal as journal_mod
from drills.checks.judge import CHECKS
from drills.runner.judging import evaluate
from drills.scenario.model import Scenario


def _run_dir(tmp_path: Path, *, refetch: bool = True) -> Path:
    d = failover_drill(refetch=refetch)
    for rec in observed().journal:
        d.event(rec["kind"], rec["source"], **rec["payload"])
    _linked(d)
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.orders", "app.customers"], identical=True, differences=[])
    return d.save(tmp_path / "run")


def test_evaluate_judges_every_check_and_journals_each_result(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    scenario = Scenario.model_validate({"name": "x", "objectives": {"rto": "5s", "rpo": 0}})
    with journal_mod.Journal(run / "journal.jsonl") as j:
        verdicts = evaluate(run, scenario, None, j)
    assert [v["name"] for v in verdicts] == list(CHECKS) == [
        "rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain", "write_availability"]
    assert {v["name"]: v["status"] for v in verdicts} == dict.fromkeys(CHECKS, "passed")
    for v in verdicts:
        assert set(v) == {"name", "status", "expected_failure", "measured", "objective", "summary", "evidence"}
        assert v["summary"].endswith(".")
    records = journal_mod.read(run / "journal.jsonl")
    results = [r["payload"] for r in records if r["kind"] == ev.CHECK_RESULT]
    assert [r["name"] for r in results] == list(CHECKS)
    assert results[0]["objective"] == 5.0 and results[0]["measured"] == 0.851
    assert journal_mod.verify(run / "journal.jsonl").ok


def test_expected_failures_come_from_the_scenario_model(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, refetch=False)
    scenario = Scenario(name="sequence-table-filtered",
                                       objectives={"rto": "5s", "checks": {"expected_to_fail": ["sequence_continuity"]}})
    with journal_mod.Journal(run / "journal.jsonl") as j:
        verdicts = {v["name"]: v for v in evaluate(run, scenario, None, j)}
    seq = verdicts["sequence_continuity"]
    assert seq["status"] == "failed" and seq["expected_failure"] is True
    assert not verdicts["rto"]["expected_failure"]


def test_a_check_that_crashes_is_reported_unknown_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import drills.checks.judge as checks

    def boom(*_args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(checks.CHECKS, "rto", boom)
    run = _run_dir(tmp_path)
    with journal_mod.Journal(run / "journal.jsonl") as j:
        verdicts = evaluate(run, None, None, j)
    assert verdicts[0]["name"] == "rto" and verdicts[0]["status"] == "unknown"
    assert verdicts[0]["evidence"]["error"] == "RuntimeError: bug"


def _linked(d: object, **overrides: object) -> None:
    link = {"source": "dc1", "replica": "dc2", "io_running": True, "sql_running": True, "caught_up": True, **overrides}
    d.event(ev.OBSERVE_LINK, "observer", **link)  # type: ignore[attr-defined]


def test_data_consistency_differences_fail_naming_the_key(tmp_path: Path) -> None:
    d = failover_drill()
    _linked(d)
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.orders"], identical=False,
            differences=[{"table": "app.orders", "identical": False, "differing": {"count": 1, "keys": [[7]]}, "missing": {}}])
    run = d.save(tmp_path / "run")
    with journal_mod.Journal(run / "journal.jsonl") as j:
        verdicts = {v["name"]: v for v in evaluate(run, None, None, j)}
    v = verdicts["data_consistency"]
    assert v["status"] == "failed" and "app.orders differs key 7" in v["summary"]


def test_data_consistency_passes_when_linked_sides_are_identical(tmp_path: Path) -> None:
    d = failover_drill()
    _linked(d)
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.orders", "app.customers"], identical=True, differences=[])
    run = d.save(tmp_path / "run")
    with journal_mod.Journal(run / "journal.jsonl") as j:
        v = {v["name"]: v for v in evaluate(run, None, None, j)}["data_consistency"]
    assert v["status"] == "passed" and v["evidence"]["link"]["replica"] == "dc2"


def _judged(tmp_path: Path, d: object) -> dict:
    run = d.save(tmp_path / "run")  # type: ignore[attr-defined]
    with journal_mod.Journal(run / "journal.jsonl") as j:
        return {v["name"]: v for v in evaluate(run, None, None, j)}["data_consistency"]


def _compared(d: object, *differences: dict) -> None:
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.customers", "app.id_sequence", "app.orders"],  # type: ignore[attr-defined]
            identical=not differences, differences=list(differences))


LOST_AND_NEW = {"table": "app.orders", "identical": False, "differing": {"count": 0, "keys": []},
                "missing": {"dc2": {"count": 2, "keys": [[9], [10]]}, "dc1": {"count": 5, "keys": [[i] for i in range(10001, 10006)]}}}
SEQUENCE_ROW = {"table": "app.id_sequence", "identical": False, "differing": {"count": 1, "keys": [["orders"]]}, "missing": {}}
CUSTOMER_CHANGED = {"table": "app.customers", "identical": False, "differing": {"count": 1, "keys": [[2]]}, "missing": {}}


def test_differences_a_failover_explains_pass_after_an_unplanned_failover(tmp_path: Path) -> None:
    """Issue 10: dc1 not rejoined after a lossy failover — the orders it lost, the orders dc2
    took since and the sequence row differ, and nothing else: judged, not left unknown."""
    d = failover_drill(lost=2)
    _compared(d, LOST_AND_NEW, SEQUENCE_ROW)
    v = _judged(tmp_path, d)
    assert v["status"] == "passed", v["summary"]
    assert v["measured"]["explained_differences"] == 8 and v["measured"]["unexplained_differences"] == 0


def test_a_changed_row_the_failover_does_not_explain_fails(tmp_path: Path) -> None:
    """Issue 10: a changed app.customers row added to a real dc1-crash record."""
    d = failover_drill(lost=2)
    _compared(d, LOST_AND_NEW, SEQUENCE_ROW, CUSTOMER_CHANGED)
    v = _judged(tmp_path, d)
    assert v["status"] == "failed" and "app.customers differs key 2" in v["summary"]


def test_an_order_missing_without_a_recorded_loss_is_unexplained(tmp_path: Path) -> None:
    d = failover_drill(lost=0)  # every dc1 order reached dc2: order 4 missing there is not the failover's doing
    _compared(d, {"table": "app.orders", "identical": False, "differing": {"count": 0, "keys": []},
                  "missing": {"dc2": {"count": 1, "keys": [[4]]}}})
    assert _judged(tmp_path, d)["status"] == "failed"


def test_a_link_stopped_on_a_divergence_fails_with_the_diff(tmp_path: Path) -> None:
    d = failover_drill()
    _linked(d, sql_running=False, caught_up=False,
            last_sql_error="Could not execute Update_rows_v1 event on table app.customers; Can't find record, Error_code: 1032")
    _compared(d, CUSTOMER_CHANGED)
    v = _judged(tmp_path, d)
    assert v["status"] == "failed" and "stopped on an error" in v["summary"] and "1032" in v["summary"]
    assert "first differing key: 2" in v["summary"]


def test_differences_while_the_link_had_not_caught_up_are_unknown(tmp_path: Path) -> None:
    d = failover_drill()
    _linked(d, caught_up=False)
    _compared(d, CUSTOMER_CHANGED)
    v = _judged(tmp_path, d)
    assert v["status"] == "unknown" and "had not caught up" in v["summary"]
