"""The ledger: every client operation as invoke -> ok | fail | info, one JSON line each.

This is also the format a user's own load generator writes when the scenario says
`workload: {kind: external, command: ..., ledger: PATH}`; the harness reads it with
`read_ledger` and judges it exactly like the reference workload's. One line per event,
appended and flushed as it happens::

    {"op": 17, "type": "invoke", "f": "write_order", "id": 10042, "dc": "dc1", "epoch": 1,
     "token": "9f1c...e2", "buyer_id": 73, "amount": "19.99",
     "worker": 2, "mono_ns": 123456789, "wall": "2026-01-01T00:00:00.000Z"}
    {"op": 17, "type": "ok", "f": "write_order", "id": 10042, "dc": "dc1", "epoch": 1,
     "worker": 2, "mono_ns": 123459999, "wall": "..."}
    {"op": 18, "type": "fail", ..., "error": "Duplicate entry '10042' ...", "error_code": 1062}
    {"op": 19, "type": "info", ..., "error": "Lost connection to server during query"}

Required on every line: `op` (integer pairing an invoke with its completion), `type`
(invoke|ok|fail|info|settle), `mono_ns` (CLOCK_MONOTONIC nanoseconds of this machine, the
journal's clock: `time.monotonic_ns()` in Python, `clock_gettime(CLOCK_MONOTONIC)`
elsewhere). Required on invoke: `f` (write_order|alloc_segment|write_job_log|read), `dc`,
`epoch`; for write_order also `id` and `token` — a string unique to that one write, stored in
`app.orders.token` — and, optionally, the row's content (`buyer_id`, `amount` as written).
Read-backs find a write by its token and compare the content; an ID alone proves nothing,
because a stale sequence hands the same ID out again. `alloc_segment` completions carry `low`
and `high`. `info` means the outcome is unknown. After the run the harness reads every
write back and appends a `settle` line per write: `present` says, per DC, whether the row
with that token and content is there (`null` for a DC that could not be read).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from drills import events, masking
from drills.errors import ConfigError
from drills.journal import now_wall


class LedgerWriter:
    """Append-only, flushed per line, thread-safe; `op` numbers are unique per ledger."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._next_op = 0
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        self.counts = {"ok": 0, "fail": 0, "info": 0}

    def invoke(self, f: str, **fields: Any) -> int:
        with self._lock:
            op = self._next_op
            self._next_op += 1
            self._write({"op": op, "type": "invoke", "f": f, **fields})
            return op

    def complete(self, op: int, outcome: str, f: str, **fields: Any) -> None:
        if outcome not in ("ok", "fail", "info"):
            raise ValueError(f"ledger outcome must be ok, fail or info, not {outcome!r}")
        with self._lock:
            self.counts[outcome] += 1
            self._write({"op": op, "type": outcome, "f": f, **fields})

    def _write(self, rec: dict[str, Any]) -> None:
        rec["mono_ns"] = time.monotonic_ns()
        rec["wall"] = now_wall()
        if self._fh.closed:
            return
        # a server's error message may quote a fragment of a secret: mask before serialising
        rec = masking.masker().value(json.loads(json.dumps(rec, default=str)))
        self._fh.write(json.dumps(rec, sort_keys=True, default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


_REQUIRED = ("op", "type", "mono_ns")
_REQUIRED_INVOKE = ("f", "dc", "epoch")


def read_ledger(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read and validate a ledger; errors name the file and line and what was expected.
    A torn last line (the writer was killed mid-write) is dropped, not an error."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ledger: {exc.strerror}") from None
    records: list[dict[str, Any]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):
                break
            raise ConfigError(f"{p}:{n}: expected one JSON object per line") from None
        if not isinstance(rec, dict):
            raise ConfigError(f"{p}:{n}: expected a JSON object, got {type(rec).__name__}")
        missing = [k for k in _REQUIRED if k not in rec]
        if rec.get("type") == "invoke":
            missing += [k for k in _REQUIRED_INVOKE if k not in rec]
            if rec.get("f") == "write_order":
                missing += [k for k in ("id", "token") if k not in rec]
        if missing:
            raise ConfigError(f"{p}:{n}: missing field(s) {', '.join(missing)} (see drills.workload.ledger)")
        if rec["type"] not in events.LEDGER_TYPES:
            raise ConfigError(f"{p}:{n}: type must be one of {', '.join(events.LEDGER_TYPES)}, got {rec['type']!r}")
        if rec.get("f") is not None and rec["f"] not in events.LEDGER_FUNCTIONS:
            raise ConfigError(f"{p}:{n}: f must be one of {', '.join(events.LEDGER_FUNCTIONS)}, got {rec['f']!r}")
        if not isinstance(rec["op"], int) or not isinstance(rec["mono_ns"], int):
            raise ConfigError(f"{p}:{n}: op and mono_ns must be integers")
        records.append(rec)
    return records


def outcome_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"ok": 0, "fail": 0, "info": 0}
    for rec in records:
        if rec["type"] in counts:
            counts[rec["type"]] += 1
    return counts
