"""Workload settings, read from the scenario's pydantic model or a plain mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drills.control.settings import field
from drills.errors import ConfigError

_TABLE = re.compile(r"^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$")


@dataclass(frozen=True)
class SequenceSettings:
    table: str = "app.id_sequence"
    name: str = "orders"
    segment: int = 10000
    refetch_on_switch: bool = True


@dataclass(frozen=True)
class WorkloadSettings:
    kind: str = "orders"
    rate: float = 200.0  # acknowledged-or-not writes per second, all workers together; 0 = as fast as possible
    workers: int = 4
    sequence: SequenceSettings = SequenceSettings()
    job_log: bool = True
    job_log_every: int = 10  # one job_log row per this many orders
    retry_delay: float | None = None  # overrides the routing document's retry.delay_ms
    connect_timeout: float = 1.0
    query_timeout: float = 2.0  # beyond this an unanswered write is `info` (outcome unknown)
    command: str | None = None
    ledger: str | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> WorkloadSettings:
        kind = str(field(spec, "kind", "orders"))
        if kind not in ("orders", "external", "none"):
            raise ConfigError(f"workload.kind: expected orders, external or none, got {kind!r}")
        seq = field(spec, "sequence", None)
        table = str(field(seq, "table", "app.id_sequence"))
        if not _TABLE.match(table):
            raise ConfigError(f"workload.sequence.table: expected `db.table`, got {table!r}")
        segment = field(seq, "segment", 10000)
        workers = field(spec, "workers", 4)
        for name, value in (("workload.sequence.segment", segment), ("workload.workers", workers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: expected a whole number >= 1, got {value!r}")
        try:
            rate = float(field(spec, "rate", 200.0))
        except (TypeError, ValueError):
            raise ConfigError(f"workload.rate: expected writes per second, got {field(spec, 'rate')!r}") from None
        if rate < 0:
            raise ConfigError(f"workload.rate: must not be negative, got {rate}")
        retry = field(spec, "retry", None)
        retry_delay = field(spec, "retry_delay", field(retry, "delay", None))
        if kind == "external" and not field(spec, "command", None):
            raise ConfigError("workload.command: an external workload needs the command that runs it")
        return cls(
            kind=kind,
            rate=rate,
            workers=workers,
            sequence=SequenceSettings(table, str(field(seq, "name", "orders")), segment,
                                      bool(field(seq, "refetch_on_switch", True))),
            job_log=bool(field(spec, "job_log", True)),
            job_log_every=int(field(spec, "job_log_every", 10)),
            retry_delay=None if retry_delay is None else float(retry_delay),
            connect_timeout=float(field(spec, "connect_timeout", 1.0)),
            query_timeout=float(field(spec, "query_timeout", 2.0)),
            command=field(spec, "command", None),
            ledger=field(spec, "ledger", None),
        )
