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
        (2, "not JSON"), (5, "the last line was never finished (no newline)")]
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
