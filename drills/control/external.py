"""A controller that is not ours: orchestrator, MHA, a cloud console's CLI, a home-grown script.

`kind: external` gives the user's commands what a shell step gets in its environment (see
`Topology.endpoint_env`: each server's *identity* address — the one its replica uses —
the application and link proxies, etcd, the routing key, the admin and replication
accounts; DRILLS_RUN_DIR, DRILLS_SCENARIO_DIR, DRILLS_PARAM_*) and drills them like the
reference controller. Commands run in the scenario's directory:

- `monitor:` — a long-running command that watches and fails over on its own. It runs in its
  own process group with its output masked into `monitor.log` in the run directory, and is
  stopped with everything it spawned on every way out of the run (success, failure, Ctrl-C,
  error). `ready:` is polled until it exits 0 (the monitor has discovered the topology)
  before the drill goes on; failing for `ready_timeout` ends the run before any fault.
- `failover:` / `switchover:` / `failback:` — commands the scenario's steps run, with
  DRILLS_FROM, DRILLS_TO and DRILLS_FORCE added.
- `$DRILLS_EVENTS` — a file any of them may append JSON lines to, one per phase of their
  own (`{"phase": "detected", "dc": "dc1", "time": <unix seconds>}`), journaled (masked) as
  `controller.event` so RTO shows their phases; a line that cannot be read is journaled as
  `controller.event_problem`, never dropped silently. The file itself lives in a private
  directory outside the run directory and is removed at the end — what the controller wrote
  into it unmasked never becomes part of the record. The same directory (mode 0700) is
  `$DRILLS_PRIVATE_DIR`: where a controller puts what holds a secret (orchestrator's
  configuration carries the topology password).

The harness decides nothing for them and believes nothing they say about the outcome: the
route comes from its own watch of the routing key (`drills.observe.route_watch`), the
writes from the client's ledger, fences from the servers themselves.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from drills import events, masking
from drills.control.reference import SOURCE, ControllerError
from drills.scenario.model import ControllerSpec
from drills.topology.processes import group_alive, run_command, stop_group

_OUTPUT_TAIL = 2000
MONITOR_LOG = "monitor.log"
EVENTS_FILE = "events.jsonl"
READY_POLL_S = 0.5
EVENT_POLL_S = 0.1
MONITOR_GRACE_S = 5.0
MAX_EVENT_LINE = 64 * 1024
MAX_DETAIL = 4096  # bytes of an event's `detail` kept (as JSON)


def _route_summary(topo: Any) -> dict[str, Any] | None:
    cc = topo.config_center(via="observer")
    try:
        route = cc.read()
    except Exception:
        return None
    finally:
        cc.close()
    if route is None:
        return None
    return {"active": route.document.get("active"), "epoch": route.document.get("epoch"), "revision": route.revision}


class ExternalController:
    def __init__(self, settings: ControllerSpec, topo: Any, journal: Any, cwd: str | None = None, *,
                 run_dir: Path | None = None, interrupted: threading.Event | None = None,
                 environ: dict[str, str] | None = None):
        self.settings = settings
        self.topo = topo
        self.journal = journal
        self.cwd = cwd or (environ or {}).get("DRILLS_SCENARIO_DIR")  # `./monitor.sh` beside the scenario
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.interrupted = interrupted or threading.Event()
        self.environ = environ
        self._monitor: subprocess.Popen[bytes] | None = None
        self._monitor_started = 0.0
        self._monitor_reader: threading.Thread | None = None
        self._stopping = False
        self._events: EventTail | None = None
        self._events_dir: str | None = None

    @property
    def events_path(self) -> Path | None:
        return Path(self._events_dir) / EVENTS_FILE if self._events_dir is not None else None

    def _env(self, **extra: str) -> dict[str, str]:
        if self.environ is not None:
            env = dict(self.environ)
        else:
            env = dict(os.environ)
            env.update(self.topo.endpoint_env())
        if self._events_dir is not None:
            env["DRILLS_EVENTS"] = str(self.events_path)
            env["DRILLS_PRIVATE_DIR"] = self._events_dir
        env.update(extra)
        return env

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start reading `$DRILLS_EVENTS`, start the monitor, wait for `ready:`. Anything that
        fails here stops what was started before the error is raised."""
        try:
            if self._events is None:
                self._events_dir = tempfile.mkdtemp(prefix="drills-controller-")  # mode 0700
                self._events = EventTail(Path(self._events_dir) / EVENTS_FILE, self.journal)
                self._events.start()
            if self.settings.monitor and self._monitor is None:
                self._start_monitor(self.settings.monitor)
            if self.settings.ready:
                self._wait_ready(self.settings.ready)
        except BaseException:
            try:
                self.stop()
            except Exception:  # noqa: BLE001 - the error that stopped the start is the one to report
                pass
            raise

    def stop(self) -> None:
        """Stop the monitor's whole process group — also when the monitor itself has exited
        and left children behind (a wrapper that started orchestrator and returned) — then
        read the events file one last time and remove it."""
        self._stopping = True
        proc, self._monitor = self._monitor, None
        if proc is not None:
            leader_running = proc.poll() is None
            group_running = group_alive(proc.pid)
            if leader_running or group_running:
                stop_group(proc, grace=MONITOR_GRACE_S)
            if self._monitor_reader is not None:
                self._monitor_reader.join(timeout=2.0)
            if leader_running or group_running:
                self.journal.record(SOURCE, events.CONTROLLER_MONITOR, action="stopped", pid=proc.pid,
                                    exit_status=proc.returncode, ran_s=round(time.monotonic() - self._monitor_started, 3),
                                    **({} if leader_running else {"stopped_what_it_left_running": True}))
        tail, self._events = self._events, None
        try:
            if tail is not None:
                tail.stop()
        finally:
            events_dir, self._events_dir = self._events_dir, None
            if events_dir is not None:
                shutil.rmtree(events_dir, ignore_errors=True)

    def _start_monitor(self, command: str) -> None:
        log_path = self.run_dir / MONITOR_LOG if self.run_dir is not None else None
        try:
            proc = subprocess.Popen(command, shell=True, env=self._env(), cwd=self.cwd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ControllerError(f"controller.monitor: cannot start `{command}`: {exc.strerror}") from None
        self._monitor, self._monitor_started = proc, time.monotonic()
        self.journal.record(SOURCE, events.CONTROLLER_MONITOR, action="started", pid=proc.pid, command=command,
                            output=MONITOR_LOG if log_path else None)
        self._monitor_reader = threading.Thread(target=self._keep_output, args=(proc, log_path),
                                                name="controller monitor output", daemon=True)
        self._monitor_reader.start()

    def _keep_output(self, proc: subprocess.Popen[bytes], log_path: Path | None) -> None:
        """Copy the monitor's output, masked, into monitor.log; when it ends on its own (not
        stopped by us), journal that — a monitor that died cannot fail over."""
        assert proc.stdout is not None
        sink = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115 - closed below
        try:
            for raw in proc.stdout:
                if sink is not None:
                    sink.write(masking.mask(raw.decode("utf-8", "replace")))
                    sink.flush()
        finally:
            if sink is not None:
                sink.close()
        status = proc.wait()
        if not self._stopping:
            self.journal.record(SOURCE, events.CONTROLLER_MONITOR, action="exited", pid=proc.pid, exit_status=status,
                                ran_s=round(time.monotonic() - self._monitor_started, 3),
                                left_running=group_alive(proc.pid))

    def _monitor_gone(self) -> subprocess.Popen[bytes] | None:
        """The monitor, if it and everything it started have ended (a monitor that forked
        its daemon and returned 0 is still running)."""
        proc = self._monitor
        if proc is None or proc.poll() is None or group_alive(proc.pid):
            return None
        return proc

    def _monitor_tail(self, limit: int = 600) -> str:
        if self.run_dir is None:
            return ""
        try:
            text = (self.run_dir / MONITOR_LOG).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-limit:].strip()

    def _wait_ready(self, command: str) -> None:
        timeout = self.settings.ready_timeout
        t0 = time.monotonic()
        deadline = t0 + timeout
        attempts, result = 0, None
        while True:
            gone = self._monitor_gone()
            if gone is not None:
                self.journal.record(SOURCE, events.CONTROLLER_READY, ok=False, attempts=attempts,
                                    waited_ms=round((time.monotonic() - t0) * 1000, 1), monitor_exit_status=gone.returncode)
                if self._monitor_reader is not None:
                    self._monitor_reader.join(timeout=2.0)  # its last words are in monitor.log
                tail = self._monitor_tail()
                raise ControllerError(f"controller.monitor exited with status {gone.returncode} before `ready:` succeeded"
                                      + (f"; the end of {MONITOR_LOG}: {tail}" if tail else ""))
            if self.interrupted.is_set():
                raise ControllerError("interrupted while waiting for the controller to be ready")
            attempts += 1
            result = run_command(command, env=self._env(), cwd=self.cwd, timeout=max(0.1, deadline - time.monotonic()))
            waited = round((time.monotonic() - t0) * 1000, 1)
            if result.exit_status == 0:
                self.journal.record(SOURCE, events.CONTROLLER_READY, ok=True, attempts=attempts, waited_ms=waited)
                return
            if time.monotonic() >= deadline:
                self.journal.record(SOURCE, events.CONTROLLER_READY, ok=False, attempts=attempts, waited_ms=waited,
                                    exit_status=result.exit_status, output=result.output[-_OUTPUT_TAIL:])
                last = "timed out" if result.timed_out else f"exit status {result.exit_status}"
                shown = result.output.strip()[-300:]
                raise ControllerError(f"controller.ready: `{command}` did not succeed within {timeout:g}s "
                                      f"({attempts} attempts, last: {last}{': ' + shown if shown else ''})")
            self.interrupted.wait(READY_POLL_S)

    # ---- commands the steps run -------------------------------------------------------------------
    def _run(self, what: str, command: str | None, to: str | None, force: bool) -> None:
        before = _route_summary(self.topo)
        old = before["active"] if before else None
        new = to or (self.topo.other(old) if old else "")
        ends = {"from": old, "to": new}
        start_kind, end_kind = (
            (events.FAILOVER_START, events.FAILOVER_END) if what == "failover"
            else (events.SWITCHOVER_START, events.SWITCHOVER_END))
        extra = {"mode": "external"} if what == "failover" else {"kind": what}
        if not command:
            self.journal.record(SOURCE, events.FAILOVER_REFUSED, **ends,
                                reason=f"external controller has no `{what}` command")
            raise ControllerError(f"controller.{what}: no command configured for the external controller")
        self.journal.record(SOURCE, start_kind, **ends, **extra, command=command)
        t0 = time.monotonic()
        done = run_command(command, env=self._env(DRILLS_FROM=old or "", DRILLS_TO=new, DRILLS_FORCE="1" if force else "0"),
                           cwd=self.cwd, timeout=self.settings.command_timeout)
        rc = done.exit_status
        error = (f"timed out after {self.settings.command_timeout:g}s (stopped with everything it started)"
                 if done.timed_out else None if rc == 0 else f"exit status {rc}")
        after = _route_summary(self.topo)
        self.journal.record(SOURCE, end_kind, **ends, **extra, ok=rc == 0, exit_status=rc, error=error,
                            elapsed_ms=round((time.monotonic() - t0) * 1000, 1),
                            output=done.output[-_OUTPUT_TAIL:], route=after,
                            **({"stopped_what_it_left_running": True} if done.left_running else {}))
        if rc != 0:
            raise ControllerError(f"external {what} command failed ({error}); see the journal for its output")

    def switchover(self, to: str | None = None) -> None:
        self._run("switchover", self.settings.switchover, to, False)

    def failover(self, to: str | None = None, force: bool = False) -> None:
        self._run("failover", self.settings.failover, to, force)

    def failback(self) -> None:
        self._run("failback", self.settings.failback, None, False)


class EventTail:
    """Journals each complete line appended to `$DRILLS_EVENTS` while the run lasts.

    A line is `{"phase": str, "dc"?: str, "time"?: unix seconds, "detail"?: any}`. Its time
    is the controller's own clock, mapped onto the journal's monotonic clock; a line without
    one (or with a time that is not a moment of this run) takes the moment it was read, and
    says so (`clock: read`). Anything else is a `controller.event_problem` naming the line.
    """

    def __init__(self, path: Path, journal: Any):
        self.path = path
        self.journal = journal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offset = 0
        self._line_no = 0
        self._pending = b""
        self._started_wall = time.time()
        path.touch(mode=0o600, exist_ok=True)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="controller events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._read(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(EVENT_POLL_S):
            try:
                self._read()
            except Exception as exc:  # noqa: BLE001 - the tail must outlive anything a controller writes
                self._problem(None, f"reading the events file failed ({type(exc).__name__})", "")

    def _problem(self, line: int | None, problem: str, text: str) -> None:
        self.journal.record(SOURCE, events.CONTROLLER_EVENT_PROBLEM, line=line, problem=problem, text=text[:300])

    def _read(self, final: bool = False) -> None:
        try:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size < self._offset:
                    # rewritten (`>` instead of `>>`) or truncated: what was in between is lost
                    self._problem(self._line_no, "the file was truncated or rewritten after this line "
                                  "(append with >>): lines written in between may be lost", "")
                    self._offset, self._pending = 0, b""
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError as exc:
            if final:
                self._problem(None, f"the events file could not be read: {exc.strerror}", "")
            return
        self._offset += len(chunk)
        data = self._pending + chunk
        *lines, self._pending = data.split(b"\n")
        for raw in lines:
            self._line(raw)
        if len(self._pending) > MAX_EVENT_LINE:
            self._line(self._pending, problem=f"a line longer than {MAX_EVENT_LINE} bytes")
            self._pending = b""
        if final and self._pending.strip():
            self._line(self._pending, problem="the last line was never finished (no newline)")
            self._pending = b""

    def _line(self, raw: bytes, problem: str | None = None) -> None:
        self._line_no += 1
        text = raw.decode("utf-8", "replace").strip()
        try:
            self._journal_line(text, problem)
        except Exception as exc:  # noqa: BLE001 - one line never costs the others
            self._problem(self._line_no, f"the line could not be journaled ({type(exc).__name__})", text)

    def _journal_line(self, text: str, problem: str | None) -> None:
        if not text and problem is None:
            return
        if problem is None:
            event, problem = parse_event(text)
        if problem is not None:
            self._problem(self._line_no, problem, text)
            return
        assert event is not None
        now_mono, now_wall = time.monotonic_ns(), time.time()
        payload: dict[str, Any] = {"phase": event["phase"], "line": self._line_no}
        if "dc" in event:
            payload["dc"] = event["dc"]
        for key in ("detail", "ignored_fields"):
            if key in event:
                payload[key] = event[key]
        stamp = event.get("time")
        if stamp is not None and self._started_wall - 1.0 <= stamp <= now_wall + 1.0:
            payload["at_mono_ns"] = now_mono - int((now_wall - stamp) * 1e9)
            payload["clock"] = "controller"
        else:
            payload["at_mono_ns"] = now_mono
            payload["clock"] = "read"
            if stamp is not None:
                payload["clock_problem"] = "its time is not a moment of this run"
        self.journal.record(SOURCE, events.CONTROLLER_EVENT, **payload)


def parse_event(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """One `$DRILLS_EVENTS` line: (the event, None) or (None, what is wrong with it)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None, "not JSON (or nested too deeply)"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    phase = value.get("phase")
    if not isinstance(phase, str) or not phase.strip() or len(phase) > 64:
        return None, "no `phase` (a short string: detected, fenced, promoted, published, ...)"
    out: dict[str, Any] = {"phase": phase.strip()}
    if "dc" in value:
        if not isinstance(value["dc"], str) or len(value["dc"]) > 64:
            return None, "`dc` is not a data centre name"
        out["dc"] = value["dc"]
    if "time" in value:
        stamp = value["time"]
        if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not math.isfinite(stamp):
            return None, "`time` is not a number of seconds since the epoch (date +%s.%N)"
        out["time"] = float(stamp)
    if "detail" in value:
        out["detail"] = bounded_detail(value["detail"])
    unknown = sorted(set(value) - {"phase", "dc", "time", "detail"})
    if unknown:  # kept, and named, rather than losing the event
        out["ignored_fields"] = unknown[:20]
    return out, None


def bounded_detail(detail: Any) -> Any:
    """An event's `detail` as the journal keeps it: as given when small and shallow, else its
    JSON text cut to MAX_DETAIL bytes (a controller's dump must not swell or break the record)."""
    if _depth(detail, 16) <= 16:
        text = json.dumps(detail, default=str)
        if len(text) <= MAX_DETAIL:
            return detail
    else:
        text = repr(type(detail).__name__) + " nested deeper than 16 levels"
    return text[:MAX_DETAIL]


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a JSON value, counting no further than limit + 1 (no recursion)."""
    depth, stack = 0, [(value, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict | list):
            depth = max(depth, d)
            if d > limit:
                return d
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return depth
