"""The reference workload against real processes: routing, ledger, sequence segments."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.journal import Journal, read
from drills.mysql import admin
from drills.scenario.model import WorkloadSpec
from drills.workload import make_workload
from drills.workload.ledger import read_ledger

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def journal(clean_topology: Any, tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.jsonl", secrets=clean_topology.secrets())
    yield j
    j.close()


def scalar(topo: Any, dc: str, sql: str) -> Any:
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_orders_follow_the_route_and_every_ack_is_in_the_database(
        clean_topology: Any, journal: Journal, tmp_path: Path) -> None:
    topo = clean_topology
    wl = make_workload(WorkloadSpec.model_validate({"kind": "orders", "rate": 400, "workers": 4, "sequence": {"segment": 100}}),
                       topo, journal, tmp_path)
    wl.start()
    time.sleep(1.0)
    counts = wl.stop()
    ledger = read_ledger(tmp_path / "ledger.jsonl")
    acked = [r for r in ledger if r["type"] == "ok" and r["f"] == "write_order"]
    assert counts["ok"] >= len(acked) > 100 and counts["fail"] == counts["info"] == 0
    assert {r["dc"] for r in acked} == {"dc1"} and {r["epoch"] for r in acked} == {1}
    assert scalar(topo, "dc1", "SELECT COUNT(*) FROM app.orders") == len(acked)
    ids = [r["id"] for r in acked]
    assert len(ids) == len(set(ids))
    # every invoke has exactly one completion
    per_op = Counter(r["op"] for r in ledger)
    assert set(per_op.values()) == {2}
    segments = [e["payload"] for e in read(journal.path) if e["kind"] == "segment.fetched"]
    assert segments[0] == {"dc": "dc1", "name": "orders", "low": 1, "high": 100}
    assert scalar(topo, "dc1", "SELECT next_val FROM app.id_sequence WHERE name = 'orders'") == 1 + 100 * len(segments)
    job_logs = [r for r in ledger if r["type"] == "ok" and r["f"] == "write_job_log"]
    assert job_logs and scalar(topo, "dc1", "SELECT COUNT(*) FROM app.job_log") == len(job_logs)
    assert scalar(topo, "dc2", "SELECT COUNT(*) FROM app.job_log") == 0  # filtered: never replicated


def _switch_under_load(topo: Any, journal: Journal, run_dir: Path, refetch: bool) -> list[dict[str, Any]]:
    wl = make_workload(WorkloadSpec.model_validate({"kind": "orders", "rate": 400, "workers": 2, "retry_delay": 0.2,
                        "sequence": {"segment": 50, "refetch_on_switch": refetch}}), topo, journal, run_dir)
    wl.start()
    time.sleep(0.6)
    conn = topo.connect("dc2")  # the operator lifts the standby's read-only, then moves the route by hand
    admin.set_read_only(conn, False)
    conn.close()
    cc = topo.config_center()
    try:
        assert cc.publish_successor("dc2") is not None
    finally:
        cc.close()
    time.sleep(0.8)
    wl.stop()
    return read_ledger(run_dir / "ledger.jsonl")


def test_filtered_sequence_without_refetch_reproduces_the_duplicate_key_incident(
        clean_topology: Any, journal: Journal, tmp_path: Path) -> None:
    from drills.topology import local

    topo = clean_topology
    original = topo.filter_list_file
    local.reset(topo, filter_list=REPO / "fixtures" / "filter_list_incident.yaml")
    try:
        ledger = _switch_under_load(topo, journal, tmp_path, refetch=False)
    finally:
        local.reset(topo, filter_list=original)
    dup = [r for r in ledger if r["type"] == "fail" and r.get("error_code") == 1062]
    assert dup, "expected primary-key conflicts on dc2 (its sequence row never moved)"
    assert {r["dc"] for r in dup} == {"dc2"}
    fetched_dc2 = [r for r in ledger if r["type"] == "ok" and r["f"] == "alloc_segment" and r["dc"] == "dc2"]
    assert fetched_dc2[0]["low"] == 1  # dc2 handed out the range dc1 had already used


def test_replicated_sequence_hands_out_no_id_twice_across_a_switch(
        clean_topology: Any, journal: Journal, tmp_path: Path) -> None:
    ledger = _switch_under_load(clean_topology, journal, tmp_path, refetch=True)
    acked = [r for r in ledger if r["type"] == "ok" and r["f"] == "write_order"]
    assert {r["dc"] for r in acked} == {"dc1", "dc2"}
    assert not [r for r in ledger if r.get("error_code") == 1062]
    ids = [r["id"] for r in acked]
    assert len(ids) == len(set(ids))
    last_dc1 = max(r["id"] for r in acked if r["dc"] == "dc1")
    assert min(r["id"] for r in acked if r["dc"] == "dc2") > last_dc1  # refetched above the high-water mark


def test_external_workload_ledger_is_read_and_counted(clean_topology: Any, journal: Journal, tmp_path: Path) -> None:
    script = (
        'echo \'{"op": 0, "type": "invoke", "f": "write_order", "id": 7, "token": "t7", "dc": "dc1", "epoch": 1, "mono_ns": 1}\' >> "$DRILLS_LEDGER"; '
        'echo \'{"op": 0, "type": "ok", "f": "write_order", "id": 7, "dc": "dc1", "epoch": 1, "mono_ns": 2}\' >> "$DRILLS_LEDGER"; '
        'test -n "$DRILLS_DC1_SERVICE_PORT" && exec sleep 30'
    )
    wl = make_workload(WorkloadSpec.model_validate({"kind": "external", "command": script}), clean_topology, journal, tmp_path)
    wl.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    assert wl.stop() == {"ok": 1, "fail": 0, "info": 0}
    assert time.monotonic() - t0 < 5  # stopped, not waited for
    stop = [e["payload"] for e in read(journal.path) if e["kind"] == "workload.stop"][0]
    assert stop["ledger"] is True
