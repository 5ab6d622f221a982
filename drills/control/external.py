"""A controller that is not ours: a user's own commands.

`kind: external` runs the user's failover/switchover/failback commands with the topology's
endpoints in the environment (DRILLS_DC1_SERVICE_HOST, DRILLS_ETCD_ENDPOINT, ...; see
`Topology.endpoint_env`) plus DRILLS_FROM, DRILLS_TO and DRILLS_FORCE, and an optional
long-running `monitor` command for their own automatic failover. The harness does not
decide anything for them: it journals what it ran and what the routing key says after.

(`kind: none` has no controller at all: a switch is an operator writing the routing key with
a `route:` step — `drills.config_center.successor_document` by compare-and-swap.)
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from drills import events
from drills.control.reference import SOURCE, ControllerError
from drills.scenario.model import ControllerSpec
from drills.topology.processes import stop_group

_OUTPUT_TAIL = 2000


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
    def __init__(self, settings: ControllerSpec, topo: Any, journal: Any, cwd: str | None = None):
        self.settings = settings
        self.topo = topo
        self.journal = journal
        self.cwd = cwd
        self.monitor_cmd: str | None = None
        self._monitor: subprocess.Popen[bytes] | None = None

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.topo.endpoint_env())
        env.update(extra)
        return env

    def start(self) -> None:
        if self.monitor_cmd and self._monitor is None:
            self._monitor = subprocess.Popen(self.monitor_cmd, shell=True, env=self._env(), cwd=self.cwd,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)

    def stop(self) -> None:
        proc, self._monitor = self._monitor, None
        if proc is None or proc.poll() is not None:
            return
        stop_group(proc, grace=5.0)

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
        try:
            done = subprocess.run(command, shell=True, env=self._env(DRILLS_FROM=old or "", DRILLS_TO=new,
                                                                      DRILLS_FORCE="1" if force else "0"),
                                  cwd=self.cwd, capture_output=True, timeout=self.settings.command_timeout,
                                  start_new_session=True)
            rc, output = done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")
            error = None if rc == 0 else f"exit status {rc}"
        except subprocess.TimeoutExpired as exc:
            rc, output = None, ((exc.stdout or b"") + (exc.stderr or b"")).decode("utf-8", "replace")
            error = f"timed out after {self.settings.command_timeout}s"
        after = _route_summary(self.topo)
        self.journal.record(SOURCE, end_kind, **ends, **extra, ok=rc == 0, exit_status=rc, error=error,
                            elapsed_ms=round((time.monotonic() - t0) * 1000, 1),
                            output=output[-_OUTPUT_TAIL:], route=after)
        if rc != 0:
            raise ControllerError(f"external {what} command failed ({error}); see the journal for its output")

    def switchover(self, to: str | None = None) -> None:
        self._run("switchover", self.settings.switchover, to, False)

    def failover(self, to: str | None = None, force: bool = False) -> None:
        self._run("failover", self.settings.failover, to, force)

    def failback(self) -> None:
        self._run("failback", self.settings.failback, None, False)
