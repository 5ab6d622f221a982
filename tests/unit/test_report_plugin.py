"""The pytest plugin: which YAML files become drill items, and how a run's checks are reported.

The runner is replaced by a stand-in that returns a recorded result: what is under test here
is collection and reporting, not the drill (the scenario library's integration tests run
real drills)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import drills.runner
from drills.pytest_plugin import is_scenario_file

pytest_plugins = ["pytester"]

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
SCENARIO = "name: demo\ndescription: a demo drill\nstages:\n  - name: s\n    steps: [{wait: 1s}]\n"


def _recorded_runner(run: str, calls: list[dict[str, Any]]):
    def run_scenario(path: Path, *, out_dir: Path, params: dict[str, Any], state_dir: Any = None,
                     approve: Any = None, record_history: bool = True) -> dict[str, Any]:
        calls.append({"path": Path(path), "params": params, "state_dir": state_dir, "record_history": record_history})
        shutil.copytree(RUNS / run, out_dir)
        return json.loads((Path(out_dir) / "result.json").read_text(encoding="utf-8"))

    return run_scenario


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"scenarios/demo": SCENARIO, "scenarios/notes": "title: not a scenario\n"})
    # a scenario copy inside a recorded run, and one under tests/: neither must run
    pytester.makefile(".yaml", **{"tests/data/run1/scenario": SCENARIO, "tests/data/loose": SCENARIO})
    (pytester.path / "tests" / "data" / "run1" / "result.json").write_text("{}", encoding="utf-8")
    return pytester


def test_collects_only_scenarios(project: pytest.Pytester) -> None:
    result = project.runpytest_inprocess("--collect-only", "-q", ".", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert "scenarios/demo.yaml::demo" in out
    assert "notes" not in out and "run1" not in out and "loose" not in out


def test_is_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("name: x\n  stages: []\n", encoding="utf-8")  # not top-level
    (tmp_path / "c.txt").write_text(SCENARIO, encoding="utf-8")
    assert [is_scenario_file(tmp_path / n) for n in ("a.yaml", "b.yaml", "c.txt")] == [True, False, False]


def test_passing_drill_passes_with_each_check_reported(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("failover-passed", calls), raising=False)
    out_dir = project.path / "out"
    result = project.runpytest_inprocess("scenarios", "--drills-out", str(out_dir), "--drills-param", "workers=8",
                                         "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    assert calls[0]["params"] == {"workers": "8"} and calls[0]["path"].name == "demo.yaml"
    text = result.stdout.str()
    for name in ("rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain"):
        assert f"check {name}" in text
    (run_dir,) = out_dir.iterdir()
    assert (run_dir / "report.html").exists()


def test_failed_drill_fails_naming_the_failed_checks(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("sequence-filtered-failed", []), raising=False)
    result = project.runpytest_inprocess("scenarios", "--drills-out", str(project.path / "out"), "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1 and "passed" not in {k for k, v in outcomes.items() if v and k == "passed"}
    text = result.stdout.str()
    assert "drill sequence-table-filtered (20250301T110230Z-c41d): FAILED" in text
    assert "FAIL rpo: failed" in text and "ok   sequence_continuity: FAILED — as the scenario expects" in text


def test_allure_labels_when_allure_pytest_is_active(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("failover-passed", []), raising=False)
    alluredir = project.path / "allure"
    result = project.runpytest_inprocess("scenarios", "--drills-out", str(project.path / "out"),
                                         "--alluredir", str(alluredir), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in alluredir.glob("*-result.json")]
    (doc,) = [d for d in docs if d.get("name") == "demo"]
    labels = {(label["name"], label["value"]) for label in doc["labels"]}
    assert ("epic", "DR drill") in labels and ("feature", "dc1-port-change-failover") in labels
    assert any(s["name"].startswith("check rto") for s in doc["steps"])


def test_verbose_lists_each_check_on_its_own_line_with_its_own_label(project: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("sequence-filtered-failed", []), raising=False)
    result = project.runpytest_inprocess("scenarios", "--drills-out", str(project.path / "out"), "-p", "no:cacheprovider",
                                         "-v", "-rA")
    lines = result.stdout.lines
    expected = {"rto": "SUBPASSED", "rpo": "SUBFAILED", "sequence_continuity": "SUBPASSED",
                "filter_tables": "SUBFAILED", "data_consistency": "SUBFAILED", "split_brain": "SUBSKIPPED"}
    for name, word in expected.items():
        # the node id, the outcome and the label on one line, all naming the same check; a skip's
        # word carries no name (see the skip summary test below): its reason names the check
        shown = f"{word}[check {name}]" if word != "SUBSKIPPED" else f"{word} ({name}: "
        assert any(line.startswith(f"scenarios/demo.yaml::demo[{name}] {shown}") for line in lines), name
    # the -v lines are on the terminal, not swallowed into a "Captured stdout" section of the drill
    assert "Captured stdout call" not in result.stdout.str()
    # the drill's own summary is shown once (with the drill's failure), not repeated under every failed check
    assert result.stdout.str().count("Captured drill checks") == 1


def test_a_check_that_could_not_decide_is_located_at_the_scenario_file(project: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("sequence-filtered-failed", []), raising=False)
    result = project.runpytest_inprocess("scenarios", "--drills-out", str(project.path / "out"), "-p", "no:cacheprovider",
                                         "-v", "-rA")
    (skip_line,) = [line for line in result.stdout.lines if line.startswith("SUBSKIPPED")]
    assert "scenarios/demo.yaml:1: split_brain: not judged" in skip_line
    assert "pytest_plugin.py" not in result.stdout.str()


def _junit_counts(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    import xml.etree.ElementTree as ET

    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    outcomes = {}
    for case in suite.findall("testcase"):
        kinds = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name")] = kinds[0] if kinds else "passed"
    return dict(suite.attrib), outcomes


def _assert_one_testcase_per_result(attrib: dict[str, str], outcomes: dict[str, str], drill: str) -> None:
    assert int(attrib["tests"]) == len(outcomes)
    assert int(attrib["failures"]) == sum(v == "failure" for v in outcomes.values())
    assert int(attrib["skipped"]) == sum(v == "skipped" for v in outcomes.values())
    assert {k: v for k, v in outcomes.items() if k.startswith(drill)} == {
        drill: "failure", f"{drill}[rto]": "passed", f"{drill}[rpo]": "failure",
        f"{drill}[sequence_continuity]": "passed", f"{drill}[filter_tables]": "failure",
        f"{drill}[data_consistency]": "failure", f"{drill}[split_brain]": "skipped"}


def test_junit_counts_match_its_testcases(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("sequence-filtered-failed", []), raising=False)
    junit = project.path / "junit.xml"
    project.runpytest_inprocess("scenarios", "--drills-out", str(project.path / "out"), "-p", "no:cacheprovider",
                                f"--junitxml={junit}")
    attrib, outcomes = _junit_counts(junit)
    _assert_one_testcase_per_result(attrib, outcomes, "demo")
    assert len(outcomes) == 7


def test_junit_counts_match_its_testcases_under_xdist(pytester: pytest.Pytester) -> None:
    """pytest-xdist insists that a worker's reports carry the item's node id; the controller gives
    each check its own, so the JUnit written there counts the same as without -n."""
    pytester.makefile(".yaml", **{"scenarios/demo": SCENARIO, "scenarios/other": SCENARIO.replace("demo", "other")})
    pytester.makeconftest(f"""
import json, shutil
from pathlib import Path
import drills.runner

def _run(path, *, out_dir, params, state_dir=None, approve=None, record_history=True):
    shutil.copytree({str(RUNS / "sequence-filtered-failed")!r}, out_dir)
    return json.loads((Path(out_dir) / "result.json").read_text(encoding="utf-8"))

drills.runner.run_scenario = _run
""")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("scenarios", "-n", "2", "--drills-out", str(pytester.path / "out"),
                                           "-p", "no:cacheprovider", f"--junitxml={junit}")
    assert "AssertionError" not in result.stdout.str()
    attrib, outcomes = _junit_counts(junit)
    assert len(outcomes) == 14
    _assert_one_testcase_per_result(attrib, outcomes, "demo")
    _assert_one_testcase_per_result(attrib, outcomes, "other")


@pytest.mark.parametrize("flag, recorded", [((), True), (("--drills-no-history",), False)])
def test_no_history_keeps_the_run_out_of_the_history(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      flag: tuple[str, ...], recorded: bool) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(drills.runner, "run_scenario", _recorded_runner("failover-passed", calls), raising=False)
    project.runpytest_inprocess("scenarios", "--drills-out", str(project.path / "out"), "-p", "no:cacheprovider", *flag)
    assert [c["record_history"] for c in calls] == [recorded]


def test_the_skip_summary_does_not_label_one_check_with_another_checks_name(pytester: pytest.Pytester,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest folds skips in its short summary and labels every folded line with the word of the
    first skipped report of the session: `SUBSKIPPED[check split_brain]` stood on the line of
    another drill's `rto`. A check's skip carries no check name in its word; the line's reason names it."""
    pytester.makefile(".yaml", **{"scenarios/demo": SCENARIO, "scenarios/other": SCENARIO.replace("demo", "other")})
    runs = {"demo": "sequence-filtered-failed", "other": "diverged-waived-passed"}

    def run_scenario(path: Path, *, out_dir: Path, **_: Any) -> dict[str, Any]:
        shutil.copytree(RUNS / runs[Path(path).stem], out_dir)
        return json.loads((Path(out_dir) / "result.json").read_text(encoding="utf-8"))

    monkeypatch.setattr(drills.runner, "run_scenario", run_scenario, raising=False)
    result = pytester.runpytest_inprocess("scenarios", "--drills-out", str(pytester.path / "out"),
                                          "-p", "no:cacheprovider", "-v", "-rs")
    lines = [line for line in result.stdout.lines if line.startswith("SUBSKIPPED")]
    parsed = [re.match(r"^SUBSKIPPED(?:\[check (?P<label>[^\]]+)\])? \[\d+\] \S+: (?P<check>\w+):", line)
              for line in lines]
    assert all(parsed), lines
    assert {m["check"] for m in parsed if m} == {"split_brain", "rto", "rpo"}, lines
    for m in parsed:
        assert m is not None and m["label"] in (None, m["check"]), f"label names another check: {m.string}"
    # the -v lines still name each check on its own line, by its node id
    assert any(line.startswith("scenarios/other.yaml::other[rto] SUBSKIPPED") for line in result.stdout.lines)
