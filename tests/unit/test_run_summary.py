"""How a run ends for the person (the text summary: each check's measured value with its
unit, why an unknown is unknown, colour only on a terminal) and for a machine (`drills run
--json`: one JSON object on stdout, everything else on stderr)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from drills.cli import main
from drills.runner import commands as run_commands
from drills.runner.progress import closing_summary, summary_object
from drills.runner.session import RunOutcome

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
ESC = "\033["


def record(name: str) -> tuple[dict, Path]:
    path = RUNS / name / "result.json"
    return json.loads(path.read_text(encoding="utf-8")), path


def test_summary_shows_each_measured_value_with_its_unit_and_why_an_unknown_is_unknown() -> None:
    doc, path = record("sequence-filtered-failed")
    lines = closing_summary(doc, path, colour=False).splitlines()
    assert lines[0] == f"FAILED: sequence-table-filtered — {path}"
    by_name = {line.split()[1]: line for line in lines[1:] if not line.lstrip().startswith("-")}
    assert by_name["rto"].split()[:4] == ["ok", "rto", "6.262", "s"] and "(objective 10 s)" in by_name["rto"]
    assert by_name["rpo"].startswith("  FAIL  rpo") and "lost_writes=3" in by_name["rpo"]
    assert by_name["split_brain"].startswith("  ??    split_brain")
    assert "unknown: The split_brain check could not be computed (ValueError)." in by_name["split_brain"]
    assert ESC not in "\n".join(lines)


def test_a_waived_check_says_the_scenarios_reason_and_is_not_marked_unknown() -> None:
    doc, path = record("diverged-waived-passed")
    text = closing_summary(doc, path, colour=False)
    rto = next(line for line in text.splitlines() if " rto " in line)
    assert rto.startswith("  --    rto") and "no switch happens in this drill" in rto and "??" not in rto


def test_colour_marks_the_verdict_and_each_check_only_when_asked() -> None:
    doc, path = record("sequence-filtered-failed")
    coloured = closing_summary(doc, path, colour=True)
    assert coloured.startswith("\033[1;31mFAILED\033[0m: ")
    assert "\033[32mok\033[0m" in coloured and "\033[1;31mFAIL\033[0m" in coloured and "\033[33m??\033[0m" in coloured
    assert ESC not in closing_summary(doc, path, colour=False)


def test_json_summary_keeps_numbers_and_booleans_typed() -> None:
    doc, path = record("sequence-filtered-failed")
    obj = json.loads(json.dumps(summary_object(doc, path)))
    assert obj["status"] == "failed" and obj["run_dir"] == str(path.parent)
    rto = next(c for c in obj["checks"] if c["name"] == "rto")
    assert rto["measured"] == 6.262 and rto["unit"] == "s" and rto["objective"] == 10.0
    assert rto["counts_as_pass"] is True and rto["expected_failure"] is False
    seq = next(c for c in obj["checks"] if c["name"] == "sequence_continuity")
    assert seq["expected_failure"] is True and seq["verdict"] == "expected_failure"
    unknown = next(c for c in obj["checks"] if c["name"] == "split_brain")
    assert unknown["counts_as_pass"] is None and unknown["mark"] == "??" and "ValueError" in unknown["summary"]


def test_run_json_prints_one_object_on_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    doc, path = record("failover-passed")
    seen = {}

    def fake_run(opts):  # the drill itself is the integration tests'; this is the CLI's contract
        seen["json_summary"] = opts.json_summary
        return RunOutcome(doc["status"], 0, path.parent, path, doc)

    monkeypatch.setattr(run_commands, "run", fake_run)
    code = main(["run", "dc1-crash", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0 and seen["json_summary"] is True
    obj = json.loads(out)  # the whole of stdout is one JSON document
    assert obj["status"] == "passed" and obj["result"] == str(path) and len(obj["checks"]) == len(doc["checks"])


def test_run_json_on_a_refused_run_still_prints_an_object_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "no-such-scenario-anywhere", "--json"])
    out, err = capsys.readouterr()
    obj = json.loads(out)
    assert code == 2 and obj["status"] == "error" and obj["exit_code"] == 2 and obj["run_dir"] is None
    assert "no such scenario" in obj["error"] and "no such scenario" in err and "Traceback" not in err


def test_the_drill_writes_its_summary_to_the_progress_stream_under_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_runner_drill import drill

    d, _, _ = drill(tmp_path, "name: x\nstages: [{name: a, steps: [{wait: 0}]}]\n")
    stream = io.StringIO()
    d.opts.stream, d.opts.json_summary = stream, True
    d.progress.stream = stream
    d.execute()
    out, _ = capsys.readouterr()
    assert out == "" and ": x (" in stream.getvalue() and ESC not in stream.getvalue()


def test_without_json_the_drill_ends_with_the_summary_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_runner_drill import drill

    d, _, _ = drill(tmp_path, "name: x\nstages: [{name: a, steps: [{wait: 0}]}]\n")
    d.execute()
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].endswith(f"— {d.run_dir / 'result.json'}") and ": x (" in out and ESC not in out
