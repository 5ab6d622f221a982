"""`--json` on history, verify and list (booleans as booleans, numbers as numbers), `drills
list` keeping every word when piped, and the history trend chart (SVG in HTML) with its
points and objective line where the values put them."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from recorded_runs import recorded_run

from drills import terminal
from drills.cli import main
from drills.report import past_runs as history
from drills.report.trend_chart import Series, svg

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
SVG = "{http://www.w3.org/2000/svg}"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- history -------------------------------------------------------------------------------------


def three_runs(tmp_path: Path, rtos: tuple[float, ...] = (3.0, 12.5, 4.0)) -> Path:
    db = tmp_path / "h.sqlite"
    for i, rto in enumerate(rtos):
        history.record(recorded_run(tmp_path, f"r{i}", rto, started=f"2025-03-0{i + 1}T10:00:00Z"), db=db)
    return db


def test_history_json_keeps_numbers_as_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = three_runs(tmp_path)
    code, out, _ = run_cli(capsys, "history", "--db", str(db), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["scenario"] is None and len(doc["runs"]) == 3
    by_id = {r["run_id"]: r for r in doc["runs"]}
    assert by_id["r1"]["rto_s"] == 12.5 and by_id["r1"]["rpo_lost_writes"] == 0 and isinstance(by_id["r1"]["duration_s"], float)
    assert by_id["r1"]["status"] == "passed"


def test_history_json_with_record_keeps_stdout_pure_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    code, out, err = run_cli(capsys, "history", "--db", str(db), "--record", str(RUNS / "failover-passed"), "--json")
    assert code == 0 and json.loads(out)["runs"][0]["rto_s"] == 3.432 and "recorded" in err


def test_history_chart_draws_each_run_and_the_objective_at_their_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = three_runs(tmp_path)
    chart = tmp_path / "trend.html"
    code, out, _ = run_cli(capsys, "history", "--db", str(db), "--scenario", "dc1-port-change-failover",
                           "--chart", str(chart))
    assert code == 0 and "RTO/RPO trend for dc1-port-change-failover" in out and f"wrote {chart}" in out
    page = chart.read_text(encoding="utf-8")
    svgs = [page[page.index("<svg", i): page.index("</svg>", i) + 6] for i in _starts(page, "<svg")]
    rto = ET.fromstring(svgs[0])  # parses as XML on its own
    points = rto.findall(f"{SVG}circle")
    assert [float(p.get("data-value")) for p in points] == [3.0, 12.5, 4.0]  # oldest first
    objective = rto.find(f"{SVG}line[@class='objective']")
    assert objective is not None and float(objective.get("data-value")) == 10.0  # the recorded run's objectives.rto
    # geometry: height above the x axis is proportional to the value, for the points and the objective line
    base = float(rto.find(f"{SVG}line[@class='axis']").get("y1"))
    per_unit = (base - float(objective.get("y1"))) / 10.0
    for p in points:
        assert base - float(p.get("cy")) == pytest.approx(float(p.get("data-value")) * per_unit, abs=0.02)
    assert float(objective.get("y1")) == float(objective.get("y2"))  # horizontal
    xs = [float(p.get("cx")) for p in points]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert [p.get("fill") for p in points] == ["#1565c0", "#c62828", "#1565c0"]  # only 12.5 s is over 10 s
    assert "RTO     3 s" in page or "RTO       3 s" in page  # the text trend beside the charts
    rpo = ET.fromstring(svgs[1])
    assert float(rpo.find(f"{SVG}line[@class='objective']").get("data-value")) == 0.0


def _starts(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + 1)
    return out


def test_chart_without_objective_or_values_has_no_line_and_says_so() -> None:
    root = ET.fromstring(svg(Series("RTO of x", "s", [None, None], None), ["a", "b"]))
    assert root.find(f"{SVG}line[@class='objective']") is None and root.findall(f"{SVG}circle") == []
    assert "not measured in any run" in ET.tostring(root, encoding="unicode")


def test_chart_needs_a_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "history", "--db", str(tmp_path / "h.sqlite"), "--chart", str(tmp_path / "t.html"))
    assert code == 2 and "--chart needs --scenario" in err and "Traceback" not in err
    assert not (tmp_path / "t.html").exists()


# ---- verify --------------------------------------------------------------------------------------


def test_verify_json_intact_and_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "failover-passed", run)
    code, out, _ = run_cli(capsys, "verify", str(run), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["exit_code"] == 0 and isinstance(doc["lines"], int)
    assert doc["tampered_line"] is None and doc["final_hash"] == doc["sealed_hash"]
    journal = run / "journal.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace('"kind"', '"kind" ', 1)
    journal.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "verify", str(run), "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["tampered_line"] == 4


# ---- list ----------------------------------------------------------------------------------------


def test_list_json_has_booleans_and_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and rows and all(r["valid"] is True for r in rows)
    assert all(isinstance(r["steps"], int) and r["steps"] > 0 for r in rows)


def test_list_piped_keeps_whole_descriptions_and_a_terminal_cuts_them(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rows = json.loads(run_cli(capsys, "list", "--json")[1])
    longest = max(rows, key=lambda r: len(r["description"]))
    assert len(longest["description"]) > 60  # the library has one long enough for this test to mean something
    _, out, _ = run_cli(capsys, "list")  # capsys: not a terminal
    assert longest["description"] in out
    monkeypatch.setattr(terminal, "width", lambda stream: 60)
    _, out, _ = run_cli(capsys, "list")
    assert longest["description"] not in out and all(len(line) <= 60 for line in out.splitlines())
