"""Failover controllers: the reference monitor, a user's own commands, or none.

The runner builds one with `make_controller(spec, topo, journal)` and calls `start()`,
`stop()`, `switchover(to)`, `failover(to, force)`, `failback()`; a refused or failed
request raises `ControllerError` (a UserError: one message, exit status 1).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from drills.control.external import ExternalController
from drills.control.reference import ControllerError, ReferenceController
from drills.scenario.model import ControllerSpec


class Controller(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def switchover(self, to: str | None = None) -> None: ...

    def failover(self, to: str | None = None, force: bool = False) -> None: ...

    def failback(self) -> None: ...


class _ReferenceOnTopology(ReferenceController):
    """The reference controller with its live plane, closed with it."""

    def stop(self) -> None:
        super().stop()
        self.plane.close()


def make_controller(spec: ControllerSpec, topo: Any, journal: Any, *, run_dir: Path | None = None,
                    interrupted: threading.Event | None = None, environ: dict[str, str] | None = None) -> Controller:
    """The scenario's controller (kind reference or external; kind none builds none). An
    external one runs its commands in `environ` (what shell steps get: the topology, the
    run and scenario directories, the parameters), keeps its monitor's output and events in
    `run_dir`, and stops waiting for its monitor to be ready when the run is `interrupted`."""
    if spec.kind == "none":
        raise ValueError("controller kind none has no controller: switches are `route:` steps")
    if spec.kind == "cutover":
        from drills.active_active import observe
        from drills.active_active.cutover import CutoverController
        from drills.workload import _active_active

        settings = _active_active(topo, "controller kind cutover")
        return CutoverController(spec, topo, journal, users=settings.users,
                                 observe_rows=lambda dc, moving, when: observe.rows_at(topo, journal, dc, moving, when))
    if spec.kind == "external":
        return ExternalController(spec, topo, journal, run_dir=run_dir, interrupted=interrupted, environ=environ)
    from drills.control.topology_plane import TopologyPlane

    return _ReferenceOnTopology(spec, TopologyPlane(topo, probe_timeout=spec.probe.timeout), journal)


__all__ = ["Controller", "ControllerError", "make_controller"]
