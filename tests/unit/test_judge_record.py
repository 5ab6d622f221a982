"""`drills judge RUN_DIR`: the issue-10 attacks as recorded run directories, judged through the
command an auditor would use, and what it does with a record that was tampered with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_check_history import Drill, failover_drill
from test_check_rpo import reused_ids_after_a_lost_allocation
from test_check_split_brain import hung_primary

from drills import events as ev
from drills.cli import main

SCENARIO = """\
name: recorded
workload: {{kind: orders}}
controller: {{kind: reference}}
stages: [{{name: a, steps: [{{wait: 0}}]}}]
objectives:
{objectives}
"""


def recorded(tmp_path: Path, d: Drill, objectives: str = "  checks: {}") -> Path:
    run = d.save(tmp_path / "run")
    (run / "scenario.yaml").write_text(SCENARIO.format(objectives=objectives), encoding="utf-8")
    return run


def judge(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["judge", str(run), "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def verdicts(outcome: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in outcome["checks"]}


def test_a_hung_primary_that_resumed_unfenced_fails_split_brain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = judge(recorded(tmp_path, hung_primary(edge_fence=False)), capsys)
    assert code == 1 and verdicts(out)["split_brain"] == "failed"
    assert "op 6 (ID 6)" in next(c["summary"] for c in out["checks"] if c["name"] == "split_brain")


def test_reused_ids_cannot_hide_lost_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = judge(recorded(tmp_path, reused_ids_after_a_lost_allocation(), "  rpo: 0\n  checks: {}"), capsys)
    v = verdicts(out)
    assert code == 1 and v["rpo"] == "failed" and v["sequence_continuity"] == "failed"


def test_an_unwaived_unknown_is_inconclusive_and_a_waived_one_is_not(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.read_back(dc1=True, dc2=True)
    code, out = judge(recorded(tmp_path / "a", d), capsys)
    assert code == 3 and out["status"] == "inconclusive"
    assert any("check rto could not decide" in r for r in out["reasons"])

    waived = """  checks:
    not_judged:
      rto: "no switch in this drill"
      rpo: "no switch in this drill"
      sequence_continuity: "the sequence is not read in this recorded history"
      filter_tables: "no link observed in this recorded history"
      data_consistency: "not compared in this recorded history"
"""
    code, out = judge(recorded(tmp_path / "b", d, waived), capsys)
    assert code == 0 and out["status"] == "passed", out["reasons"]
    rto = next(c for c in out["checks"] if c["name"] == "rto")
    assert rto["status"] == "unknown" and rto["waived"] == "no switch in this drill"


def test_an_untouched_run_re_judges_to_its_own_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The run judges with `evaluate` and seals; `drills judge` reads the same record."""
    from drills import journal as journal_mod
    from drills.runner.judging import evaluate

    run = recorded(tmp_path, failover_drill(), "  rto: 5s\n  rpo: 0\n  checks: {}")
    with journal_mod.Journal(run / "journal.jsonl") as j:
        at_run_time = evaluate(run, None, None, j)
        j.record("runner", ev.RUN_END, status="x")
        head = j.head
    (run / "result.json").write_text(json.dumps({"journal_sha256": head, "checks": at_run_time}), encoding="utf-8")
    code, out = judge(run, capsys)
    assert out["differences_from_result"] == [d for d in out["differences_from_result"] if "objective" in d]
    assert {c["name"]: (c["status"], c["measured"]) for c in out["checks"]} == \
        {c["name"]: (c["status"], c["measured"]) for c in at_run_time}


def test_a_tampered_journal_is_refused_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = recorded(tmp_path, hung_primary(edge_fence=False))
    lines = (run / "journal.jsonl").read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if '"fence"' in line and '"ok": false' in line)
    lines[n] = lines[n].replace('"ok": false', '"ok": true')  # pretend the failover fenced dc1
    (run / "journal.jsonl").write_text("\n".join(lines) + "\n")
    code = main(["judge", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and f"journal.jsonl line {n + 2}" in err and "tampered" in err


def test_a_ledger_changed_after_sealing_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    from drills import journal as journal_mod

    run = recorded(tmp_path, failover_drill())
    sealed = hashlib.sha256((run / "ledger.jsonl").read_bytes()).hexdigest()
    (run / "result.json").write_text(json.dumps({"journal_sha256": journal_mod.verify(run / "journal.jsonl").final_hash,
                                                 "ledger_sha256": sealed, "checks": []}))
    with open(run / "ledger.jsonl", "a") as fh:
        fh.write('{"op": 999, "type": "settle", "present": {"dc2": true}, "mono_ns": 1}\n')
    code = main(["judge", str(run)])
    assert code == 2 and "ledger.jsonl differs from the one sealed" in capsys.readouterr().err


def test_no_run_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["judge", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["judge", str(tmp_path / "empty")]) == 2
    assert "no journal.jsonl" in capsys.readouterr().err
