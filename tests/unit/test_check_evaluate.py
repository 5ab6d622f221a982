"""`evaluate` over a recorded run directory, without a topology (as `drills report` would)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_check_filters import observed
from test_check_history import failover_drill

from drills import events as ev
from drills import journal as journal_mod
from drills.checks import CHECKS, evaluate


def _run_dir(tmp_path: Path, *, refetch: bool = True) -> Path:
    d = failover_drill(refetch=refetch)
    for rec in observed().journal:
        d.event(rec["kind"], rec["source"], **rec["payload"])
    _linked(d)
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.orders", "app.customers"], identical=True, differences=[])
    return d.save(tmp_path / "run")


def test_evaluate_judges_every_check_and_journals_each_result(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    scenario = {"objectives": {"rto": "5s", "rpo": 0, "checks": {"expected_to_fail": []}}}
    with journal_mod.Journal(run / "journal.jsonl") as j:
        verdicts = evaluate(run, scenario, None, j)
    assert [v["name"] for v in verdicts] == list(CHECKS) == [
        "rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain"]
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
    scenario_model = pytest.importorskip("drills.scenario.model")
    run = _run_dir(tmp_path, refetch=False)
    scenario = scenario_model.Scenario(name="sequence-table-filtered",
                                       objectives={"rto": "5s", "checks": {"expected_to_fail": ["sequence_continuity"]}})
    with journal_mod.Journal(run / "journal.jsonl") as j:
        verdicts = {v["name"]: v for v in evaluate(run, scenario, None, j)}
    seq = verdicts["sequence_continuity"]
    assert seq["status"] == "failed" and seq["expected_failure"] is True
    assert not verdicts["rto"]["expected_failure"]


def test_a_check_that_crashes_is_reported_unknown_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import drills.checks as checks

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
    assert v["status"] == "failed" and "app.orders" in v["summary"] and "[7]" in v["summary"]


def test_data_consistency_passes_when_linked_sides_are_identical(tmp_path: Path) -> None:
    d = failover_drill()
    _linked(d)
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.orders", "app.customers"], identical=True, differences=[])
    run = d.save(tmp_path / "run")
    with journal_mod.Journal(run / "journal.jsonl") as j:
        v = {v["name"]: v for v in evaluate(run, None, None, j)}["data_consistency"]
    assert v["status"] == "passed" and v["evidence"]["link"]["replica"] == "dc2"


@pytest.mark.parametrize("link", [None, {"io_running": False}, {"caught_up": False}])
def test_data_consistency_is_not_judged_without_a_caught_up_link(tmp_path: Path, link: dict | None) -> None:
    """After an unplanned failover the old primary is not rejoined: the sides are expected to
    differ, so the verdict is unknown (differences kept as evidence), never passed or failed."""
    d = failover_drill()
    if link is not None:
        _linked(d, **link)
    d.event(ev.OBSERVE_CONSISTENCY, "observer", tables=["app.orders"], identical=False,
            differences=[{"table": "app.orders", "identical": False, "differing": {"count": 1, "keys": [[7]]}, "missing": {}}])
    run = d.save(tmp_path / "run")
    with journal_mod.Journal(run / "journal.jsonl") as j:
        v = {v["name"]: v for v in evaluate(run, None, None, j)}["data_consistency"]
    assert v["status"] == "unknown" and "Not judged" in v["summary"] and "1 table(s) differ" in v["summary"]
    assert v["evidence"]["differences"][0]["table"] == "app.orders"
