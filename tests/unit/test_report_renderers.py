"""Renderers over the recorded runs in tests/data/runs (rebuild them with build_runs.py).

Golden files pin the JUnit XML, the Markdown summary and the aborted view derived from a
killed run's journal; set DRILLS_UPDATE_GOLDEN=1 to rewrite them after a deliberate change.

What a report says about a check comes from that check's own result (its `summary`), in
the terms of the run's exit code: an expected failure reads "FAILED — as the scenario
expects", a waived `unknown` is "not judged — waived by the scenario: REASON" (skipped in
JUnit and Allure), and only an unwaived `unknown` is an error that asks for a repeat.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path
from typing import Any

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
WAIVED = "diverged-waived-passed"  # passes with an expected failure and two waived checks
SECRET = "Tr0ub4dor&3-s3cret"
EXPECTED = "FAILED — as the scenario expects"
REPEAT = "the drill should be repeated"
BROKE = "Repeating the drill unchanged would not give a verdict: the check broke on this record"


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


# The JUnit schema CI servers read (Jenkins' junit XSD, the de-facto standard): which
# elements and attributes may appear where, and the suite's counts agreeing with its cases.
_JUNIT_ATTRS = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time", "disabled", "skipped", "timestamp", "hostname", "id",
                  "package", "file", "log", "url", "version"},
    "properties": set(), "property": {"name", "value"},
    "testcase": {"name", "assertions", "time", "classname", "status", "class", "file", "line"},
    "skipped": {"message"}, "error": {"message", "type"}, "failure": {"message", "type"},
    "system-out": set(), "system-err": set(),
}
_JUNIT_CHILDREN = {
    "testsuites": {"testsuite"}, "testsuite": {"properties", "testcase", "system-out", "system-err"},
    "properties": {"property"}, "property": set(),
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "skipped": set(), "error": set(), "failure": set(), "system-out": set(), "system-err": set(),
}


def assert_valid_junit(root: ET.Element) -> None:
    assert root.tag == "testsuites"
    for node in root.iter():
        assert node.tag in _JUNIT_ATTRS, node.tag
        assert set(node.attrib) <= _JUNIT_ATTRS[node.tag], (node.tag, set(node.attrib) - _JUNIT_ATTRS[node.tag])
        assert {child.tag for child in node} <= _JUNIT_CHILDREN[node.tag], node.tag
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert suite.get("name") and all(c.get("name") for c in cases)
        for case in cases:
            assert len([c for c in case if c.tag in ("skipped", "error", "failure")]) <= 1, case.get("name")
        for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(suite.get(attr, "0")) == sum(1 for c in cases if c.find(tag) is not None), attr
        assert int(suite.get("tests", "-1")) == len(cases)
    for attr in ("tests", "failures", "errors"):
        assert int(root.get(attr, "0")) == sum(int(s.get(attr, "0")) for s in root.findall("testsuite")), attr


def _junit(run: str | Path, tmp_path: Path) -> ET.Element:
    root = ET.parse(render_junit(RUNS / run, tmp_path / "j.xml")).getroot()
    assert_valid_junit(root)
    return root


@pytest.mark.parametrize("run", [PASSED, FAILED, WAIVED, KILLED])
def test_junit_matches_golden(run: str, tmp_path: Path) -> None:
    out = render_junit(RUNS / run, tmp_path / "junit.xml")
    assert_valid_junit(ET.parse(out).getroot())
    golden(f"report_{run}.junit.xml", out.read_text(encoding="utf-8"))


def test_junit_structure_one_case_per_check_with_measured_and_objective(tmp_path: Path) -> None:
    root = _junit(FAILED, tmp_path)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["sequence-table-filtered"]
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert set(cases) == {"rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain"}
    rpo_failure = cases["rpo"].find("failure")
    assert rpo_failure is not None and "measured lost_writes=3" in rpo_failure.get("message", "")
    assert "objective max_writes=0" in rpo_failure.get("message", "")
    assert "IDs 23, 24, 25" in (rpo_failure.text or "")  # the check's own words
    # the expected failure passes the run, so it is no JUnit failure; it still reads as a failure
    seq = cases["sequence_continuity"]
    assert seq.find("failure") is None and seq.find("error") is None and seq.find("skipped") is None
    out = seq.findtext("system-out") or ""
    assert out.startswith(EXPECTED) and "22 write(s) hit a duplicate-key error" in out
    error = cases["split_brain"].find("error")  # an unwaived unknown: the run is inconclusive, not passed
    # ... and says why: the check broke on this record, which a repeat would not change
    assert error is not None and BROKE in (error.text or "") and REPEAT not in (error.text or "")
    assert suites[0].get("failures") == "3" and suites[0].get("errors") == "1" and suites[0].get("skipped") == "0"


@pytest.mark.parametrize("run", [PASSED, WAIVED])
def test_junit_passing_run_has_no_failures_and_no_errors(run: str, tmp_path: Path) -> None:
    # exit code 0 -> nothing for CI to flag; the waived run's two unknowns are skipped, not errors
    assert load_run(RUNS / run).status == "passed"
    root = _junit(run, tmp_path)
    assert root.get("failures") == "0" and root.get("errors") == "0" and root.get("tests") == "6"


def test_junit_waived_check_is_skipped_with_its_reason(tmp_path: Path) -> None:
    suite = _junit(WAIVED, tmp_path).find("testsuite")
    assert suite is not None and suite.get("skipped") == "2"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    for name, reason in (("rto", "no switch happens in this drill: there is no recovery to time"),
                         ("rpo", "no switch happens in this drill: nothing could be lost in one")):
        skipped = cases[name].find("skipped")
        assert skipped is not None and skipped.get("message") == reason
        assert cases[name].find("error") is None
        assert f"not judged — waived by the scenario: {reason}" in (skipped.text or "").lower()
        assert REPEAT not in ET.tostring(cases[name], encoding="unicode")
    data = cases["data_consistency"]  # the expected failure: passes, and says it failed
    assert data.find("failure") is None and (data.findtext("system-out") or "").startswith(EXPECTED)


@pytest.mark.parametrize("run", [PASSED, FAILED, WAIVED, KILLED])
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
        assert r["status"] in ("passed", "failed", "broken", "skipped")
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
    assert by_story["sequence_continuity"]["status"] == "passed"  # as the exit code counts it
    assert by_story["sequence_continuity"]["statusDetails"]["message"].startswith(EXPECTED)
    assert by_story["split_brain"]["status"] == "broken"  # an unwaived unknown: the run is inconclusive
    categories = json.loads((out / "categories.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in categories] == ["Objective missed", "Harness error or inconclusive", "Expected failure",
                                               "Waived by the scenario"]
    for result in results:  # every category matches what it is meant to collect
        for category in categories:
            if result["status"] in category["matchedStatuses"] and category["name"] != "Harness error or inconclusive":
                matched = re.fullmatch(category["messageRegex"], result["statusDetails"]["message"]) is not None
                story = next(v["value"] for v in result["labels"] if v["name"] == "story")
                assert matched == (story in ("rpo", "filter_tables", "data_consistency", "sequence_continuity")), story
    props = (out / "environment.properties").read_text(encoding="utf-8")
    assert "dc1.version=mariadb 10.11.6-MariaDB-0+deb12u1" in props and "etcd.version=3.4.23" in props


def _allure_by_check(run: str | Path, out: Path) -> dict[str, dict[str, Any]]:
    results = [json.loads(f.read_text(encoding="utf-8")) for f in render_allure(RUNS / run, out)]
    return {next(v["value"] for v in r["labels"] if v["name"] == "story"): r for r in results}


def test_allure_waived_check_is_skipped_with_its_reason(tmp_path: Path) -> None:
    by_check = _allure_by_check(WAIVED, tmp_path)
    assert {r["status"] for r in by_check.values()} == {"passed", "skipped"}  # a passing run: nothing broken
    for name, reason in (("rto", "no switch happens in this drill: there is no recovery to time"),
                         ("rpo", "no switch happens in this drill: nothing could be lost in one")):
        result = by_check[name]
        assert result["status"] == "skipped"
        assert result["statusDetails"]["message"] == f"not judged — waived by the scenario: {reason}"
        assert f"not judged — waived by the scenario: {reason}" in result["description"].lower()
        assert REPEAT not in json.dumps(result, ensure_ascii=False)
        assert ("tag", "waived") in {(label["name"], label["value"]) for label in result["labels"]}
    data = by_check["data_consistency"]
    assert data["status"] == "passed" and data["statusDetails"]["message"].startswith(EXPECTED)


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
                   record.sealed_hash, f"drills verify {(ROOT / RUNS / PASSED).resolve()}", "10.11.6-MariaDB",
                   "ci-bot",
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


@pytest.mark.parametrize(("status", "expected_failure", "waived", "ok", "kind", "label"), [
    ("passed", False, None, True, "passed", "passed"),
    ("failed", False, None, False, "failed", "failed"),
    ("failed", True, None, True, "expected_failure", EXPECTED),
    ("passed", True, None, False, "unexpected_pass", "unexpectedly passed"),
    ("unknown", False, None, None, "inconclusive", "inconclusive"),
    ("unknown", False, "no switch", None, "waived", "not judged — waived by the scenario: no switch"),
    # a waiver only ever covers an unknown: it never softens a verdict the check did reach
    ("failed", False, "no switch", False, "failed", "failed"),
    # the runner judges an expected-to-fail unknown as inconclusive, waiver or not
    ("unknown", True, "no switch", None, "inconclusive", "inconclusive"),
])
def test_check_outcome(status: str, expected_failure: bool, waived: str | None, ok: bool | None, kind: str,
                       label: str) -> None:
    check = {"status": status, "expected_failure": expected_failure, **({"waived": waived} if waived else {})}
    outcome = check_outcome(check)
    assert (outcome.ok, outcome.kind, outcome.label) == (ok, kind, label)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from(["ms", "s", "m", "h", ""]))
def test_parse_duration_scales_units(value: float, unit: str) -> None:
    text = f"{value:.6f}{unit}"
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "": 1}[unit]
    expected = float(f"{value:.6f}") * scale
    # one grammar for every duration (drills.durations): at most a day
    assert parse_duration(text) == (pytest.approx(expected) if expected <= 86_400 else None)


@given(st.text())
def test_masker_never_leaves_a_secret_in_any_text(filler: str) -> None:
    masker = Masker([SECRET, "pw"])
    assert SECRET not in masker.text(filler + SECRET + filler)


# ---- what a report says about a check is what the check found -------------------------------

def _rendered(run: str | Path, tmp_path: Path) -> dict[str, str]:
    """HTML, Markdown, JUnit and Allure for one run, as text (HTML unescaped for reading)."""
    out = tmp_path / Path(run).name
    allure = out / "allure"
    render_allure(RUNS / run, allure)
    return {
        "html": unescape(render_html(RUNS / run, out / "r.html").read_text(encoding="utf-8")),
        "markdown": render_summary(RUNS / run, out / "s.md").read_text(encoding="utf-8"),
        "junit": unescape(render_junit(RUNS / run, out / "j.xml").read_text(encoding="utf-8")),
        "allure": "\n".join(json.dumps(json.loads(f.read_text(encoding="utf-8")), ensure_ascii=False)
                            for f in sorted(allure.glob("*-result.json"))),
    }


def test_expected_failure_reads_as_the_failure_the_check_found(tmp_path: Path) -> None:
    # the incident run: 22 duplicate-key errors. The report once said "No order number was
    # handed out twice" there, under a green "PASS expected failure".
    check = load_run(RUNS / FAILED).check("sequence_continuity")
    assert check["status"] == "failed" and check["expected_failure"]
    summary = check["summary"]
    assert "22 write(s) hit a duplicate-key error" in summary
    for kind, text in _rendered(FAILED, tmp_path).items():
        if kind == "junit":
            continue  # JUnit: see test_junit_structure_one_case_per_check_with_measured_and_objective
        assert summary in text.replace("\\", ""), kind
        assert EXPECTED in text, kind
        assert "No order number was handed out twice" not in text, kind
        assert "PASS expected failure" not in text and "expected failure:" not in text, kind
        # the evidence: the reused IDs with the op that used them first
        assert "ID 1 (op 36, dc2, already used by op 1)" in text, kind
    html = render_html(RUNS / FAILED, tmp_path / "again.html").read_text(encoding="utf-8")
    section = html[html.index('id="check-sequence_continuity"'):html.index('id="check-filter_tables"')]
    assert 'class="check expected"' in html and "PASS" not in section
    assert "<h3>No duplicate order numbers: FAILED — as the scenario expects</h3>" in section
    assert 'class="evidence-duplicate_key_errors"' in section and "of 22 are listed" in section
    cell = re.search(r'<td class="(\w+)">FAILED — as the scenario expects', html)
    assert cell is not None and cell.group(1) == "expected"  # not the green "pass" class


@pytest.mark.parametrize("run", [PASSED, FAILED, WAIVED])
def test_every_report_states_each_checks_own_summary(run: str, tmp_path: Path) -> None:
    rendered = _rendered(run, tmp_path)
    for check in load_run(RUNS / run).checks:
        for kind, text in rendered.items():
            assert check["summary"] in text.replace("\\", ""), (kind, check["name"])


def test_waived_check_is_not_judged_with_its_reason_in_every_report(tmp_path: Path) -> None:
    rendered = _rendered(WAIVED, tmp_path)
    for kind, text in rendered.items():
        lowered = text.lower()
        for reason in ("no switch happens in this drill: there is no recovery to time",
                       "no switch happens in this drill: nothing could be lost in one"):
            assert f"not judged — waived by the scenario: {reason}" in lowered, kind
        assert REPEAT not in text, kind
    # ... while an unwaived unknown is still an inconclusive check, worded by its actual cause
    failed = _rendered(FAILED, tmp_path)
    for kind in ("html", "markdown", "junit"):
        assert BROKE in failed[kind], kind


def test_unexpected_pass_of_an_expected_failure_stays_a_failure(tmp_path: Path) -> None:
    run = tmp_path / "missed"
    shutil.copytree(RUNS / FAILED, run)
    doc = json.loads((run / "result.json").read_text(encoding="utf-8"))
    seq = next(c for c in doc["checks"] if c["name"] == "sequence_continuity")
    seq.update(status="passed", summary="All 40 committed orders had distinct IDs.")
    (run / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    case = next(c for c in _junit(run, tmp_path).iter("testcase") if c.get("name") == "sequence_continuity")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "unexpected pass"
    assert _allure_by_check(run, tmp_path / "allure")["sequence_continuity"]["status"] == "failed"
    html = render_html(run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No duplicate order numbers: FAILED — it passed, but the scenario expects it to fail" in html
    assert "❌ unexpectedly passed" in render_summary(run, tmp_path / "s.md").read_text(encoding="utf-8")


def test_killed_run_keeps_the_waiver_its_journal_recorded(tmp_path: Path) -> None:
    # a run killed after judging: the derived view takes each check's result from the journal,
    # waiver included, so a waived check is not turned into an error by the kill
    run = tmp_path / "killed-after-checks"
    shutil.copytree(RUNS / WAIVED, run)
    (run / "result.json").unlink()
    record = load_run(run)
    assert record.derived
    rto = record.check("rto")
    assert rto["waived"] == "no switch happens in this drill: there is no recovery to time"
    assert check_outcome(rto).kind == "waived" and rto["summary"].startswith("The active data centre never changed")
    assert check_outcome(record.check("data_consistency")).kind == "expected_failure"
    suite = _junit(run, tmp_path).find("testsuite")
    assert suite is not None and suite.get("skipped") == "2" and suite.get("errors") == "1"  # the run itself: aborted


def test_a_value_part_nobody_set_is_left_out_not_shown_as_a_dash() -> None:
    from drills.report.run_record import fmt_value

    assert fmt_value({"max_writes": 0, "max_span_s": None}) == "max_writes=0"
    assert fmt_value({"lost_writes": 3, "span_s": 0.2}) == "lost_writes=3, span_s=0.2"
    assert fmt_value({"max_span_s": None}) == "—" and fmt_value(None) == "—"
