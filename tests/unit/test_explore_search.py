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

SPACE_SOURCE = """\
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
"""
SPACE = load_space_text(SPACE_SOURCE, "model.yaml")


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


# ---- review of issue 15: what must not pass for a finding, or for a clean search ----------------

BOTH = load_space_text("""\
name: both
controller: {kind: reference, edge_fencing: false}
faults:
  - {type: hang, targets: [dc1]}
at: {min: 0s, max: 2s, step: 1s}
duration: {min: 1s, max: 7s, step: 2s}
property: {checks: [split_brain, rto]}
""", "both.yaml")


def test_an_unknown_property_check_is_inconclusive_not_a_pass(tmp_path: Path) -> None:
    """rto is named by the property and comes back `unknown` on every example: no example
    tested the property, so the search is inconclusive (exit 3), never "nothing failed" (exit 0)."""
    from drills.explore.commands import exit_code, print_summary

    def rto_unknown(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        return result(False)  # split_brain passed, rto unknown

    outcome = Explorer(BOTH, tmp_path / "s", tmp_path / "db", rto_unknown, max_examples=5, seed=1).explore()
    assert outcome.minimal is None and outcome.ran
    assert all(e.outcome == "inconclusive" and e.unknown_checks == ["rto"] for e in outcome.ran)
    assert outcome.verdict == "inconclusive" and exit_code(outcome) == 3
    report = json.loads((outcome.session_dir / "explore.json").read_text())
    assert report["verdict"] == "inconclusive" and report["inconclusive"] == len(outcome.ran)
    out = io.StringIO()
    print_summary(outcome, out)
    assert "INCONCLUSIVE" in out.getvalue() and "could not decide rto" in out.getvalue()
    assert "\nno check of the property failed\n" not in out.getvalue()


def test_a_property_check_never_evaluated_is_inconclusive() -> None:
    r = result(False)
    r["checks"] = [c for c in r["checks"] if c["name"] != "rto"]  # not in result.json at all
    judged = judge_example(BOTH, _ex(), r)
    assert judged.outcome == "inconclusive" and judged.unknown_checks == ["rto"]


def test_unknown_outside_an_explicit_property_is_not_inconclusive() -> None:
    """The negative: rto unknown, but the property names split_brain only (SPACE): passed.
    With the default property (every check the run can judge) an unknown check is outside it."""
    assert judge_example(SPACE, _ex(), result(False)).outcome == "passed"
    everything = load_space_text("name: all\nfaults: [{type: hang}]\n")
    assert judge_example(everything, _ex(), result(False)).outcome == "passed"


def test_errors_make_a_clean_search_inconclusive(tmp_path: Path) -> None:
    """One harness error in every other example never reaches three in a row; the search must
    still not end as a clean pass."""
    from drills.explore.commands import exit_code

    calls = []

    def every_other(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        calls.append(run_dir)
        if len(calls) % 2:
            return {"status": "error", "checks": [], "steps": [], "reasons": ["reset failed"]}
        return result(False)

    outcome = explorer(tmp_path, every_other, max_examples=8).explore()
    assert not outcome.stopped and outcome.minimal is None
    assert any(e.outcome == "error" for e in outcome.ran) and any(e.outcome == "passed" for e in outcome.ran)
    assert outcome.verdict == "inconclusive" and exit_code(outcome) == 3


def test_clean_search_exits_0(tmp_path: Path) -> None:
    from drills.explore.commands import exit_code

    def never(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        return result(False)

    outcome = explorer(tmp_path, never, max_examples=5).explore()
    assert outcome.verdict == "passed" and exit_code(outcome) == 0


@pytest.mark.parametrize("broken", [
    {"status": "error", "checks": result(True)["checks"], "steps": [], "reasons": ["heal failed"]},
    {"status": "failed", "checks": result(True)["checks"],
     "steps": [{"stage": "warm-up", "step": "2:expect", "status": "failed", "error": "no write on dc1"}]},
])
def test_a_failed_check_in_a_run_that_did_not_run_as_drawn_is_not_a_finding(broken: dict[str, Any]) -> None:
    judged = judge_example(SPACE, _ex(), broken)
    assert judged.outcome == "error" and judged.failed_checks == []
    assert "split_brain" in judged.error  # named, not hidden


def test_a_search_whose_failures_all_come_with_harness_errors_finds_nothing(tmp_path: Path) -> None:
    model = Model()

    def fault_not_injected(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        r = model(scenario_file, run_dir)
        if r["status"] == "failed":  # split brain: but only where a fault step failed too
            r["steps"] = [{"stage": "schedule", "step": "1:fault", "status": "failed", "error": "toxiproxy said 500"}]
        return r

    outcome = explorer(tmp_path, fault_not_injected).explore()
    assert any(e.outcome == "passed" for e in outcome.ran)  # not stopped before the model could split
    assert any(e.outcome == "error" and "split_brain" in e.error for e in outcome.ran)
    assert outcome.minimal is None and outcome.scenario_file is None
    assert outcome.verdict == "inconclusive"


def _db_files(db: Path) -> list[Path]:
    return [p for p in db.rglob("*") if p.is_file()] if db.exists() else []


def test_an_example_stopped_by_the_time_budget_is_not_saved_as_a_failure(tmp_path: Path) -> None:
    """Hypothesis saves the choices of any example that raised; the one that stops the search
    was never run, and must not be the first thing tried next time."""
    clock = Clock()

    def slow(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        clock.now += 10.0
        return result(False)

    outcome = explorer(tmp_path, slow, time_budget=25.0, clock=clock).explore()
    assert "time budget" in outcome.stopped
    assert _db_files(tmp_path / "db") == []


def test_an_example_stopped_by_harness_errors_is_not_saved(tmp_path: Path) -> None:
    def broken(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        return {"status": "error", "checks": [], "steps": [], "reasons": ["reset failed"]}

    outcome = explorer(tmp_path, broken).explore()
    assert "harness error" in outcome.stopped and _db_files(tmp_path / "db") == []


def test_a_real_failure_is_saved(tmp_path: Path) -> None:
    """The negative of the two above: the guard does not stop a real failure being saved."""
    explorer(tmp_path, Model()).explore()
    assert _db_files(tmp_path / "db")


def test_the_database_is_keyed_by_space(tmp_path: Path) -> None:
    """Two spaces sharing an --out directory share the database directory; one's failure is not
    replayed as the first example of the other."""
    explorer(tmp_path, Model(), seed=1).explore()
    other = load_space_text(SPACE_SOURCE.replace("name: model", "name: other"), "other.yaml")
    second = Explorer(other, tmp_path / "again", tmp_path / "db", Model(), max_examples=30, seed=99).explore()
    assert second.examples[0].outcome == "passed"  # generated, as with a fresh database


def test_a_replay_failing_another_check_is_flaky_and_names_it(tmp_path: Path) -> None:
    """Default property (every check): the minimal example failed split_brain, its replay
    passed split_brain but failed rpo. That is not "failed again": the finding did not come
    back; the replay's own failure is named."""
    every = load_space_text(SPACE_SOURCE.replace("property: {checks: [split_brain]}\n", ""), "every.yaml")
    assert every.property_checks() is None
    model = Model()

    def other_check_on_replay(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        r = model(scenario_file, run_dir)
        if model.seen[repr(fault_spans(scenario_file))] > 1:  # the replay
            r = result(False)
            r["status"] = "failed"
            r["checks"][1]["status"] = "failed"  # rpo
        return r

    outcome = Explorer(every, tmp_path / "s", tmp_path / "db", other_check_on_replay, max_examples=30,
                       seed=7).explore()
    assert outcome.minimal is not None and [c["name"] for c in outcome.minimal.failed_checks] == ["split_brain"]
    assert outcome.replay.outcome == "failed"
    assert outcome.replay_verdict == "flaky" and outcome.verdict == "flaky"
    text = outcome.scenario_file.read_text()
    assert "FLAKY: the replay did not fail the same way (failed, failed instead: rpo" in text
    assert str(outcome.minimal.run_dir) in text and str(outcome.replay.run_dir) in text


def test_a_replay_that_errors_is_unconfirmed_not_flaky(tmp_path: Path) -> None:
    from drills.explore.commands import exit_code, print_summary

    model = Model()

    def replay_errors(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        r = model(scenario_file, run_dir)
        if model.seen[repr(fault_spans(scenario_file))] > 1:
            return {"status": "error", "checks": [], "steps": [], "reasons": ["reset failed: dc2 down"]}
        return r

    outcome = explorer(tmp_path, replay_errors).explore()
    assert outcome.replay_verdict == "unconfirmed" and not outcome.flaky and exit_code(outcome) == 1
    text = outcome.scenario_file.read_text()
    assert "UNCONFIRMED: the replay could not judge (error: reset failed: dc2 down" in text
    assert str(outcome.replay.run_dir) in text
    out = io.StringIO()
    print_summary(outcome, out)
    assert out.getvalue().startswith("explore model:") and "UNCONFIRMED: split_brain failed" in out.getvalue()


class FakeLocal:
    """drills.topology.local's up/down, recorded: which topology explore brought up and took down."""

    def __init__(self) -> None:
        self.up_dirs: list[Path] = []
        self.down_dirs: list[Path] = []

    def up(self, state_dir: Path, progress: Any = None) -> None:
        self.up_dirs.append(Path(state_dir))

    def down(self, state_dir: Path) -> None:
        self.down_dirs.append(Path(state_dir))


def _interrupting(scenario_file: Path, run_dir: Path) -> dict[str, Any]:
    raise KeyboardInterrupt


@pytest.fixture
def fake_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeLocal:
    from drills.explore import commands
    from drills.topology import local

    fake = FakeLocal()
    monkeypatch.setattr(local, "up", fake.up)
    monkeypatch.setattr(local, "down", fake.down)
    monkeypatch.setattr(local, "state_root", lambda: tmp_path / "home")
    monkeypatch.setattr(commands, "drill_runner", lambda state_dir: _interrupting)
    return fake


def test_ctrl_c_takes_down_the_topology_explore_brought_up_and_keeps_the_report(
        tmp_path: Path, fake_local: FakeLocal) -> None:
    from drills.explore.commands import explore

    with pytest.raises(KeyboardInterrupt):
        explore(SPACE, out=tmp_path / "out", max_examples=3, seed=1)
    assert len(fake_local.up_dirs) == 1 and fake_local.down_dirs == fake_local.up_dirs
    report = json.loads(next((tmp_path / "out").glob("*/explore.json")).read_text())
    assert report["stopped"] == "interrupted (Ctrl-C)" and report["verdict"] == "interrupted"


def test_ctrl_c_leaves_a_topology_explore_did_not_bring_up(
        tmp_path: Path, fake_local: FakeLocal, monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative: with --state-dir of a running topology, explore neither starts nor stops it."""
    from drills.explore.commands import explore
    from drills.topology.state import Topology

    monkeypatch.setattr(Topology, "exists", staticmethod(lambda state_dir: True))
    with pytest.raises(KeyboardInterrupt):
        explore(SPACE, out=tmp_path / "out", max_examples=3, seed=1, state_dir=tmp_path / "running")
    assert fake_local.up_dirs == [] and fake_local.down_dirs == []


class EdgeModel(Model):
    """A lone hang of 3 s, at the edge of the failover, splits the brain only the first time it is
    run (a race); longer hangs always do. Shrinking lands on the edge."""

    def __call__(self, scenario_file: Path, run_dir: Path) -> dict[str, Any]:
        self.calls.append(run_dir)
        spans = fault_spans(scenario_file)
        edge = spans == [("hang", "dc1", 3.0)]
        self.seen["edge"] += edge
        split = any(t == "hang" and d >= 4 for t, _, d in spans) or (edge and self.seen["edge"] == 1)
        (run_dir / "result.json").write_text(json.dumps(result(split)))
        return result(split)


def test_a_minimal_schedule_at_the_edge_falls_back_to_the_smallest_that_fails_again(tmp_path: Path) -> None:
    """The smallest failure did not come back on replay: the larger failures found on the way down
    are replayed until one does; that one is the written scenario, and the flaky smaller one is
    reported with both runs' evidence (found in CI: `hang@dc1 for 3s` failed once, passed on replay)."""
    outcome = explorer(tmp_path, EdgeModel()).explore()
    assert outcome.minimal is not None and outcome.replay_verdict == "reproduced" and outcome.verdict == "failure"
    assert outcome.minimal.schedule.describe() == "hang@dc1 at 0s for 5s"
    assert outcome.flaky_minimal is not None and outcome.flaky_replay is not None
    assert outcome.flaky_minimal.schedule.describe() == "hang@dc1 at 0s for 3s"
    assert outcome.flaky_replay.outcome == "passed" and outcome.replay.outcome == "failed"
    assert fault_spans(outcome.scenario_file) == [("hang", "dc1", 5.0)]
    text = outcome.scenario_file.read_text()
    assert "FLAKY, smaller: hang@dc1 at 0s for 3s" in text and str(outcome.flaky_replay.run_dir) in text
    report = json.loads((outcome.session_dir / "explore.json").read_text())
    assert report["finding"] == "failure" and report["flaky_smaller"]["example"]["steps"] == 1
