"""The pytest plugin: which YAML files become drill items, and how a run's checks are reported.

The runner is replaced by a stand-in that returns a recorded result: what is under test here
is collection and reporting, not the drill (the scenario library's integration tests run
real drills)."""

from __future__ import annotations

import json
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
                     approve: Any = None) -> dict[str, Any]:
        calls.append({"path": Path(path), "params": params, "state_dir": state_dir})
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
