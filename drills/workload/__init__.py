"""Workloads: the reference order writer, a user's own load generator, or none.

The runner builds one with `make_workload(spec, topo, journal, run_dir)`, calls `start()`
and later `stop() -> {ok, fail, info}`; the ledger is `run_dir/ledger.jsonl` in the format
documented in `drills.workload.ledger`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from drills.scenario.model import WorkloadSpec
from drills.workload.external import ExternalWorkload, NoWorkload
from drills.workload.orders import OrdersWorkload


class Workload(Protocol):
    def start(self) -> None: ...

    def stop(self) -> dict[str, int]: ...


def make_workload(spec: WorkloadSpec, topo: Any, journal: Any, run_dir: str | Path) -> Workload:
    """The scenario's workload: the reference order writer, the user's own, or none."""
    if spec.kind == "external":
        return ExternalWorkload(spec, topo, journal, run_dir)
    if spec.kind == "none":
        return NoWorkload()
    if spec.kind == "unit-orders":
        from drills.active_active.app import UnitOrdersWorkload

        settings = _active_active(topo, "workload kind unit-orders")
        return UnitOrdersWorkload(spec, topo, journal, run_dir, users=settings.users)
    return OrdersWorkload(spec, topo, journal, run_dir)


def _active_active(topo: Any, what: str) -> Any:
    settings = getattr(topo, "active_active", None)
    if settings is None:
        from drills.errors import UserError

        raise UserError(f"{what} needs a topology in mode active-active (`topology: {{mode: active-active}}`)")
    return settings


__all__ = ["Workload", "make_workload"]
