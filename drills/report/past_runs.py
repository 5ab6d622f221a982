"""Run history in SQLite: what ran, when, by whom, and how RTO/RPO moved over time.

The runner calls `record(run_dir)` after writing result.json and, with `--baseline`,
`baseline_regression(...)` so that a drill whose RTO got slower than its own recent past
fails even while it is still inside its objective. The database lives in the reports
folder (`reports/history.sqlite`), overridable with `--db` or `DRILLS_HISTORY_DB`.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from drills.errors import EnvironmentProblem
from drills.report.run_record import load_run

DEFAULT_DB = Path("reports") / "history.sqlite"
BASELINE_RUNS = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  scenario TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  duration_s REAL,
  rto_s REAL,
  rpo_lost_writes REAL,
  operator TEXT,
  journal_sha256 TEXT,
  run_dir TEXT,
  recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_scenario_started ON runs (scenario, started_at);
"""


@dataclass(frozen=True)
class HistoryRow:
    run_id: str
    scenario: str
    status: str
    started_at: str | None
    duration_s: float | None
    rto_s: float | None
    rpo_lost_writes: float | None
    operator: str | None
    run_dir: str | None


def db_path(db: str | os.PathLike[str] | None = None) -> Path:
    return Path(db or os.environ.get("DRILLS_HISTORY_DB") or DEFAULT_DB)


@contextmanager
def connect(db: str | os.PathLike[str] | None = None, *, create: bool = True) -> Iterator[sqlite3.Connection]:
    path = db_path(db)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=10)
        conn.executescript(SCHEMA)
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"{path}: cannot open the run history: {exc}") from None
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def record(run_dir: str | os.PathLike[str], *, db: str | os.PathLike[str] | None = None) -> HistoryRow:
    """Add (or refresh) one run in the history, from its result.json (or its journal if killed)."""
    run = load_run(run_dir)
    finished = run.result.get("finished_at") or run.result.get("last_event_at")
    row = HistoryRow(
        run_id=run.run_id,
        scenario=run.scenario,
        status=run.status,
        started_at=run.result.get("started_at"),
        duration_s=_duration(run.result.get("started_at"), finished) or run.duration_s,
        rto_s=run.rto_s,
        rpo_lost_writes=run.rpo,
        operator=run.operator or None,
        run_dir=str(Path(run_dir).resolve()),
    )
    with connect(db) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO runs (run_id, scenario, status, started_at, finished_at, duration_s, rto_s, "
            "rpo_lost_writes, operator, journal_sha256, run_dir, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (row.run_id, row.scenario, row.status, row.started_at, finished, row.duration_s, row.rto_s,
             row.rpo_lost_writes, row.operator, run.sealed_hash, row.run_dir, datetime.now().astimezone().isoformat()),
        )
    return row


def _duration(start: object, end: object) -> float | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def runs(db: str | os.PathLike[str] | None = None, *, scenario: str | None = None, limit: int = 50) -> list[HistoryRow]:
    """Most recent first (none when no history exists yet: listing never creates the database)."""
    if not db_path(db).exists():
        return []
    sql = ("SELECT run_id, scenario, status, started_at, duration_s, rto_s, rpo_lost_writes, operator, run_dir "
           "FROM runs")
    args: list[object] = []
    if scenario:
        sql += " WHERE scenario = ?"
        args.append(scenario)
    sql += " ORDER BY started_at DESC, recorded_at DESC LIMIT ?"
    args.append(limit)
    with connect(db) as conn:
        return [HistoryRow(*r) for r in conn.execute(sql, args).fetchall()]


def baseline_regression(db: str | os.PathLike[str] | None, scenario: str, rto: float | None, tolerance: float, *,
                        exclude_run_id: str | None = None, window: int = BASELINE_RUNS) -> str | None:
    """A message when `rto` is worse than the median RTO of the last `window` passing runs of
    `scenario` by more than `tolerance` (a fraction: 0.2 = 20 %); None when within it or when
    there is no baseline yet. The median, so that one slow run does not move the baseline."""
    if rto is None or not db_path(db).exists():
        return None
    sql = ("SELECT rto_s FROM runs WHERE scenario = ? AND status = 'passed' AND rto_s IS NOT NULL"
           + (" AND run_id != ?" if exclude_run_id else "") + " ORDER BY started_at DESC, recorded_at DESC LIMIT ?")
    args: list[object] = [scenario] + ([exclude_run_id] if exclude_run_id else []) + [window]
    with connect(db) as conn:
        previous = [r[0] for r in conn.execute(sql, args).fetchall()]
    if not previous:
        return None
    baseline = statistics.median(previous)
    limit = baseline * (1 + tolerance)
    if rto > limit:
        return (f"RTO regressed: {rto:.3f} s against a baseline of {baseline:.3f} s (median of the last "
                f"{len(previous)} passing run(s) of {scenario}); tolerance {tolerance:.0%} allows {limit:.3f} s")
    return None


def format_runs(rows: list[HistoryRow]) -> str:
    header = ("RUN ID", "SCENARIO", "RESULT", "START", "DURATION", "RTO", "RPO", "OPERATOR")
    table = [header] + [
        (r.run_id, r.scenario, r.status, r.started_at or "—", _num(r.duration_s, "s"), _num(r.rto_s, "s"),
         _num(r.rpo_lost_writes, ""), r.operator or "—") for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)


def format_trend(rows: list[HistoryRow], scenario: str) -> str:
    """RTO/RPO over runs, oldest first, with a bar per run so the direction is visible in a terminal."""
    ordered = list(reversed(rows))
    if not ordered:
        return f"no runs of {scenario} recorded"
    top = max((r.rto_s or 0.0) for r in ordered) or 1.0
    lines = [f"RTO/RPO trend for {scenario} ({len(ordered)} runs, oldest first)"]
    for r in ordered:
        bar = "█" * round(28 * (r.rto_s or 0.0) / top)
        lines.append(f"{(r.started_at or '—'):<25} {r.status:<12} RTO {_num(r.rto_s, 's'):>9}  "
                     f"RPO {_num(r.rpo_lost_writes, ''):>4}  {bar}")
    rtos = [r.rto_s for r in ordered if r.rto_s is not None and r.status == "passed"]
    if rtos:
        lines.append(f"passing runs: RTO median {statistics.median(rtos):.3f} s, best {min(rtos):.3f} s, "
                     f"worst {max(rtos):.3f} s")
    return "\n".join(lines)


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return f"{text} {unit}".strip()
