"""Two-way replication on top of the single-writer baseline.

`establish` takes a topology at the baseline of `drills.topology.baseline` (dc1 -> dc2
running with the filter list, dc2 read-only) and makes it active-active:

* each DC its own GTID domain (its server id): the two writers' transactions never share a
  sequence, so a GTID position names exactly what each side wrote;
* dc2 writable; dc1 a replica of dc2 through `link:dc2->dc1` (both link proxies now carry
  traffic at once);
* the filter list on the links named by `filter_links` (both, normally); the central
  database is ignored on the link *into* the central unit, so global data flows one way;
* loop prevention verified, not assumed: a marker row written on each side must arrive on
  the other exactly once and come back to its origin zero times (log_slave_updates is on,
  so without the server-id filter it would loop). The observation is journaled
  (`aa.loop_check`) and a loop is an EnvironmentProblem: no drill runs on a looping ring.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from drills import events
from drills.errors import EnvironmentProblem
from drills.mysql import admin
from drills.mysql.dialect import ReplicaSettings
from drills.topology.spec import ActiveActive
from drills.topology.state import DCS, Topology

SOURCE = "topology"
CENTRAL_DB = "central"
PROBE_DB = "drills_aa"
CANARY_DB = "drills_canary"  # someone else's environment: the harness's own schema (drills.observe.collector)
DOMAINS = {"dc1": 1, "dc2": 2}
CATCH_UP_TIMEOUT = 20.0


def probe_db(topo: Topology) -> str | None:
    """Where the loop probe writes: drills' own database on a topology drills made, the
    harness's schema in someone else's environment, nowhere (None) under `writes: none`."""
    env = getattr(topo, "environment", None)
    if env is None:
        return PROBE_DB
    return None if env.writes == "none" else CANARY_DB


def link_name(source: str, replica: str) -> str:
    return f"{source}->{replica}"


def link_filters(topo: Topology, settings: ActiveActive, source: str, replica: str) -> dict[str, list[str]]:
    """What the replica of `source -> replica` ignores: the filter list (if applied on this
    link) and, on the link into the central unit, the central database."""
    declared = topo.declared_filters.as_filters() if link_name(source, replica) in settings.filter_links \
        else {"ignore_tables": [], "wild_ignore_tables": []}
    wild = list(declared["wild_ignore_tables"])
    if replica == settings.central:
        wild.append(f"{CENTRAL_DB}.%")
    return {"ignore_tables": sorted(declared["ignore_tables"]), "wild_ignore_tables": sorted(set(wild))}


def establish(topo: Topology, settings: ActiveActive, journal: Any = None, *,
              timeout: float = CATCH_UP_TIMEOUT) -> dict[str, Any]:
    """Make the baseline active-active (see the module docstring); returns what was set up."""
    assert topo.credentials is not None
    conns = {dc: topo.connect(dc, timeout=5.0, read_timeout=timeout + 5) for dc in DCS}
    try:
        for dc, conn in conns.items():
            with conn.cursor() as cur:
                cur.execute(f"SET GLOBAL gtid_domain_id = {DOMAINS[dc]}")
                cur.execute("SET SESSION sql_log_bin = 0")
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {PROBE_DB}")
                cur.execute(f"CREATE TABLE IF NOT EXISTS {PROBE_DB}.loop_probe "
                            "(origin VARCHAR(8) NOT NULL, marker CHAR(32) NOT NULL, KEY (marker)) ENGINE=InnoDB")
                cur.execute("SET SESSION sql_log_bin = 1")
            admin.set_read_only(conn, False)
        # dc1 -> dc2 exists (baseline): re-apply its filters for this mode
        links: dict[str, Any] = {}
        for source, replica in (("dc1", "dc2"), ("dc2", "dc1")):
            filters = link_filters(topo, settings, source, replica)
            host, port = topo.link_address(source, replica)
            admin.configure_replica(conns[replica], host, port, topo.credentials.repl_user,
                                    topo.credentials.repl_password, filters)
            links[link_name(source, replica)] = {"filters": filters}
        for source, replica in (("dc1", "dc2"), ("dc2", "dc1")):
            links[link_name(source, replica)]["running"] = _wait_running(conns[replica], timeout)
        loop = verify_no_loop(topo, conns, timeout=timeout)
    finally:
        for conn in conns.values():
            conn.close()
    setup = {"central": settings.central, "links": links, "domains": dict(DOMAINS),
             "filter_links": list(settings.filter_links), "declared": topo.declared_filters.as_filters()}
    if journal is not None:
        journal.record(SOURCE, events.AA_TOPOLOGY, **setup)
        journal.record(SOURCE, events.AA_LOOP_CHECK, **loop)
    if not loop["ok"]:
        raise EnvironmentProblem("active-active: replication loops or does not carry rows: " + "; ".join(loop["problems"]))
    return {**setup, "loop_check": loop}


def rejoin(topo: Topology, settings: ActiveActive, dc: str, journal: Any = None, *,
           timeout: float = CATCH_UP_TIMEOUT) -> dict[str, Any]:
    """A unit that came back (restarted: its replica filters, set at run time, are gone and
    its replica threads do not start by themselves) takes its link from the other unit again,
    with the link's filters, from where it stopped (its gtid_slave_pos survives the restart)."""
    assert topo.credentials is not None
    source = topo.other(dc)
    filters = link_filters(topo, settings, source, dc)
    host, port = topo.link_address(source, dc)
    conn = topo.connect(dc, timeout=5.0, read_timeout=timeout + 5)
    try:
        d = admin.dialect(conn)
        with conn.cursor() as cur:
            cur.execute(d.stop_replica())
            cur.execute(f"SET GLOBAL gtid_domain_id = {DOMAINS[dc]}")
            for sql, args in d.change_source(ReplicaSettings(host, port, topo.credentials.repl_user,
                                                             topo.credentials.repl_password)):
                cur.execute(sql, args)
        admin.set_filters(conn, filters)
        admin.start_replica(conn)
        running = _wait_running(conn, timeout)
    finally:
        conn.close()
    out = {"dc": dc, "source": source, "filters": filters, "running": running}
    if journal is not None:
        journal.record(SOURCE, events.AA_REJOIN, **out)
    return out


def _wait_running(conn: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = admin.replica_status(conn)
        if st and st.io_running and st.sql_running:
            return True
        if st and st.last_sql_error:
            raise EnvironmentProblem(f"active-active link did not start: {st.last_sql_error}")
        time.sleep(0.02)
    return False


def catch_up(topo: Topology, conns: dict[str, Any], timeout: float) -> dict[str, bool]:
    """Each side has applied everything the other wrote so far (bounded)."""
    out = {}
    for dc in DCS:
        pos = admin.gtid_executed(conns[topo.other(dc)])
        out[dc] = admin.wait_for_gtid(conns[dc], pos, timeout)
    return out


def verify_no_loop(topo: Topology, conns: dict[str, Any], *, timeout: float,
                   after_write: Callable[[], None] | None = None, db: str = PROBE_DB) -> dict[str, Any]:
    """A marker written on each side arrives on the other once and on its origin never again.
    `after_write` runs between the writes and the count (tests use it to break the ring);
    `db` holds the `loop_probe` table (someone else's environment: the harness's own schema)."""
    markers = {dc: uuid.uuid4().hex for dc in DCS}
    for dc, conn in conns.items():
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {db}.loop_probe (origin, marker) VALUES (%s, %s)", (dc, markers[dc]))
    if after_write is not None:
        after_write()
    caught = catch_up(topo, conns, timeout)
    caught_again = catch_up(topo, conns, timeout)  # a looping event would have come round by now
    rows: dict[str, dict[str, int]] = {}
    for origin, marker in markers.items():
        rows[origin] = {}
        for dc, conn in conns.items():
            with conn.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {db}.loop_probe WHERE marker = %s", (marker,))
                rows[origin][dc] = int(cur.fetchone()[0])
    slave_pos = {}
    for dc, conn in conns.items():
        with conn.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.gtid_slave_pos")
            slave_pos[dc] = str(cur.fetchone()[0] or "")
    problems = []
    for origin, counts in rows.items():
        other = topo.other(origin)
        if counts[origin] != 1:
            problems.append(f"a row written on {origin} is there {counts[origin]} times (it came back over the ring)")
        if counts[other] != 1:
            problems.append(f"a row written on {origin} reached {other} {counts[other]} times (expected once)")
    if not all(caught.values()) or not all(caught_again.values()):
        problems.append(f"the links did not catch up within {timeout:.0f}s: {caught_again}")
    for dc in DCS:
        st = admin.replica_status(conns[dc])
        if st is None or not (st.io_running and st.sql_running):
            problems.append(f"the link into {dc} is not running: "
                            f"{(st.last_sql_error or st.last_io_error) if st else 'not configured'}")
    return {"ok": not problems, "rows": rows, "slave_pos": slave_pos, "problems": problems}


def link_states(topo: Topology) -> dict[str, dict[str, Any]]:
    """Each link's threads and last errors as the replica reports them (for `aa.link`)."""
    out: dict[str, dict[str, Any]] = {}
    for replica in DCS:
        source = topo.other(replica)
        try:
            conn = topo.connect(replica, timeout=2.0, read_timeout=5.0)
        except EnvironmentProblem as exc:
            out[link_name(source, replica)] = {"reachable": False, "error": str(exc)}
            continue
        try:
            st = admin.replica_status(conn)
            with conn.cursor() as cur:
                cur.execute("SELECT @@GLOBAL.gtid_slave_pos")
                pos = str(cur.fetchone()[0] or "")
            out[link_name(source, replica)] = {
                "reachable": True, "configured": st is not None,
                "io": bool(st and st.io_running), "sql": bool(st and st.sql_running),
                "sql_errno": st.last_sql_errno if st else 0,
                "sql_error": (st.last_sql_error if st else "") or "", "gtid_slave_pos": pos,
                "filters": admin.read_filters(conn),
            }
        finally:
            conn.close()
    return out
