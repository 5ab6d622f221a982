"""Issue 15: the search itself — Hypothesis' generation, example database and shrinking driving
examples, the minimal scenario written with its comment, flaky replays, the time budget, harness
errors. The drill is replaced here by a *model* of the weakened controller (a hang of dc1 that
outlasts a 4 s failover leaves a split brain), so that the search logic is tested in
milliseconds; tests/integration/test_explore.py runs the same search on real processes."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from drills.explore.explorer import Example, Explorer, judge_example
from drills.explore.schedule import Schedule
from drills.explore.space import load_space_text
from drills.scenario.loader import load_scenario, load_scenario_text

SPACE = load_space_text("""\
name: model
controller: {kind: reference, edge_fencing: false}
faults:
  - {type: hang, targets: [dc1]}
  - type: latency
    targets: ["app:dc1", "app:dc2"]
    params: {latency_ms: {min: 50, max: 250, step: 100}}
switches: [switchover]
max_steps: 3
at: {min: 0s, max: 2s, step: 1s}
duration: {min: 1s, max: 7s, step: 2s}
property: {checks: [split_brain]}
""", "model.yaml")


def fault_spans(scenario_file: Path) -> list[tuple[str, str, float]]:
    """(type, target, seconds until healed) of each fault of a written scenario, from its steps."""
    scenario = load_scenario_text(scenario_file.read_text(), str(scenario_file))
    steps = [s for stage in scenario.stages if stage.name == "schedule" for s in stage.steps]
    now, started, spans = 0.0, {}, []
    for step in steps:
        if step.wait is not None:
            now += step.wait
        elif step.fault is not None:
            started[step.fault.name] = (step.fault.type, step.fault.target, now)
        elif step.heal is not None:
            ftype, target, t = started.pop(step.heal)
            spans.append((ftype, target, now - t))
    return spans


def result(split_brain: bool, **extra: Any) -> dict[str, Any]:
    checks = [{"name": "split_brain", "status": "failed" if split_brain else "passed",
               "summary": "Two data centres took writes: 4 write(s) may have committed on dc1 after the switch"},
              {"name": "rpo", "status": "passed", "summary": "no loss"},
              {"name": "rto", "status": "unknown", "summary": "no failover"}]
    return {"status": "failed" if split_brain else "passed", "checks": checks, "steps": [], **extra}


class Model:
    """The weakened controller as a function of the schedule; counts what it was asked to run."""

    def __init__(self, flaky: bool = False):
        self.calls: list[Path] = []
        self.flaky = flaky
        self.seen: Counter[str] = Counter()

    def __call__(self, scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        self.calls.append(run_dir)
        spans = fault_spans(scenario_file)
        key = repr(spans)
        self.seen[key] += 1
        split = any(t == "hang" and d >= 4 for t, _, d in spans)
        if self.flaky and self.seen[key] > 1:
            split = False  # fails once, never again: what a race looks like
        (run_dir / "result.json").write_text(json.dumps(result(split)))
        return result(split)


def explorer(tmp_path: Path, run: Any, **kw: Any) -> Explorer:
    kw.setdefault("max_examples", 30)
    kw.setdefault("seed", 7)
    return Explorer(SPACE, tmp_path / "session", tmp_path / "db", run, stream=kw.pop("stream", None), **kw)


def test_finds_and_shrinks_to_the_minimal_schedule(tmp_path: Path) -> None:
    model = Model()
    outcome = explorer(tmp_path, model).explore()
    assert outcome.minimal is not None and not outcome.flaky
    # smallest failing: one hang of dc1, at once, for the first grid value above the 4 s failover
    assert outcome.minimal.schedule.describe() == "hang@dc1 at 0s for 5s"
    assert [c["name"] for c in outcome.minimal.failed_checks] == ["split_brain"]
    assert outcome.replay is not None and outcome.replay.phase == "replay" and outcome.replay.outcome == "failed"
    assert outcome.replay.run_dir != outcome.minimal.run_dir  # really run again
    report = json.loads((outcome.session_dir / "explore.json").read_text())
    assert report["finding"] == "failure" and report["minimal"]["steps"] == 1
    assert report["shrink_steps"] >= 1 and report["examples_run"] == len(model.calls)


def test_minimal_scenario_carries_the_comment_and_loads(tmp_path: Path) -> None:
    outcome = explorer(tmp_path, Model()).explore()
    path = outcome.scenario_file
    assert path is not None and path.parent == outcome.minimal.run_dir.parent  # beside its run directory
    text = path.read_text()
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert any("What failed: split_brain: Two data centres took writes" in line for line in head)
    assert any("How it was found:" in line and "shrink steps" in line and "seed 7" in line for line in head)
    assert any(str(outcome.minimal.run_dir) in line for line in head)
    assert any("Replayed once more after shrinking: failed again" in line for line in head)
    scenario = load_scenario(path)
    assert "split_brain" in scenario.objectives.checks.required
    assert fault_spans(path) == [("hang", "dc1", 5.0)]


def test_a_failure_that_does_not_come_back_is_reported_flaky(tmp_path: Path) -> None:
    outcome = explorer(tmp_path, Model(flaky=True)).explore()
    assert outcome.minimal is not None and outcome.flaky
    assert outcome.replay.outcome == "passed"
    report = json.loads((outcome.session_dir / "explore.json").read_text())
    assert report["finding"] == "flaky"
    assert report["minimal"]["run_dir"] != report["replay"]["run_dir"]  # both runs' evidence
    assert "FLAKY: the replay did not fail" in outcome.scenario_file.read_text()


def test_no_failure_no_finding(tmp_path: Path) -> None:
    def never(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        return result(False)

    outcome = explorer(tmp_path, never, max_examples=12).explore()
    assert outcome.minimal is None and outcome.scenario_file is None
    assert 1 <= len(outcome.ran) <= 12
    assert all(e.outcome == "passed" and e.judged == 2 for e in outcome.ran)


def test_database_tries_a_known_failure_first(tmp_path: Path) -> None:
    first = explorer(tmp_path, Model(), seed=1).explore()
    assert first.minimal is not None
    model = Model()
    second = Explorer(SPACE, tmp_path / "again", tmp_path / "db", model, max_examples=30, seed=99).explore()
    assert second.examples[0].outcome == "failed"  # the saved minimal failure, before anything new
    assert second.examples[0].schedule == first.minimal.schedule


def test_without_the_database_the_first_example_is_new(tmp_path: Path) -> None:
    """The negative of the above: a fresh database starts from generation."""
    explorer(tmp_path, Model(), seed=1).explore()
    second = Explorer(SPACE, tmp_path / "again", tmp_path / "other-db", Model(), max_examples=30, seed=99).explore()
    assert second.examples[0].outcome == "passed"


def test_same_seed_same_examples(tmp_path: Path) -> None:
    def never(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        return result(False)

    a = Explorer(SPACE, tmp_path / "a", tmp_path / "db-a", never, max_examples=8, seed=5).explore()
    b = Explorer(SPACE, tmp_path / "b", tmp_path / "db-b", never, max_examples=8, seed=5).explore()
    assert [e.schedule for e in a.examples] == [e.schedule for e in b.examples]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_budget_stops_generation(tmp_path: Path) -> None:
    clock = Clock()

    def slow(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        clock.now += 10.0
        return result(False)

    outcome = explorer(tmp_path, slow, time_budget=25.0, clock=clock).explore()
    assert "time budget" in outcome.stopped
    assert len(outcome.ran) == 3  # at 0 s, 10 s, 20 s; none at 30 s


def test_time_budget_while_shrinking_keeps_the_best_failure(tmp_path: Path) -> None:
    clock = Clock()
    model = Model()

    def slow(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        clock.now += 10.0
        return model(scenario_file, run_dir)

    outcome = explorer(tmp_path, slow, seed=3, time_budget=1000.0, clock=clock).explore()
    full = len(outcome.ran)
    first = next(e.number for e in outcome.examples if e.outcome == "failed")
    clock.now = 0.0
    budget = 10.0 * first + 5.0  # runs out right after the first failure
    cut = Explorer(SPACE, tmp_path / "cut", tmp_path / "db-cut", slow, max_examples=30, seed=3, time_budget=budget,
                   clock=clock).explore()
    assert cut.minimal is not None and cut.minimal.outcome == "failed"
    assert cut.skipped > 0 and not any(e.outcome == "skipped" for e in cut.examples)  # not run once out of time
    assert cut.replay is not None and cut.replay.run_dir is not None  # the replay runs whatever the clock says
    assert len(cut.ran) < full


def test_harness_errors_stop_the_search(tmp_path: Path) -> None:
    calls = []

    def broken(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        calls.append(run_dir)
        return {"status": "error", "checks": [], "steps": [], "reasons": ["reset failed: dc1 does not answer"]}

    outcome = explorer(tmp_path, broken).explore()
    assert "3 examples in a row ended in a harness error" in outcome.stopped and "dc1 does not answer" in outcome.stopped
    assert len(calls) == 3 and outcome.minimal is None


def test_a_raising_runner_is_an_error_not_a_crash(tmp_path: Path) -> None:
    def refuses(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        raise RuntimeError("no topology")

    outcome = explorer(tmp_path, refuses).explore()
    assert all(e.outcome == "error" and "no topology" in e.error for e in outcome.ran)


def test_same_schedule_is_not_run_twice(tmp_path: Path) -> None:
    model = Model()
    outcome = explorer(tmp_path, model).explore()
    ran = [e for e in outcome.examples if e.phase != "replay" and e.same_as is None]
    keys = [e.schedule.describe() for e in ran]
    assert len(keys) == len(set(keys))
    assert any(e.same_as is not None for e in outcome.examples)  # Hypothesis asked again; the verdict was reused


def test_progress_line(tmp_path: Path) -> None:
    stream = io.StringIO()
    explorer(tmp_path, Model(), stream=stream).explore()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1 run, 0 failing, 0 shrink steps, ")
    assert " left] #1 generate: " in lines[0]
    assert any("shrink:" in line and "FAILED split_brain" in line for line in lines)
    assert "replay:" in lines[-1]


def _ex() -> Example:
    return Example(1, "generate", Schedule(()), None, "")


def test_judge_only_the_property_checks() -> None:
    r = result(False)
    r["checks"][1]["status"] = "failed"  # rpo failed, but the property is split_brain only
    assert judge_example(SPACE, _ex(), r).outcome == "passed"
    everything = load_space_text("name: all\nfaults: [{type: hang}]\n")
    judged = judge_example(everything, _ex(), r)
    assert judged.outcome == "failed" and [c["name"] for c in judged.failed_checks] == ["rpo"]


@pytest.mark.parametrize("broken", [
    {"status": "error", "checks": [], "steps": [], "reasons": ["boom"]},
    {"status": "aborted", "checks": result(False)["checks"], "steps": []},
    {"status": "failed", "checks": result(False)["checks"],
     "steps": [{"stage": "warm-up", "step": "2:expect", "status": "failed"}]},
    {"status": "failed", "checks": result(False)["checks"],
     "steps": [{"stage": "schedule", "step": "1:fault", "status": "failed", "error": "toxiproxy said 500"}]},
])
def test_runs_that_tested_nothing_are_errors(broken: dict[str, Any]) -> None:
    assert judge_example(SPACE, _ex(), broken).outcome == "error"


def test_a_failed_switch_is_not_an_error() -> None:
    r = result(False, steps=[{"stage": "schedule", "step": "2:switchover", "status": "skipped"}])
    assert judge_example(SPACE, _ex(), r).outcome == "passed"


def test_summary_names_the_finding_and_its_files(tmp_path: Path) -> None:
    from drills.explore.commands import print_summary

    out = io.StringIO()
    outcome = explorer(tmp_path, Model()).explore()
    print_summary(outcome, out)
    text = out.getvalue()
    assert "FAILED: split_brain failed on a 1-step schedule: hang@dc1 at 0s for 5s" in text
    assert f"drills run {outcome.scenario_file}" in text and "replay: failed again" in text

    def never(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        return result(False)

    out = io.StringIO()
    print_summary(Explorer(SPACE, tmp_path / "b", tmp_path / "db-b", never, max_examples=3, seed=1).explore(), out)
    assert "no check of the property failed" in out.getvalue() and "FAILED" not in out.getvalue()
