"""Failover controllers: the reference monitor, a user's own commands, or none.

The runner builds one with `make_controller(spec, topo, journal)` and calls `start()`,
`stop()`, `switchover(to)`, `failover(to, force)`, `failback()`; a refused or failed
request raises `ControllerError` (a UserError: one message, exit status 1).
"""

from __future__ import annotations

from typing import Any, Protocol

from drills.control.external import ExternalController, ManualController
from drills.control.reference import ControllerError, ReferenceController
from drills.control.settings import ControllerSettings


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


def make_controller(spec: Any, topo: Any, journal: Any) -> Controller:
    settings = ControllerSettings.from_spec(spec)
    if settings.kind == "external":
        return ExternalController(settings, spec, topo, journal)
    if settings.kind == "none":
        return ManualController(topo, journal)
    from drills.control.topology_plane import TopologyPlane

    return _ReferenceOnTopology(settings, TopologyPlane(topo, probe_timeout=settings.probe.timeout), journal)


__all__ = ["Controller", "ControllerError", "ControllerSettings", "make_controller"]
