"""The baseline every drill starts from, built the same way whoever runs the servers.

dc1 active and writable, dc2 its read-only replica through the link proxy with the
declared filter list, both holding the reference schema and seed (each side creates its
own tables unlogged: DDL on a filtered table is filtered too), the routing document at
epoch 1 naming dc1, every proxy back at its address with no toxics, and replication
caught up. Built through the admin account over TCP, etcd and Toxiproxy's API only — the
endpoints and credentials of the `Topology` handle — so every provider gets exactly this.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pymysql

from drills.config_center import default_document
from drills.errors import EnvironmentProblem, UserError
from drills.mysql import admin
from drills.topology.state import DCS, Topology

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
READY_TIMEOUT = 30.0


def establish(topo: Topology, *, timeout: float = READY_TIMEOUT) -> None:
    """Put `topo` at the baseline (idempotent: also what a reset does)."""
    conns = {dc: topo.connect(dc, multi_statements=True, timeout=5.0, read_timeout=120.0) for dc in DCS}
    try:
        for conn in conns.values():
            admin.reset_replica(conn)
            admin.set_read_only(conn, False)
        for dc, conn in conns.items():
            _clear(conn)
            load_schema(conn, topo.schema_file, topo.seed_file, dc)
    finally:
        for conn in conns.values():
            conn.close()
    restore_proxies(topo)
    cc = topo.config_center()
    try:
        cc.put(default_document("dc1", times=topo.retry.get("times", 3), delay_ms=topo.retry.get("delay_ms", 5000)))
    finally:
        cc.close()
    start_link(topo, source="dc1", replica="dc2")
    fence_standby(topo, "dc2")
    seed_synced(topo)
    wait_replication(topo, "dc2", timeout=timeout)


def _clear(conn: pymysql.connections.Connection) -> None:
    """Every application database dropped, binary logs and GTID state cleared — unlogged."""
    with conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        mine = [name for (name,) in cur.fetchall() if name.lower() not in SYSTEM_SCHEMAS]
        cur.execute("SET SESSION sql_log_bin = 0")
        if admin.dialect(conn).flavor == "mariadb":  # active-active mode gives each DC its own domain
            cur.execute("SET GLOBAL gtid_domain_id = 0")
        for name in mine:
            cur.execute(f"DROP DATABASE IF EXISTS `{name.replace('`', '``')}`")
        # A binary log that never held a transaction (a server just made from the template)
        # needs no reset, and RESET MASTER right after start-up waits up to ~0.8 s on the
        # server finishing its own start: most of a boot.
        if admin.gtid_executed(conn):
            cur.execute("RESET MASTER")
        if admin.dialect(conn).flavor == "mariadb":
            cur.execute("SET GLOBAL gtid_slave_pos = ''")
        cur.execute("SET SESSION sql_log_bin = 1")


def exec_script(conn: pymysql.connections.Connection, sql: str) -> None:
    with conn.cursor() as cur:
        cur.execute(sql)
        while cur.nextset():
            pass


def seed_sections(path: str | Path | None) -> dict[str, str]:
    """A seed file's sections: "-- @synced" rows go to dc1 and replicate; "-- @each" rows are
    written on both sides ({dc}, {dcn}, {dc_is_dc1} replaced)."""
    if not path:
        return {}
    sections: dict[str, list[str]] = {}
    current = "synced"
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^--\s*@(\w+)\s*$", line)
        if m:
            current = m.group(1)
            continue
        sections.setdefault(current, []).append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def _for_dc(sql: str, dc: str) -> str:
    return sql.replace("{dc}", dc).replace("{dcn}", dc[-1]).replace("{dc_is_dc1}", "1" if dc == "dc1" else "0")


def load_schema(conn: pymysql.connections.Connection, schema: str | Path, seed: str | Path | None, dc: str) -> None:
    """Schema on this side, unlogged (each side creates its own: DDL on filtered tables is
    filtered too), plus the per-side seed rows of filtered tables."""
    schema = Path(schema)
    try:
        exec_script(conn, "SET SESSION sql_log_bin = 0;\n" + schema.read_text(encoding="utf-8"))
        each = seed_sections(seed).get("each")
        if each and each.strip():
            exec_script(conn, "SET SESSION sql_log_bin = 0;\n" + _for_dc(each, dc))
    except pymysql.err.MySQLError as exc:
        raise UserError(f"{dc}: loading {schema.name} failed: {exc.args[-1] if exc.args else exc}") from None
    finally:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 1")


def seed_synced(topo: Topology) -> None:
    """The seed rows that replicate, written on dc1 like any application write."""
    synced = seed_sections(topo.seed_file).get("synced")
    if synced and synced.strip():
        conn = topo.connect("dc1", multi_statements=True)
        try:
            exec_script(conn, synced)
        finally:
            conn.close()


def restore_proxies(topo: Topology, timeout: float = 5.0) -> None:
    """Every proxy at its recorded address, enabled, without toxics (whatever a fault or a
    controller's edge fence left)."""
    tp = topo.toxiproxy()
    deadline = time.monotonic() + timeout
    while True:
        try:
            existing = tp.proxies()
            break
        except UserError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    for name, px in topo.proxies.items():
        have = existing.get(name)
        if have is None:
            tp.create_proxy(name, px.listen, px.upstream)
            continue
        for toxic in tp.toxics(name):
            tp.remove_toxic(name, toxic.name)
        if have.listen != px.listen or have.upstream != px.upstream or not have.enabled:
            tp.update_proxy(name, listen=px.listen, upstream=px.upstream, enabled=True)


def start_link(topo: Topology, *, source: str, replica: str) -> None:
    host, port = topo.link_address(source, replica)
    assert topo.credentials is not None
    conn = topo.connect(replica)
    try:
        admin.configure_replica(conn, host, port, topo.credentials.repl_user, topo.credentials.repl_password,
                                topo.declared_filters.as_filters())
    finally:
        conn.close()


def fence_standby(topo: Topology, dc: str) -> None:
    """The standby starts read-only, as in the source documents: its application may read but
    not write until a switch promotes it (the replication thread still applies)."""
    conn = topo.connect(dc)
    try:
        admin.set_read_only(conn, True)
    finally:
        conn.close()


def wait_replication(topo: Topology, replica: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    conn = topo.connect(replica)
    try:
        status = None
        while time.monotonic() < deadline:
            status = admin.replica_status(conn)
            if status and status.io_running and status.sql_running:
                src = topo.connect(topo.other(replica))
                try:
                    gtid = admin.gtid_executed(src)
                finally:
                    src.close()
                if admin.wait_for_gtid(conn, gtid, max(0.1, deadline - time.monotonic())):
                    return
            if status and status.last_sql_error:
                break
            time.sleep(0.02)
        detail = (status.last_io_error or status.last_sql_error or status.io_state) if status else "not configured"
        raise EnvironmentProblem(f"replication to {replica} did not start: {detail}")
    finally:
        conn.close()
