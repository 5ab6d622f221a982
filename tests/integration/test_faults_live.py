"""Every fault of the catalogue injected into a real topology (MariaDB x2, etcd, Toxiproxy),
its effect measured on the path it acts on, and its heal shown to bring everything back.

Each test asks for `drill`, whose teardown heals whatever is still active and fails the
test if a heal failed or any process of the topology was left stopped (SIGSTOP)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

from drills import events
from drills.config_center import ConfigCenterError
from drills.errors import EnvironmentProblem
from drills.faults import ActiveFaults, Fault, FaultError, make_fault
from drills.journal import Journal, read, verify
from drills.mysql import admin
from drills.topology import Topology
from drills.topology.processes import is_alive, process_state

pytestmark = pytest.mark.integration


@dataclass
class Drill:
    topo: Topology
    journal: Journal
    faults: ActiveFaults

    def inject(self, **spec: Any) -> Fault:
        return self.faults.inject(make_fault(spec, self.topo, self.journal))

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e["payload"] for e in read(self.journal.path) if e["kind"] == kind]


@pytest.fixture
def drill(clean_topology: Topology, tmp_path: Path) -> Iterator[Drill]:
    journal = Journal(tmp_path / "journal.jsonl", secrets=clean_topology.secrets())
    d = Drill(clean_topology, journal, ActiveFaults())
    try:
        yield d
    finally:
        report = d.faults.heal_all()
        journal.close()
        pids = clean_topology.process_control.pids()
        stopped = {name: pid for name, pid in pids.items() if process_state(pid) in ("T", "t")}
        assert report.ok, report.summary()
        assert not stopped, f"processes left stopped: {stopped}"
        assert verify(journal.path).ok


# ---- measuring helpers ------------------------------------------------------------------------

def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _query_seconds(conn: pymysql.connections.Connection, sql: str = "SELECT 1") -> float:
    t0 = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(sql)
        cur.fetchall()
    return time.monotonic() - t0


def _gtid(topo: Topology, dc: str) -> str:
    conn = topo.connect(dc)
    try:
        return admin.gtid_executed(conn)
    finally:
        conn.close()


def _applied(topo: Topology, replica: str, gtid: str, within: float) -> bool:
    conn = topo.connect(replica, read_timeout=within + 5)
    try:
        return admin.wait_for_gtid(conn, gtid, within)
    finally:
        conn.close()


def _replica(topo: Topology, dc: str = "dc2") -> admin.ReplicaStatus:
    conn = topo.connect(dc)
    try:
        status = admin.replica_status(conn)
    finally:
        conn.close()
    assert status is not None
    return status


def _wait_replica(topo: Topology, predicate, within: float = 10.0, dc: str = "dc2") -> admin.ReplicaStatus:  # noqa: ANN001
    deadline = time.monotonic() + within
    status = _replica(topo, dc)
    while not predicate(status) and time.monotonic() < deadline:
        time.sleep(0.05)
        status = _replica(topo, dc)
    return status


def _write_customer(topo: Topology, customer_id: int, dc: str = "dc1") -> str:
    """An application write on `dc` (observer path); returns dc's GTID position after it."""
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO app.customers (id, name) VALUES (%s, %s)", (customer_id, f"fault-{customer_id}"))
        return admin.gtid_executed(conn)
    finally:
        conn.close()


def _has_customer(topo: Topology, dc: str, customer_id: int) -> bool:
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM app.customers WHERE id = %s", (customer_id,))
            return cur.fetchone()[0] == 1
    finally:
        conn.close()


# ---- network faults ------------------------------------------------------------------------------

def test_port_change_refuses_the_known_endpoint_until_healed(drill: Drill) -> None:
    topo = drill.topo
    host, port = topo.service_address("dc1")
    before = topo.connect("dc1", via="service", role="app")
    fault = drill.inject(type="port_change", target="app:dc1")
    assert _refused(host, port), "the known endpoint still accepts connections"
    with pytest.raises(EnvironmentProblem, match="unreachable"):
        topo.connect("dc1", via="service", role="app", timeout=2)
    with pytest.raises(pymysql.err.OperationalError):  # the open connection was cut too
        _query_seconds(before)
    moved = pymysql.connect(host=host, port=fault.details["new_port"], user=topo.credentials.app_user,
                            password=topo.credentials.app_password, connect_timeout=2)
    assert _query_seconds(moved) < 1  # the proxy lives on, elsewhere
    moved.close()
    inject = drill.events(events.FAULT_INJECT)[-1]
    assert inject["details"]["old_port"] == port and inject["details"]["new_port"] != port

    assert fault.heal() is True
    assert not _refused(host, port)
    conn = topo.connect("dc1", via="service", role="app", timeout=2)
    assert _query_seconds(conn) < 1
    conn.close()
    heal = drill.events(events.FAULT_HEAL)[-1]
    assert heal["ok"] is True and heal["by"] == "step" and heal["name"] == "port_change@app:dc1"


def test_latency_delays_the_service_path_not_the_observer_path(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="latency", target="app:dc1", latency_ms=300)
    service = topo.connect("dc1", via="service", role="app")
    observer = topo.connect("dc1")
    assert _query_seconds(service) >= 0.3
    assert _query_seconds(observer) < 0.2
    fault.heal()
    assert _query_seconds(service) < 0.2  # the same connection, healed in place
    service.close()
    observer.close()


def test_latency_on_both_streams_adds_up_and_heals_both_toxics(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="latency", target="app:dc2", latency_ms=150, stream="both")
    conn = topo.connect("dc2", via="service", role="app")
    assert _query_seconds(conn) >= 0.3
    assert len(topo.toxiproxy().toxics("app:dc2")) == 2
    fault.heal()
    assert topo.toxiproxy().toxics("app:dc2") == []
    conn.close()


def test_bandwidth_limits_a_large_result(drill: Drill) -> None:
    topo = drill.topo
    conn = topo.connect("dc1", via="service", role="app")
    big = "SELECT REPEAT('x', 60000)"
    assert _query_seconds(conn, big) < 0.2
    fault = drill.inject(type="bandwidth", target="app:dc1", rate_kbps=60)
    assert _query_seconds(conn, big) >= 0.5
    fault.heal()
    assert _query_seconds(conn, big) < 0.2
    conn.close()


def test_timeout_blackholes_the_path(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="timeout", target="app:dc2", timeout_ms=0)
    t0 = time.monotonic()
    with pytest.raises(EnvironmentProblem):
        topo.connect("dc2", via="service", role="app", timeout=1, read_timeout=1)
    assert 0.9 <= time.monotonic() - t0 < 5  # waited for a greeting that never came
    fault.heal()
    topo.connect("dc2", via="service", role="app", timeout=2).close()


def test_reset_peer_cuts_connections(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="reset_peer", target="app:dc2")
    t0 = time.monotonic()
    with pytest.raises(EnvironmentProblem):
        topo.connect("dc2", via="service", role="app", timeout=3)
    assert time.monotonic() - t0 < 2  # reset, not a timeout
    fault.heal()
    topo.connect("dc2", via="service", role="app", timeout=2).close()


def _seconds_to_eof_after_close(host: str, port: int) -> float:
    """Read the server greeting, half-close our side, time until the proxy closes its side."""
    with socket.create_connection((host, port), timeout=5) as s:
        assert s.recv(4096)  # the server's handshake
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        while s.recv(4096):
            pass
        return time.monotonic() - t0


def test_slow_close_delays_the_close(drill: Drill) -> None:
    host, port = drill.topo.service_address("dc1")
    assert _seconds_to_eof_after_close(host, port) < 0.3
    fault = drill.inject(type="slow_close", target="app:dc1", delay_ms=600)
    assert _seconds_to_eof_after_close(host, port) >= 0.6
    fault.heal()
    assert _seconds_to_eof_after_close(host, port) < 0.3


def test_link_down_stops_replication_until_healed(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="down", target="link:dc1->dc2")
    status = _wait_replica(topo, lambda s: not s.io_running, within=5)
    assert not status.io_running and status.sql_running
    gtid = _write_customer(topo, 9101)
    assert not _applied(topo, "dc2", gtid, within=1.0), "a write crossed a link that is down"
    assert not _has_customer(topo, "dc2", 9101)

    drill.faults.heal("link:dc1->dc2")  # by target, as a `heal:` step may name it
    assert not fault.active
    assert _applied(topo, "dc2", gtid, within=10)
    assert _has_customer(topo, "dc2", 9101)
    assert _wait_replica(topo, lambda s: s.io_running).io_running


# ---- process faults -------------------------------------------------------------------------------

def test_crash_kills_the_replica_and_heal_restarts_it_replicating(drill: Drill) -> None:
    topo = drill.topo
    server = topo.servers["dc2"]
    old_pid = topo.process_control.pids()["dc2"]
    fault = drill.inject(type="crash", target="dc2")
    assert not is_alive(old_pid)
    assert _refused(server.host, server.port)
    with pytest.raises(EnvironmentProblem):
        topo.connect("dc2", timeout=1)

    fault.heal()
    new_pid = topo.process_control.pids()["dc2"]
    assert new_pid != old_pid and is_alive(new_pid)
    status = _wait_replica(topo, lambda s: s.io_running and s.sql_running)
    assert status.io_running and status.sql_running
    gtid = _write_customer(topo, 9201)
    assert _applied(topo, "dc2", gtid, within=10) and _has_customer(topo, "dc2", 9201)
    assert drill.events(events.FAULT_HEAL)[-1]["details"]["replication_started"] is True


@pytest.mark.parametrize("kind", ["crash", "restart"])
def test_a_restarted_replica_gets_back_the_filters_it_had_not_only_the_declared_list(drill: Drill, kind: str) -> None:
    """Replication filters are dynamic variables, gone with the process. The link's own filters
    come back — here the declared list plus one more pattern, as active-active adds the central
    database on the link into the central unit — not the declared list (found by `drills explore`:
    a crashed replica came back with no filters and replicated every filtered table)."""
    topo = drill.topo
    conn = topo.connect("dc2")
    try:
        declared = admin.read_filters(conn)
        custom = {"ignore_tables": declared["ignore_tables"],
                  "wild_ignore_tables": sorted({*declared["wild_ignore_tables"], "central.%"})}
        admin.stop_replica(conn)
        admin.set_filters(conn, custom)
        admin.start_replica(conn)
    finally:
        conn.close()
    fault = drill.inject(type=kind, target="dc2")
    if kind == "crash":
        fault.heal()
    assert _wait_replica(topo, lambda s: s.io_running and s.sql_running).sql_running
    conn = topo.connect("dc2")
    try:
        after = admin.read_filters(conn)
    finally:
        conn.close()
    assert after == custom != declared


def test_crash_of_the_source_breaks_the_link_and_heal_lets_it_resume(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="crash", target="dc1")
    assert _refused(topo.servers["dc1"].host, topo.servers["dc1"].port)
    assert not _wait_replica(topo, lambda s: not s.io_running, within=5).io_running
    fault.heal()
    assert "replication_started" not in (drill.events(events.FAULT_HEAL)[-1].get("details") or {})  # dc1 is no replica
    gtid = _write_customer(topo, 9251)
    assert _applied(topo, "dc2", gtid, within=10)


def test_crash_of_etcd_loses_the_config_centre_until_healed(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="crash", target="etcd")
    cc = topo.config_center(timeout=1.0)
    try:
        with pytest.raises(ConfigCenterError):
            cc.read()
    finally:
        cc.close()
    fault.heal()
    cc = topo.config_center(timeout=2.0)
    try:
        assert cc.read().active == "dc1"
    finally:
        cc.close()


def test_hang_makes_queries_time_out_and_heal_resumes(drill: Drill) -> None:
    topo = drill.topo
    conn = topo.connect("dc1", read_timeout=1.0)
    fault = drill.inject(type="hang", target="dc1")
    assert process_state(fault.details["pid"]) in ("T", "t")
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError):
        _query_seconds(conn)
    assert time.monotonic() - t0 >= 0.9
    fault.heal()
    assert process_state(fault.details["pid"]) not in ("T", "t", "")
    conn = topo.connect("dc1", read_timeout=2.0)
    assert _query_seconds(conn) < 1
    conn.close()


def test_restart_is_instantaneous_and_leaves_replication_running(drill: Drill) -> None:
    topo = drill.topo
    old_pid = topo.process_control.pids()["dc2"]
    fault = drill.inject(type="restart", target="dc2")
    assert not fault.active and drill.faults.active() == []
    assert not is_alive(old_pid) and fault.details["new_pid"] != old_pid and is_alive(fault.details["new_pid"])
    assert _wait_replica(topo, lambda s: s.io_running and s.sql_running).sql_running
    assert fault.heal() is False  # nothing to heal
    assert drill.events(events.FAULT_HEAL) == []


# ---- database faults ------------------------------------------------------------------------------

@pytest.mark.parametrize(("thread", "io", "sql"), [("io", False, True), ("sql", True, False), ("both", False, False)])
def test_replication_stop_stops_the_named_thread(drill: Drill, thread: str, io: bool, sql: bool) -> None:
    topo = drill.topo
    fault = drill.inject(type="replication_stop", target="dc2", thread=thread)
    status = _replica(topo)
    assert (status.io_running, status.sql_running) == (io, sql)
    gtid = _write_customer(topo, 9301)
    assert not _applied(topo, "dc2", gtid, within=0.5)
    fault.heal()
    status = _wait_replica(topo, lambda s: s.io_running and s.sql_running)
    assert status.io_running and status.sql_running
    assert _applied(topo, "dc2", gtid, within=10)


def test_replication_delay_holds_writes_back_until_healed(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="replication_delay", target="dc2", seconds=30)
    gtid = _write_customer(topo, 9401)
    assert not _applied(topo, "dc2", gtid, within=1.5), "the write was applied without the delay"
    conn = topo.connect("dc2")
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SHOW SLAVE STATUS")
        assert int(cur.fetchone()["SQL_Delay"]) == 30
    fault.heal()
    assert _applied(topo, "dc2", gtid, within=10)
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SHOW SLAVE STATUS")
        assert int(cur.fetchone()["SQL_Delay"]) == 0
    conn.close()


def test_read_only_fences_application_writes(drill: Drill) -> None:
    topo = drill.topo
    conn = topo.connect("dc1", via="service", role="app")
    fault = drill.inject(type="read_only", target="dc1")
    with pytest.raises(pymysql.err.OperationalError) as err, conn.cursor() as cur:
        cur.execute("INSERT INTO app.customers (id, name) VALUES (9501, 'fenced')")
    assert err.value.args[0] == 1290  # ER_OPTION_PREVENTS_STATEMENT (--read-only)
    fault.heal()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO app.customers (id, name) VALUES (9501, 'after heal')")
    conn.close()


def test_a_fault_that_cannot_be_injected_says_why_and_stays_inactive(drill: Drill) -> None:
    fault = make_fault({"type": "replication_stop", "target": "dc1"}, drill.topo, drill.journal)
    with pytest.raises(FaultError, match="dc1 is not a replica"):
        drill.faults.inject(fault)
    assert not fault.active and drill.faults.active() == []
    assert drill.events(events.FAULT_INJECT) == []


# ---- config centre ------------------------------------------------------------------------------------

def test_etcd_down_cuts_clients_while_the_observer_reads(drill: Drill) -> None:
    topo = drill.topo
    fault = drill.inject(type="etcd_down", target="etcd")
    service, observer = topo.config_center(via="service", timeout=1.0), topo.config_center(timeout=1.0)
    try:
        with pytest.raises(ConfigCenterError):
            service.read()
        assert observer.read().active == "dc1"
    finally:
        service.close()
    fault.heal()
    service = topo.config_center(via="service", timeout=2.0)
    try:
        assert service.read().active == "dc1"
    finally:
        service.close()
        observer.close()


def test_etcd_slow_delays_clients_only(drill: Drill) -> None:
    topo = drill.topo
    service, observer = topo.config_center(via="service"), topo.config_center()
    try:
        service.read()  # channel established before the fault
        drill.inject(type="etcd_slow", target="etcd", latency_ms=300)
        t0 = time.monotonic()
        service.read()
        assert time.monotonic() - t0 >= 0.3
        t0 = time.monotonic()
        observer.read()
        assert time.monotonic() - t0 < 0.2
        drill.faults.heal("etcd_slow@etcd")
        t0 = time.monotonic()
        service.read()
        assert time.monotonic() - t0 < 0.2
    finally:
        service.close()
        observer.close()


# ---- the final heal -------------------------------------------------------------------------------------

def test_heal_all_undoes_every_fault_newest_first_and_journals_each(drill: Drill) -> None:
    topo = drill.topo
    drill.inject(type="down", target="link:dc1->dc2")
    drill.inject(type="latency", target="app:dc1", latency_ms=200)
    drill.inject(type="hang", target="dc2")
    drill.inject(type="read_only", target="dc1")
    assert [f.type for f in drill.faults.active()] == ["down", "latency", "hang", "read_only"]

    report = drill.faults.heal_all()
    assert report.ok and report.healed == ["read_only@dc1", "hang@dc2", "latency@app:dc1", "down@link:dc1->dc2"]
    assert drill.faults.active() == [] and drill.faults.heal_all().healed == []
    heals = drill.events(events.FAULT_HEAL)
    assert [h["name"] for h in heals] == report.healed and all(h["by"] == "runner" and h["ok"] for h in heals)
    proxies = topo.toxiproxy().proxies()
    assert all(p.enabled and not p.toxics for p in proxies.values())
    gtid = _write_customer(topo, 9601)
    assert _applied(topo, "dc2", gtid, within=10)
    journal_text = Path(drill.journal.path).read_text()
    assert not any(secret in journal_text for secret in topo.secrets())
