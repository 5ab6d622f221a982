"""The topology of issue 2, proven against real MariaDB, etcd and Toxiproxy processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pymysql
import pytest

from drills.config_center import default_document
from drills.mysql import admin
from drills.topology import Topology, local
from drills.topology.processes import is_alive
from drills.topology.status import status

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _wait_applied(topo: Topology, source: str = "dc1", replica: str = "dc2") -> None:
    src, rep = topo.connect(source), topo.connect(replica)
    try:
        assert admin.wait_for_gtid(rep, admin.gtid_executed(src), 10), "replica did not catch up"
    finally:
        src.close()
        rep.close()


def _count(topo: Topology, dc: str, sql: str, args: tuple | None = None) -> int:
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def test_replication_flows_dc1_to_dc2(clean_topology: Topology) -> None:
    topo = clean_topology
    conn = topo.connect("dc1", role="app", via="service")
    with conn.cursor() as cur:
        cur.execute("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts) VALUES (42, 7, 9.99, 'dc1', 1, 0)")
    conn.close()
    _wait_applied(topo)
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM app.orders WHERE id = 42") == 1
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM app.customers") == 3  # seeded on dc1, replicated
    # a sequence allocation on dc1 overwrites dc2's row: the sequence table replicates
    app = topo.connect("dc1", role="app", via="service")
    with app.cursor() as cur:
        cur.execute("UPDATE app.id_sequence SET next_val = LAST_INSERT_ID(next_val + 10000) WHERE name = 'orders'")
    app.close()
    _wait_applied(topo)
    assert _count(topo, "dc2", "SELECT next_val FROM app.id_sequence WHERE name = 'orders'") == 10001


def test_filtered_tables_never_reach_dc2_while_synced_ones_do(clean_topology: Topology) -> None:
    topo = clean_topology
    conn = topo.connect("dc1")
    with conn.cursor() as cur:
        cur.execute("INSERT INTO app.app_config (config_key, config_value) VALUES ('canary', 'dc1-only')")
        cur.execute("INSERT INTO app.tmp_orders_bak_20260101 (id, buyer_id, amount) VALUES (1, 1, 1)")
        cur.execute("INSERT INTO bi.daily_sales (day, total) VALUES ('2026-01-01', 10)")
        cur.execute("INSERT INTO app.customers (id, name) VALUES (99, 'synced-after-filtered')")
    conn.close()
    _wait_applied(topo)  # everything dc1 executed is applied (or filtered) on dc2
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM app.customers WHERE id = 99") == 1
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM app.app_config WHERE config_key = 'canary'") == 0
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM app.tmp_orders_bak_20260101") == 0
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM bi.daily_sales") == 0
    # each side kept its own environment-specific configuration
    assert _count(topo, "dc2", "SELECT COUNT(*) FROM app.app_config WHERE config_value LIKE '%dc2%'") >= 1


def test_status_reads_effective_filters_equal_to_declared(clean_topology: Topology) -> None:
    doc = status(clean_topology)
    rep = doc["servers"]["dc2"]["replication"]
    assert rep["source"] == "dc1" and rep["io_running"] and rep["sql_running"]
    assert rep["filters"] == doc["declared_filters"] == clean_topology.declared_filters.as_filters()
    assert "app.app_config" in rep["filters"]["ignore_tables"] and "app.tmp_%" in rep["filters"]["wild_ignore_tables"]
    assert doc["routing"]["document"]["active"] == "dc1" and doc["routing"]["document"]["epoch"] == 1
    assert set(doc["proxies"]) == {"app:dc1", "app:dc2", "link:dc1->dc2", "link:dc2->dc1", "etcd"}
    assert "replication" not in doc["servers"]["dc1"]


def test_status_notices_a_filter_list_that_drifted(clean_topology: Topology) -> None:
    """Negative: the effective list is read back from the server, not echoed from the file."""
    conn = clean_topology.connect("dc2")
    admin.stop_replica(conn)
    admin.set_filters(conn, {"ignore_tables": ["app.app_config"], "wild_ignore_tables": []})
    admin.start_replica(conn)
    conn.close()
    doc = status(clean_topology)
    assert doc["servers"]["dc2"]["replication"]["filters"] != doc["declared_filters"]


def test_routing_document_round_trips_with_compare_and_swap(clean_topology: Topology) -> None:
    cc = clean_topology.config_center(via="service")  # through the etcd proxy, as the application
    try:
        route = cc.read()
        assert route is not None and route.document == default_document("dc1")
        moved = dict(route.document, active="dc2", epoch=route.epoch + 1)
        new_rev = cc.compare_and_swap(moved, route.revision)
        assert new_rev is not None and new_rev > route.revision
        # a stale writer that read the old revision loses
        stale = dict(route.document, active="dc1", epoch=route.epoch + 1)
        assert cc.compare_and_swap(stale, route.revision) is None
        after = cc.read()
        assert after is not None and after.document == moved and after.revision == new_rev
    finally:
        cc.close()


def test_every_proxy_passes_traffic_and_latency_delays_a_query(clean_topology: Topology) -> None:
    topo = clean_topology
    for dc in ("dc1", "dc2"):
        conn = topo.connect(dc, via="service", role="app")
        with conn.cursor() as cur:
            cur.execute("SELECT @@server_id")
            assert cur.fetchone()[0] == topo.servers[dc].server_id
        conn.close()
    for source, replica in (("dc1", "dc2"), ("dc2", "dc1")):
        host, port = topo.link_address(source, replica)
        conn = pymysql.connect(host=host, port=port, user=topo.credentials.repl_user, password=topo.credentials.repl_password)
        with conn.cursor() as cur:
            cur.execute("SELECT @@server_id")
            assert cur.fetchone()[0] == topo.servers[source].server_id
        conn.close()
    cc = topo.config_center(via="service")
    assert cc.read() is not None
    cc.close()

    conn = topo.connect("dc1", via="service", role="app")

    def timed_query() -> float:
        t = time.monotonic()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        return time.monotonic() - t

    base = min(timed_query() for _ in range(5))
    tp = topo.toxiproxy()
    tp.add_toxic("app:dc1", "latency", {"latency": 200, "jitter": 0}, name="slow")
    try:
        delayed = min(timed_query() for _ in range(3))
    finally:
        tp.remove_toxic("app:dc1", "slow")
        conn.close()
    assert delayed >= 0.2 > base, (base, delayed)


def test_read_only_fences_the_application_but_not_replication(clean_topology: Topology) -> None:
    topo = clean_topology
    adm = topo.connect("dc1")
    admin.set_read_only(adm, True)
    app = topo.connect("dc1", via="service", role="app")
    with pytest.raises(pymysql.err.OperationalError) as err, app.cursor() as cur:
        cur.execute("INSERT INTO app.customers (id, name) VALUES (500, 'x')")
    assert err.value.args[0] == 1290  # --read-only
    app.close()
    admin.set_read_only(adm, False)
    adm.close()


def _drills(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drills", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=REPO)


def test_cli_up_status_down_leaves_no_process(tmp_path: Path, drills_home: Path) -> None:
    state = tmp_path / "env"
    up = _drills("env", "up", "--state-dir", str(state), "--json")
    assert up.returncode == 0, up.stderr
    doc = json.loads(up.stdout)
    assert doc["servers"]["dc2"]["replication"]["io_running"] is True
    assert doc["routing"]["document"]["active"] == "dc1"
    pids = local.attach(state).process_control.pids()
    assert set(pids) == {"dc1", "dc2", "etcd", "toxiproxy"} and all(is_alive(p) for p in pids.values())
    st = _drills("env", "status", "--state-dir", str(state), "--json")
    assert st.returncode == 0 and json.loads(st.stdout)["servers"]["dc1"]["up"] is True
    secrets = Topology.load(state).secrets()
    assert not any(s in up.stdout + up.stderr + st.stdout for s in secrets)
    down = _drills("env", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_alive(p) for p in pids.values()):
        time.sleep(0.05)
    assert not any(is_alive(p) for p in pids.values())
    assert not state.exists()


def test_down_cleans_up_after_a_crashed_run(tmp_path: Path, drills_home: Path) -> None:
    """A run killed mid-way leaves pid files but maybe no state.json: down still finds its processes."""
    state = tmp_path / "crashed"
    topo = local.up(state_dir=state)
    pids = topo.process_control.pids()
    (state / "state.json").unlink()
    (state / "local.json").unlink()
    (state / "credentials.json").unlink()
    res = _drills("env", "down", "--state-dir", str(state))
    assert res.returncode == 0, res.stderr
    assert not any(is_alive(p) for p in pids.values())


def test_a_running_state_dir_is_not_reused(topology: Topology) -> None:
    res = _drills("env", "up", "--state-dir", str(topology.state_dir))
    assert res.returncode == 2
    assert "already running" in res.stderr and "Traceback" not in res.stderr


def test_bad_topology_file_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "topo.yaml"
    bad.write_text("app: mall\nflavour: mariadb\nports:\n  dc1: 0\n")
    res = _drills("env", "up", "--topology", str(bad), "--state-dir", str(tmp_path / "s"))
    assert res.returncode == 2
    assert f"{bad}:2" in res.stderr and "flavour" in res.stderr and "flavor" in res.stderr  # did-you-mean
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "s").exists()


def test_taken_port_is_named(tmp_path: Path, topology: Topology) -> None:
    taken = topology.servers["dc1"].port
    f = tmp_path / "topo.yaml"
    f.write_text(f"ports:\n  dc2: {taken}\n")
    res = _drills("env", "up", "--topology", str(f), "--state-dir", str(tmp_path / "s"))
    assert res.returncode == 2 and f"port {taken} (dc2) is already in use" in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_binary_says_which_and_how_to_install(tmp_path: Path) -> None:
    res = _drills("env", "up", "--state-dir", str(tmp_path / "s"), env={"DRILLS_TOXIPROXY": str(tmp_path / "nope")})
    assert res.returncode == 2 and "DRILLS_TOXIPROXY" in res.stderr and "scripts/setup" in res.stderr
    assert "Traceback" not in res.stderr


def test_link_reverses_without_replaying_the_old_primarys_own_writes(clean_topology: Topology) -> None:
    """dc1 (old primary) becomes a replica of dc2 through link:dc2->dc1: it must start from what
    it already executed, receive only dc2's new writes, and keep the declared filters."""
    topo = clean_topology
    c1, c2 = topo.connect("dc1"), topo.connect("dc2")
    with c1.cursor() as cur:
        cur.execute("INSERT INTO app.customers (id, name) VALUES (200, 'before-switch')")
    assert admin.wait_for_gtid(c2, admin.gtid_executed(c1), 10)
    admin.set_read_only(c1, True)
    admin.reset_replica(c2)
    host, port = topo.link_address("dc2", "dc1")
    admin.configure_replica(c1, host, port, topo.credentials.repl_user, topo.credentials.repl_password,
                            topo.declared_filters.as_filters())
    with c2.cursor() as cur:
        cur.execute("INSERT INTO app.customers (id, name) VALUES (201, 'after-switch')")
        cur.execute("INSERT INTO app.app_config (config_key, config_value) VALUES ('dc2-only', 'x')")
    assert admin.wait_for_gtid(c1, admin.gtid_executed(c2), 10)
    rs = admin.replica_status(c1)
    assert rs is not None and rs.io_running and rs.sql_running and not rs.last_sql_error
    assert admin.read_filters(c1) == topo.declared_filters.as_filters()
    with c1.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM app.customers WHERE id IN (200, 201)")
        assert cur.fetchone()[0] == 2
        cur.execute("SELECT COUNT(*) FROM app.app_config WHERE config_key = 'dc2-only'")
        assert cur.fetchone()[0] == 0
    c1.close()
    c2.close()


def test_reset_can_switch_the_filter_list_for_the_next_scenario(clean_topology: Topology) -> None:
    topo = clean_topology
    incident = REPO / "fixtures" / "filter_list_incident.yaml"
    original = topo.filter_list_file
    try:
        local.reset(topo, filter_list=incident)
        assert Topology.load(topo.state_dir).filter_list_file == str(incident)
        doc = status(topo)
        assert "app.id_sequence" in doc["servers"]["dc2"]["replication"]["filters"]["ignore_tables"]
        # dc1's allocations no longer reach dc2: the incident's precondition
        app = topo.connect("dc1", role="app", via="service")
        with app.cursor() as cur:
            cur.execute("UPDATE app.id_sequence SET next_val = LAST_INSERT_ID(next_val + 10000) WHERE name = 'orders'")
        app.close()
        _wait_applied(topo)
        assert _count(topo, "dc2", "SELECT next_val FROM app.id_sequence WHERE name = 'orders'") == 1
    finally:
        local.reset(topo, filter_list=original)
    assert "app.id_sequence" not in status(topo)["servers"]["dc2"]["replication"]["filters"]["ignore_tables"]


def test_reset_through_a_stale_handle_never_starts_a_second_server(clean_topology: Topology, topology: Topology) -> None:
    """A crash fault's heal restarts dc2 through one handle; a reset through another, older
    handle (with a filter-list switch, which saves state) must adopt the new server, not start
    a second one on the same data directory (it would hang on the InnoDB lock)."""
    import signal

    from drills.topology.processes import pids_with_marker

    old = clean_topology.process_control.pids()["dc2"]
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_alive(old) and time.monotonic() < deadline:
        time.sleep(0.02)
    new = clean_topology.process_control.ensure_running("dc2")["pid"]
    assert new != old
    stale = local.LocalProcesses(topology, local.load_processes(topology.state_dir))
    stale.processes["dc2"].pid = old  # the stale view
    topology.process_control = stale
    local.reset(topology, filter_list=REPO / "fixtures" / "filter_list.yaml")
    running = pids_with_marker(f"--datadir={stale.processes['dc2'].datadir}")
    assert running == [new] and local.load_processes(topology.state_dir)["dc2"].pid == new


def test_a_long_state_dir_path_still_boots(tmp_path: Path, drills_home: Path) -> None:
    """MariaDB refuses a Unix socket path over 107 bytes; a deep state dir must still work."""
    state = tmp_path / ("deep-" * 12) / "state-directory-with-a-long-name" / "env"
    assert len(str(state / "dc1" / "mysqld.sock")) > 107
    topo = local.up(state_dir=state)
    sockets = [p.socket for p in topo.process_control.processes.values() if p.socket]
    try:
        assert len(sockets) == 2 and all(len(s) <= 107 for s in sockets)
        assert status(topo)["servers"]["dc2"]["replication"]["io_running"]
    finally:
        local.down(state)
    assert not Path(sockets[0]).parent.exists()
