"""The append-only, hash-chained timeline of a drill.

Every step, fault, controller decision, routing change and check writes one JSON line.
Lines are flushed as they are written so a killed run keeps everything up to the kill,
and each line carries the SHA-256 of the previous line so that editing, reordering or
truncating the record is detectable: the final hash, stored in result.json, seals it.

One clock: `mono_ns` is `time.monotonic_ns()` of this machine (the same clock the
workload's ledger uses); RTO phases are differences between these, never sleeps added
up. `wall` is only for people.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills import masking

GENESIS = "0" * 64


def line_hash(line: str) -> str:
    """Hash of one journal line as stored (without its trailing newline)."""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def now_wall() -> str:
    now = time.time()  # one reading: seconds and milliseconds must come from the same instant
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class Journal:
    """Writer for `journal.jsonl`. Thread-safe: workers, controller and runner share one."""

    def __init__(self, path: str | os.PathLike[str], *, secrets: list[str] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        masking.register(*(secrets or []))
        self._prev = GENESIS
        self._seq = 0
        if self.path.exists() and self.path.stat().st_size > 0:
            # continue an existing journal (e.g. `drills report` appending nothing, or a resumed run)
            for rec in read(self.path):
                self._seq = rec["seq"] + 1
            self._prev = _last_line_hash(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        # flush() already survives a killed run; fsync also survives a machine crash, at a cost
        self._fsync = bool(os.environ.get("DRILLS_JOURNAL_FSYNC"))

    def add_secret(self, value: str) -> None:
        masking.register(value)

    def record(self, source: str, kind: str, /, **payload: Any) -> dict[str, Any]:
        """Append one event and flush it to disk before returning it. The payload is masked
        before it is serialised (drills.masking): on the JSON line a secret's quotes and
        backslashes are already escaped and would no longer match."""
        payload = masking.masker().value(json.loads(json.dumps(payload, default=str)))
        with self._lock:
            rec = {
                "seq": self._seq,
                "mono_ns": time.monotonic_ns(),
                "wall": now_wall(),
                "source": source,
                "kind": kind,
                "payload": payload,
                "prev": self._prev,
            }
            line = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=False)
            self._fh.write(line + "\n")
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())
            self._prev = line_hash(line)
            self._seq += 1
            return json.loads(line)

    @property
    def seq(self) -> int:
        """Sequence number the next line will get (= lines written so far)."""
        with self._lock:
            return self._seq

    @property
    def head(self) -> str:
        """SHA-256 of the last line written (GENESIS when empty): the seal of the record."""
        return self._prev

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_line_hash(path: Path) -> str:
    last = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                last = line.rstrip("\n")
    return line_hash(last) if last is not None else GENESIS


def iter_lines(path: str | os.PathLike[str]) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line.rstrip("\n")


def read_tolerant(path: str | os.PathLike[str], problems: list[str]) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (journal or ledger) of a run that may have been killed:
    a line that is not a JSON object (torn by the kill, or edited) is skipped and named in
    `problems` -- judging and reporting go on with what was recorded. A missing file is empty."""
    p = Path(path)
    rows: list[dict[str, Any]] = []
    if not p.exists():
        return rows
    with open(p, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{p.name} line {n}: not valid JSON (torn or edited line); skipped")
                continue
            if isinstance(rec, dict):
                rows.append(rec)
            else:
                problems.append(f"{p.name} line {n}: not a JSON object; skipped")
    return rows


def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All events, in order. Does not verify; use `verify` for that."""
    return [json.loads(line) for line in iter_lines(path)]


@dataclass(frozen=True)
class Verification:
    ok: bool
    lines: int
    final_hash: str
    error: str | None = None
    line_no: int | None = None


def verify(path: str | os.PathLike[str], expected_final: str | None = None) -> Verification:
    """Recompute the chain. Fails on an edited, reordered or removed line, on a torn last
    line, and (when `expected_final` is given, e.g. from result.json) on truncation."""
    prev = GENESIS
    n = 0
    try:
        lines = list(iter_lines(path))
    except OSError as exc:
        return Verification(False, 0, GENESIS, f"cannot read journal: {exc.strerror}")
    for n, line in enumerate(lines, start=1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            return Verification(False, n - 1, prev, f"line {n} is not valid JSON (torn or edited)", n)
        if not isinstance(rec, dict) or rec.get("prev") != prev:
            return Verification(False, n - 1, prev, f"line {n} does not chain to line {n - 1} (edited, reordered or removed)", n)
        if rec.get("seq") != n - 1:
            return Verification(False, n - 1, prev, f"line {n} has seq {rec.get('seq')!r}, expected {n - 1}", n)
        prev = line_hash(line)
    if expected_final is not None and prev != expected_final:
        return Verification(False, n, prev, "final hash differs from the sealed one (journal truncated or extended)")
    return Verification(True, n, prev)
