"""Administration over a pymysql connection, in whichever flavour the server speaks.

Functions take an open connection (observer path for verification, service path when the
caller is acting as the application or the controller would) and never log credentials.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pymysql
import pymysql.cursors

from drills.mysql.dialect import Dialect, ReplicaSettings, dialect_for_version

_DIALECT_ATTR = "_drills_dialect"


def dialect(conn: pymysql.connections.Connection) -> Dialect:
    cached = getattr(conn, _DIALECT_ATTR, None)
    if cached is None:
        cached = dialect_for_version(conn.get_server_info() or "")
        setattr(conn, _DIALECT_ATTR, cached)
    return cached


def _rows(conn: pymysql.connections.Connection, sql: str, args: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _exec(conn: pymysql.connections.Connection, sql: str, args: tuple[Any, ...] | None = None) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, args)


def server_info(conn: pymysql.connections.Connection) -> dict[str, str]:
    version = _rows(conn, "SELECT VERSION() AS v")[0]["v"]
    return {"flavor": dialect_for_version(version).flavor, "version": version}


@dataclass(frozen=True)
class ReplicaStatus:
    io_running: bool
    sql_running: bool
    io_state: str  # Yes | No | Connecting
    lag_s: float | None
    source_host: str
    source_port: int
    last_io_error: str
    last_sql_error: str
    gtid_io_pos: str
    last_sql_errno: int = 0  # 1062 duplicate key, 1032 row not found: what stopped the applier

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replica_status(conn: pymysql.connections.Connection) -> ReplicaStatus | None:
    d = dialect(conn)
    rows = _rows(conn, d.status_sql)
    if not rows:
        return None
    r = rows[0]
    lag = r.get(d.field_lag)
    return ReplicaStatus(
        io_running=r.get(d.field_io) == "Yes",
        sql_running=r.get(d.field_sql) == "Yes",
        io_state=str(r.get(d.field_io) or "No"),
        lag_s=float(lag) if lag is not None else None,
        source_host=str(r.get(d.field_host) or ""),
        source_port=int(r.get(d.field_port) or 0),
        last_io_error=str(r.get("Last_IO_Error") or ""),
        last_sql_error=str(r.get("Last_SQL_Error") or ""),
        gtid_io_pos=str(r.get("Gtid_IO_Pos") or r.get("Retrieved_Gtid_Set") or ""),
        last_sql_errno=int(r.get("Last_SQL_Errno") or 0),
    )


def configure_replica(conn: pymysql.connections.Connection, host: str, port: int, user: str, password: str,
                      filters: dict[str, list[str]], *, start: bool = True) -> None:
    """Point this server at a source (GTID auto-positioning) with the given filter list."""
    d = dialect(conn)
    _exec(conn, d.stop_replica())
    _exec(conn, d.reset_replica())
    for sql in d.align_replica_position():
        _exec(conn, sql)
    for sql, args in d.change_source(ReplicaSettings(host, port, user, password)):
        _exec(conn, sql, args)
    set_filters(conn, filters)
    if start:
        _exec(conn, d.start_replica())


def start_replica(conn: pymysql.connections.Connection) -> None:
    _exec(conn, dialect(conn).start_replica())


def stop_replica(conn: pymysql.connections.Connection, thread: str | None = None) -> None:
    _exec(conn, dialect(conn).stop_replica(thread))


def reset_replica(conn: pymysql.connections.Connection) -> None:
    d = dialect(conn)
    _exec(conn, d.stop_replica())
    _exec(conn, d.reset_replica())


def set_filters(conn: pymysql.connections.Connection, filters: dict[str, list[str]]) -> None:
    """Apply the filter list. The replica threads must be stopped (MariaDB and MySQL both
    require it); callers restart them."""
    for sql, args in dialect(conn).set_filters(list(filters.get("ignore_tables", [])), list(filters.get("wild_ignore_tables", []))):
        _exec(conn, sql, args)


def read_filters(conn: pymysql.connections.Connection) -> dict[str, list[str]]:
    """The filters the replica actually applies, read back from the server."""
    d = dialect(conn)
    ignore, wild = d.parse_filters(_rows(conn, d.read_filters_sql()))
    return {"ignore_tables": ignore, "wild_ignore_tables": wild}


def gtid_executed(conn: pymysql.connections.Connection) -> str:
    return str(_rows(conn, dialect(conn).gtid_executed_sql())[0]["gtid"] or "")


def wait_for_gtid(conn: pymysql.connections.Connection, gtid: str, timeout_s: float) -> bool:
    """Block until this server has applied `gtid` (bounded); False on timeout."""
    d = dialect(conn)
    if not gtid:
        return True
    sql, args = d.wait_for_gtid(gtid, timeout_s)
    return d.wait_succeeded(_rows(conn, sql, args)[0]["r"])


def set_read_only(conn: pymysql.connections.Connection, on: bool) -> None:
    for sql in dialect(conn).fence(on):
        _exec(conn, sql)


def read_only(conn: pymysql.connections.Connection) -> bool:
    return bool(int(_rows(conn, dialect(conn).read_only_sql())[0]["ro"]))
