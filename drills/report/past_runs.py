"""Run history: what ran, when, by whom, and how RTO/RPO moved over time — in one store a
fleet of CI runners can share.

The runner calls `record(run_dir)` after writing result.json and, with `--baseline`,
`baseline_regression(...)` so that a drill whose RTO got slower than its own recent past
fails even while it is still inside its objective. A team that drills from many runners needs
one history and so one regression gate: the store is any database URL SQLAlchemy Core can
reach with the drivers drills ships — `mysql+pymysql://user:password@host:port/db` (MySQL or
MariaDB) or `sqlite:///path`. Where it lives, first match wins: the `url` argument
(`--history-url`), the `db` argument (`--db`: a SQLite file), `DRILLS_HISTORY_URL`,
`DRILLS_HISTORY_DB` (a SQLite file), `reports/history.sqlite`.

One code path for every backend (SQLAlchemy Core), not one hand-written SQL dialect each:
the table is made by `MetaData.create_all`; a run is recorded by "insert, and on a duplicate
key update" so that recording the same run twice keeps one row everywhere; concurrent writers
lose nothing — SQLite waits on its busy timeout and the whole write is retried while the file
is locked, MySQL/MariaDB serialise through InnoDB transactions (a deadlock or lock wait
timeout is retried too).

A URL's password is registered with `drills.masking` as soon as the URL is read and URLs are
only ever shown with it hidden; a bad URL or an unreachable server is one line
(`EnvironmentProblem`) naming where, never a traceback.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import (
    URL,
    Column,
    Connection,
    Double,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    make_url,
    select,
    update,
)
from sqlalchemy.dialects.mysql import VARCHAR
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from drills import masking
from drills.errors import EnvironmentProblem, UserError
from drills.report.run_record import load_run

DEFAULT_DB = Path("reports") / "history.sqlite"
BASELINE_RUNS = 5
URL_VARIABLE = "DRILLS_HISTORY_URL"
DB_VARIABLE = "DRILLS_HISTORY_DB"
SQLITE_BUSY_TIMEOUT_S = 30.0  # sqlite3 waits this long on a locked file before it says "database is locked"
CONNECT_TIMEOUT_S = 10  # a server that does not answer is reported, not waited on forever
READ_TIMEOUT_S = 120  # nor one that stops answering: longer than InnoDB's default lock wait (50 s)
RETRY_FOR_S = 120.0  # how long a write keeps retrying a locked file or an InnoDB deadlock
URL_EXAMPLES = "mysql+pymysql://user:password@host:port/db or sqlite:///path"


def _key(length: int) -> String:
    """A key column: compared byte for byte on MySQL/MariaDB as SQLite does (their default
    collation would fold case, so `Run-A` and `run-a` would collide on one server and not on
    the other), in utf8mb4 whatever the server's default character set; 191 characters keep
    the primary key and the index within InnoDB's oldest key limit (767 bytes)."""
    exact = VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return String(length).with_variant(exact, "mysql", "mariadb")


METADATA = MetaData()
RUNS = Table(
    "runs", METADATA,
    Column("run_id", _key(191), primary_key=True),
    Column("scenario", _key(191), nullable=False),
    Column("status", String(32), nullable=False),
    Column("started_at", String(64)),  # ISO 8601 as result.json has it: sorts as time does
    Column("finished_at", String(64)),
    Column("duration_s", Double),  # DOUBLE, not MySQL's 4-byte FLOAT: 3.432 s must read back as 3.432
    Column("rto_s", Double),
    Column("rpo_lost_writes", Double),
    Column("operator", String(255)),
    Column("journal_sha256", String(128)),
    Column("run_dir", Text),
    Column("recorded_at", String(64), nullable=False),
    Index("runs_scenario_started", "scenario", "started_at"),
    mysql_engine="InnoDB", mysql_charset="utf8mb4",  # transactions are what concurrent writers rely on
    mariadb_engine="InnoDB", mariadb_charset="utf8mb4",
)

_SUPPORTED = {"sqlite": "sqlite", "mysql": "mysql+pymysql", "mysql+pymysql": "mysql+pymysql",
              "mariadb": "mariadb+pymysql", "mariadb+pymysql": "mariadb+pymysql"}
_LOCKED = ("database is locked", "database table is locked", "database is busy")
_MYSQL_TRANSIENT = {1205, 1213}  # lock wait timeout, deadlock: InnoDB asks the client to try again
_RAW_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:/@\s]*:(?P<pw>.+)@", re.IGNORECASE)

T = TypeVar("T")


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


@dataclass(frozen=True)
class Store:
    """Where the history lives: a parsed URL (password included: never print it, print
    `location`)."""

    url: URL

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def file(self) -> Path | None:
        """The SQLite file (None for a server or an in-memory database)."""
        db = self.url.database
        return Path(db) if self.is_sqlite and db and db != ":memory:" else None

    @property
    def location(self) -> str:
        """For messages: the SQLite file as given, or the URL with its password hidden."""
        if self.file is not None:
            return str(self.file)
        return self.url.render_as_string(hide_password=True)

    @property
    def host(self) -> str:
        return f"{self.url.host or 'localhost'}:{self.url.port or 3306}"


def db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The SQLite file `--db`/`DRILLS_HISTORY_DB` name (kept for callers that want the file;
    `store()` is where the history really is once a URL may be configured)."""
    return Path(db or os.environ.get(DB_VARIABLE) or DEFAULT_DB)


def store(db: str | os.PathLike[str] | None = None, url: str | URL | None = None) -> Store:
    """Resolve where the history lives (see the module's docstring for the order), register
    the URL's password as a secret before anything can print it, and check the URL names a
    backend and a database drills can use — so a typo is one clear line, not a traceback."""
    if url is not None and db is not None:
        raise UserError("give the run history either as a SQLite file (--db) or as a URL (--history-url), not both")
    if url is None and db is not None and "://" in str(db):
        url = str(db)  # a URL where a file was expected: take it as meant
    if url is None and db is None:
        url = os.environ.get(URL_VARIABLE) or None
    if url is None:
        return Store(URL.create("sqlite", database=str(db_path(db))))
    return Store(_parse(url))


def _parse(raw: str | URL) -> URL:
    """The URL, password registered (as typed and as decoded), backend checked; errors are
    EnvironmentProblem lines that show the URL only with its password hidden."""
    if isinstance(raw, URL):
        masking.register(raw.password)
        parsed = raw
    else:
        text = raw.strip()
        m = _RAW_PASSWORD.match(text)
        if m:
            masking.register(m["pw"])  # as typed (maybe %-encoded, maybe cut wrongly by a stray '@')
        try:
            parsed = make_url(text)
        except (ArgumentError, ValueError):
            raise EnvironmentProblem(f"history URL {masking.mask(text)!r} is not a database URL; expected {URL_EXAMPLES}") from None
        masking.register(parsed.password)
    shown = parsed.render_as_string(hide_password=True)
    if "@" in (parsed.host or ""):  # only what follows the last '@' is surely not the password
        raise EnvironmentProblem(f"history URL for {parsed.host.rsplit('@', 1)[1]}: its password holds an '@' that "
                                 "is not URL-encoded (write it as %40)")
    driver = _SUPPORTED.get(parsed.drivername)
    if driver is None:
        raise EnvironmentProblem(f"history URL {shown}: backend {parsed.drivername!r} is not supported; expected {URL_EXAMPLES}")
    parsed = parsed.set(drivername=driver)
    if driver != "sqlite" and not parsed.database:
        raise EnvironmentProblem(f"history URL {shown} names no database; expected {URL_EXAMPLES}")
    return parsed


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(where: Store) -> Engine:
    """One engine per URL and process. No pool (NullPool): a CLI call or a run records once,
    and an engine holding no connection is safe to inherit across fork()."""
    key = where.url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if where.is_sqlite:
                args: dict[str, object] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
            else:
                args = {name: value for name, value in (("connect_timeout", CONNECT_TIMEOUT_S),
                                                          ("read_timeout", READ_TIMEOUT_S),
                                                          ("write_timeout", READ_TIMEOUT_S))
                        if name not in where.url.query}
            try:
                engine = create_engine(where.url, poolclass=NullPool, connect_args=args)
            except (ArgumentError, NoSuchModuleError, ImportError) as exc:
                raise EnvironmentProblem(f"run history at {where.location}: cannot use this URL: "
                                         f"{masking.mask(_one_line(str(exc)))}") from None
            _engines[key] = engine
        return engine


def _make_folder(where: Store) -> None:
    """A SQLite file's folder is made on the first write (reports/ in a fresh checkout)."""
    if where.file is None:
        return
    try:
        where.file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"run history at {where.location}: cannot create its folder: "
                                 f"{exc.strerror or exc}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _problem(where: Store, exc: BaseException) -> EnvironmentProblem:
    """One line naming where and what the driver said (its code and message — never
    SQLAlchemy's multi-line text with the statement and a link)."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        reason = f"MySQL error {args[0]}: {args[1]}"
    else:
        reason = str(orig) or type(orig).__name__
    where_text = where.location if where.is_sqlite else f"{where.host} ({where.location})"
    return EnvironmentProblem(masking.mask(_one_line(f"run history at {where_text}: {reason}")))


def _transient(exc: DBAPIError) -> bool:
    """A write another writer is holding up, to try again: SQLite's lock outlasting the busy
    timeout, an InnoDB deadlock or lock wait timeout."""
    orig = exc.orig
    if any(text in str(orig).lower() for text in _LOCKED):
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _MYSQL_TRANSIENT


def _retrying(where: Store, work: Callable[[], T]) -> T:
    """`work` (whole transactions, safe to repeat) until it succeeds, a non-transient error
    (reported as one line), or RETRY_FOR_S. Backoff with jitter, so twenty runners that
    collided once do not collide again in step."""
    deadline = time.monotonic() + RETRY_FOR_S
    delay = 0.02
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError) or not _transient(exc) or time.monotonic() > deadline:
                raise _problem(where, exc) from None
        except SQLAlchemyError as exc:
            raise _problem(where, exc) from None
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)


def _ensure_table(engine: Engine) -> None:
    """`create_all` on every backend. Two writers may both find the table missing and both
    create it; the loser's CREATE fails, and looking again finds the winner's table."""
    for attempt in range(5):
        try:
            METADATA.create_all(engine, checkfirst=True)
            return
        except DBAPIError:
            if attempt == 4:
                raise
            with engine.connect() as conn:
                if inspect(conn).has_table(RUNS.name):
                    return
            time.sleep(0.05 * (attempt + 1))


@contextmanager
def connect(db: str | os.PathLike[str] | None = None, *, create: bool = True,
            url: str | URL | None = None) -> Iterator[Connection]:
    """A SQLAlchemy connection to the history in a transaction (committed on leaving), the
    table made if `create`. For ad-hoc queries; the functions below are the supported API."""
    where = store(db, url)
    if create:
        _make_folder(where)
    engine = _engine(where)
    try:
        if create:
            _ensure_table(engine)
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise _problem(where, exc) from None


def record(run_dir: str | os.PathLike[str], *, db: str | os.PathLike[str] | None = None,
           url: str | URL | None = None) -> HistoryRow:
    """Add (or refresh) one run in the history, from its result.json (or its journal if
    killed). Recording the same run again updates its row: a re-rendered or re-judged run
    must not count twice in a baseline."""
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
        operator=(run.operator or None) and str(run.operator)[:255],
        run_dir=str(Path(run_dir).resolve()),
    )
    values = {
        "scenario": row.scenario, "status": row.status,
        "started_at": None if row.started_at is None else str(row.started_at),
        "finished_at": None if finished is None else str(finished), "duration_s": row.duration_s,
        "rto_s": row.rto_s, "rpo_lost_writes": row.rpo_lost_writes, "operator": row.operator,
        "journal_sha256": run.sealed_hash, "run_dir": row.run_dir,
        "recorded_at": datetime.now().astimezone().isoformat(),
    }
    where = store(db, url)
    _make_folder(where)
    engine = _engine(where)
    _retrying(where, lambda: _ensure_table(engine))
    _retrying(where, lambda: _upsert(engine, row.run_id, values))
    return row


def _upsert(engine: Engine, run_id: str, values: dict[str, object]) -> None:
    """Insert, and when the run is already there update it — the portable upsert (neither
    SQLite's INSERT OR REPLACE nor MySQL's ON DUPLICATE KEY UPDATE). Each in its own
    transaction: a failed INSERT leaves nothing half-done to roll back to a savepoint. Should
    the row vanish between the two, insert again."""
    for _ in range(3):
        try:
            with engine.begin() as conn:
                conn.execute(insert(RUNS).values(run_id=run_id, **values))
            return
        except IntegrityError:
            pass
        with engine.begin() as conn:
            if conn.execute(update(RUNS).where(RUNS.c.run_id == run_id).values(**values)).rowcount:
                return
    raise EnvironmentProblem(f"run {run_id}: could neither insert nor update its history row")


def _duration(start: object, end: object) -> float | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def _read(where: Store, query: Callable[[Connection], T], empty: T) -> T:
    """A read that never creates anything: no file, or no table yet, is an empty history."""
    if where.file is not None and not where.file.exists():
        return empty
    engine = _engine(where)

    def work() -> T:
        with engine.connect() as conn:
            if not inspect(conn).has_table(RUNS.name):
                return empty
            return query(conn)

    return _retrying(where, work)


def runs(db: str | os.PathLike[str] | None = None, *, scenario: str | None = None, limit: int = 50,
         url: str | URL | None = None) -> list[HistoryRow]:
    """Most recent first (none when no history exists yet: listing never creates the database)."""
    stmt = select(RUNS.c.run_id, RUNS.c.scenario, RUNS.c.status, RUNS.c.started_at, RUNS.c.duration_s,
                  RUNS.c.rto_s, RUNS.c.rpo_lost_writes, RUNS.c.operator, RUNS.c.run_dir)
    if scenario:
        stmt = stmt.where(RUNS.c.scenario == scenario)
    stmt = stmt.order_by(RUNS.c.started_at.desc(), RUNS.c.recorded_at.desc()).limit(limit)
    return _read(store(db, url), lambda conn: [HistoryRow(*r) for r in conn.execute(stmt).all()], [])


def baseline_regression(db: str | os.PathLike[str] | None, scenario: str, rto: float | None, tolerance: float, *,
                        exclude_run_id: str | None = None, window: int = BASELINE_RUNS,
                        url: str | URL | None = None) -> str | None:
    """A message when `rto` is worse than the median RTO of the last `window` passing runs of
    `scenario` by more than `tolerance` (a fraction: 0.2 = 20 %); None when within it or when
    there is no baseline yet. The median, so that one slow run does not move the baseline.
    It reads the same store `record` writes — shared by a fleet, the gate is one gate."""
    if rto is None:
        return None
    stmt = select(RUNS.c.rto_s).where(RUNS.c.scenario == scenario, RUNS.c.status == "passed",
                                      RUNS.c.rto_s.is_not(None))
    if exclude_run_id:
        stmt = stmt.where(RUNS.c.run_id != exclude_run_id)
    stmt = stmt.order_by(RUNS.c.started_at.desc(), RUNS.c.recorded_at.desc()).limit(window)
    previous: list[float] = _read(store(db, url), lambda conn: [r[0] for r in conn.execute(stmt).all()], [])
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
