"""The reference controller and workload against real MariaDB, etcd and Toxiproxy processes."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.control import ControllerError, make_controller
from drills.journal import Journal, read, verify
from drills.mysql import admin
from drills.scenario.model import ControllerSpec, WorkloadSpec
from drills.workload import make_workload
from drills.workload.ledger import read_ledger

pytestmark = pytest.mark.integration

PROBE = {"interval": 0.2, "timeout": 0.2, "failures": 3}


@pytest.fixture
def journal(clean_topology: Any, tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.jsonl", secrets=clean_topology.secrets())
    yield j
    j.close()


@pytest.fixture
def heal_proxies(clean_topology: Any) -> Iterator[Any]:
    """Whatever a test does to the proxies is undone, pass or fail."""
    yield clean_topology.toxiproxy()
    tp = clean_topology.toxiproxy()
    for name in ("app:dc1", "app:dc2"):
        tp.update_proxy(name, enabled=True)


def kinds(journal: Journal) -> list[dict[str, Any]]:
    """The journal's events (payload keys `source`/`kind` are stored as they are)."""
    return read(journal.path)


def wait_for(journal: Journal, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in read(journal.path):
            if predicate(e):
                return e
        time.sleep(0.05)
    raise AssertionError(f"no matching journal event within {timeout}s; journal: {[e['kind'] for e in read(journal.path)]}")


def route(topo: Any) -> dict[str, Any]:
    cc = topo.config_center()
    try:
        r = cc.read()
        return {**r.document, "revision": r.revision}
    finally:
        cc.close()


def test_port_change_on_dc1_fails_over_within_the_probe_budget_and_writes_continue_on_dc2(
        clean_topology: Any, journal: Journal, heal_proxies: Any, tmp_path: Path) -> None:
    topo = clean_topology
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE, "block_period": 30.0}), topo, journal)
    wl = make_workload(WorkloadSpec.model_validate({"kind": "orders", "rate": 200, "workers": 4, "retry_delay": 0.5}), topo, journal, tmp_path)
    ctl.start()
    wl.start()
    try:
        wait_for(journal, lambda e: e["kind"] == "workload.route", 5)
        time.sleep(0.5)
        fault = journal.record("fault", "fault.inject", name="pc", type="port_change", target="app:dc1", params={})
        heal_proxies.update_proxy("app:dc1", enabled=False)
        published = wait_for(journal, lambda e: e["kind"] == "route.published", 5)
        first_dc2 = wait_for(journal, lambda e: e["kind"] == "workload.route" and e["payload"]["active"] == "dc2", 5)
        time.sleep(0.5)
    finally:
        counts = wl.stop()
        ctl.stop()
    events = kinds(journal)
    detected = next(e for e in events if e["kind"] == "dc.failed")
    assert detected["payload"] == {"dc": "dc1", "verdict": "unreachable", "consecutive": 3}
    budget_ns = (PROBE["interval"] * PROBE["failures"] + PROBE["timeout"] + 0.3) * 1e9
    assert detected["mono_ns"] - fault["mono_ns"] < budget_ns
    assert published["payload"]["to"] == "dc2" and published["payload"]["epoch"] == 2
    order = [e["kind"] for e in events if e["source"] == "controller" and e["mono_ns"] >= detected["mono_ns"]]
    # the read-only fence cannot reach dc1, so dc1 is cut off at the edge before dc2 is promoted
    assert order[:8] == ["dc.failed", "failover.start", "fence", "fence", "replication.stopped", "promote",
                         "route.published", "failover.end"]
    fences = [e["payload"] for e in events if e["kind"] == "fence" and e["mono_ns"] >= detected["mono_ns"]]
    assert (fences[0]["method"], fences[0]["ok"]) == ("read_only", False)
    assert (fences[1]["method"], fences[1]["ok"]) == ("edge", True)
    assert route(topo)["active"] == "dc2"
    ledger = read_ledger(tmp_path / "ledger.jsonl")
    acked_dc2 = [r for r in ledger if r["type"] == "ok" and r["f"] == "write_order" and r["dc"] == "dc2"]
    assert acked_dc2 and min(r["mono_ns"] for r in acked_dc2) >= first_dc2["mono_ns"]
    assert all(r["epoch"] == 2 for r in acked_dc2)
    assert counts["ok"] > 0
    obs = topo.connect("dc2")
    with obs.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM app.orders WHERE dc = 'dc2' AND epoch = 2")
        (rows,) = cur.fetchone()
    obs.close()
    assert rows == len(acked_dc2)
    assert verify(journal.path).ok


def test_switchover_and_failback_reverse_the_link_with_the_same_filter_list(
        clean_topology: Any, journal: Journal) -> None:
    topo = clean_topology
    declared = topo.declared_filters.as_filters()
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE}), topo, journal)
    ctl.switchover("dc2")
    assert route(topo)["active"] == "dc2" and route(topo)["epoch"] == 2
    dc1 = topo.connect("dc1")
    try:
        status = admin.replica_status(dc1)
        assert status is not None and status.source_port == topo.link_address("dc2", "dc1")[1]
        assert admin.read_filters(dc1) == declared
        assert admin.read_only(dc1)
    finally:
        dc1.close()
    reversed_ = [e["payload"] for e in kinds(journal) if e["kind"] == "link.reversed"]
    assert reversed_ == [{"source": "dc2", "replica": "dc1", "filters": declared}]

    ctl.failback()
    assert route(topo)["active"] == "dc1" and route(topo)["epoch"] == 3
    dc2 = topo.connect("dc2")
    try:
        status = admin.replica_status(dc2)
        assert status.source_port == topo.link_address("dc1", "dc2")[1]
        assert admin.read_filters(dc2) == declared
        deadline = time.monotonic() + 5
        while not (status.io_running and status.sql_running) and time.monotonic() < deadline:
            time.sleep(0.1)
            status = admin.replica_status(dc2)
        assert status.io_running and status.sql_running, status
    finally:
        dc2.close()
    gtid_waits = [e["payload"] for e in kinds(journal) if e["kind"] == "gtid.wait"]
    assert len(gtid_waits) == 2 and all(w["ok"] for w in gtid_waits)


def test_failback_after_an_unplanned_failover_rejoins_the_old_primary_first(
        clean_topology: Any, journal: Journal, heal_proxies: Any) -> None:
    topo = clean_topology
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE}), topo, journal)
    ctl.failover("dc2")  # manual, unplanned: dc1 is left standing alone
    ctl.failback()
    assert route(topo)["active"] == "dc1" and route(topo)["epoch"] == 3
    reversed_ = [(e["payload"]["source"], e["payload"]["replica"]) for e in kinds(journal) if e["kind"] == "link.reversed"]
    assert reversed_ == [("dc2", "dc1"), ("dc1", "dc2")]
    dc2 = topo.connect("dc2")
    try:
        assert admin.read_filters(dc2) == topo.declared_filters.as_filters()
    finally:
        dc2.close()


def test_anti_flapping_blocks_a_second_automatic_failover_within_the_block_period(
        clean_topology: Any, journal: Journal, heal_proxies: Any) -> None:
    topo = clean_topology
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE, "block_period": 30.0}), topo, journal)
    ctl.start()
    try:
        heal_proxies.update_proxy("app:dc1", enabled=False)
        wait_for(journal, lambda e: e["kind"] == "failover.end" and e["payload"]["ok"], 5)
        heal_proxies.update_proxy("app:dc1", enabled=True)
        wait_for(journal, lambda e: e["kind"] == "probe.ok" and e["payload"]["dc"] == "dc1", 5)
        ctl.failback()  # the operator brings dc1 back; it flaps again at once
        heal_proxies.update_proxy("app:dc1", enabled=False)
        blocked = wait_for(journal, lambda e: e["kind"] == "failover.blocked", 5)
        time.sleep(0.5)
    finally:
        ctl.stop()
    assert blocked["payload"]["dc"] == "dc1" and blocked["payload"]["reason"] == "anti-flapping"
    assert blocked["payload"]["until_mono_ns"] > blocked["mono_ns"]
    starts = [e for e in kinds(journal) if e["kind"] == "failover.start"]
    assert len(starts) == 1  # only the first one
    assert route(topo)["active"] == "dc1" and route(topo)["epoch"] == 3


def test_an_unreachable_primary_is_cut_off_then_fenced_over_the_management_path(
        clean_topology: Any, journal: Journal, heal_proxies: Any) -> None:
    """Edge fencing: dc1's application path is down, so it cannot be set read-only there;
    its service paths are cut before dc2 is promoted, it is set read-only over the management
    path as soon as it answers there, and only then are its paths given back."""
    topo = clean_topology
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE}), topo, journal)
    ctl.start()
    try:
        heal_proxies.update_proxy("app:dc1", enabled=False)
        wait_for(journal, lambda e: e["kind"] == "failover.end", 5)
        wait_for(journal, lambda e: e["kind"] == "fence.lifted" and e["payload"]["method"] == "edge", 5)
        dc1 = topo.connect("dc1")
        assert admin.read_only(dc1)  # fenced although its application path is still down
        dc1.close()
        assert not any(t.name.startswith("drills-edge-fence") for t in heal_proxies.toxics("app:dc1"))
        kinds_after = [(e["kind"], e["payload"].get("method")) for e in kinds(journal)
                       if e["kind"] in ("fence", "fence.lifted", "promote")]
        assert kinds_after.index(("fence", "edge")) < kinds_after.index(("promote", None))
        assert kinds_after.index(("fence", "read_only"), 1) < kinds_after.index(("fence.lifted", "edge"))
    finally:
        ctl.stop()


def test_without_edge_fencing_the_old_primary_is_fenced_only_when_it_comes_back(
        clean_topology: Any, journal: Journal, heal_proxies: Any) -> None:
    topo = clean_topology
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE, "edge_fencing": False}), topo, journal)
    ctl.start()
    try:
        heal_proxies.update_proxy("app:dc1", enabled=False)
        wait_for(journal, lambda e: e["kind"] == "failover.end", 5)
        dc1 = topo.connect("dc1")
        assert not admin.read_only(dc1)  # unreachable on the service path, and not cut off: still writable
        heal_proxies.update_proxy("app:dc1", enabled=True)
        wait_for(journal, lambda e: e["kind"] == "fence" and e["payload"].get("late"), 5)
        assert admin.read_only(dc1)
        dc1.close()
    finally:
        ctl.stop()


def test_promotion_guard_refuses_a_lagging_survivor_unless_forced(clean_topology: Any, journal: Journal) -> None:
    topo = clean_topology
    dc2 = topo.connect("dc2")
    admin.stop_replica(dc2, "sql")  # dc2 receives but does not apply
    dc1 = topo.connect("dc1")
    with dc1.cursor() as cur:
        cur.execute("INSERT INTO app.customers (id, name) VALUES (100, 'lagging')")
    dc1.close()
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE, "max_lag": 0.0, "lag_wait": 0.3}), topo, journal)
    with pytest.raises(ControllerError, match="did not complete"):
        ctl.failover("dc2")
    refused = [e["payload"] for e in kinds(journal) if e["kind"] == "failover.refused"]
    assert refused and "promotion guard" in refused[0]["reason"]
    assert route(topo)["active"] == "dc1" and not admin.read_only(topo.connect("dc1"))
    ctl.failover("dc2", force=True)
    assert route(topo)["active"] == "dc2"
    dc2.close()


def test_a_stale_controllers_compare_and_swap_loses(clean_topology: Any, journal: Journal) -> None:
    topo = clean_topology
    cc = topo.config_center()
    try:
        stale = cc.read()
        newer = {**stale.document, "active": "dc2", "epoch": stale.document["epoch"] + 1}
        assert cc.compare_and_swap(newer, stale.revision) is not None
        ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE}), topo, journal)
        assert ctl.publish_route(stale, "dc2") is None
        now = cc.read()
    finally:
        cc.close()
    assert now.document == newer  # not overwritten
    lost = [e["payload"] for e in kinds(journal) if e["kind"] == "route.cas_lost"]
    assert lost == [{"expected_revision": stale.revision, "actual_revision": now.revision}]


def test_external_controller_runs_the_users_script_and_the_switch_is_observed(
        clean_topology: Any, journal: Journal, tmp_path: Path) -> None:
    topo = clean_topology
    script = tmp_path / "my-failover.sh"
    script.write_text(
        "#!/bin/sh\nset -e\n"
        "mariadb -h \"$DRILLS_DC2_SERVICE_HOST\" -P \"$DRILLS_DC2_SERVICE_PORT\" -u \"$DRILLS_ADMIN_USER\" "
        "-p\"$DRILLS_ADMIN_PASSWORD\" -e 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0'\n"
        "ETCDCTL_API=3 etcdctl --endpoints \"$DRILLS_ETCD_SERVICE_ENDPOINT\" put \"$DRILLS_ROUTING_KEY\" "
        "'{\"active\": \"'\"$DRILLS_TO\"'\", \"epoch\": 2, \"algorithm\": \"single-read-write\", "
        "\"retry\": {\"times\": 3, \"delay_ms\": 5000}}'\n"
        "echo switched from $DRILLS_FROM to $DRILLS_TO\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    ctl = make_controller(ControllerSpec.model_validate({"kind": "external", "failover": str(script)}), topo, journal)
    ctl.start()
    ctl.failover(None, force=False)
    ctl.stop()
    assert route(topo)["active"] == "dc2"
    end = [e["payload"] for e in kinds(journal) if e["kind"] == "failover.end"][0]
    assert end["ok"] and end["route"]["active"] == "dc2" and end["route"]["epoch"] == 2
    assert "switched from dc1 to dc2" in end["output"]
    text = journal.path.read_text()
    assert topo.credentials.admin_password not in text


def test_external_controller_failure_is_reported_not_raised_as_a_traceback(
        clean_topology: Any, journal: Journal) -> None:
    ctl = make_controller(ControllerSpec.model_validate({"kind": "external", "failover": "echo nope >&2; exit 3"}), clean_topology, journal)
    with pytest.raises(ControllerError, match="exit status 3"):
        ctl.failover()
    end = [e["payload"] for e in kinds(journal) if e["kind"] == "failover.end"][0]
    assert end["ok"] is False and "nope" in end["output"] and end["route"]["active"] == "dc1"


def test_without_a_controller_a_route_step_writes_the_routing_key_like_an_operator(
        clean_topology: Any, tmp_path: Path) -> None:
    """`controller: {kind: none}` builds no controller; a `route:` step publishes the successor
    document by compare-and-swap, as an operator with etcdctl would (one function for every
    route change: drills.config_center.successor_document)."""
    from drills.runner import run_scenario

    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: by-hand\nstages: [{name: a, steps: [{route: {active: dc2}}]}]\n"
                        "objectives: {checks: {not_judged: {rto: by hand, rpo: by hand, sequence_continuity: no load, "
                        "split_brain: no load, filter_tables: no link observed after the switch}}}\n")
    result = run_scenario(scenario, out_dir=tmp_path / "run", state_dir=clean_topology.state_dir, record_history=False)
    published = [e["payload"] for e in read(tmp_path / "run" / "journal.jsonl") if e["kind"] == "route.published"]
    assert [(p["to"], p["epoch"], p["by"]) for p in published] == [("dc2", 2, "operator")]
    assert route(clean_topology)["active"] == "dc2", result["reasons"]
    with pytest.raises(ValueError, match="kind none has no controller"):
        make_controller(ControllerSpec(kind="none"), clean_topology, None)
