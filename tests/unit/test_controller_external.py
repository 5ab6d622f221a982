"""Issue 19 item 1 and the events contract: a user's monitor runs in its own process group,
its output is kept (masked) in the run directory, it is waited for with `ready:` and stopped
with everything it spawned on every way out; its `$DRILLS_EVENTS` lines are journaled, and a
line that cannot be read is reported, never dropped."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from drills import masking
from drills.control import ControllerError
from drills.control.external import EventTail, ExternalController, parse_event
from drills.journal import Journal, read
from drills.scenario.model import ControllerSpec


def events_of(journal: Journal, kind: str) -> list[dict[str, Any]]:
    return [r["payload"] for r in read(journal.path) if r["kind"] == kind]


def controller(tmp_path: Path, journal: Journal, interrupted: threading.Event | None = None, **spec: Any) -> ExternalController:
    env = {"PATH": os.environ["PATH"], "SECRET_FOR_TEST": "hunter2-not-a-real-password"}
    settings = ControllerSpec.model_validate({"kind": "external", **spec})
    return ExternalController(settings, None, journal, run_dir=tmp_path, environ=env, interrupted=interrupted)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent is gone for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "journal.jsonl")
    yield j
    j.close()


@pytest.mark.parametrize(("line", "problem"), [
    ("not json", "not JSON"),
    ("[1, 2]", "not an object"),
    ('{"dc": "dc1"}', "no `phase`"),
    ('{"phase": ""}', "no `phase`"),
    ('{"phase": 3}', "no `phase`"),
    ('{"phase": "detected", "time": "yesterday"}', "`time` is not a number"),
    ('{"phase": "detected", "time": true}', "`time` is not a number"),
    ('{"phase": "detected", "time": NaN}', "`time` is not a number"),
    ('{"phase": "detected", "dc": 1}', "`dc` is not"),
])
def test_a_line_that_is_not_an_event_says_why(line: str, problem: str) -> None:
    event, why = parse_event(line)
    assert event is None and problem in (why or "")


def test_an_event_with_extra_fields_is_kept_and_the_fields_named() -> None:
    event, why = parse_event('{"phase": "promoted", "dc": "dc2", "time": 1.5, "host": "db2", "who": "orc"}')
    assert why is None and event == {"phase": "promoted", "dc": "dc2", "time": 1.5, "ignored_fields": ["host", "who"]}


def test_events_are_journaled_on_the_controllers_clock_and_bad_lines_are_reported(tmp_path: Path, journal: Journal) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path, journal)
    tail.start()
    before = time.monotonic_ns()
    with open(path, "a") as fh:
        fh.write(json.dumps({"phase": "detected", "dc": "dc1", "time": time.time() - 0.5}) + "\n")
        fh.write("garbage\n")
        fh.write(json.dumps({"phase": "promoted", "dc": "dc2"}) + "\n")
        fh.write(json.dumps({"phase": "published", "time": 12.0}) + "\n")  # 1970: not a moment of this run
        fh.write('{"phase": "half a li')
    time.sleep(0.4)
    tail.stop()
    got = events_of(journal, "controller.event")
    assert [e["phase"] for e in got] == ["detected", "promoted", "published"]
    assert got[0]["clock"] == "controller" and abs(got[0]["at_mono_ns"] - (before - 500_000_000)) < 150_000_000
    assert got[1]["clock"] == "read" and "clock_problem" not in got[1]
    assert got[2]["clock"] == "read" and got[2]["clock_problem"]
    problems = events_of(journal, "controller.event_problem")
    assert [(p["line"], p["problem"]) for p in problems] == [
        (2, "not JSON (or nested too deeply)"), (5, "the last line was never finished (no newline)")]
    assert problems[0]["text"] == "garbage"


def test_the_monitor_runs_in_its_own_group_its_output_is_masked_and_stop_ends_every_child(
        tmp_path: Path, journal: Journal) -> None:
    masking.register("hunter2-not-a-real-password")
    ctl = controller(tmp_path, journal, monitor='echo "the value: $SECRET_FOR_TEST"; sleep 300 & echo $! > child.pid; '
                                                'trap "" TERM; while :; do sleep 0.1; done',
                     ready='test -s child.pid', ready_timeout="10s")
    ctl.cwd = str(tmp_path)
    ctl.start()
    child = int((tmp_path / "child.pid").read_text())
    monitor = ctl._monitor
    assert monitor is not None and os.getpgid(monitor.pid) == monitor.pid != os.getpgid(0)
    assert alive(child)
    ctl.stop()  # the shell ignores SIGTERM: it and its child are killed after the grace
    assert not alive(child) and monitor.poll() is not None
    log = (tmp_path / "monitor.log").read_text()
    assert "the value: " in log and "hunter2-not-a-real-password" not in log
    actions = [e["action"] for e in events_of(journal, "controller.monitor")]
    assert actions == ["started", "stopped"]
    assert events_of(journal, "controller.ready")[0]["ok"] is True


def test_ready_that_never_succeeds_ends_the_start_and_stops_the_monitor(tmp_path: Path, journal: Journal) -> None:
    ctl = controller(tmp_path, journal, monitor="sleep 300", ready="echo not yet; exit 7", ready_timeout="1s")
    with pytest.raises(ControllerError, match=r"did not succeed within 1s .*exit status 7: not yet"):
        ctl.start()
    assert ctl._monitor is None
    started = events_of(journal, "controller.monitor")[0]
    assert not alive(started["pid"])
    ready = events_of(journal, "controller.ready")
    assert ready[-1]["ok"] is False and ready[-1]["attempts"] >= 2


def test_a_monitor_that_dies_before_it_is_ready_is_reported_with_its_output(tmp_path: Path, journal: Journal) -> None:
    ctl = controller(tmp_path, journal, monitor="echo cannot reach the topology >&2; exit 4", ready="false",
                     ready_timeout="30s")
    t0 = time.monotonic()
    with pytest.raises(ControllerError, match="exited with status 4 before `ready:` succeeded.*cannot reach the topology"):
        ctl.start()
    assert time.monotonic() - t0 < 10  # not the whole ready_timeout


def test_ctrl_c_while_waiting_for_ready_stops_waiting_and_the_monitor(tmp_path: Path, journal: Journal) -> None:
    interrupted = threading.Event()
    ctl = controller(tmp_path, journal, interrupted=interrupted, monitor="sleep 300", ready="false", ready_timeout="60s")
    threading.Timer(0.5, interrupted.set).start()
    t0 = time.monotonic()
    with pytest.raises(ControllerError, match="interrupted"):
        ctl.start()
    assert time.monotonic() - t0 < 5
    assert not alive(events_of(journal, "controller.monitor")[0]["pid"])


def test_a_monitor_that_exits_during_the_run_is_journaled_when_it_does(tmp_path: Path, journal: Journal) -> None:
    ctl = controller(tmp_path, journal, monitor="sleep 0.3; exit 9")
    ctl.start()
    time.sleep(1.0)
    ctl.stop()
    exited = [e for e in events_of(journal, "controller.monitor") if e["action"] == "exited"]
    assert len(exited) == 1 and exited[0]["exit_status"] == 9


def test_the_monitor_gets_the_events_file_in_its_environment(tmp_path: Path, journal: Journal) -> None:
    ctl = controller(tmp_path, journal,
                     monitor='echo "{\\"phase\\": \\"watching\\", \\"time\\": $(date +%s.%N)}" >> "$DRILLS_EVENTS"; sleep 300',
                     ready="grep -q watching \"$DRILLS_EVENTS\"", ready_timeout="10s")
    ctl.start()
    ctl.stop()
    got = events_of(journal, "controller.event")
    assert [e["phase"] for e in got] == ["watching"] and got[0]["clock"] == "controller"


@pytest.mark.parametrize(("text", "message"), [
    ("controller: {kind: external}\n", "needs a `monitor:`"),
    ("controller: {kind: reference, monitor: ./m.sh}\n", "only for controller kind external"),
    ("controller: {kind: reference, ready: 'true'}\n", "only for controller kind external"),
    ("controller: {kind: external, monitor: ./m.sh, ready_timeout: 0s}\n", "ready_timeout"),
])
def test_the_scenario_schema_takes_a_monitor_alone_and_refuses_it_elsewhere(text: str, message: str) -> None:
    from drills.errors import UserError
    from drills.scenario.loader import load_scenario_text

    with pytest.raises(UserError, match=message):
        load_scenario_text("name: x\n" + text, "s.yaml", environ={})
    ok = load_scenario_text("name: x\ncontroller: {kind: external, monitor: ./m.sh, ready: 'true', ready_timeout: 5s}\n",
                            "s.yaml", environ={})
    assert ok.controller.monitor == "./m.sh" and ok.controller.ready_timeout == 5.0


def test_a_monitor_that_starts_its_daemon_and_returns_is_still_stopped_with_it(tmp_path: Path, journal: Journal) -> None:
    """A wrapper that starts the real monitor in the background and exits 0 is running, not
    gone: `ready:` keeps polling, and stop() ends what it left behind."""
    ctl = controller(tmp_path, journal, monitor='sleep 300 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid; exit 0',
                     ready="sleep 0.5; test -s daemon.pid", ready_timeout="10s")
    ctl.cwd = str(tmp_path)
    ctl.start()
    daemon = int((tmp_path / "daemon.pid").read_text())
    assert alive(daemon)
    ctl.stop()
    assert not alive(daemon)
    stopped = [e for e in events_of(journal, "controller.monitor") if e["action"] == "stopped"]
    assert stopped and stopped[0]["stopped_what_it_left_running"] is True


def test_a_failover_command_that_times_out_is_stopped_with_everything_it_started(tmp_path: Path, journal: Journal) -> None:
    """A failover still acting after the harness gave up on it would be a change nobody journaled."""
    from drills.topology.processes import run_command

    done = run_command('(sleep 2; touch late.txt) & sleep 30', env={"PATH": os.environ["PATH"]}, cwd=str(tmp_path),
                       timeout=0.5)
    assert done.timed_out and done.exit_status is None
    time.sleep(2.5)
    assert not (tmp_path / "late.txt").exists()
    left = run_command('(sleep 2; touch late2.txt) </dev/null >/dev/null 2>&1 & echo started', env={"PATH": os.environ["PATH"]},
                       cwd=str(tmp_path), timeout=10)
    assert left.exit_status == 0 and left.left_running and "started" in left.output
    time.sleep(2.5)
    assert not (tmp_path / "late2.txt").exists()


def test_an_events_file_rewritten_instead_of_appended_is_reported(tmp_path: Path, journal: Journal) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path, journal)
    tail.start()
    path.write_text(json.dumps({"phase": "detected", "dc": "dc1"}) + "\n" + json.dumps({"phase": "fenced"}) + "\n")
    time.sleep(0.4)
    path.write_text(json.dumps({"phase": "promoted"}) + "\n")  # `>` instead of `>>`
    time.sleep(0.4)
    tail.stop()
    assert [e["phase"] for e in events_of(journal, "controller.event")] == ["detected", "fenced", "promoted"]
    assert "truncated or rewritten" in events_of(journal, "controller.event_problem")[0]["problem"]


def test_a_line_nested_too_deeply_costs_no_other_line(tmp_path: Path, journal: Journal) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path, journal)
    tail.start()
    with open(path, "a") as fh:
        fh.write("[" * 100_000 + "\n")
        deep: Any = 1
        for _ in range(20):
            deep = [deep]
        fh.write(json.dumps({"phase": "deep", "detail": {"a": deep}}) + "\n")
        fh.write(json.dumps({"phase": "promoted", "dc": "dc2"}) + "\n")
    time.sleep(0.4)
    tail.stop()
    got = events_of(journal, "controller.event")
    assert [e["phase"] for e in got] == ["deep", "promoted"] and isinstance(got[0]["detail"], str)
    assert events_of(journal, "controller.event_problem")[0]["line"] == 1


def test_what_the_controller_writes_to_its_events_file_is_not_kept_in_the_record(tmp_path: Path, journal: Journal) -> None:
    masking.register("hunter2-not-a-real-password")
    ctl = controller(tmp_path, journal, monitor='echo "{\\"phase\\": \\"watching\\", \\"detail\\": \\"$SECRET_FOR_TEST\\"}" '
                                                '>> "$DRILLS_EVENTS"; echo "$DRILLS_PRIVATE_DIR" > private.txt; sleep 300',
                     ready='grep -q watching "$DRILLS_EVENTS"', ready_timeout="10s")
    ctl.cwd = str(tmp_path)
    ctl.start()
    private = Path((tmp_path / "private.txt").read_text().strip())
    assert private.is_dir() and (private.stat().st_mode & 0o777) == 0o700 and tmp_path not in private.parents
    ctl.stop()
    assert not private.exists()
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert "hunter2-not-a-real-password" not in f.read_text(errors="replace"), f
    assert events_of(journal, "controller.event")[0]["phase"] == "watching"
