"""Active-active on an environment drills did not make: attached and verified, never established.

`drills.active_active.topology.establish` reconfigures replication (domain ids, CHANGE MASTER,
filters): right for a topology drills started, never for someone else's. There the
environment file declares `mode: active-active` (central unit, both links, both link proxies
mapped) and drills only *reads* whether the pair is what the file says:

* both links configured, reading from the other DC through the mapped link proxy, IO and SQL
  threads running;
* distinct server ids and (MariaDB) distinct GTID domain ids — otherwise a GTID position
  does not say which writer wrote what, and a row can come round the ring;
* on each link exactly the filters the mode needs (`topology.link_filters`: the declared list,
  plus the central database ignored on the link into the central unit);
* the loop check only where the harness may write (its own schema, `drills_canary`): under
  `writes: none` it is skipped and reported as not verified.

Anything not as declared is a refusal (exit 2) naming each difference; nothing is changed.
`differences` is the one judgement, used by `drills env check` and by the run alike.
"""

from __future__ import annotations

from typing import Any

import pymysql

from drills import events
from drills.active_active import topology as aa_topology
from drills.errors import EnvironmentProblem, UserError
from drills.mysql import admin
from drills.topology.environment import AA_LINKS, EnvironmentFile
from drills.topology.preflight import filter_differences, same_address
from drills.topology.spec import ActiveActive
from drills.topology.state import DCS, LINK_PROXY, Topology

SOURCE = "topology"


def settings(env: EnvironmentFile, users: int | None = None) -> ActiveActive:
    """The mode's settings as the environment declares them: filters on both links, always."""
    assert env.active_active is not None
    extra = {"users": users} if users is not None else {}
    return ActiveActive(central=env.active_active.central, filter_links=list(AA_LINKS), **extra)


def observe(topo: Topology) -> dict[str, dict[str, Any]]:
    """What each server says about itself and its link in (reads only)."""
    out: dict[str, dict[str, Any]] = {}
    for dc in DCS:
        try:
            conn = topo.connect(dc, timeout=3.0, read_timeout=5.0)
        except UserError as exc:
            out[dc] = {"reachable": False, "error": exc.message}
            continue
        try:
            d = admin.dialect(conn)
            with conn.cursor() as cur:
                cur.execute("SELECT @@GLOBAL.server_id")
                server_id = int(cur.fetchone()[0])
                domain = None
                if d.flavor == "mariadb":
                    cur.execute("SELECT @@GLOBAL.gtid_domain_id")
                    domain = int(cur.fetchone()[0])
            st = admin.replica_status(conn)
            out[dc] = {"reachable": True, "server_id": server_id, "gtid_domain_id": domain,
                       "replica": st.as_dict() if st is not None else None, "filters": admin.read_filters(conn)}
        except pymysql.MySQLError as exc:  # e.g. an admin account that may not read replica status
            out[dc] = {"reachable": False, "error": f"{dc} could not be read: MySQL error {exc.args[0]}"}
        finally:
            conn.close()
    return out


def expected(topo: Topology, aa: ActiveActive) -> dict[str, dict[str, Any]]:
    """Per link (`source->replica`): where the replica must read from and the filters it must apply."""
    out = {}
    for source, replica in ((s, r) for s in DCS for r in DCS if s != r):
        proxy = topo.proxies.get(LINK_PROXY[(source, replica)])
        out[aa_topology.link_name(source, replica)] = {
            "source": source, "replica": replica, "via": proxy.listen if proxy is not None else None,
            "proxy": LINK_PROXY[(source, replica)], "filters": aa_topology.link_filters(topo, aa, source, replica)}
    return out


def differences(observed: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]],
                behind: Any = None) -> list[str]:
    """Every way the pair differs from its declaration, each naming what and where (empty: as
    declared). `behind(host, port)` names the DC an address leads to (the topology's own)."""
    out: list[str] = []
    for dc in DCS:
        if not observed.get(dc, {}).get("reachable"):
            out.append(f"{dc} does not answer: {observed.get(dc, {}).get('error', 'not observed')}")
    if out:
        return out
    ids = {dc: observed[dc]["server_id"] for dc in DCS}
    if ids["dc1"] == ids["dc2"]:
        out.append(f"dc1 and dc2 share server id {ids['dc1']}: each would drop the other's events as its own")
    domains = {dc: observed[dc]["gtid_domain_id"] for dc in DCS}
    if None not in domains.values() and domains["dc1"] == domains["dc2"]:
        out.append(f"dc1 and dc2 share GTID domain id {domains['dc1']}: two writers in one domain, a GTID position "
                   "no longer says which side wrote what")
    for link, w in want.items():
        replica, source = w["replica"], w["source"]
        rs = observed[replica]["replica"]
        if rs is None:
            out.append(f"link {link}: {replica} is not a replica at all (the declared link does not exist)")
            continue
        reads = f"{rs['source_host']}:{rs['source_port']}"
        if w["via"] is None:
            out.append(f"link {link}: no proxy for {w['proxy']} in Toxiproxy (the file maps it)")
        else:
            if not same_address(w["via"], reads):
                who = behind(rs["source_host"], rs["source_port"]) if behind is not None else None
                what = f"{who} directly" if who == source else (who or "an unknown server")
                out.append(f"link {link}: {replica} reads from {what} ({reads}), not through {w['proxy']} ({w['via']})")
        for thread, running, error in (("IO", rs["io_running"], rs["last_io_error"]),
                                       ("SQL", rs["sql_running"], rs["last_sql_error"])):
            if not running:
                out.append(f"link {link}: {replica}'s {thread} thread is not running"
                           + (f" (last error: {error})" if error else ""))
        for kind, entry, how in filter_differences(w["filters"], observed[replica]["filters"]):
            variable = "replicate_ignore_table" if kind == "ignore_tables" else "replicate_wild_ignore_table"
            if how == "missing":
                out.append(f"link {link}: {replica} does not apply {entry} ({variable}), which the mode needs on "
                           f"this link")
            else:
                out.append(f"link {link}: {replica} applies {entry} ({variable}), which the declaration does not give")
    return out


def loop_check(topo: Topology, env: EnvironmentFile, *, timeout: float) -> dict[str, Any]:
    """The loop check in the harness's own schema, or why it was not run (`writes: none`)."""
    db = aa_topology.probe_db(topo)
    if db is None:
        return {"ok": None, "verified": False, "skipped": f"environment {env.name} allows no writes (writes: none): "
                                                          "the loop check writes a marker row; not verified"}
    conns = {dc: topo.connect(dc, timeout=5.0, read_timeout=timeout + 5) for dc in DCS}
    try:
        for conn in conns.values():
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_log_bin = 0")  # the table on each side, never over the links
                try:
                    cur.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
                    cur.execute(f"CREATE TABLE IF NOT EXISTS {db}.loop_probe (origin VARCHAR(8) NOT NULL, "
                                "marker CHAR(32) NOT NULL, KEY (marker)) ENGINE=InnoDB")
                finally:
                    cur.execute("SET SESSION sql_log_bin = 1")
        out = aa_topology.verify_no_loop(topo, conns, timeout=timeout, db=db)
    finally:
        for conn in conns.values():
            conn.close()
    return {**out, "verified": True}


def check_declared(topo: Topology, env: EnvironmentFile, aa: ActiveActive | None = None) -> dict[str, dict[str, Any]]:
    """The pair as the file declares it (reads only), or a UserError naming every difference."""
    want = expected(topo, aa or settings(env))
    found = differences(observe(topo), want, topo.source_behind)
    if found:
        raise UserError(f"environment {env.name} is not the active-active pair it declares (nothing was changed):\n  "
                        + "\n  ".join(found))
    return want


def verify(topo: Topology, env: EnvironmentFile, aa: ActiveActive, journal: Any = None, *,
           timeout: float = aa_topology.CATCH_UP_TIMEOUT) -> dict[str, Any]:
    """Attach-time verification for a run: the declaration checked, then the loop check where
    writes are allowed; journaled (`aa.topology`, `aa.loop_check`); a UserError naming every
    difference when the pair is not as declared (nothing was changed)."""
    want = check_declared(topo, env, aa)
    loop = loop_check(topo, env, timeout=timeout)
    setup = {"central": aa.central, "links": {k: {"filters": v["filters"], "running": True} for k, v in want.items()},
             "filter_links": list(aa.filter_links), "declared": topo.declared_filters.as_filters(),
             "established": False, "attached": env.name}
    if journal is not None:
        journal.record(SOURCE, events.AA_TOPOLOGY, **setup)
        journal.record(SOURCE, events.AA_LOOP_CHECK, **loop)
    if loop.get("ok") is False:
        raise EnvironmentProblem(f"environment {env.name}: replication loops or does not carry rows: "
                        + "; ".join(loop["problems"]))
    return {**setup, "loop_check": loop}
