"""`drills verify`: a sealed record verifies; an edited, truncated or re-judged one does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.cli import main
from drills.report.verify import verify_run

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    target = tmp_path / "failover-passed"
    shutil.copytree(RUNS / "failover-passed", target)
    return target


def _lines(run_dir: Path) -> list[str]:
    return (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


def test_intact_run_verifies(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(run_dir)]) == 0
    assert "OK" in capsys.readouterr().out


def test_edited_line_is_named(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(run_dir)
    n = next(i for i, line in enumerate(lines) if '"promote"' in line)  # 0-based
    lines[n] = lines[n].replace('"dc": "dc2"', '"dc": "dc1"')
    (run_dir / "journal.jsonl").write_text("".join(lines), encoding="utf-8")
    assert main(["verify", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert f"journal.jsonl:{n + 1}: TAMPERED" in err and f"line {n + 1} was edited" in err


def test_edited_last_line_fails_against_the_seal(run_dir: Path) -> None:
    lines = _lines(run_dir)
    lines[-1] = lines[-1].replace('"passed"', '"failed"')
    (run_dir / "journal.jsonl").write_text("".join(lines), encoding="utf-8")
    result = verify_run(run_dir)
    assert result.exit_code == 1 and "sealed" in result.messages[0]


def test_truncated_journal_fails(run_dir: Path) -> None:
    lines = _lines(run_dir)
    (run_dir / "journal.jsonl").write_text("".join(lines[:-5]), encoding="utf-8")
    result = verify_run(run_dir)
    assert result.exit_code == 1 and "truncated" in result.messages[0]


def test_removed_middle_line_is_named(run_dir: Path) -> None:
    lines = _lines(run_dir)
    del lines[10]
    (run_dir / "journal.jsonl").write_text("".join(lines), encoding="utf-8")
    result = verify_run(run_dir)
    assert result.exit_code == 1 and result.tampered_line == 11


def test_verdict_edited_in_result_json_fails(run_dir: Path) -> None:
    doc = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    doc["checks"][1]["status"] = "failed"  # rpo
    (run_dir / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    result = verify_run(run_dir)
    assert result.exit_code == 1 and "check rpo says 'failed'" in result.messages[0]


def test_killed_run_is_intact_but_unsealed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "k"
    shutil.copytree(RUNS / "crash-killed", target)
    assert main(["verify", str(target)]) == 3
    assert "no sealed hash" in capsys.readouterr().err


def test_missing_run_dir_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_report_command_renders_into_the_run_dir(run_dir: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").exists() and (run_dir / "summary.md").exists()
    assert "wrote" in capsys.readouterr().out


def test_report_on_broken_result_json_names_file_and_line(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "result.json").write_text('{"scenario": "x",\n "status": }', encoding="utf-8")
    assert main(["report", str(run_dir), "--junit", str(run_dir / "j.xml")]) == 2
    err = capsys.readouterr().err
    assert "result.json:2:" in err and "Traceback" not in err
