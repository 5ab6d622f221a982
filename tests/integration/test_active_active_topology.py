"""Active-active topology on the real processes: two-way replication, the filter list on
both links, the central database one way, and the loop check able to say no."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from drills.active_active import topology as aa
from drills.topology import local
from drills.topology.spec import ActiveActive

pytestmark = [pytest.mark.integration]
FIX = Path(__file__).resolve().parents[2] / "fixtures" / "active_active"


@pytest.fixture
def aa_topology(topology):  # noqa: ANN001 - Topology
    local.reset(topology, filter_list=FIX / "filter_list.yaml", schema=FIX / "schema.sql", seed=FIX / "seed.sql")
    return local.attach(topology.state_dir)


def _one(topo, dc: str, sql: str):  # noqa: ANN001, ANN202
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def _exec(topo, dc: str, sql: str) -> None:  # noqa: ANN001
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _settle(topo) -> None:  # noqa: ANN001
    conns = {dc: topo.connect(dc) for dc in ("dc1", "dc2")}
    try:
        assert all(aa.catch_up(topo, conns, 10.0).values())
    finally:
        for c in conns.values():
            c.close()


def test_two_way_replication_filters_both_links_central_one_way(aa_topology) -> None:  # noqa: ANN001
    topo = aa_topology
    setup = aa.establish(topo, ActiveActive(central="dc1"))
    assert setup["loop_check"]["ok"], setup["loop_check"]
    assert set(setup["links"]) == {"dc1->dc2", "dc2->dc1"}
    assert "central.%" in setup["links"]["dc2->dc1"]["filters"]["wild_ignore_tables"]
    assert "app.job_log" in setup["links"]["dc2->dc1"]["filters"]["ignore_tables"]
    # each unit writes; each write arrives on the other side
    _exec(topo, "dc1", "INSERT INTO app.orders (id, buyer_id, amount, unit, unit_epoch, client_ts, token) "
                       "VALUES (1, 10, 1, 'dc1', 1, 0, 'a1')")
    _exec(topo, "dc2", "INSERT INTO app.orders (id, buyer_id, amount, unit, unit_epoch, client_ts, token) "
                       "VALUES (2, 9000, 1, 'dc2', 1, 0, 'b2')")
    # filtered on both links: each side's job log stays its own
    _exec(topo, "dc1", "INSERT INTO app.job_log (dc, message) VALUES ('dc1', 'x')")
    _exec(topo, "dc2", "INSERT INTO app.job_log (dc, message) VALUES ('dc2', 'y')")
    # central data flows one way: from the central unit only
    _exec(topo, "dc1", "UPDATE central.stock SET quantity = 7 WHERE sku = 'sku-1'")
    _exec(topo, "dc2", "UPDATE central.stock SET quantity = 5 WHERE sku = 'sku-2'")
    _settle(topo)
    for dc in ("dc1", "dc2"):
        assert _one(topo, dc, "SELECT COUNT(*) FROM app.orders") == 2
        assert _one(topo, dc, f"SELECT COUNT(*) FROM app.job_log WHERE dc <> '{dc}'") == 0
        assert _one(topo, dc, "SELECT quantity FROM central.stock WHERE sku = 'sku-1'") == 7
    assert _one(topo, "dc1", "SELECT quantity FROM central.stock WHERE sku = 'sku-2'") == 1000
    states = aa.link_states(topo)
    assert all(s["io"] and s["sql"] and s["sql_errno"] == 0 for s in states.values()), states


def test_filter_list_on_one_link_only_collides(aa_topology) -> None:  # noqa: ANN001
    """The negative topology: the filter list on dc1->dc2 only. Both sides' job log rows take
    id 1; dc2's travels to dc1 and stops the link there with a duplicate key (1062)."""
    topo = aa_topology
    aa.establish(topo, ActiveActive(filter_links=["dc1->dc2"]))
    _exec(topo, "dc1", "INSERT INTO app.job_log (dc, message) VALUES ('dc1', 'x')")
    _exec(topo, "dc2", "INSERT INTO app.job_log (dc, message) VALUES ('dc2', 'y')")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = aa.link_states(topo)
        if states["dc2->dc1"]["sql_errno"]:
            break
        time.sleep(0.05)
    assert states["dc2->dc1"]["sql_errno"] == 1062, states
    assert not states["dc2->dc1"]["sql"]


def test_loop_check_sees_a_row_that_comes_back(aa_topology) -> None:  # noqa: ANN001
    """Cannot be fooled: a real loop. dc1 changes its server id after the ring is up (the
    classic misconfiguration: a cloned or renumbered server), so its own events no longer look
    like its own when they come back through dc2 — the loop check must say so."""
    topo = aa_topology
    aa.establish(topo, ActiveActive())
    conns = {dc: topo.connect(dc, read_timeout=30) for dc in ("dc1", "dc2")}
    def renumber() -> None:  # dc1's marker is logged as server 1; dc1 is server 3 when it comes back
        with conns["dc1"].cursor() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("SET GLOBAL server_id = 3")
            cur.execute("START SLAVE")

    try:
        with conns["dc1"].cursor() as cur:
            cur.execute("STOP SLAVE")  # so the marker cannot come back before the renumbering
        loop = aa.verify_no_loop(topo, conns, timeout=5.0, after_write=renumber)
    finally:
        with conns["dc1"].cursor() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("SET GLOBAL server_id = 1")
        for c in conns.values():
            c.close()
    assert not loop["ok"], loop
    assert any(re.search(r"written on dc1 is there [2-9]\d* times", p) for p in loop["problems"]), loop
