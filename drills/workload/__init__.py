"""Workloads: the reference order writer, a user's own load generator, or none.

The runner builds one with `make_workload(spec, topo, journal, run_dir)`, calls `start()`
and later `stop() -> {ok, fail, info}`; the ledger is `run_dir/ledger.jsonl` in the format
documented in `drills.workload.ledger`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from drills.workload.external import ExternalWorkload, NoWorkload
from drills.workload.orders import OrdersWorkload
from drills.workload.settings import WorkloadSettings


class Workload(Protocol):
    def start(self) -> None: ...

    def stop(self) -> dict[str, int]: ...


def make_workload(spec: Any, topo: Any, journal: Any, run_dir: str | Path) -> Workload:
    settings = WorkloadSettings.from_spec(spec)
    if settings.kind == "external":
        return ExternalWorkload(settings, topo, journal, run_dir)
    if settings.kind == "none":
        return NoWorkload()
    return OrdersWorkload(settings, topo, journal, run_dir)


__all__ = ["Workload", "WorkloadSettings", "make_workload"]
