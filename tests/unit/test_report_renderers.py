"""Renderers over the recorded runs in tests/data/runs (rebuild them with build_runs.py).

Golden files pin the JUnit XML, the Markdown summary and the aborted view derived from a
killed run's journal; set DRILLS_UPDATE_GOLDEN=1 to rewrite them after a deliberate change.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.report.allure_results import render_allure
from drills.report.html import render_html
from drills.report.junit import render_junit
from drills.report.markdown import render_summary
from drills.report.run_record import Masker, check_outcome, collect_secrets, load_run, parse_duration
from drills.report.timeline import build_timeline, render_svg

ROOT = Path(__file__).resolve().parents[2]
RUNS = Path("tests/data/runs")
GOLDEN = ROOT / "tests" / "golden"
PASSED, FAILED, KILLED = "failover-passed", "sequence-filtered-failed", "crash-killed"
SECRET = "Tr0ub4dor&3-s3cret"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # run directories are given relative to the repository, as a user would type them
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DRILLS_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} missing; run with DRILLS_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize("run", [PASSED, FAILED, KILLED])
def test_junit_matches_golden(run: str, tmp_path: Path) -> None:
    out = render_junit(RUNS / run, tmp_path / "junit.xml")
    golden(f"report_{run}.junit.xml", out.read_text(encoding="utf-8"))


def test_junit_structure_one_case_per_check_with_measured_and_objective(tmp_path: Path) -> None:
    root = ET.parse(render_junit(RUNS / FAILED, tmp_path / "j.xml")).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["sequence-table-filtered"]
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert set(cases) == {"rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain"}
    rpo_failure = cases["rpo"].find("failure")
    assert rpo_failure is not None and "measured lost_writes=3" in rpo_failure.get("message", "")
    assert "objective 0" in rpo_failure.get("message", "")
    # the expected failure passes, with a note
    seq = cases["sequence_continuity"]
    assert seq.find("failure") is None and seq.find("error") is None
    assert "expected failure" in (seq.findtext("system-out") or "")
    assert cases["split_brain"].find("error") is not None  # inconclusive is not a pass
    assert suites[0].get("failures") == "3" and suites[0].get("errors") == "1"


def test_junit_passed_run_has_no_failures(tmp_path: Path) -> None:
    root = ET.parse(render_junit(RUNS / PASSED, tmp_path / "j.xml")).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0" and root.get("tests") == "6"


@pytest.mark.parametrize("run", [PASSED, FAILED, KILLED])
def test_markdown_summary_matches_golden(run: str, tmp_path: Path) -> None:
    out = render_summary(RUNS / run, tmp_path / "summary.md")
    golden(f"report_{run}.summary.md", out.read_text(encoding="utf-8"))


def test_summary_is_appended_to_github_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "step_summary.md"
    target.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    render_summary(RUNS / PASSED, None)
    render_summary(RUNS / FAILED, None)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")
    assert "dc1-port-change-failover`: **PASSED**" in text and "sequence-table-filtered`: **FAILED**" in text


def test_killed_run_is_derived_as_aborted_from_its_journal() -> None:
    record = load_run(RUNS / KILLED)
    assert record.derived and record.status == "aborted"
    view = {k: record.result[k] for k in ("scenario", "run_id", "status", "started_at", "finished_at",
                                          "last_event_at", "checks", "journal_sha256", "journal_head", "incomplete")}
    golden("report_crash-killed.view.json", json.dumps(view, indent=2, sort_keys=True) + "\n")


def test_timeline_windows_measure_the_outage_from_fault_to_first_write_on_the_new_side() -> None:
    tl = build_timeline(load_run(RUNS / PASSED))
    assert [(round(w.start_s, 3), round(w.end_s or -1, 3)) for w in tl.windows] == [(5.0, 8.432), (12.1, 12.812)]
    kinds = [m.kind for m in tl.milestones]
    for kind in ("fault.inject", "dc.failed", "fence", "promote", "route.published", "first_write"):
        assert kind in kinds
    # a latency fault that never stopped writes opens no window; the crash does
    failed = build_timeline(load_run(RUNS / FAILED))
    assert [w.cause for w in failed.windows] == ["fault: crash on dc1"]
    killed = build_timeline(load_run(RUNS / KILLED))
    assert len(killed.windows) == 1 and killed.windows[0].end_s is None


def test_timeline_svg_is_well_formed_xml() -> None:
    svg = render_svg(build_timeline(load_run(RUNS / PASSED)))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}rect[@class='unavailable']")) == 2


def test_allure_results_are_valid(tmp_path: Path) -> None:
    out = tmp_path / "allure"
    files = render_allure(RUNS / FAILED, out)
    assert len(files) == 6
    results = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    for r in results:
        assert re.fullmatch(r"[0-9a-f-]{36}", r["uuid"])
        assert r["status"] in ("passed", "failed", "broken")
        labels = {(label["name"], label["value"]) for label in r["labels"]}
        assert ("epic", "DR drill") in labels and ("feature", "sequence-table-filtered") in labels
        assert any(name == "severity" for name, _ in labels)
        assert r["steps"], "stages and steps from the journal"
        assert r["steps"][0]["name"].startswith("stage ")
        for attachment in r["attachments"]:
            assert (out / attachment["source"]).exists()
        assert {a["type"] for a in r["attachments"]} >= {"image/svg+xml", "application/json"}
    by_story = {next(v["value"] for v in r["labels"] if v["name"] == "story"): r for r in results}
    assert by_story["rpo"]["status"] == "failed" and "objective missed" in by_story["rpo"]["statusDetails"]["message"]
    assert by_story["sequence_continuity"]["status"] == "passed"
    assert by_story["sequence_continuity"]["statusDetails"]["message"].startswith("expected failure")
    assert by_story["split_brain"]["status"] == "broken"
    categories = json.loads((out / "categories.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in categories] == ["Objective missed", "Harness error", "Expected failure"]
    props = (out / "environment.properties").read_text(encoding="utf-8")
    assert "dc1.version=mariadb 10.11.6-MariaDB-0+deb12u1" in props and "etcd.version=3.4.23" in props


def test_allure_for_a_killed_run_reports_the_run_as_broken(tmp_path: Path) -> None:
    files = render_allure(RUNS / KILLED, tmp_path)
    (result,) = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert result["status"] == "broken" and "aborted" in result["statusDetails"]["message"]
    stage = result["steps"][0]
    assert stage["status"] == "broken"  # the stage never ended: the kill happened in it


def test_html_is_self_contained_and_carries_what_an_auditor_signs(tmp_path: Path) -> None:
    html = render_html(RUNS / PASSED, tmp_path / "r.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no external resource"
    assert "<script" not in html and "@import" not in html and "url(" not in html
    record = load_run(RUNS / PASSED)
    for needle in ('id="objectives"', 'id="timeline-svg"', 'id="filter-list"', 'id="signature"',
                   record.sealed_hash, "drills verify failover-passed", "10.11.6-MariaDB", "ci-bot",
                   "DBA temporary backup tables", "writes unavailable"):
        assert needle in html, needle


def test_html_marks_a_killed_run_incomplete(tmp_path: Path) -> None:
    html = render_html(RUNS / KILLED, tmp_path / "k.html").read_text(encoding="utf-8")
    assert 'id="incomplete"' in html and "NOT A VERDICT" in html and "ABORTED" in html


def test_no_secret_in_any_rendered_file(tmp_path: Path) -> None:
    # the recorded run carries the secret unmasked in result.json params, in a DSN and in a journal line
    raw = "".join(p.read_text(encoding="utf-8") for p in (RUNS / FAILED).iterdir())
    assert SECRET in raw, "the fixture must contain the secret for this test to mean anything"
    render_junit(RUNS / FAILED, tmp_path / "j.xml")
    render_allure(RUNS / FAILED, tmp_path / "allure")
    render_summary(RUNS / FAILED, tmp_path / "s.md")
    render_html(RUNS / FAILED, tmp_path / "r.html")
    rendered = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(rendered) > 10
    from html import escape

    for path in rendered:
        text = path.read_text(encoding="utf-8", errors="replace")
        for form in (SECRET, escape(SECRET), "Tr0ub4dor"):
            assert form not in text, f"{path.name} leaks the secret"
    assert "***" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_masker_negative_control_shows_what_would_leak() -> None:
    # without the secret's name or declaration nothing marks it: the value stays (and the test above would fail)
    assert collect_secrets({"colour": SECRET}, None, environ={}) == []
    assert collect_secrets({"app_password": SECRET}, None, environ={}) == [SECRET]
    declared = {"params": {"token_x": {"secret": True, "env": "X_TOKEN"}}}
    assert collect_secrets({}, declared, environ={"X_TOKEN": "abc123"}) == ["abc123"]
    masker = Masker([SECRET])
    assert masker.text(f"mysql -uapp -p{SECRET} x") == "mysql -uapp -p*** x"
    assert masker.text("mysql://app:pw0rd@127.0.0.1/app") == "mysql://app:***@127.0.0.1/app"


@pytest.mark.parametrize(("status", "expected_failure", "ok", "label"), [
    ("passed", False, True, "passed"),
    ("failed", False, False, "failed"),
    ("failed", True, True, "expected failure"),
    ("passed", True, False, "unexpectedly passed"),
    ("unknown", False, None, "inconclusive"),
])
def test_check_outcome(status: str, expected_failure: bool, ok: bool | None, label: str) -> None:
    outcome = check_outcome({"status": status, "expected_failure": expected_failure})
    assert (outcome.ok, outcome.label) == (ok, label)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from(["ms", "s", "m", "h", ""]))
def test_parse_duration_scales_units(value: float, unit: str) -> None:
    text = f"{value:.6f}{unit}"
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "": 1}[unit]
    assert parse_duration(text) == pytest.approx(float(f"{value:.6f}") * scale)


@given(st.text())
def test_masker_never_leaves_a_secret_in_any_text(filler: str) -> None:
    masker = Masker([SECRET, "pw"])
    assert SECRET not in masker.text(filler + SECRET + filler)
