"""The engine's control flow — retry, on_failure, parallel stages, time bounds, interruption —
with scripted actions (no topology: this is the part that must be right whatever the parts do)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.journal import Journal, read, verify
from drills.runner.stages import Engine, StepCall, StepError
from drills.scenario.model import Stage, Step


class Script:
    """`shell: "fail:N"` fails the first N attempts of that step; `shell: "sleep:S"` sleeps
    cooperatively; `shell: "boom"` raises a non-StepError exception (an action's bug)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, step: Step, call: StepCall) -> dict:
        cmd = step.shell
        assert isinstance(cmd, str)
        key = f"{call.stage}/{call.index}"
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            n = self.calls[key]
        if cmd.startswith("fail:") and n <= int(cmd.split(":")[1]):
            raise StepError(f"scripted failure {n}")
        if cmd.startswith("sleep:"):
            call.sleep(float(cmd.split(":")[1]))
        if cmd == "boom":
            raise RuntimeError("bug in an action")
        return {"attempt": n}


def step(cmd: str, **kw) -> Step:
    return Step(shell=cmd, **kw)


def run(tmp_path: Path, stages: list[Stage], interrupted: threading.Event | None = None):
    journal = Journal(tmp_path / "journal.jsonl")
    script = Script()
    engine = Engine(journal, {"shell": script}, interrupted=interrupted, slice_s=0.01, retry_pause_s=0.01)
    outcome = engine.run(stages)
    journal.close()
    return outcome, script, read(tmp_path / "journal.jsonl")


def test_retry_until_success_counts_attempts(tmp_path: Path) -> None:
    outcome, script, _ = run(tmp_path, [Stage(name="s", steps=[step("fail:2", retry=2)])])
    assert outcome.status == "completed"
    assert outcome.records[0].status == "ok" and outcome.records[0].attempts == 3


def test_retries_exhausted_fail_and_abort_stops_the_run(tmp_path: Path) -> None:
    stages = [Stage(name="a", steps=[step("fail:9", retry=1), step("ok")]), Stage(name="b", steps=[step("ok")])]
    outcome, script, journal = run(tmp_path, stages)
    assert outcome.status == "failed"
    assert [r.label for r in outcome.records] == ["1:shell"]  # nothing after the abort ran
    assert outcome.records[0].attempts == 2 and outcome.records[0].error == "scripted failure 2"
    end = [e for e in journal if e["kind"] == "step.end"][0]["payload"]
    assert end["status"] == "failed" and end["attempt_errors"] == ["scripted failure 1", "scripted failure 2"]
    assert "a/1" not in script.calls and "b/0" not in script.calls


def test_continue_records_the_failure_and_goes_on(tmp_path: Path) -> None:
    stages = [Stage(name="a", steps=[step("fail:9", on_failure="continue"), step("ok")])]
    outcome, _, _ = run(tmp_path, stages)
    assert outcome.status == "failed"
    assert [r.status for r in outcome.records] == ["failed", "ok"]


def test_skip_tolerates_the_failure(tmp_path: Path) -> None:
    stages = [Stage(name="a", steps=[step("fail:9", on_failure="skip"), step("ok")])]
    outcome, _, _ = run(tmp_path, stages)
    assert outcome.status == "completed"
    assert [r.status for r in outcome.records] == ["skipped", "ok"]


def test_an_action_bug_fails_the_step_with_its_type(tmp_path: Path) -> None:
    outcome, _, journal = run(tmp_path, [Stage(name="a", steps=[step("boom")])])
    assert outcome.records[0].error == "RuntimeError: bug in an action"
    assert "traceback" in [e for e in journal if e["kind"] == "step.end"][0]["payload"]["details"]


def test_parallel_steps_run_concurrently(tmp_path: Path) -> None:
    t0 = time.monotonic()
    outcome, _, _ = run(tmp_path, [Stage(name="p", parallel=True, steps=[step("sleep:0.4"), step("sleep:0.4"), step("sleep:0.4")])])
    assert outcome.status == "completed"
    assert time.monotonic() - t0 < 1.0  # serially it would take 1.2s


def test_abort_in_a_parallel_stage_cancels_the_siblings(tmp_path: Path) -> None:
    stages = [Stage(name="p", parallel=True, steps=[step("fail:9"), step("sleep:30")]), Stage(name="b", steps=[step("ok")])]
    t0 = time.monotonic()
    outcome, _, _ = run(tmp_path, stages)
    assert time.monotonic() - t0 < 5
    assert outcome.status == "failed"
    by_index = {r.index: r for r in outcome.records}
    assert by_index[0].status == "failed" and by_index[1].status == "skipped"
    assert all(r.stage == "p" for r in outcome.records)


def test_step_timeout_abandons_a_slow_attempt(tmp_path: Path) -> None:
    outcome, _, _ = run(tmp_path, [Stage(name="a", steps=[step("sleep:30", timeout=0.2)])])
    assert outcome.records[0].status == "failed" and outcome.records[0].error == "timed out after 0.2s"


def test_interruption_stops_the_run_as_aborted(tmp_path: Path) -> None:
    flag = threading.Event()
    threading.Timer(0.3, flag.set).start()
    t0 = time.monotonic()
    outcome, script, journal = run(tmp_path, [Stage(name="a", steps=[step("sleep:30"), step("ok")]),
                                              Stage(name="b", steps=[step("ok")])], interrupted=flag)
    assert time.monotonic() - t0 < 3
    assert outcome.status == "aborted"
    assert [r.status for r in outcome.records] == ["failed"]
    assert outcome.records[0].error == "cancelled: run interrupted"
    assert [e["payload"]["status"] for e in journal if e["kind"] == "stage.end"] == ["aborted"]
    assert verify(tmp_path / "journal.jsonl").ok


# ---- property: whatever the mix of outcomes and policies, the bookkeeping holds -------------------

STEP = st.builds(
    lambda fails, retry, policy: step(f"fail:{fails}", retry=retry, on_failure=policy),
    st.integers(0, 3), st.integers(0, 2), st.sampled_from(["abort", "continue", "skip"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.lists(STEP, min_size=1, max_size=4)), min_size=1, max_size=3))
def test_engine_bookkeeping(tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[bool, list[Step]]]) -> None:
    stages = [Stage(name=f"s{i}", parallel=par, steps=steps) for i, (par, steps) in enumerate(plan)]
    outcome, script, journal = run(tmp_path_factory.mktemp("e"), stages)
    # expected: walk the plan with the rules of the README
    expected_failed = False
    ran: set[tuple[str, int]] = set()
    for st_ in stages:
        stop = False
        for i, s in enumerate(st_.steps):
            fails = int(str(s.shell).split(":")[1])
            ran.add((st_.name, i))
            if fails > s.retry and s.on_failure != "skip":
                expected_failed = True
                if s.on_failure == "abort":
                    stop = True
                    if not st_.parallel:
                        break
        if stop:
            break
    assert outcome.status == ("failed" if expected_failed else "completed")
    got = {(r.stage, r.index) for r in outcome.records}
    assert got == ran
    for r in outcome.records:
        stage = stages[int(r.stage[1:])]
        s = stage.steps[r.index]
        fails = int(str(s.shell).split(":")[1])
        want = "ok" if fails <= s.retry else ("skipped" if s.on_failure == "skip" else "failed")
        aborting = any(int(str(x.shell).split(":")[1]) > x.retry and x.on_failure == "abort" for x in stage.steps)
        if stage.parallel and aborting:
            # a sibling's abort may cancel this step between attempts: timing decides how far it got
            assert 1 <= r.attempts <= min(fails, s.retry) + 1
            assert r.status in {want, "failed", "skipped"}
        else:
            assert r.attempts == min(fails, s.retry) + 1
            assert r.status == want
    for i, st_ in enumerate(stages):
        if st_.parallel and (st_.name, 0) in ran and any(int(str(x.shell).split(":")[1]) > x.retry and x.on_failure == "abort" for x in st_.steps):
            assert any(r.stage == st_.name and r.status == "failed" and r.on_failure == "abort" for r in outcome.records), i
    starts = [e for e in journal if e["kind"] == "step.start"]
    ends = [e for e in journal if e["kind"] == "step.end"]
    assert len(starts) == len(ends) == len(outcome.records)
