"""Process faults: crash (SIGKILL), hang (SIGSTOP) and restart of a server or of etcd.

Only processes of this topology are signalled: the pid is re-read from the state
directory (a heal or a reset may have restarted the process since the handle was loaded)
and must carry the state directory in its command line, so a reused pid of an unrelated
process is never touched. The targeted wait reaps only the pid it killed, never any child
(the runner's shell steps keep their exit codes).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from drills.faults.base import Fault, FaultError
from drills.mysql import admin
from drills.topology import processes as proc
from drills.topology.processes import process_state
from drills.topology.state import ProcessState, ServerState

STOP_TIMEOUT = 30.0
KILL_TIMEOUT = 5.0


class ProcessFault(Fault):
    family = "process"

    def _component(self) -> ServerState | ProcessState:
        if self.topo.provider != "local":
            raise FaultError(f"fault {self.name!r}: process faults need the local provider "
                             f"(this topology is {self.topo.provider!r}; its processes are not ours to signal)")
        self.topo.refresh_pids()
        return self.topo.servers.get(self.target) or self.topo.etcd

    def _running_pid(self) -> int:
        state = self._component()
        if not proc.ours(state.pid, str(self.topo.state_dir)):
            raise FaultError(f"fault {self.name!r}: {self.target} is not running (pid {state.pid}); nothing to "
                             f"{self.type}", hint="heal the fault that stopped it, or reset the topology")
        return int(state.pid)  # type: ignore[arg-type]

    def _replica_was_running(self) -> bool | None:
        """Whether the target is a replica whose threads run now (so a restart must start
        them again: servers run with --skip-slave-start). None when it cannot be asked."""
        if self.target not in self.topo.servers:
            return None
        try:
            conn = self.topo.connect(self.target, timeout=2.0, read_timeout=2.0)
        except Exception:  # noqa: BLE001 - an unreachable server: decide after the restart
            return None
        try:
            status = admin.replica_status(conn)
        except Exception:  # noqa: BLE001
            return None
        finally:
            conn.close()
        return bool(status and (status.io_state in ("Yes", "Connecting") or status.sql_running))

    def _bring_back(self) -> dict[str, Any]:
        """Start the component again if it is gone (resume it if stopped), then restart its
        replication threads when it is a replica that was replicating."""
        from drills.topology import local  # local imports processes/config: keep the import lazy

        self._component()
        pid = local.ensure_running(self.topo, self.target)
        out: dict[str, Any] = {"pid": pid}
        if self.target in self.topo.servers and self.details.get("replicating") is not False:
            conn = self.topo.connect(self.target, timeout=5.0, read_timeout=30.0)
            try:
                status = admin.replica_status(conn)
                if status is not None and not (status.io_state in ("Yes", "Connecting") and status.sql_running):
                    admin.start_replica(conn)
                    out["replication_started"] = True
            finally:
                conn.close()
        return out


class CrashFault(ProcessFault):
    def _inject(self) -> None:
        pid = self._running_pid()
        self.details = {"pid": pid, "replicating": self._replica_was_running()}
        self._touch()
        os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, KILL_TIMEOUT):
            raise FaultError(f"fault {self.name!r}: {self.target} (pid {pid}) survived SIGKILL for {KILL_TIMEOUT:.0f}s")

    def _heal(self) -> dict[str, Any] | None:
        return self._bring_back()


class HangFault(ProcessFault):
    def _inject(self) -> None:
        pid = self._running_pid()
        self.details = {"pid": pid}
        self._touch()
        os.kill(pid, signal.SIGSTOP)
        if not _wait_state(pid, stopped=True, timeout=KILL_TIMEOUT):
            raise FaultError(f"fault {self.name!r}: {self.target} (pid {pid}) did not stop on SIGSTOP")

    def _heal(self) -> dict[str, Any] | None:
        pid = self.details.get("pid")
        if pid and proc.ours(pid, str(self.topo.state_dir)):
            os.kill(pid, signal.SIGCONT)
            if not _wait_state(pid, stopped=False, timeout=KILL_TIMEOUT):
                raise FaultError(f"{self.target} (pid {pid}) did not resume on SIGCONT")
            return {"pid": pid}
        return self._bring_back()  # it died while stopped: start it again


class RestartFault(ProcessFault):
    """Instantaneous: inject stops cleanly and starts again; nothing remains to heal unless
    the start failed (then heal tries the start again)."""

    def _inject(self) -> None:
        pid = self._running_pid()
        self.details = {"old_pid": pid, "replicating": self._replica_was_running()}
        t0 = time.monotonic()
        self._touch()
        os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, KILL_TIMEOUT)
            self.details["killed_after_s"] = STOP_TIMEOUT
        back = self._bring_back()
        self.details["new_pid"] = back["pid"]
        self.details["downtime_ms"] = int((time.monotonic() - t0) * 1000)

    def _heal(self) -> dict[str, Any] | None:
        return self._bring_back()


def _wait_gone(pid: int, timeout: float) -> bool:
    """Until every thread has exited (`is_alive` looks at all of them: a killed server's main
    thread turns zombie while the others still hold its port and InnoDB lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.reap([pid])
        if not proc.is_alive(pid):
            return True
        time.sleep(0.005)
    return not proc.is_alive(pid)


def _wait_state(pid: int, *, stopped: bool, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = process_state(pid)
        if not state:
            return not stopped
        if (state in ("T", "t")) == stopped:
            return True
        time.sleep(0.005)
    return False
