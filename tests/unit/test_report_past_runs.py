"""Run history: recording, listing, trend and the RTO baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded_runs import recorded_run

from drills.cli import main
from drills.report import past_runs as history

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


def test_record_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    for name in ("failover-passed", "sequence-filtered-failed", "crash-killed"):
        history.record(RUNS / name, db=db)
    rows = history.runs(db)
    assert {r.status for r in rows} == {"passed", "failed", "aborted"}
    passed = next(r for r in rows if r.status == "passed")
    assert (passed.rto_s, passed.rpo_lost_writes, passed.operator, passed.duration_s) == (3.432, 0, "ci-bot", 15.0)
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "RUN ID" in out and "OPERATOR" in out and "20250301T110230Z-c41d" in out and "alice" in out


def test_recording_twice_keeps_one_row(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    history.record(RUNS / "failover-passed", db=db)
    history.record(RUNS / "failover-passed", db=db)
    assert len(history.runs(db)) == 1


def test_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.sqlite"
    monkeypatch.setenv("DRILLS_HISTORY_DB", str(db))
    for i, rto in enumerate((3.0, 3.2, 4.0)):
        history.record(recorded_run(tmp_path, f"r{i}", rto, started=f"2025-03-0{i + 1}T10:00:00Z"))
    assert main(["history", "--scenario", "dc1-port-change-failover"]) == 0
    out = capsys.readouterr().out
    assert out.index("RTO       3 s") < out.index("RTO     3.2 s") < out.index("RTO       4 s")
    assert "median 3.200 s" in out


def test_baseline_regression(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    assert history.baseline_regression(db, "dc1-port-change-failover", 9.0, 0.2) is None  # no history: no baseline
    for i, rto in enumerate((3.0, 3.1, 2.9)):
        history.record(recorded_run(tmp_path, f"p{i}", rto, started=f"2025-03-0{i + 1}T10:00:00Z"), db=db)
    # a failed slow run does not move the baseline
    history.record(recorded_run(tmp_path, "slow-failed", 30.0, status="failed", started="2025-03-05T10:00:00Z"), db=db)
    assert history.baseline_regression(db, "dc1-port-change-failover", 3.5, 0.2) is None
    message = history.baseline_regression(db, "dc1-port-change-failover", 3.7, 0.2)
    assert message is not None and "3.700 s against a baseline of 3.000 s" in message
    assert history.baseline_regression(db, "other-scenario", 99.0, 0.2) is None


def test_listing_an_empty_history_does_not_create_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sub" / "h.sqlite"
    assert main(["history", "--db", str(db)]) == 0
    assert "no runs recorded" in capsys.readouterr().out and not db.exists()
