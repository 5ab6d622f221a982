"""The evidence collector against the real topology (MariaDB x2, etcd, Toxiproxy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills import events as ev
from drills import journal as journal_mod
from drills.checks import evidence, filters
from drills.checks.history import History
from drills.mysql import admin

pytestmark = pytest.mark.integration


def _orders_on_dc1(topo, ids: list[int]) -> None:  # noqa: ANN001 - Topology
    dc1, dc2 = topo.connect("dc1"), topo.connect("dc2")
    try:
        with dc1.cursor() as cur:
            cur.executemany("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts) VALUES (%s, 1, 9.99, 'dc1', 1, 0)",
                            [(i,) for i in ids])
        assert admin.wait_for_gtid(dc2, admin.gtid_executed(dc1), 5.0)
    finally:
        dc1.close()
        dc2.close()


def _ledger(path: Path, lines: list[dict]) -> None:
    with open(path, "w") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")


def _rows(topo, dc: str, sql: str) -> list[tuple]:  # noqa: ANN001
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def test_collect_records_ids_settles_info_writes_and_canaries_stay_on_dc1(clean_topology, tmp_path: Path) -> None:
    topo = clean_topology
    _orders_on_dc1(topo, [1, 2, 3, 4, 5, 100])
    run = tmp_path / "run"
    run.mkdir()
    _ledger(run / "ledger.jsonl", [
        {"op": 1, "type": "invoke", "f": "write_order", "id": 5, "dc": "dc1", "epoch": 1, "mono_ns": 1},
        {"op": 1, "type": "ok", "f": "write_order", "id": 5, "dc": "dc1", "epoch": 1, "mono_ns": 2},
        {"op": 2, "type": "invoke", "f": "write_order", "id": 100, "dc": "dc1", "epoch": 1, "mono_ns": 3},
        {"op": 2, "type": "info", "f": "write_order", "id": 100, "dc": "dc1", "epoch": 1, "mono_ns": 4, "error": "timeout"},
        {"op": 3, "type": "invoke", "f": "write_order", "id": 999, "dc": "dc1", "epoch": 1, "mono_ns": 5},
        {"op": 3, "type": "info", "f": "write_order", "id": 999, "dc": "dc1", "epoch": 1, "mono_ns": 6, "error": "timeout"},
    ])
    with journal_mod.Journal(run / "journal.jsonl", secrets=topo.secrets()) as j:
        account = evidence.collect(topo, j, None, run / "ledger.jsonl")
    assert account["errors"] == [], account["errors"]
    assert (account["source"], account["replica"]) == ("dc1", "dc2")
    assert account["settled"] == 2

    hist = History.load(run)
    settled = {o.op: o.settle for o in hist.ops}
    assert settled[2] == {"dc1": True, "dc2": True} and settled[3] == {"dc1": False, "dc2": False}

    ids = {e.get("dc"): e.get("ranges") for e in hist.of(ev.OBSERVE_IDS)}
    assert ids["dc1"] == [[1, 5], [100, 100]] and ids["dc2"] == [[1, 5], [100, 100]]

    seq = {(e.get("dc"), e.get("name")): e.get("next_val") for e in hist.of(ev.OBSERVE_SEQUENCE)}
    assert seq[("dc1", "orders")] == seq[("dc2", "orders")] == 1
    assert {e.get("dc") for e in hist.of(ev.OBSERVE_GTID)} == {"dc1", "dc2"}

    flt = hist.last(ev.OBSERVE_FILTERS)
    assert flt.get("replica") == "dc2" and flt.get("effective") == topo.declared_filters.as_filters()

    written = {e.get("marker"): e for e in hist.of(ev.CANARY_WRITE)}
    seen = {e.get("marker"): e for e in hist.of(ev.CANARY_OBSERVED)}
    by_table = {w.get("table"): seen[m] for m, w in written.items()}
    assert by_table["app.app_config"].get("found") is False and by_table["app.app_config"].get("caught_up") is True
    assert by_table["app.customers"].get("found") is True  # the control canary did replicate
    assert {"app.job_switch", "app.job_log", "app.tmp_orders_bak_20260101", "bi.daily_sales"} <= set(by_table)
    for dc in ("dc1", "dc2"):  # canaries are cleaned up on both sides
        assert _rows(topo, dc, "SELECT COUNT(*) FROM app.app_config WHERE config_key LIKE 'drills-canary-%'")[0][0] == 0
        assert _rows(topo, dc, "SELECT COUNT(*) FROM app.customers WHERE name LIKE 'drills-canary-%'")[0][0] == 0

    assert {e.get("table") for e in hist.of(ev.OBSERVE_SCHEMA)} >= {"app.app_config", "app.job_log", "bi.daily_sales"}
    assert filters.check(hist, declared=topo.declared_filters).status == "passed"
    assert journal_mod.verify(run / "journal.jsonl").ok
    text = (run / "journal.jsonl").read_text()
    assert all(secret not in text for secret in topo.secrets())


def test_a_filter_missing_on_the_replica_lets_the_canary_through(clean_topology, tmp_path: Path) -> None:
    topo = clean_topology
    declared = topo.declared_filters.as_filters()
    weakened = {"ignore_tables": [t for t in declared["ignore_tables"] if t != "app.app_config"],
                "wild_ignore_tables": declared["wild_ignore_tables"]}
    dc2 = topo.connect("dc2")
    try:
        admin.stop_replica(dc2)
        admin.set_filters(dc2, weakened)
        admin.start_replica(dc2)
    finally:
        dc2.close()
    run = tmp_path / "run"
    with journal_mod.Journal(run / "journal.jsonl") as j:
        evidence.collect(topo, j, None, run / "ledger.jsonl")
    v = filters.check(History.load(run), declared=topo.declared_filters)
    assert v.status == "failed"
    assert v.evidence["filters"]["mismatches"][0]["missing"] == ["app.app_config"]
    assert v.measured["canaries_leaked"] == 1 and "app.app_config on dc1 appeared on dc2" in v.summary
