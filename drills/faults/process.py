"""Process faults: crash (SIGKILL), hang (SIGSTOP) and restart of a server or of etcd.

The signalling itself is the provider's (`Topology.process_control`, e.g.
`drills.topology.local.LocalProcesses`); a fault here decides what must happen around it —
a replica restarted must replicate again — and refuses, naming the missing capability,
when the provider offers no process control.
"""

from __future__ import annotations

from typing import Any

from drills.faults.base import Fault, FaultError
from drills.mysql import admin
from drills.topology.provider import ProcessControl


class ProcessFault(Fault):
    """A fault on a process of the topology, through its provider's process control — a
    capability some providers (someone else's servers) do not offer."""

    family = "process"

    def _control(self) -> ProcessControl:
        control = getattr(self.topo, "process_control", None)
        if control is None:
            raise FaultError(f"fault {self.name!r}: {self.type} needs process control, which the "
                             f"{self.topo.provider} provider does not offer for this topology")
        return control

    def _replica_state(self) -> dict[str, Any]:
        """Whether the target is a replica whose threads run now (so a restart must start them
        again: servers run with --skip-slave-start; None when it cannot be asked), and the
        filters in force on it (dynamic variables, gone with the process: the ones to put back,
        which are not the declared list on every link — active-active ignores the central
        database on the link into the central unit)."""
        if self.target not in self.topo.servers:
            return {"replicating": None}
        try:
            conn = self.topo.connect(self.target, timeout=2.0, read_timeout=2.0)
        except Exception:  # noqa: BLE001 - an unreachable server: decide after the restart
            return {"replicating": None}
        try:
            status = admin.replica_status(conn)
            filters = admin.read_filters(conn) if status is not None else None
        except Exception:  # noqa: BLE001
            return {"replicating": None}
        finally:
            conn.close()
        state: dict[str, Any] = {"replicating": bool(status and (status.io_state in ("Yes", "Connecting")
                                                                  or status.sql_running))}
        if filters is not None:
            state["filters"] = filters
        return state

    def _bring_back(self, how: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start the component again if it is gone (resume it if stopped), then restart its
        replication threads, with the filters it had before the fault (the declared list when
        they could not be read), when it is a replica that was replicating."""
        out = dict(how) if how is not None else self._control().ensure_running(self.target)
        if self.target in self.topo.servers and self.details.get("replicating") is not False:
            conn = self.topo.connect(self.target, timeout=5.0, read_timeout=30.0)
            try:
                status = admin.replica_status(conn)
                if status is not None and not (status.io_state in ("Yes", "Connecting") and status.sql_running):
                    # the filter list is a set of dynamic variables, gone with the old process: put it
                    # back before the threads start, as the server's option file would (found by
                    # `drills explore`: a crashed replica replicated every filtered table)
                    admin.set_filters(conn, self.details.get("filters") or self.topo.declared_filters.as_filters())
                    admin.start_replica(conn)
                    out["replication_started"] = True
            finally:
                conn.close()
        return out


class CrashFault(ProcessFault):
    def _inject(self) -> None:
        control = self._control()
        control.check_running(self.target)
        self.details = self._replica_state()
        self._touch()
        self.details.update(control.crash(self.target))

    def _heal(self) -> dict[str, Any] | None:
        return self._bring_back()


class HangFault(ProcessFault):
    def _inject(self) -> None:
        control = self._control()
        control.check_running(self.target)
        state = self._replica_state()  # if it dies while stopped, it comes back with these filters
        self._touch()
        self.details = {**control.hang(self.target), **{k: v for k, v in state.items() if k == "filters"}}

    def _heal(self) -> dict[str, Any] | None:
        done = self._control().resume(self.target)
        return self._bring_back(done) if done.get("started") else done  # it died while stopped


class RestartFault(ProcessFault):
    """Instantaneous: inject stops cleanly and starts again; nothing remains to heal unless
    the start failed (then heal tries the start again)."""

    def _inject(self) -> None:
        control = self._control()
        control.check_running(self.target)
        self.details = self._replica_state()
        self._touch()
        done = control.restart(self.target)
        self.details.update(done)
        self._bring_back({"pid": done.get("new_pid")})

    def _heal(self) -> dict[str, Any] | None:
        return self._bring_back()
