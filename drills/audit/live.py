"""Live inputs: schema, sampled rows, effective filters, auto_increment settings and recent
binlog writes read from running servers, by DSN or from a running topology.

Everything here only reads (information_schema, SHOW, SELECT ... LIMIT), so the audit is
safe against production replicas. The DSN's password is used to connect and is never
printed: errors and the report name a server by its label and `user@host:port`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.audit import evidence
from drills.audit.schema import SYSTEM_DATABASES, Column, ForeignKey, Schema, Table
from drills.audit.traffic import Traffic
from drills.dsn import Dsn
from drills.dsn import parse_dsn as _parse_dsn
from drills.errors import EnvironmentProblem
from drills.filter_list import FilterList
from drills.mysql import admin

SAMPLE_ROWS = 1000  # rows of an environment-candidate table compared between the sides
BINLOG_EVENTS = 20_000  # most recent binlog events read per server for observed writes


def parse_dsn(text: str) -> Dsn:
    return _parse_dsn(text, "--dsn", database=True)


@dataclass
class LiveSide:
    """One server as the audit reads it."""

    label: str  # dc1 / dc2
    where: str  # user@host:port, for messages
    conn: Any  # pymysql connection (autocommit)


def connect_dsn(dsn: Dsn, label: str, timeout: float = 5.0) -> LiveSide:
    import pymysql

    try:
        conn = pymysql.connect(host=dsn.host, port=dsn.port, user=dsn.user, password=dsn.password, database=dsn.database,
                               connect_timeout=timeout, read_timeout=60, autocommit=True, charset="utf8mb4")
    except pymysql.err.MySQLError as exc:
        reason = exc.args[1] if len(exc.args) > 1 else str(exc)
        if dsn.password:
            reason = str(reason).replace(dsn.password, "***")
        raise EnvironmentProblem(f"cannot connect to {label} ({dsn.masked()}): {reason}") from None
    return LiveSide(label, dsn.masked(), conn)


def connect_topology(state_dir: str | Path) -> tuple[list[LiveSide], FilterList]:
    """dc1 and dc2 of a running topology on the observer path, and its declared filter list."""
    from drills.topology import Topology

    topo = Topology.load(state_dir)
    sides = []
    for dc in ("dc1", "dc2"):
        server = topo.servers[dc]
        where = f"{server.host}:{server.port}"
        try:
            conn = topo.connect(dc, via="observer", timeout=5.0)
        except Exception as exc:  # pymysql errors and the topology's own, all mean "unreachable"
            reason = exc.args[1] if len(getattr(exc, "args", ())) > 1 else str(exc)
            for secret in topo.secrets():
                reason = str(reason).replace(secret, "***")
            raise EnvironmentProblem(f"cannot connect to {dc} ({where}) of the topology in {state_dir}: {reason}") from None
        sides.append(LiveSide(dc, where, conn))
    return sides, topo.declared_filters


def _query(side: LiveSide, sql: str, args: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    import pymysql

    try:
        with side.conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    except pymysql.err.MySQLError as exc:
        reason = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise EnvironmentProblem(f"{side.label} ({side.where}): reading failed: {reason}") from None


def _not_system(column: str) -> str:
    return f"{column} NOT IN ({', '.join(repr(d) for d in sorted(SYSTEM_DATABASES))})"


def read_schema(side: LiveSide, *, sample: Callable[[Table], bool] | None = evidence.worth_sampling) -> Schema:
    """Tables, columns, keys, AUTO_INCREMENT and comments from information_schema; rows of
    the tables `sample` selects (environment candidates and key + counter tables by default); routines and triggers
    that use LAST_INSERT_ID (how a sequence table is used)."""
    schema = Schema(label=side.label, sources=[side.where])
    for db, name, ttype, engine, ai, comment in _query(
        side, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, AUTO_INCREMENT, TABLE_COMMENT FROM information_schema.TABLES "
        f"WHERE {_not_system('TABLE_SCHEMA')} AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE')"
    ):
        schema.add(Table(db=db, name=name, engine=engine or "", auto_increment=ai, comment=comment or "",
                         is_sequence=(ttype == "SEQUENCE"), source=side.label))
    for (db,) in _query(side, f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE {_not_system('SCHEMA_NAME')}"):
        schema.databases.add(db.lower())
    for db, name, col, dtype, ctype, nullable, default, extra, comment in _query(
        side, "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT "
        f"FROM information_schema.COLUMNS WHERE {_not_system('TABLE_SCHEMA')} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
    ):
        table = schema.get(f"{db}.{name}")
        if table is None:
            continue  # a view
        args = re.search(r"\(([^)]*)\)", ctype or "")
        table.columns[col.lower()] = Column(col, dtype.lower(), args.group(1) if args else "", "unsigned" in (ctype or "").lower(),
                                            nullable == "YES", default, "auto_increment" in (extra or "").lower(), comment or "")
    keys: dict[tuple[str, str, str], tuple[bool, list[str]]] = {}
    for db, name, index, non_unique, col in _query(
        side, "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
        f"WHERE {_not_system('TABLE_SCHEMA')} ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    ):
        keys.setdefault((db, name, index), (not int(non_unique), []))[1].append(col)
    for (db, name, index), (unique, cols) in keys.items():
        table = schema.get(f"{db}.{name}")
        if table is None:
            continue
        if index == "PRIMARY":
            table.primary_key = tuple(cols)
        elif unique:
            table.unique_keys.append(tuple(cols))
        else:
            table.indexes.append(tuple(cols))
    fks: dict[tuple[str, str, str], list[tuple[str, str, str, str]]] = {}
    for db, name, col, rdb, rtable, rcol, cname in _query(
        side, "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME, "
        f"CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_NAME IS NOT NULL AND {_not_system('TABLE_SCHEMA')}"
    ):
        fks.setdefault((db, name, cname), []).append((col, rdb, rtable, rcol))
    for (db, name, _c), parts in fks.items():
        table = schema.get(f"{db}.{name}")
        if table is not None:
            table.foreign_keys.append(ForeignKey(tuple(p[0] for p in parts), f"{parts[0][1]}.{parts[0][2]}".lower(), tuple(p[3] for p in parts)))
    for (body,) in _query(side, "SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE "
                          f"{_not_system('ROUTINE_SCHEMA')} AND ROUTINE_DEFINITION LIKE '%LAST_INSERT_ID%'"):
        schema.statements.append((body or "", side.label, None))
    for (body,) in _query(side, "SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE "
                          f"{_not_system('TRIGGER_SCHEMA')} AND ACTION_STATEMENT LIKE '%LAST_INSERT_ID%'"):
        schema.statements.append((body or "", side.label, None))
    if sample is not None:
        for table in schema:
            if table.columns and sample(table):
                sample_rows(side, table)
    return schema


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def sample_rows(side: LiveSide, table: Table, limit: int = SAMPLE_ROWS) -> None:
    order = f" ORDER BY {', '.join(_quote(c) for c in table.primary_key)}" if table.primary_key else ""
    cols = [c.name for c in table.columns.values()]
    rows = _query(side, f"SELECT {', '.join(_quote(c) for c in cols)} FROM {_quote(table.db)}.{_quote(table.name)}{order} LIMIT {int(limit)}")
    table.row_columns = cols
    table.rows = [tuple(r) for r in rows]


def read_effective_filters(side: LiveSide) -> FilterList:
    """The filters the server applies, via drills.mysql.admin (flavour-aware)."""
    filters = _admin_call(side, admin.read_filters)
    return FilterList.from_filters(filters.get("ignore_tables", []), filters.get("wild_ignore_tables", []), source=side.label)


def is_replica(side: LiveSide) -> bool:
    return _admin_call(side, admin.replica_status) is not None


def _admin_call(side: LiveSide, fn: Callable[[Any], Any]) -> Any:
    import pymysql

    try:
        return fn(side.conn)
    except pymysql.err.MySQLError as exc:
        reason = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise EnvironmentProblem(f"{side.label} ({side.where}): reading failed: {reason}") from None


def read_auto_increment(side: LiveSide) -> tuple[int, int]:
    inc, off = _query(side, "SELECT @@GLOBAL.auto_increment_increment, @@GLOBAL.auto_increment_offset")[0]
    return int(inc), int(off)


def server_id(side: LiveSide) -> int:
    return int(_query(side, "SELECT @@GLOBAL.server_id")[0][0])


_TABLE_MAP_INFO = re.compile(r"table_id: \d+ \(([^.]+)\.([^)]+)\)")
_DML_INFO = re.compile(r"^\s*(?:use\s+`?(\w+)`?\s*;\s*)?(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+([`\w]+(?:\.[`\w]+)?)", re.I)


def read_binlog_traffic(side: LiveSide, server_ids: dict[int, str], limit: int = BINLOG_EVENTS) -> Traffic:
    """Recent writes by origin from the server's current binlog (`SHOW BINLOG EVENTS`):
    Table_map events (row format) and Query events (statement format), attributed by the
    event's server id. A server without a binlog contributes nothing."""
    traffic = Traffic(sources=[f"binlog of {side.label}"])
    logs = _query(side, "SHOW BINARY LOGS") if _query(side, "SELECT @@GLOBAL.log_bin")[0][0] else []
    if not logs:
        return traffic
    name = logs[-1][0]
    for row in _query(side, f"SHOW BINLOG EVENTS IN %s LIMIT {int(limit)}", (name,)):
        _log, _pos, etype, sid, _end, info = row[:6]
        dc = server_ids.get(int(sid), f"server-{sid}")
        if etype == "Table_map":
            m = _TABLE_MAP_INFO.search(info or "")
            if m and m.group(1).lower() not in SYSTEM_DATABASES:
                traffic.add_write(f"{m.group(1)}.{m.group(2)}", dc)
        elif etype == "Query":
            m = _DML_INFO.match(info or "")
            if m:
                tname = m.group(2).replace("`", "")
                if "." not in tname and m.group(1):
                    tname = f"{m.group(1)}.{tname}"
                if "." in tname and tname.split(".", 1)[0].lower() not in SYSTEM_DATABASES:
                    traffic.add_write(tname, dc)
                if "last_insert_id" in (info or "").lower():
                    traffic.statements.append(info)
    return traffic


def close(sides: list[LiveSide]) -> None:
    for side in sides:
        try:
            side.conn.close()
        except Exception:  # noqa: BLE001,S110 - closing a dead connection is not an error of the audit
            pass
