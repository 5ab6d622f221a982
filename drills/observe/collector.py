"""Recording what the servers hold before judging, so every verdict rests on the journal.

Checks never query a server: they read the journal and the ledger. This collector is the
one moment the harness looks, on the *observer* path (straight to mariadbd, whatever
faults the service path still carries), and writes down what it saw:

- `settle` ledger lines for writes whose outcome was unknown (`info`, or never completed):
  the row read back on each side, so RPO can count a timed-out write that did commit;
- `observe.link` — replication state and whether the replica caught up with the source
  (bounded wait), so "not on the replica" can be told apart from "not there yet";
- `observe.gtid` — executed GTID positions (on MariaDB also the binlog *state*, one entry
  per domain-server, which the GTID set difference needs);
- `observe.ids` — the orders' primary keys on each side as ranges; `observe.sequence` —
  each sequence row's next value on each side;
- `observe.filters` — the replica's effective filters beside the declared list;
- `canary.write` / `canary.observed` — a marker row in every exact filtered table and in
  one table per filter pattern on the current source, looked for on the replica after the
  link caught up, plus one control canary in a replicated table (proof that the link was
  carrying changes at all); canary rows are deleted again afterwards;
- `observe.schema` — SHOW CREATE TABLE of every filtered table on both sides.

A side that cannot be reached, or a step that fails, is journaled as `observe.error`
and the rest goes on: the checks turn missing evidence into `unknown`, never into a pass.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

from drills import events as ev
from drills.checks.history import History
from drills.events import OBSERVE_ERROR, OBSERVE_LINK
from drills.filter_list import FilterList, like_match
from drills.journal import Journal, now_wall, read_tolerant
from drills.record import LEDGER_FILE

SOURCE = "observer"
ORDERS_TABLE = "app.orders"
# The harness's own schema: the control canary (a replicated table, proof that the link
# carries rows at all) lives here, created on each side without binlogging so the link never
# depends on it; the consistency check skips it.
CANARY_SCHEMA = "drills_canary"
CONTROL_TABLE = f"{CANARY_SCHEMA}.control"
# where `expect: writes_succeed` writes in someone else's environment (writes: canary): the
# application's account, the application's path, but the harness's own table
PROBE_TABLE = f"{CANARY_SCHEMA}.write_probe"
DEFAULT_SEQUENCE_TABLE = "app.id_sequence"
SETTLE_CHUNK = 500
READ_TIMEOUT_S = 30.0  # longer than any server-side wait the collector asks for


def collect(topo: Any, journal: Journal, scenario: Any = None, ledger: str | Path | None = None, *,
            catch_up_timeout_s: float = 5.0) -> dict[str, Any]:
    """Observe everything the checks need at the end of a run and journal it. Returns a
    short account (counts, errors) for the caller's log; the journal is the record."""
    ledger_path = Path(ledger) if ledger is not None else journal.path.parent / LEDGER_FILE
    account: dict[str, Any] = {"errors": []}
    conns = _connect_all(topo, journal, account)
    try:
        account["settled"] = _guard(journal, account, "settle", None, lambda: settle(conns, ledger_path), 0)
        source, replica = _roles(topo, conns, journal)
        account["source"], account["replica"] = source, replica
        account["caught_up"] = _guard(journal, account, "link", replica,
                                      lambda: observe_link(conns, journal, source, replica, catch_up_timeout_s), None)
        for dc in conns:
            _guard(journal, account, "gtid", dc, lambda dc=dc: observe_gtid(conns[dc], journal, dc), None)
        for dc in conns:
            _guard(journal, account, "ids", dc, lambda dc=dc: observe_ids(conns[dc], journal, dc, ORDERS_TABLE), None)
        seq_table = _sequence_table(scenario)
        for dc in conns:
            _guard(journal, account, "sequence", dc, lambda dc=dc: observe_sequence(conns[dc], journal, dc, seq_table), None)
        declared = topo.declared_filters
        if replica is None:
            _error(journal, account, "filters", None, "no replication link is configured on either side")
        linked = _observe_direction(conns, journal, account, source, replica, declared, catch_up_timeout_s, write=True,
                                    policy=writes_policy(topo))
        _guard(journal, account, "canary", None,
               lambda: resolve_canaries(conns, journal, source, replica, catch_up_timeout_s, final=True), None)
        if linked and source is not None and replica is not None:
            _guard(journal, account, "sequence", replica,
                   lambda: observe_standby_sequence(conns, journal, source, replica, seq_table, catch_up_timeout_s, "end"),
                   None)
        _guard(journal, account, "schema", None, lambda: observe_schema(conns, journal, declared), None)
    finally:
        _close_all(conns)
    return account


def observe_point(topo: Any, journal: Journal, scenario: Any = None, *, when: str,
                  catch_up_timeout_s: float = 3.0) -> dict[str, Any]:
    """What the runner records at the moments a switch could change what the end of the run
    can still see — before the first fault or switch (`baseline`), before a switch step
    (`before-switch`) and after it (`after-switch`):

    - the link as it runs now, its effective filters, and a canary round on it — so the
      pre-fault direction of an unplanned drill is judged too, and every direction a switch
      leaves behind;
    - before a switch, canaries on the active side even when no link runs yet: a failback
      first makes the old primary a replica of the active side, and those canaries show
      whether that catch-up link kept the filtered tables out;
    - every canary still waiting for its replica, looked for now;
    - the standby's sequence high-water mark once its link has caught up.
    """
    account: dict[str, Any] = {"errors": [], "when": when}
    conns = _connect_all(topo, journal, account, timeout=1.0)  # a hung side must not hold up the drill
    try:
        source, replica = _roles(topo, conns, journal)
        declared = topo.declared_filters
        if when == "baseline":
            record_observation(journal, ev.FILTERS_DECLARED, when=when, **declared.as_filters())
        linked = _observe_direction(conns, journal, account, source, replica, declared, catch_up_timeout_s,
                                    write=True, when=when, policy=writes_policy(topo))
        if when == "before-switch" and not linked:
            active = _active_dc(topo, journal)
            other = next((dc for dc in sorted(topo.servers) if dc != active), None)
            if active in conns and other is not None:
                _guard(journal, account, "canary", active,
                       lambda: write_canaries(conns, journal, active, other, declared, when=when,
                                              policy=writes_policy(topo)), 0)
        _guard(journal, account, "canary", None,
               lambda: resolve_canaries(conns, journal, source, replica, catch_up_timeout_s), None)
        if linked and source is not None and replica is not None:
            seq_table = _sequence_table(scenario)
            _guard(journal, account, "sequence", replica,
                   lambda: observe_standby_sequence(conns, journal, source, replica, seq_table, catch_up_timeout_s, when),
                   None)
    finally:
        _close_all(conns)
    return account


def _observe_direction(conns: dict[str, pymysql.connections.Connection], journal: Journal, account: dict[str, Any],
                       source: str | None, replica: str | None, declared: FilterList, timeout_s: float, *,
                       write: bool, when: str = "end", policy: str = "all") -> bool:
    """Effective filters and a canary round on the link that runs now; False when none runs."""
    from drills.mysql import admin

    if replica is None or replica not in conns or source not in conns:
        return False
    status = _guard(journal, account, "link", replica, lambda: admin.replica_status(conns[replica]), None)
    if status is None or not (status.io_running or status.sql_running):
        return False
    _guard(journal, account, "filters", replica,
           lambda: observe_filters_on(conns[replica], journal, replica, source, declared), None)
    if write:
        _guard(journal, account, "canary", source,
               lambda: write_canaries(conns, journal, source, replica, declared, when=when, policy=policy), 0)
    return True


def writes_policy(topo: Any) -> str:
    """What the harness may write: `all` on a topology drills made; in someone else's
    environment what its file says — `canary` (only the harness's own schema: no marker rows
    in the user's filtered tables) or `none`."""
    env = getattr(topo, "environment", None)
    return "all" if env is None else str(env.writes)


def _close_all(conns: dict[str, pymysql.connections.Connection]) -> None:
    for conn in conns.values():
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must not hide the result
            pass


# ---- steps -----------------------------------------------------------------------------------


def settle(conns: dict[str, pymysql.connections.Connection], ledger_path: Path) -> int:
    """Read every order write back on each side, by its token, and append one `settle`
    line per write: `present[dc]` is True when the row with that token holds what the client
    sent (id, buyer, amount), False when it does not — absent, or the token's row altered —
    and None for a side that could not be read. Acknowledged writes are read back too: RPO
    and split brain need to know where each write *is*, and a reused ID must never stand in
    for a write that is gone."""
    if not ledger_path.exists():
        return 0
    raw = read_tolerant(ledger_path, [])
    hist = History.build([], raw)
    content = _sent_content(raw)
    pending = [o for o in hist.ops if o.f == "write_order" and o.settle is None]
    if not pending:
        return 0
    tokens = sorted({o.token for o in pending if o.token})
    found: dict[str, dict[str, tuple[Any, ...]] | None] = {}
    for dc, conn in sorted(conns.items()):
        try:
            found[dc] = _rows_by_token(conn, tokens)
        except pymysql.MySQLError:
            found[dc] = None  # that side could not be read: its presence stays unknown
    with open(ledger_path, "a", encoding="utf-8") as fh:
        for o in pending:
            present: dict[str, bool | None] = {}
            altered: dict[str, Any] = {}
            for dc, rows in found.items():
                if rows is None or not o.token:
                    present[dc] = None
                    continue
                row = rows.get(o.token)
                if row is None:
                    present[dc] = False
                    continue
                same = _same_content(row, o.id, content.get(o.op, {}))
                present[dc] = same
                if not same:
                    altered[dc] = {"id": row[0], "buyer_id": row[1], "amount": str(row[2])}
            line: dict[str, Any] = {"op": o.op, "type": "settle", "f": o.f, "id": o.id, "dc": o.dc, "epoch": o.epoch,
                                    "token": o.token, "present": present, "mono_ns": time.monotonic_ns(), "wall": now_wall()}
            if altered:
                line["altered"] = altered
            fh.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        fh.flush()
    return len(pending)


def _sent_content(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """What each write_order invoke said it wrote (the read-back compares it)."""
    out: dict[int, dict[str, Any]] = {}
    for rec in records:
        if rec.get("type") == "invoke" and rec.get("f") == "write_order" and isinstance(rec.get("op"), int):
            out[rec["op"]] = {k: rec[k] for k in ("buyer_id", "amount") if rec.get(k) is not None}
    return out


def _rows_by_token(conn: pymysql.connections.Connection, tokens: list[str]) -> dict[str, tuple[Any, ...]]:
    rows: dict[str, tuple[Any, ...]] = {}
    for i in range(0, len(tokens), SETTLE_CHUNK):
        chunk = tokens[i:i + SETTLE_CHUNK]
        for token, *rest in _rows(conn, f"SELECT token, id, buyer_id, amount FROM {_qualified(ORDERS_TABLE)} "
                                        f"WHERE token IN ({','.join(['%s'] * len(chunk))})", tuple(chunk)):
            rows[str(token)] = tuple(rest)
    return rows


def _same_content(row: tuple[Any, ...], sent_id: int | None, sent: dict[str, Any]) -> bool:
    row_id, buyer_id, amount = row
    if sent_id is not None and int(row_id) != int(sent_id):
        return False
    if "buyer_id" in sent and int(buyer_id) != int(sent["buyer_id"]):
        return False
    if "amount" in sent:
        try:
            from decimal import Decimal

            return Decimal(str(amount)) == Decimal(str(sent["amount"]))
        except ArithmeticError:
            return False
    return True


def observe_link(conns: dict[str, pymysql.connections.Connection], journal: Journal, source: str | None,
                 replica: str | None, timeout_s: float) -> bool | None:
    """Wait (bounded) until the replica has applied the source's position; journal it."""
    from drills.mysql import admin

    if replica is None or replica not in conns:
        return None
    status = admin.replica_status(conns[replica])
    caught_up: bool | None = None
    waited_ms = 0
    position = None
    if status is not None and status.io_running and status.sql_running and source in conns:
        position = admin.gtid_executed(conns[source])
        started = time.monotonic()
        caught_up = admin.wait_for_gtid(conns[replica], position, timeout_s)
        waited_ms = int((time.monotonic() - started) * 1000)
    record_observation(journal, OBSERVE_LINK, source=source, replica=replica,
                   io_running=status.io_running if status else False, sql_running=status.sql_running if status else False,
                   lag_s=status.lag_s if status else None, last_io_error=status.last_io_error if status else "",
                   last_sql_error=status.last_sql_error if status else "", position=position,
                   caught_up=caught_up, waited_ms=waited_ms)
    return caught_up


def observe_gtid(conn: pymysql.connections.Connection, journal: Journal, dc: str) -> None:
    from drills.mysql import admin

    payload: dict[str, Any] = {"dc": dc, "gtid_executed": admin.gtid_executed(conn)}
    if admin.dialect(conn).flavor == "mariadb":
        payload["gtid_binlog_state"] = str(_rows(conn, "SELECT @@GLOBAL.gtid_binlog_state")[0][0] or "")
    record_observation(journal, ev.OBSERVE_GTID, **payload)


def observe_ids(conn: pymysql.connections.Connection, journal: Journal, dc: str, table: str) -> None:
    """The table's integer primary keys as inclusive ranges (gaps and islands, computed by
    the server so a million rows cost one short result)."""
    rows = _rows(conn, f"SELECT MIN(id), MAX(id), COUNT(*) FROM (SELECT id, id - ROW_NUMBER() OVER (ORDER BY id) AS grp "
                       f"FROM {_qualified(table)}) AS islands GROUP BY grp ORDER BY 1")
    ranges = [[int(lo), int(hi)] for lo, hi, _ in rows]
    record_observation(journal, ev.OBSERVE_IDS, dc=dc, table=table, ranges=ranges, count=sum(int(n) for *_, n in rows))


def observe_sequence(conn: pymysql.connections.Connection, journal: Journal, dc: str, table: str) -> None:
    for name, next_val in _rows(conn, f"SELECT name, next_val FROM {_qualified(table)} ORDER BY name"):
        record_observation(journal, ev.OBSERVE_SEQUENCE, dc=dc, table=table, name=name, next_val=int(next_val))


def observe_filters_on(conn: pymysql.connections.Connection, journal: Journal, replica: str, source: str | None,
                       declared: FilterList) -> dict[str, Any]:
    from drills.mysql import admin

    effective = admin.read_filters(conn)
    return record_observation(journal, ev.OBSERVE_FILTERS, replica=replica, source=source, effective=effective,
                          declared=declared.as_filters())


def write_canaries(conns: dict[str, pymysql.connections.Connection], journal: Journal, source: str, replica: str,
                   declared: FilterList, *, when: str = "end", policy: str = "all") -> int:
    """A canary round: a marker row in every exact filtered table and in one table per
    filter pattern on `source`, plus the control row in the harness's own replicated table.
    The plan (which tables) is journaled first, so a canary that could not be written shows
    as missing, not as one that stayed home. Looked for later by `resolve_canaries`."""
    src = conns[source]
    tables = filtered_tables(src, declared, one_per_pattern=True)
    control = CONTROL_TABLE if not declared.is_filtered(CONTROL_TABLE) and policy != "none" else None
    withheld = {} if policy == "all" else {"tables": tables, "why": f"the environment allows {policy} writes "
                                           f"({'only the harness schema ' + CANARY_SCHEMA if policy == 'canary' else 'none at all'})"}
    if control is not None:
        _ensure_canary_schema(conns)
    round_id = uuid.uuid4().hex[:8]
    record_observation(journal, ev.CANARY_PLAN, round=round_id, source=source, replica=replica, tables=tables,
                       control=control, when=when, **({"withheld": withheld} if withheld else {}))
    written = 0
    mine = [] if withheld else [(t, True) for t in tables]
    for table, filtered in mine + ([(control, False)] if control else []):
        marker = f"drills-canary-{uuid.uuid4().hex[:12]}"
        try:
            key = _insert_canary(src, table, marker)
        except pymysql.MySQLError as exc:
            record_observation(journal, OBSERVE_ERROR, what="canary", dc=source, table=table, error=_mysql_error(exc),
                               round=round_id)
            continue
        record_observation(journal, ev.CANARY_WRITE, table=table, source=source, replica=replica, marker=marker,
                           filtered=filtered, key=_jsonable(key), round=round_id, by="harness")
        written += 1
    return written


def resolve_canaries(conns: dict[str, pymysql.connections.Connection], journal: Journal, source: str | None,
                     replica: str | None, timeout_s: float, *, final: bool = False) -> int:
    """Look for every canary not yet looked for — the harness's own and the rows a scenario's
    `sql` steps wrote into filtered tables — on the replica of the direction it was written
    for. When that link runs now, wait (bounded) for it to catch up first and record whether
    it did. A canary whose link does not run now is looked for once the journal shows that
    direction caught up after it was written (a failback's GTID wait); until then it waits —
    except at the end of the run (`final`), when it is looked for anyway and the judge finds
    it inconclusive. Harness canary rows are then removed without binlogging (a row deleted
    on a side that has since become a replica must not turn into an errant transaction)."""
    from drills.checks.filters import caught_up_between
    from drills.mysql import admin

    hist = History.load(journal.path.parent)
    seen = {str(e.get("marker")) for e in hist.of(ev.CANARY_OBSERVED)}
    now = time.monotonic_ns()
    pending = [w for w in hist.of(ev.CANARY_WRITE) if str(w.get("marker")) not in seen
               and (final or (w.get("source") == source and _replica_of(w) == replica)
                    or caught_up_between(hist, str(w.get("source")), str(_replica_of(w)), w.mono_ns, now))]
    if not pending:
        return 0
    caught_up: bool | None = None
    if source in conns and replica in conns and any(w.get("source") == source and _replica_of(w) == replica
                                                    for w in pending):
        status = admin.replica_status(conns[replica])
        if status is not None and status.io_running and status.sql_running:
            caught_up = admin.wait_for_gtid(conns[replica], admin.gtid_executed(conns[source]), timeout_s)
    for w in pending:
        target = _replica_of(w)
        table, key = str(w.get("table")), w.get("key") or {}
        if target not in conns or not key:
            continue
        here = caught_up if (w.get("source") == source and target == replica) else None
        try:
            found = bool(_table_exists(conns[target], table)) and bool(_rows(conns[target], *_match_sql(table, key)))
        except pymysql.MySQLError as exc:
            record_observation(journal, OBSERVE_ERROR, what="canary.observe", dc=target, table=table,
                               error=_mysql_error(exc), marker=w.get("marker"))
            continue
        record_observation(journal, ev.CANARY_OBSERVED, table=table, source=w.get("source"), replica=target,
                           marker=w.get("marker"), found=found, caught_up=here)
        if w.get("by") == "harness":
            for dc in (w.get("source"), target):
                if dc in conns:
                    _unlogged_delete(conns[dc], table, key)
    return len(pending)


def _replica_of(w: Any) -> str | None:
    replica = w.get("replica")
    if replica:
        return str(replica)
    source = w.get("source")
    return {"dc1": "dc2", "dc2": "dc1"}.get(str(source)) if source else None


def _ensure_canary_schema(conns: dict[str, pymysql.connections.Connection]) -> None:
    """The control canary's table on every reachable side, created without binlogging: the
    link must never depend on (or break over) the harness's own schema."""
    for conn in conns.values():
        _exec(conn, "SET SESSION sql_log_bin = 0")
        try:
            _exec(conn, f"CREATE DATABASE IF NOT EXISTS `{CANARY_SCHEMA}`")
            _exec(conn, f"CREATE TABLE IF NOT EXISTS {_qualified(CONTROL_TABLE)} (marker VARCHAR(64) NOT NULL PRIMARY KEY, "
                        "written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB")
            _exec(conn, f"CREATE TABLE IF NOT EXISTS {_qualified(PROBE_TABLE)} (marker VARCHAR(64) NOT NULL PRIMARY KEY, "
                        "dc VARCHAR(16) NOT NULL, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) "
                        "ENGINE=InnoDB")
        finally:
            _exec(conn, "SET SESSION sql_log_bin = 1")


def ensure_harness_schema(topo: Any) -> None:
    """The harness's own schema on both sides, before a drill in someone else's environment
    that allows writes only there (`writes: canary`) needs it."""
    conns = {dc: topo.connect(dc, timeout=5.0, read_timeout=30.0) for dc in sorted(topo.servers)}
    try:
        _ensure_canary_schema(conns)
    finally:
        _close_all(conns)


def _unlogged_delete(conn: pymysql.connections.Connection, table: str, key: dict[str, Any]) -> None:
    try:
        _exec(conn, "SET SESSION sql_log_bin = 0")
        try:
            sql, args = _match_sql(table, key, delete=True)
            _exec(conn, sql, args)
        finally:
            _exec(conn, "SET SESSION sql_log_bin = 1")
    except pymysql.MySQLError:
        pass  # a canary row left behind is harmless: filtered, or in the harness's own schema


def observe_standby_sequence(conns: dict[str, pymysql.connections.Connection], journal: Journal, source: str,
                             replica: str, table: str, timeout_s: float, when: str) -> bool | None:
    """The standby's sequence high-water mark against the active side's: read the active
    side first, then wait until the standby has applied everything up to that read, then
    read the standby. Replicated, the standby is at or above; filtered, it stays behind."""
    from drills.mysql import admin

    src, rep = conns[source], conns[replica]
    active = {str(n): int(v) for n, v in _rows(src, f"SELECT name, next_val FROM {_qualified(table)} ORDER BY name")}
    position = admin.gtid_executed(src)
    caught_up = admin.wait_for_gtid(rep, position, timeout_s)
    for name, next_val in _rows(rep, f"SELECT name, next_val FROM {_qualified(table)} ORDER BY name"):
        record_observation(journal, ev.OBSERVE_SEQUENCE, dc=replica, table=table, name=name, next_val=int(next_val),
                           role="standby", source=source, source_next_val=active.get(str(name)), caught_up=caught_up,
                           when=when)
    return caught_up


def observe_schema(conns: dict[str, pymysql.connections.Connection], journal: Journal, declared: FilterList) -> int:
    tables: set[str] = set()
    for conn in conns.values():
        tables |= set(filtered_tables(conn, declared, one_per_pattern=False))
    for table in sorted(tables):
        definitions: dict[str, str | None] = {}
        for dc, conn in sorted(conns.items()):
            definitions[dc] = _show_create(conn, table)
        record_observation(journal, ev.OBSERVE_SCHEMA, table=table, definitions=definitions)
    return len(tables)


# ---- helpers of this module ------------------------------------------------------------------


def filtered_tables(conn: pymysql.connections.Connection, declared: FilterList, *, one_per_pattern: bool) -> list[str]:
    """Existing tables the filter list covers: every exact entry that exists, and for each
    pattern the tables it matches (the first one only, for canaries)."""
    existing = [f"{s}.{t}" for s, t in _rows(conn, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                                                    "WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN "
                                                    "('mysql','information_schema','performance_schema','sys') "
                                                    "ORDER BY TABLE_SCHEMA, TABLE_NAME")]
    lowered = {t.lower(): t for t in existing}
    out: list[str] = []
    for entry in declared.entries:
        if not entry.wildcard:
            if entry.name.lower() in lowered:
                out.append(lowered[entry.name.lower()])
            continue
        matches = [t for t in existing if like_match(entry.name, t)]
        out.extend(matches[:1] if one_per_pattern else matches)
    return list(dict.fromkeys(out))


def record_observation(journal: Journal, kind: str, /, **payload: Any) -> dict[str, Any]:
    """Journal an observation from the observer path (payloads may carry `source`/`kind`)."""
    return journal.record(SOURCE, kind, **payload)


def _connect_all(topo: Any, journal: Journal, account: dict[str, Any], *,
                 timeout: float = 3.0) -> dict[str, pymysql.connections.Connection]:
    conns = {}
    for dc in sorted(topo.servers):
        try:
            # the handshake itself is bounded (a hung server accepts the TCP connection and
            # never greets); once connected, reads may last as long as a bounded server-side wait
            conn = topo.connect(dc, via="observer", timeout=timeout, read_timeout=timeout)
            conn._read_timeout = conn._write_timeout = READ_TIMEOUT_S  # pymysql applies them to each later read and write
            conns[dc] = conn
        except Exception as exc:  # noqa: BLE001 - an unreachable side is evidence, not a crash
            _error(journal, account, "connect", dc, str(exc))
    return conns


def _roles(topo: Any, conns: dict[str, pymysql.connections.Connection], journal: Journal) -> tuple[str | None, str | None]:
    """(source, replica) now: the side with running replica threads replicates; failing
    that, the side that is not active according to the routing document (or the journal)."""
    from drills.mysql import admin

    statuses = {}
    for dc, conn in conns.items():
        try:
            statuses[dc] = admin.replica_status(conn)
        except pymysql.MySQLError:
            statuses[dc] = None
    running = [dc for dc, s in statuses.items() if s is not None and (s.io_running or s.sql_running)]
    configured = [dc for dc, s in statuses.items() if s is not None]
    active = _active_dc(topo, journal)
    if len(running) == 1:
        replica = running[0]
    elif len(configured) == 1:
        replica = configured[0]
    elif active is not None and configured:
        replica = next((dc for dc in configured if dc != active), None)
    else:
        replica = None
    dcs = sorted(topo.servers)
    source = next((dc for dc in dcs if dc != replica), None) if replica is not None else active
    return source, replica


def _active_dc(topo: Any, journal: Journal) -> str | None:
    try:
        cc = topo.config_center(via="observer")
        try:
            route = cc.read()
        finally:
            cc.close()
        if route is not None and route.document.get("active"):
            return str(route.document["active"])
    except Exception:  # noqa: BLE001 - etcd may be the thing the drill broke; fall back to the journal
        pass
    try:
        hist = History.load(journal.path.parent)
        return hist.routes[-1].active if hist.routes else None
    except Exception:  # noqa: BLE001
        return None


def _sequence_table(scenario: Any) -> str:
    return scenario.workload.sequence.table if scenario is not None else DEFAULT_SEQUENCE_TABLE


def _guard(journal: Journal, account: dict[str, Any], what: str, dc: str | None, step: Callable[[], Any], default: Any) -> Any:
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - one failed observation must not lose the others
        _error(journal, account, what, dc, _mysql_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc))
        return default


def _error(journal: Journal, account: dict[str, Any], what: str, dc: str | None, error: str) -> None:
    account["errors"].append({"what": what, "dc": dc, "error": error})
    record_observation(journal, OBSERVE_ERROR, what=what, dc=dc, error=error)


def _mysql_error(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return f"MySQL error {args[0]}: {args[1]}"
    return str(exc)


def _rows(conn: pymysql.connections.Connection, sql: str, args: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _exec(conn: pymysql.connections.Connection, sql: str, args: tuple[Any, ...] | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return int(cur.lastrowid or 0)


def _qualified(table: str) -> str:
    schema, name = table.split(".", 1)
    return f"`{schema.replace('`', '``')}`.`{name.replace('`', '``')}`"


def _table_exists(conn: pymysql.connections.Connection, table: str) -> bool:
    schema, name = table.split(".", 1)
    return bool(_rows(conn, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                      (schema, name)))


def _show_create(conn: pymysql.connections.Connection, table: str) -> str | None:
    if not _table_exists(conn, table):
        return None
    return str(_rows(conn, f"SHOW CREATE TABLE {_qualified(table)}")[0][1])


_INT_MAX = {"tinyint": 127, "smallint": 32767, "mediumint": 8388607, "int": 2147483647, "integer": 2147483647,
            "bigint": 9223372036854775807}


def _insert_canary(conn: pymysql.connections.Connection, table: str, marker: str) -> dict[str, Any]:
    """Insert one row made of marker values; returns the values that identify it (the
    primary key, or every value given when the table has none). Retries on a key clash."""
    schema, name = table.split(".", 1)
    columns = _rows(conn, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_KEY, "
                          "CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS "
                          "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (schema, name))
    rng = random.Random(marker)
    last_error: pymysql.MySQLError | None = None
    for _attempt in range(3):
        values: dict[str, Any] = {}
        key_cols: list[str] = []
        auto_col = None
        for col, dtype, ctype, nullable, default, extra, ckey, maxlen, prec, scale in columns:
            extra = (extra or "").lower()
            if "generated" in extra or "virtual" in extra or "stored" in extra:
                continue
            if "auto_increment" in extra:
                auto_col = col
                if ckey == "PRI":
                    key_cols.append(col)
                continue
            is_string = str(dtype).lower() in ("char", "varchar", "text", "tinytext", "mediumtext", "longtext")
            needed = ckey == "PRI" or (nullable == "NO" and default is None) or is_string
            if not needed:
                continue
            values[col] = _value(str(dtype).lower(), str(ctype).lower(), maxlen, prec, scale, marker, rng)
            if ckey == "PRI":
                key_cols.append(col)
        cols = ", ".join(f"`{c}`" for c in values)
        sql = f"INSERT INTO {_qualified(table)} ({cols}) VALUES ({', '.join(['%s'] * len(values))})"
        try:
            rowid = _exec(conn, sql, tuple(values.values()))
        except pymysql.err.IntegrityError as exc:
            last_error = exc
            rng.seed(f"{marker}-{_attempt}")
            continue
        if auto_col is not None:
            values[auto_col] = rowid
        if key_cols:
            return {c: values[c] for c in key_cols}
        return values
    assert last_error is not None
    raise last_error


def _value(dtype: str, ctype: str, maxlen: Any, prec: Any, scale: Any, marker: str, rng: random.Random) -> Any:
    if dtype in _INT_MAX:
        hi = _INT_MAX[dtype] * 2 + 1 if "unsigned" in ctype else _INT_MAX[dtype]
        return rng.randint(hi // 2, hi)
    if dtype == "decimal":
        digits = max(1, int(prec or 10) - int(scale or 0))
        return str(rng.randint(10 ** (digits - 1) if digits > 1 else 1, 10**digits - 1))
    if dtype in ("float", "double", "real"):
        return round(rng.random() * 1000, 3)
    if dtype in ("char", "varchar", "text", "tinytext", "mediumtext", "longtext"):
        n = int(maxlen or 64)
        return marker[-n:] if len(marker) > n else marker
    if dtype in ("binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"):
        n = int(maxlen or 64)
        return marker.encode()[-n:]
    if dtype == "enum":
        m = re.search(r"enum\('((?:[^']|'')*)'", ctype)
        return m.group(1).replace("''", "'") if m else ""
    if dtype == "set":
        return ""
    if dtype == "date":
        return (dt.date(1971, 1, 1) + dt.timedelta(days=rng.randint(0, 20000))).isoformat()
    if dtype in ("datetime", "timestamp"):
        return (dt.datetime(1971, 1, 1) + dt.timedelta(seconds=rng.randint(0, 2_000_000_000 - 31_536_000 * 2))).strftime(
            "%Y-%m-%d %H:%M:%S")
    if dtype == "time":
        return "00:00:00"
    if dtype == "year":
        return rng.randint(1901, 2155)
    if dtype == "json":
        return json.dumps({"canary": marker})
    if dtype == "bit":
        return 0
    return marker


def _match_sql(table: str, key: dict[str, Any], *, delete: bool = False) -> tuple[str, tuple[Any, ...]]:
    where = " AND ".join(f"`{c.replace('`', '``')}` <=> %s" for c in key)
    if delete:
        return f"DELETE FROM {_qualified(table)} WHERE {where} LIMIT 1", tuple(key.values())
    return f"SELECT 1 FROM {_qualified(table)} WHERE {where} LIMIT 1", tuple(key.values())


def _jsonable(key: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in key.items()}
