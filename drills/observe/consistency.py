"""`data_consistency`: are the replicated tables identical on both data centres?

A drill is only judged correct if, once the link has caught up, every table the link
replicates (everything not on the filter list) holds the same rows on dc1 and dc2. This
module answers that question fast enough to run after every drill, and precisely enough
that the answer names the differing primary keys, not just "table X differs".

How (the pt-table-checksum idea, done on both servers at once instead of through
statement-based replication):

0. **Whole tables first.** Inside the snapshot pair (below), every table is checksummed
   whole — `COUNT(*)` and the `BIT_XOR` of the row hash of step 2 over all its rows — on
   both servers in parallel, each side running through all tables on its own connection.
   A table whose count and checksum agree is identical, and is never planned: the common
   case (nothing differs) costs one scan per side and table, with no planning walk and no
   per-chunk queries (measured on 1,000,000 rows: 100 chunk queries cost 1.3x one scan
   of the server's CPU, and the planner's walk of the key another 0.3x on the source, on
   a 2-core machine where the two servers' scans already use both cores). Only a table
   that differs goes through steps 1-3, in the same snapshots. Sound because chunks
   partition the key space: the whole table's count is the sum of its chunks' counts and
   its BIT_XOR the XOR of theirs, so a table with a differing chunk differs whole unless
   the differences of several chunks cancel, a 32-bit collision of a non-linear hash
   (step 2).
1. **Chunk plan.** For each table with a primary key, chunk boundaries are found once, on
   the source, by walking the primary-key index (`WHERE key >= b ORDER BY key LIMIT 1
   OFFSET chunk_size`). The first and last chunks are open-ended, so rows that exist only
   on the other side (below the smallest or above the largest planned key) are still
   covered. Boundaries need not be consistent with any snapshot: any partition of the key
   space is a valid partition, which is why planning runs on its own connection, in a
   thread of its own, while the checksum workers consume the chunks it has already found.
   A table found identical in step 0 reports the number of chunks this plan would have
   (`chunks`), so the figure does not depend on whether it was planned.
2. **Chunk checksum.** `COUNT(*)` and
   `BIT_XOR(CRC32(CRC32(CONCAT_WS('#', col1, ..., ISNULL(c)...))))` over each primary-key
   range, on both servers in parallel (one thread and one connection per side). The outer
   CRC32 undoes CRC32's linearity, under which equal edits to two rows of one chunk cancel
   in BIT_XOR, and so do values swapped between two rows of equal length (see
   `row_hash_sql`; pt-table-checksum's CRC32 mode misses those). `CONCAT_WS` skips NULLs,
   so each nullable column adds an `ISNULL(col)` flag: NULL, '' and 'NULL' hash
   differently. Sessions use `time_zone = '+00:00'` so TIMESTAMP columns hash the same
   whatever the servers' zones.
3. **Narrowing.** A chunk whose count or checksum differs is split (sub-ranges walked on
   the source, checksummed on both sides) until a range holds at most `row_limit` rows;
   then per-row CRCs are fetched from both sides and compared, which names each key as
   differing, missing on dc1 or missing on dc2. Narrowing runs inside the same snapshots.
4. **Tables without a primary key** are compared by the whole-table checksum of step 0;
   the result says so, and differences cannot be narrowed to keys.

Not a fast path: `CHECKSUM TABLE`, although it runs inside the snapshot and costs about
half our scan, cannot prove two tables equal even on one server version with identical
definitions: it hashes the stored bytes with plain CRC32 and adds the rows' CRCs (the
affine blind spot above, with SUM in place of BIT_XOR), and checksums a row's VARCHAR and
BLOB values as one byte stream without their lengths, so ('ab', 'c') and ('a', 'bc') in two
adjacent VARCHAR columns agree (tests/integration/test_consistency_speedups.py).

**One consistent position.** The source opens `START TRANSACTION WITH CONSISTENT SNAPSHOT`
and learns the GTID position of that snapshot: on MariaDB exactly, from the binlog
position the snapshot corresponds to (`Binlog_snapshot_file/position` ->
`BINLOG_GTID_POS`); elsewhere by bracketing the snapshot between two reads of
`@@gtid_executed` (if they agree, no commit happened in between). The replica then waits
until it has applied that position (`drills.mysql.admin.wait_for_gtid`:
MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET) and opens its own snapshot, whose
replicated position is read inside it from `mysql.gtid_slave_pos` (MariaDB; InnoDB, so
consistent with the snapshot) or bracketed the same way. When the replica's snapshot
position equals the source's, the comparison is exact (`position.exact = true`): both
sides are compared at one GTID position, with no write stopped.

Limits when writes continue on the source: the replica keeps applying after the wait, so
its snapshot may be ahead of the source's (or a bracket may fail). The comparison is then
not exact: a chunk touched by writes in between may differ although nothing is wrong.
Mismatching chunks are therefore re-checked (`rechecks` times) at fresh snapshot pairs,
and a key is reported only if it differed in every pass; keys that stop differing are
counted as `transient`. Keys written continuously can still be reported; for a verdict
that cannot be wrong, stop writes (fence the source read_only) before checking, as the
drill runner does after a switch. If the replica's SQL thread is stopped or the wait
times out, the comparison still runs (a stopped link is often the symptom of the very
divergence being looked for) and the result says the position was not reached.

Other limits, shared with pt-table-checksum: the row hash is 32 bits (a collision can
hide a change, with probability about 2**-32 per changed table); values containing '#'
can be shifted across a column boundary without changing the hash; BIT_XOR cancels
pairs of identical rows, which only matters for tables without a primary key (COUNT(*)
still catches most such cases).

API (used by `drills.checks` and the `drills check consistency` command)::

    from drills.observe import consistency
    result = consistency.compare(source, replica, tables=None, filter_list=None,
                                 chunk_size=10_000)   # source/replica: consistency.Server
    result = consistency.check(topology_or_dsn_pair, tables=None, ...)
    result.verdict      # "passed" | "failed" (position.exact/note say how sure)
    result.identical    # bool
    result.as_dict()    # JSON-ready: positions, per-table chunks, keys, skipped tables
    consistency.Server.from_dsn("mysql://user:pw@host:3306", name="dc1")
    consistency.Server.from_topology(topo, "dc1")      # observer path

Errors a person can act on (bad DSN, unreachable server, wrong password, unknown table)
raise `drills.errors.UserError` subclasses naming the server; passwords never appear.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pymysql

from drills import dsn as dsn_mod
from drills.errors import EnvironmentProblem, UserError
from drills.mysql import admin

if TYPE_CHECKING:  # imported where used: `drills check consistency --dsn` needs neither (nor yaml)
    from concurrent.futures import ThreadPoolExecutor

    from drills.filter_list import FilterList

CHECK_NAME = "data_consistency"
DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_ROW_LIMIT = 2_000  # narrowing fetches per-row CRCs once a range holds at most this many rows
DEFAULT_MAX_KEYS = 1_000  # keys listed per table and kind; counts are always complete
SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys", "percona", "drills_canary"})
# `percona` holds pt-table-checksum's bookkeeping and `drills_canary` the harness's own
# canary rows: both differ between sides by design.

Key = tuple[Any, ...]


class ConsistencyError(UserError):
    """The comparison could not be made (unknown table, unusable DSN)."""


# ---- servers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """One side of the comparison: a name for reports, an address for messages (never a
    password), and a way to open a fresh connection (each worker needs its own)."""

    name: str
    where: str
    open: Callable[[], pymysql.connections.Connection] = field(repr=False, compare=False)

    @classmethod
    def from_dsn(cls, dsn: str, name: str, *, timeout: float = 5.0) -> Server:
        host, port, user, password = parse_dsn(dsn, name)
        return cls(name, f"{user}@{host}:{port}", lambda: _open(host, port, user, password, timeout))

    @classmethod
    def from_topology(cls, topology: Any, dc: str, *, timeout: float = 5.0) -> Server:
        """The observer path: checks read the truth directly, whatever faults are active.

        The same address and admin account `Topology.connect(dc, via="observer")` uses,
        opened by `_open` so that the connection shares one TLS context (see there)."""
        server = topology.servers[dc]

        def connect() -> pymysql.connections.Connection:
            if topology.credentials is None:
                raise EnvironmentProblem(f"{topology.state_dir}: credentials.json missing; cannot connect to {dc}")
            user, password = topology.credentials.for_role("admin")
            return _open(server.host, server.port, user, password, timeout)

        return cls(dc, f"{server.host}:{server.port}", connect)


class _Connection(pymysql.connections.Connection):
    """A pymysql connection that shares one TLS context in pymysql's default mode.

    Given no TLS options, pymysql uses TLS if the server offers it and verifies nothing
    (CERT_NONE, no host name check), but builds a fresh `ssl.create_default_context()` for
    every connection, which loads the system's CA store: 20-30 ms of CPU, holding the GIL,
    so the three connections a comparison opened in parallel cost 60-70 ms before the first
    query (measured: 7% of the whole 1M-row command). A context that verifies nothing
    never reads those CAs, so one shared context with the same settings (TLS client, no
    verification) gives the same handshake at no cost. TLS options, if pymysql is ever
    given any, still go through pymysql's own code."""

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if isinstance(sslp, dict) and not sslp:
            return _unverified_tls_context()
        return super()._create_ssl_ctx(sslp)


@functools.cache
def _unverified_tls_context() -> ssl.SSLContext:
    """What pymysql builds for "TLS if offered, verify nothing", minus the CA store."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _open(host: str, port: int, user: str, password: str, timeout: float) -> pymysql.connections.Connection:
    return _Connection(host=host, port=port, user=user, password=password, autocommit=True,
                       connect_timeout=timeout, read_timeout=None, charset="utf8mb4")


def parse_dsn(dsn: str, name: str) -> tuple[str, int, str, str]:
    """`mysql://user:password@host:port` -> (host, port, user, password) (drills.dsn)."""
    d = dsn_mod.parse_dsn(dsn, name, error=ConsistencyError)
    return d.host, d.port, d.user, d.password


mask_dsn = dsn_mod.mask_dsn


def connect(server: Server) -> pymysql.connections.Connection:
    """Open a session prepared for checksumming; connection problems become messages that
    name the server."""
    try:
        conn = server.open()
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code == 1045:
            raise EnvironmentProblem(f"{server.name} ({server.where}): access denied (wrong user or password)") from None
        reason = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise EnvironmentProblem(f"{server.name} ({server.where}) unreachable: {reason}") from None
    except (OSError, pymysql.err.MySQLError) as exc:
        raise EnvironmentProblem(f"{server.name} ({server.where}) unreachable: {exc}") from None
    with conn.cursor() as cur:
        cur.execute("SET NAMES utf8mb4")
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    return conn


# ---- SQL generation (pure) ------------------------------------------------------------------


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class TableShape:
    """What the SQL needs to know about a table: its columns (in order), which may be NULL,
    and its primary key (empty: none). `definitions` — each column's type, nullability and
    collation — is what makes two sides' tables the same table: equal names over a
    DECIMAL(12,2) and a DECIMAL(10,2) would hash equal rows today and differ tomorrow."""

    schema: str
    name: str
    columns: tuple[str, ...]
    nullable: frozenset[str] = frozenset()
    key: tuple[str, ...] = ()
    definitions: tuple[tuple[str, str, str, str], ...] = ()  # (column, type, nullable, collation)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql_name(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


def row_hash_sql(shape: TableShape) -> str:
    """The hash of one row. NULL-safe: CONCAT_WS drops NULLs, so each nullable column also
    contributes ISNULL(col); NULL, '' and 'NULL' then give different strings.

    The outer CRC32 (over the inner CRC's decimal digits) is there because CRC32 is affine
    over GF(2): the same edit at the same distance from the end of two equal-length rows
    (say `amount + 0.01` on 969.80 and 972.28) changes both CRCs by the same bits, and
    BIT_XOR over the chunk cancels them, so the chunk looks identical. pt-table-checksum's
    CRC32 mode has that blind spot; the decimal round trip is not linear, so the deltas no
    longer line up. It costs one short CRC per row."""
    parts = [quote_ident(c) for c in shape.columns]
    parts += [f"ISNULL({quote_ident(c)})" for c in shape.columns if c in shape.nullable]
    return f"CRC32(CRC32(CONCAT_WS('#', {', '.join(parts)})))"


def _key_compare(columns: Sequence[str], values: Sequence[Any], op: str) -> tuple[str, list[Any]]:
    """Lexicographic (c1, c2, ...) op (v1, v2, ...) as ORs of ANDs, which both MariaDB and
    MySQL turn into index ranges (MariaDB does not for row constructors)."""
    assert op in (">=", "<") and len(columns) == len(values) and columns
    strict = ">" if op == ">=" else "<"
    ors, params = [], []
    for i, col in enumerate(columns):
        last = i == len(columns) - 1
        ands = [f"{quote_ident(c)} = %s" for c in columns[:i]]
        ands.append(f"{quote_ident(col)} {op if last else strict} %s")
        ors.append("(" + " AND ".join(ands) + ")" if len(ands) > 1 else ands[0])
        params.extend(values[: i + 1])
    sql = ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"
    return sql, params


def range_predicate(key: Sequence[str], lower: Key | None, upper: Key | None) -> tuple[str, list[Any]]:
    """key >= lower AND key < upper (None: open end)."""
    clauses, params = [], []
    if lower is not None:
        sql, p = _key_compare(key, lower, ">=")
        clauses.append(sql)
        params += p
    if upper is not None:
        sql, p = _key_compare(key, upper, "<")
        clauses.append(sql)
        params += p
    return (" AND ".join(clauses) or "1=1"), params


def _force_pk(shape: TableShape) -> str:
    return " FORCE INDEX (PRIMARY)" if shape.key else ""


def chunk_checksum_sql(shape: TableShape, lower: Key | None, upper: Key | None) -> tuple[str, list[Any]]:
    where, params = range_predicate(shape.key, lower, upper) if shape.key else ("1=1", [])
    sql = (f"SELECT COUNT(*), COALESCE(BIT_XOR({row_hash_sql(shape)}), 0) "
           f"FROM {shape.sql_name}{_force_pk(shape)} WHERE {where}")
    return sql, params


def row_hashes_sql(shape: TableShape, lower: Key | None, upper: Key | None) -> tuple[str, list[Any]]:
    where, params = range_predicate(shape.key, lower, upper)
    keys = ", ".join(quote_ident(c) for c in shape.key)
    return f"SELECT {keys}, {row_hash_sql(shape)} FROM {shape.sql_name}{_force_pk(shape)} WHERE {where}", params


def boundary_sql(shape: TableShape, lower: Key | None, offset: int, upper: Key | None = None) -> tuple[str, list[Any]]:
    """The key `offset` rows past `lower` (inclusive) in primary-key order, below `upper`."""
    keys = ", ".join(quote_ident(c) for c in shape.key)
    where, params = range_predicate(shape.key, lower, upper)
    return (f"SELECT {keys} FROM {shape.sql_name}{_force_pk(shape)} WHERE {where} "
            f"ORDER BY {keys} LIMIT 1 OFFSET {int(offset)}"), params


# ---- chunk plan and narrowing (pure over a side protocol) -------------------------------------


@dataclass(frozen=True)
class Chunk:
    """A primary-key range [lower, upper); None is an open end. `first` is the smallest key
    seen in it when planning (for reports; pt-table-checksum's lower_boundary)."""

    index: int
    lower: Key | None
    upper: Key | None
    first: Key | None = None


def chunks_from_boundaries(boundaries: Sequence[Key]) -> list[Chunk]:
    """boundaries[0] is the smallest key, boundaries[i] the first key of chunk i. The first
    chunk has no lower bound and the last no upper bound, so the chunks cover every
    possible key, including keys the planning side does not have."""
    if not boundaries:
        return [Chunk(0, None, None, None)]
    chunks = []
    for i, first in enumerate(boundaries):
        lower = None if i == 0 else first
        upper = boundaries[i + 1] if i + 1 < len(boundaries) else None
        chunks.append(Chunk(i, lower, upper, first))
    return chunks


class ChunkSide(Protocol):
    """What narrowing needs from one side, inside its snapshot."""

    def checksum(self, lower: Key | None, upper: Key | None) -> tuple[int, int]: ...

    def row_hashes(self, lower: Key | None, upper: Key | None) -> dict[Key, int]: ...


@dataclass
class RowDiff:
    """Keys that differ within one table. `missing[dc]` are keys the other side has and dc
    lacks."""

    differing: list[Key] = field(default_factory=list)
    missing: dict[str, list[Key]] = field(default_factory=dict)

    def keys(self) -> set[Key]:
        return set(self.differing).union(*self.missing.values()) if self.missing else set(self.differing)

    def extend(self, other: RowDiff) -> None:
        self.differing += other.differing
        for dc, keys in other.missing.items():
            self.missing.setdefault(dc, []).extend(keys)

    def restricted_to(self, keep: set[Key]) -> RowDiff:
        return RowDiff([k for k in self.differing if k in keep],
                       {dc: [k for k in ks if k in keep] for dc, ks in self.missing.items()})


def diff_rows(a_name: str, a: dict[Key, int], b_name: str, b: dict[Key, int]) -> RowDiff:
    diff = RowDiff(missing={a_name: [], b_name: []})
    for k, crc in a.items():
        if k not in b:
            diff.missing[b_name].append(k)
        elif b[k] != crc:
            diff.differing.append(k)
    diff.missing[a_name] = [k for k in b if k not in a]
    return diff


def narrow(
    a_name: str, a: ChunkSide, b_name: str, b: ChunkSide, lower: Key | None, upper: Key | None,
    *, split: Callable[[Key | None, Key | None, int], list[Key]], rows: int, row_limit: int = DEFAULT_ROW_LIMIT,
) -> RowDiff:
    """The keys that differ in a mismatching range. Ranges larger than `row_limit` rows are
    split (split(lower, upper, parts) returns interior boundary keys, walked on side a) and
    only mismatching parts are descended into; small ranges are compared row by row."""
    if rows <= row_limit:
        return diff_rows(a_name, a.row_hashes(lower, upper), b_name, b.row_hashes(lower, upper))
    parts = max(2, min(16, -(-rows // row_limit)))
    points = [p for p in split(lower, upper, parts) if p is not None]
    if not points:  # cannot split further (a holds few rows; b holds the rest)
        return diff_rows(a_name, a.row_hashes(lower, upper), b_name, b.row_hashes(lower, upper))
    bounds: list[Key | None] = [lower, *points, upper]
    result = RowDiff(missing={a_name: [], b_name: []})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        ca, cb = a.checksum(lo, hi), b.checksum(lo, hi)
        if ca != cb:
            result.extend(narrow(a_name, a, b_name, b, lo, hi, split=split, rows=max(ca[0], cb[0]), row_limit=row_limit))
    return result


# ---- result -----------------------------------------------------------------------------------


def _key_json(key: Key | None) -> list[Any] | None:
    if key is None:
        return None
    return [v if isinstance(v, int | float | str) or v is None else (v.hex() if isinstance(v, bytes) else str(v)) for v in key]


@dataclass
class TableResult:
    table: str
    key: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    chunks: int = 0  # chunks of the plan (planned only if the table differs whole; see step 0)
    mismatched_chunks: list[Chunk] = field(default_factory=list)
    diff: RowDiff = field(default_factory=RowDiff)
    transient: int = 0
    problem: str | None = None  # a difference that is not about rows (table or columns missing)
    note: str | None = None

    @property
    def identical(self) -> bool:
        return self.problem is None and not self.mismatched_chunks

    def as_dict(self, max_keys: int = DEFAULT_MAX_KEYS) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table, "key": self.key, "identical": self.identical, "rows": self.rows,
            "chunks": self.chunks,
            "mismatched_chunks": [
                {"index": c.index, "first": _key_json(c.first), "lower": _key_json(c.lower), "upper": _key_json(c.upper)}
                for c in self.mismatched_chunks
            ],
            "differing": {"count": len(self.diff.differing), "keys": [_key_json(k) for k in self.diff.differing[:max_keys]]},
            "missing": {dc: {"count": len(ks), "keys": [_key_json(k) for k in ks[:max_keys]]} for dc, ks in self.diff.missing.items()},
        }
        if self.transient:
            out["transient"] = self.transient
        if self.problem:
            out["problem"] = self.problem
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Position:
    source: str | None = None
    replica: str | None = None
    exact: bool = False
    note: str | None = None


@dataclass
class ConsistencyResult:
    source: str
    replica: str
    tables: list[TableResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    position: Position = field(default_factory=Position)
    passes: int = 1
    elapsed_s: float = 0.0
    chunk_size: int = DEFAULT_CHUNK_SIZE

    @property
    def identical(self) -> bool:
        return all(t.identical for t in self.tables)

    @property
    def verdict(self) -> str:
        return "passed" if self.identical else "failed"

    @property
    def rows_compared(self) -> int:
        return sum(max(t.rows.values(), default=0) for t in self.tables)

    def as_dict(self, max_keys: int = DEFAULT_MAX_KEYS) -> dict[str, Any]:
        return {
            "check": CHECK_NAME, "verdict": self.verdict, "source": self.source, "replica": self.replica,
            "position": vars(self.position), "passes": self.passes, "chunk_size": self.chunk_size,
            "elapsed_s": round(self.elapsed_s, 3), "rows_compared": self.rows_compared,
            "tables": [t.as_dict(max_keys) for t in self.tables], "skipped": self.skipped,
        }


# ---- talking to a server ----------------------------------------------------------------------


def _scalar(conn: pymysql.connections.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return row[0] if row else None


def _gtid_components(flavor: str, position: str | None) -> dict[str, str]:
    """Per-origin components of a GTID position, so positions can be compared on the
    origins the source has (the replica's own writes are a different origin)."""
    out: dict[str, str] = {}
    for part in (position or "").replace("\n", "").split(","):
        part = part.strip()
        if not part:
            continue
        if flavor == "mariadb":
            domain, _, rest = part.partition("-")
            out[domain] = rest.partition("-")[2]  # seq_no only: server ids may differ after a switch
        else:
            uuid, _, intervals = part.partition(":")
            out[uuid.lower()] = intervals
    return out


def _open_snapshot(conn: pymysql.connections.Connection, position_sql: str, attempts: int = 3) -> tuple[str | None, bool]:
    """START TRANSACTION WITH CONSISTENT SNAPSHOT between two reads of the position; if they
    agree, no commit happened in between and the snapshot is exactly at that position."""
    for _ in range(attempts):
        before = _scalar(conn, position_sql)
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        after = _scalar(conn, position_sql)
        if before == after:
            return after, True
        with conn.cursor() as cur:
            cur.execute("ROLLBACK")
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    return _scalar(conn, position_sql), False


def _open_snapshot_at_known_position(conn: pymysql.connections.Connection, role: str) -> tuple[str | None, bool] | None:
    """MariaDB says exactly where a consistent snapshot stands, with no race against
    concurrent commits: on the source, the binlog position the snapshot corresponds to
    (Binlog_snapshot_file/position -> BINLOG_GTID_POS); on the replica, the replicated
    position as stored in the transactional mysql.gtid_slave_pos table, read inside the
    snapshot. None (and no open transaction) where that is not available."""
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        if role == "source":
            cur.execute("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
            status = {str(k).lower(): v for k, v in cur.fetchall()}
            file, pos = status.get("binlog_snapshot_file"), status.get("binlog_snapshot_position")
            if file:
                cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, int(pos or 0)))
                row = cur.fetchone()
                if row and row[0] is not None:
                    return str(row[0]), True
        else:
            cur.execute("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' "
                        "AND TABLE_NAME = 'gtid_slave_pos'")
            engine = cur.fetchone()
            if engine and str(engine[0]).lower() == "innodb":
                cur.execute("SELECT domain_id, server_id, seq_no FROM mysql.gtid_slave_pos ORDER BY domain_id, sub_id")
                last = {domain: f"{domain}-{server}-{seq}" for domain, server, seq in cur.fetchall()}
                return ",".join(last[d] for d in sorted(last)), True
        cur.execute("ROLLBACK")
    return None


def _snapshot_pair(
    source: pymysql.connections.Connection, replica: pymysql.connections.Connection, flavor: str,
    link: admin.ReplicaStatus | None, replica_name: str, wait_timeout_s: float,
) -> Position:
    source_sql = "SELECT @@GLOBAL.gtid_binlog_pos" if flavor == "mariadb" else "SELECT @@GLOBAL.gtid_executed"
    replica_sql = "SELECT @@GLOBAL.gtid_slave_pos" if flavor == "mariadb" else "SELECT @@GLOBAL.gtid_executed"
    src_pos, src_exact = ((flavor == "mariadb" and _open_snapshot_at_known_position(source, "source"))
                          or _open_snapshot(source, source_sql))
    notes = []
    reached = False
    if link is None:
        notes.append(f"{replica_name} does not replicate from the source: compared at independent snapshots")
    elif not link.sql_running:
        notes.append(f"{replica_name}'s replication SQL thread is stopped"
                     + (f" ({link.last_sql_error})" if link.last_sql_error else "")
                     + ": compared without waiting for the source's position")
    else:
        reached = admin.wait_for_gtid(replica, src_pos or "", wait_timeout_s)
        if not reached:
            notes.append(f"{replica_name} did not reach the source's position {src_pos} within {wait_timeout_s:g}s")
    rep_pos, rep_exact = ((flavor == "mariadb" and _open_snapshot_at_known_position(replica, "replica"))
                          or _open_snapshot(replica, replica_sql))
    src_parts, rep_parts = _gtid_components(flavor, src_pos), _gtid_components(flavor, rep_pos)
    same = all(rep_parts.get(origin) == value for origin, value in src_parts.items())
    exact = bool(link) and reached and src_exact and rep_exact and same
    if link and reached and not exact:
        notes.append("writes continued during the check: the two snapshots are not at one position")
    return Position(src_pos, rep_pos, exact, "; ".join(notes) or None)


SHAPE_BATCH = 500  # table names per information_schema query


def _shapes(conn: pymysql.connections.Connection, names: Sequence[tuple[str, str]]) -> dict[tuple[str, str], TableShape]:
    """The shapes of `names` (tables absent from the server are absent from the result),
    two information_schema queries per schema instead of two per table: with 200 tables
    that is 4 queries per side instead of 400 (0.35 s measured, as long as checksumming
    the tables). The table-name condition is an IN list, which MariaDB and MySQL check
    against the name before opening a table, so no other table of the schema is opened."""
    by_schema: dict[str, list[str]] = {}
    for schema, table in names:
        by_schema.setdefault(schema, []).append(table)
    columns: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    keys: dict[tuple[str, str], list[str]] = {}
    with conn.cursor() as cur:
        for schema, tables in by_schema.items():
            for i in range(0, len(tables), SHAPE_BATCH):
                batch = tables[i:i + SHAPE_BATCH]
                marks = ", ".join(["%s"] * len(batch))
                cur.execute(
                    "SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_KEY, COLUMN_TYPE, COALESCE(COLLATION_NAME, '') "
                    f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN ({marks}) "
                    "ORDER BY TABLE_NAME, ORDINAL_POSITION", (schema, *batch))
                for row in cur.fetchall():
                    columns.setdefault((schema, row[0]), []).append(row[1:])
                cur.execute(
                    "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                    f"WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN ({marks}) AND INDEX_NAME = 'PRIMARY' "
                    "ORDER BY TABLE_NAME, SEQ_IN_INDEX", (schema, *batch))
                for table, column in cur.fetchall():
                    keys.setdefault((schema, table), []).append(column)
    return {
        (schema, table): TableShape(schema, table, tuple(c[0] for c in cols),
                                    frozenset(c[0] for c in cols if c[1] == "YES"), tuple(keys.get((schema, table), ())),
                                    tuple((str(c[0]), str(c[3]).lower(), str(c[1]), str(c[4])) for c in cols))
        for (schema, table), cols in columns.items()
    }


def definition_differences(a: TableShape, b: TableShape, a_name: str, b_name: str) -> list[str]:
    """Columns defined differently on the two sides (type, nullability, collation)."""
    mine = {c[0]: c for c in a.definitions}
    theirs = {c[0]: c for c in b.definitions}
    out = []
    for column in a.columns:
        x, y = mine.get(column), theirs.get(column)
        if x is None or y is None or x == y:
            continue
        parts = []
        for label, i in (("type", 1), ("nullable", 2), ("collation", 3)):
            if x[i] != y[i]:
                parts.append(f"{label} {x[i] or '-'} on {a_name}, {y[i] or '-'} on {b_name}")
        out.append(f"{column}: " + ", ".join(parts))
    return out


def _base_tables(conn: pymysql.connections.Connection, only: Sequence[tuple[str, str]] = ()) -> set[tuple[str, str]]:
    """Base tables outside the system schemas (or which of `only` exist: listing every table
    makes the server open them all, which is slow on large servers)."""
    sql = "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'"
    params: list[str] = []
    if only:
        sql += " AND (" + " OR ".join(["(TABLE_SCHEMA = %s AND TABLE_NAME = %s)"] * len(only)) + ")"
        params = [part for pair in only for part in pair]
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return {(s, t) for s, t in cur.fetchall() if only or s.lower() not in SYSTEM_SCHEMAS}


class SqlSide:
    """A ChunkSide over one server's snapshot connection."""

    def __init__(self, conn: pymysql.connections.Connection, shape: TableShape):
        self.conn, self.shape = conn, shape

    def checksum(self, lower: Key | None, upper: Key | None) -> tuple[int, int]:
        with self.conn.cursor() as cur:
            cur.execute(*chunk_checksum_sql(self.shape, lower, upper))
            count, crc = cur.fetchone()
        return int(count), int(crc)

    def row_hashes(self, lower: Key | None, upper: Key | None) -> dict[Key, int]:
        n = len(self.shape.key)
        with self.conn.cursor() as cur:
            cur.execute(*row_hashes_sql(self.shape, lower, upper))
            return {tuple(r[:n]): int(r[n]) for r in cur.fetchall()}

    def split(self, lower: Key | None, upper: Key | None, parts: int) -> list[Key]:
        rows = self.checksum(lower, upper)[0]
        step = max(1, rows // parts)
        points: list[Key] = []
        start = lower
        while True:
            with self.conn.cursor() as cur:
                cur.execute(*boundary_sql(self.shape, start, step, upper))
                row = cur.fetchone()
            if row is None:
                break
            points.append(tuple(row))
            start = tuple(row)
        return points


# ---- the comparison ---------------------------------------------------------------------------


class _Plan:
    """Chunks of one table as the planner finds them; workers wait for the next one."""

    def __init__(self) -> None:
        self.boundaries: list[Key] = []
        self.done = False
        self.error: BaseException | None = None
        self.cond = threading.Condition()

    def add(self, key: Key) -> None:
        with self.cond:
            self.boundaries.append(key)
            self.cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self.cond:
            self.done, self.error = True, error
            self.cond.notify_all()

    def chunk(self, i: int) -> Chunk | None:
        """Chunk i once its upper bound is known (or planning ended), None past the end."""
        with self.cond:
            while not self.done and len(self.boundaries) < i + 2:
                self.cond.wait()
            if self.error:
                raise self.error
            n = len(self.boundaries)
            if i == 0 and n == 0:
                return Chunk(0, None, None, None)
            if i >= max(n, 1):
                return None
            return Chunk(i, None if i == 0 else self.boundaries[i], self.boundaries[i + 1] if i + 1 < n else None,
                         self.boundaries[i])


def _walk(conn: pymysql.connections.Connection, shape: TableShape, chunk_size: int, plan: _Plan) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(*boundary_sql(shape, None, 0))
            row = cur.fetchone()
            while row is not None:
                plan.add(tuple(row))
                cur.execute(*boundary_sql(shape, tuple(row), chunk_size))
                row = cur.fetchone()
        plan.finish()
    except BaseException as exc:  # the workers re-raise it
        plan.finish(exc)


def _checksum_all(conn: pymysql.connections.Connection, shape: TableShape, plan: _Plan) -> list[tuple[Chunk, int, int]]:
    side = SqlSide(conn, shape)
    out, i = [], 0
    while (chunk := plan.chunk(i)) is not None:
        out.append((chunk, *side.checksum(chunk.lower, chunk.upper)))
        i += 1
    return out


def _resolve_tables(
    src: pymysql.connections.Connection, rep: pymysql.connections.Connection, names: Sequence[str] | None,
    filters: FilterList, source_name: str, replica_name: str,
) -> tuple[list[tuple[str, str]], list[dict[str, str]], list[TableResult]]:
    skipped: list[dict[str, str]] = []
    problems: list[TableResult] = []
    if names:
        wanted = []
        for name in names:
            schema, dot, table = name.strip().partition(".")
            if not dot or not schema or not table:
                raise ConsistencyError(f"--tables: {name!r} is not db.table")
            wanted.append((schema, table))
        on_source, on_replica = _both(lambda: _base_tables(src, wanted), lambda: _base_tables(rep, wanted))
        unknown = [f"{s}.{t}" for s, t in wanted if (s, t) not in on_source and (s, t) not in on_replica]
        if unknown:
            raise ConsistencyError(f"unknown table(s) on both {source_name} and {replica_name}: {', '.join(unknown)}")
    else:
        on_source, on_replica = _both(lambda: _base_tables(src), lambda: _base_tables(rep))
        wanted = sorted(on_source | on_replica)
    tables = []
    for schema, table in wanted:
        qualified = f"{schema}.{table}"
        entries = filters.matching(qualified)
        if entries:
            why = "; ".join(f"{e.name}" + (f" ({e.reason})" if e.reason else "") for e in entries)
            skipped.append({"table": qualified, "reason": f"filtered by {why}"})
            continue
        missing = [dc for dc, have in ((source_name, on_source), (replica_name, on_replica)) if (schema, table) not in have]
        if missing:
            problems.append(TableResult(qualified, [], problem=f"table missing on {missing[0]}"))
            continue
        tables.append((schema, table))
    return tables, skipped, problems


def _connect_all(servers: Sequence[Server]) -> list[pymysql.connections.Connection]:
    """Open the connections in parallel (each costs an authentication round trip); if any
    fails, close the others and raise one error naming every server that failed."""
    outcomes: list[Any] = [None] * len(servers)

    def open_one(i: int) -> None:
        try:
            outcomes[i] = connect(servers[i])
        except Exception as exc:  # noqa: BLE001 - re-raised below, after closing the others
            outcomes[i] = exc

    threads = [threading.Thread(target=open_one, args=(i,), daemon=True) for i in range(1, len(servers))]
    for t in threads:
        t.start()
    open_one(0)
    for t in threads:
        t.join()
    opened = [o for o in outcomes if not isinstance(o, Exception)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    if errors:
        for conn in opened:
            with contextlib.suppress(Exception):
                conn.close()
        messages = list(dict.fromkeys(str(e) for e in errors))  # one server named twice says one thing
        if len(messages) > 1 and all(isinstance(e, UserError) for e in errors):
            raise EnvironmentProblem("; ".join(messages))
        raise errors[0]
    return opened


def compare(
    source: Server, replica: Server, tables: Sequence[str] | None = None, *,
    filter_list: FilterList | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
    row_limit: int = DEFAULT_ROW_LIMIT, wait_timeout_s: float = 30.0, rechecks: int = 2,
    detect_roles: bool = False,
) -> ConsistencyResult:
    """Compare every replicated table (or `tables`) of `source` and `replica`. Tables on
    `filter_list` are skipped (listed with the reason); without a filter list, the
    replica's effective replication filters are used. With `detect_roles`, the two are
    swapped if it is `source` that replicates from `replica` (after a failover).

    Two passes inside one snapshot pair. First every table is checksummed whole, each
    side running through all tables on its own connection and thread (no chunk plan, no
    per-chunk round trips, no barrier between tables). Only a table whose whole-table
    count or checksum differs is then planned in `chunk_size` chunks, checksummed chunk
    by chunk and narrowed to keys, exactly as a single pass would. Both passes read the
    same snapshots and chunks partition the key space, so the whole-table BIT_XOR is the
    XOR of the chunks' and the counts add up: a table whose chunks would differ differs
    whole, except for a 32-bit collision (see `row_hash_sql`), now per table rather than
    per chunk."""
    if chunk_size < 1:
        raise ConsistencyError(f"--chunk-size must be at least 1, got {chunk_size}")
    started = time.perf_counter()
    conns: list[pymysql.connections.Connection] = []
    try:
        conns = _connect_all([source, replica])
        src, rep = conns
        flavor = admin.server_info(src)["flavor"]
        link = admin.replica_status(rep)
        if detect_roles and link is None and (reverse := admin.replica_status(src)) is not None:
            source, replica, src, rep, link = replica, source, rep, src, reverse  # the link runs the other way
        if filter_list is not None:
            filters = filter_list
        else:  # what the link actually filters
            from drills.filter_list import FilterList

            effective = admin.read_filters(rep) if link else {}
            filters = FilterList.from_filters(effective.get("ignore_tables", []), effective.get("wild_ignore_tables", []),
                                              source=f"{replica.name} replication filters")
        names, skipped, problems = _resolve_tables(src, rep, tables, filters, source.name, replica.name)
        shapes: list[TableShape] = []
        shapes_a, shapes_b = _both(lambda: _shapes(src, names), lambda: _shapes(rep, names))
        for schema, table in names:
            a, b = shapes_a.get((schema, table)), shapes_b.get((schema, table))
            if a is None or b is None or a.columns != b.columns:
                problems.append(TableResult(f"{schema}.{table}", list(a.key if a else ()),
                                            problem=f"columns differ: {source.name} {list(a.columns) if a else []}, "
                                                    f"{replica.name} {list(b.columns) if b else []}"))
                continue
            defined = definition_differences(a, b, source.name, replica.name)
            if defined:
                problems.append(TableResult(f"{schema}.{table}", list(a.key),
                                            problem="column definitions differ: " + "; ".join(defined)))
                continue
            shapes.append(a)

        position = _snapshot_pair(src, rep, flavor, link, replica.name, wait_timeout_s)
        result = ConsistencyResult(source.name, replica.name, skipped=skipped, position=position, chunk_size=chunk_size)
        result.tables.extend(problems)
        whole_a, whole_b = _both(lambda: _whole_tables(src, shapes), lambda: _whole_tables(rep, shapes))
        differing = []
        for shape, ca, cb in zip(shapes, whole_a, whole_b, strict=True):
            if ca == cb:
                result.tables.append(TableResult(shape.qualified, list(shape.key), {source.name: ca[0], replica.name: cb[0]},
                                                 chunks=_chunks_spanned(ca[0], chunk_size) if shape.key else 1,
                                                 note=None if shape.key else NO_KEY_NOTE))
            elif not shape.key:
                result.tables.append(TableResult(shape.qualified, [], {source.name: ca[0], replica.name: cb[0]}, chunks=1,
                                                 mismatched_chunks=[Chunk(0, None, None)], note=NO_KEY_NOTE))
            else:
                differing.append(shape)
        if differing:
            from concurrent.futures import ThreadPoolExecutor  # only a differing table needs the pool

            planner = connect(source)  # only now: a table that is identical whole needs no plan
            conns.append(planner)
            with ThreadPoolExecutor(3) as pool:
                for shape in differing:
                    result.tables.append(_compare_table(pool, src, rep, planner, shape, source.name, replica.name,
                                                        chunk_size, row_limit))
        if not position.exact and not result.identical and rechecks > 0 and link is not None:
            _recheck(result, source, replica, flavor, link, shapes, src, rep, row_limit, wait_timeout_s, rechecks)
        result.tables.sort(key=lambda t: t.table)
        result.elapsed_s = time.perf_counter() - started
        return result
    except pymysql.err.MySQLError as exc:
        raise EnvironmentProblem(f"comparing {source.name} and {replica.name} failed: {exc}") from None
    finally:
        for c in conns:
            with contextlib.suppress(Exception):  # closing a broken connection must not mask the error
                c.close()


NO_KEY_NOTE = "no primary key: compared by a whole-table checksum; differences cannot be narrowed to keys"


def _chunks_spanned(rows: int, chunk_size: int) -> int:
    """How many chunks the plan of a table with `rows` rows has: boundaries at the 0th,
    chunk_size-th, 2*chunk_size-th... key, and one open chunk for an empty table."""
    return max(1, -(-rows // chunk_size))


WHOLE_BATCH = 50  # tables per statement in the whole-table pass


def whole_tables_sql(shapes: Sequence[TableShape]) -> str:
    """One statement checksumming each of `shapes` whole: the UNION ALL of one aggregate per
    table, each row tagged with the table's index in `shapes`."""
    return " UNION ALL ".join(
        f"SELECT {i}, COUNT(*), COALESCE(BIT_XOR({row_hash_sql(shape)}), 0) FROM {shape.sql_name}{_force_pk(shape)}"
        for i, shape in enumerate(shapes))


def _whole_tables(conn: pymysql.connections.Connection, shapes: Sequence[TableShape]) -> list[tuple[int, int]]:
    """(COUNT(*), BIT_XOR(row hash)) of each table, whole, inside conn's snapshot; up to
    WHOLE_BATCH tables per statement, so that the server does not idle through a round
    trip per table (200 tables of 5,000 rows: 0.46 s -> 0.39 s per side, measured)."""
    out: list[tuple[int, int]] = []
    with conn.cursor() as cur:
        for start in range(0, len(shapes), WHOLE_BATCH):
            batch = shapes[start:start + WHOLE_BATCH]
            cur.execute(whole_tables_sql(batch))
            sums = {int(i): (int(count), int(crc)) for i, count, crc in cur.fetchall()}
            out += [sums[i] for i in range(len(batch))]
    return out


def _both(a: Callable[[], Any], b: Callable[[], Any]) -> tuple[Any, Any]:
    """Run a in a thread of its own and b in this one (one per side: the servers work in
    parallel); re-raise a's error once both are done, so that the caller closes no
    connection mid-query. Ctrl-C does not wait for a: the caller closes its connection."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = a()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        second = b()
    except Exception:
        thread.join()
        raise
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"], second


def _compare_table(
    pool: ThreadPoolExecutor, src: pymysql.connections.Connection, rep: pymysql.connections.Connection,
    planner: pymysql.connections.Connection, shape: TableShape, source_name: str, replica_name: str,
    chunk_size: int, row_limit: int,
) -> TableResult:
    """The chunked comparison of a table with a primary key: chunks planned on the source
    (in a thread of its own, on the `planner` connection) and checksummed on both sides as
    they are found, then every mismatching chunk narrowed to keys."""
    table = TableResult(shape.qualified, list(shape.key))
    plan = _Plan()
    pool.submit(_walk, planner, shape, chunk_size, plan)
    fa = pool.submit(_checksum_all, src, shape, plan)
    fb = pool.submit(_checksum_all, rep, shape, plan)
    sums_a, sums_b = fa.result(), fb.result()
    table.chunks = len(sums_a)
    table.rows = {source_name: sum(c for _, c, _ in sums_a), replica_name: sum(c for _, c, _ in sums_b)}
    mismatched = [(ca, cb, chunk) for (chunk, *ca), (_, *cb) in zip(sums_a, sums_b, strict=True) if ca != cb]
    table.mismatched_chunks = [chunk for _, _, chunk in mismatched]
    a, b = SqlSide(src, shape), SqlSide(rep, shape)
    table.diff = RowDiff(missing={source_name: [], replica_name: []})
    for ca, cb, chunk in mismatched:
        table.diff.extend(narrow(source_name, a, replica_name, b, chunk.lower, chunk.upper, split=a.split,
                                 rows=max(ca[0], cb[0]), row_limit=row_limit))
    return table


def _recheck(
    result: ConsistencyResult, source: Server, replica: Server, flavor: str, link: admin.ReplicaStatus,
    shapes: list[TableShape], src: pymysql.connections.Connection, rep: pymysql.connections.Connection,
    row_limit: int, wait_timeout_s: float, rechecks: int,
) -> None:
    """Re-compare mismatching chunks at fresh snapshots; keep only keys that differ every
    time (the others were writes in flight between the two snapshots)."""
    by_name = {s.qualified: s for s in shapes}
    for _ in range(rechecks):
        for conn in (src, rep):
            with conn.cursor() as cur:
                cur.execute("ROLLBACK")
        result.position = _snapshot_pair(src, rep, flavor, link, replica.name, wait_timeout_s)
        result.passes += 1
        for table in result.tables:
            shape = by_name.get(table.table)
            if shape is None or table.identical:
                continue
            a, b = SqlSide(src, shape), SqlSide(rep, shape)
            still: list[Chunk] = []
            earlier = table.diff.keys()
            fresh = RowDiff(missing={source.name: [], replica.name: []})
            for chunk in table.mismatched_chunks:
                ca, cb = a.checksum(chunk.lower, chunk.upper), b.checksum(chunk.lower, chunk.upper)
                if ca == cb:
                    continue
                if shape.key:  # a chunk stays mismatched only for keys that differed every time
                    persistent = narrow(source.name, a, replica.name, b, chunk.lower, chunk.upper, split=a.split,
                                        rows=max(ca[0], cb[0]), row_limit=row_limit).restricted_to(earlier)
                    if not persistent.keys():
                        continue
                    fresh.extend(persistent)
                still.append(chunk)
            table.mismatched_chunks = still
            if shape.key:
                table.diff = fresh
                table.transient += len(earlier) - len(fresh.keys())
        if result.position.exact or result.identical:
            break


def _refuse_same_server(dc1: Server, dc2: Server) -> None:
    """Comparing a server with itself always passes, so two DSNs that reach one server are
    refused (exit 2) before anything is compared.

    Identity is tested, not guessed from variables: MariaDB has no @@server_uuid (MySQL
    has), and @@server_id, @@hostname and @@port can be equal on two distinct servers (the
    default server_id is 1 everywhere; containers share host name and port 3306), while
    one server can be reached under two names (localhost and 127.0.0.1, directly and
    through a proxy). A named lock is server-wide: a lock with a random name taken on
    dc1's connection is in use as seen from dc2's connection exactly when both are one
    server. GET_LOCK needs no privilege and works on a read-only server; the lock goes
    with the connection. If the probe itself cannot run, nothing is refused here."""
    import secrets

    token = f"drills-identity-{secrets.token_hex(12)}"
    conns = _connect_all([dc1, dc2])
    try:
        with conns[0].cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (token,))
            taken = cur.fetchone()[0] == 1
        with conns[1].cursor() as cur:
            cur.execute("SELECT IS_USED_LOCK(%s)", (token,))
            holder = cur.fetchone()[0]
    except pymysql.err.MySQLError:
        return
    finally:
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
    if taken and holder is not None:
        raise ConsistencyError(
            f"dc1 ({dc1.where}) and dc2 ({dc2.where}) are the same server: a server compared with itself "
            "always looks identical", hint="give --dsn for dc1, then --dsn for dc2: two different servers")


def check(
    topo_or_dsns: Any, tables: Sequence[str] | None = None, *, filter_list: FilterList | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE, wait_timeout_s: float = 30.0,
) -> ConsistencyResult:
    """Compare a running topology (dc1 against dc2 on the observer path, with its declared
    filter list) or two DSNs (first = dc1, second = dc2; refused when both reach one
    server). The source is whichever side the other replicates from, so the check also
    works after failover reversed the link."""
    state = sys.modules.get("drills.topology.state")  # not imported: then nothing can be a Topology
    if state is not None and isinstance(topo_or_dsns, state.Topology):
        topo = topo_or_dsns
        dc1, dc2 = Server.from_topology(topo, "dc1"), Server.from_topology(topo, "dc2")
        if filter_list is None:
            filter_list = topo.declared_filters
    else:
        pair = list(topo_or_dsns)
        if len(pair) != 2:
            raise ConsistencyError(f"expected two DSNs (dc1 and dc2), got {len(pair)}", hint="--dsn DC1 --dsn DC2")
        dc1, dc2 = (p if isinstance(p, Server) else Server.from_dsn(p, f"dc{i + 1}") for i, p in enumerate(pair))
        if dc1.where.rpartition("@")[2] == dc2.where.rpartition("@")[2]:  # one host:port, whoever logs in
            raise ConsistencyError(f"dc1 and dc2 are the same server ({dc1.where}): a server compared with itself "
                                   "always looks identical",
                                   hint="give --dsn for dc1, then --dsn for dc2: two different servers")
        _refuse_same_server(dc1, dc2)
    return compare(dc1, dc2, tables, filter_list=filter_list, chunk_size=chunk_size, wait_timeout_s=wait_timeout_s,
                   detect_roles=True)


def exit_code(result: ConsistencyResult) -> int:
    return 0 if result.identical else 1


__all__ = [
    "CHECK_NAME", "Chunk", "ConsistencyError", "ConsistencyResult", "Server", "TableShape", "check",
    "chunk_checksum_sql", "chunks_from_boundaries", "compare", "diff_rows", "exit_code", "mask_dsn", "narrow",
    "parse_dsn", "range_predicate", "row_hash_sql", "whole_tables_sql",
]
