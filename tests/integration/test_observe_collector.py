"""The evidence collector against the real topology (MariaDB x2, etcd, Toxiproxy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills import events as ev
from drills import journal as journal_mod
from drills.checks import filters
from drills.checks.history import History
from drills.mysql import admin
from drills.observe import collector as evidence

pytestmark = pytest.mark.integration


def _orders_on_dc1(topo, ids: list[int]) -> None:  # noqa: ANN001 - Topology
    """Orders as the workload writes them: each with its own token (`tok-<id>`)."""
    dc1, dc2 = topo.connect("dc1"), topo.connect("dc2")
    try:
        with dc1.cursor() as cur:
            cur.executemany("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts, token) "
                            "VALUES (%s, 1, 9.99, 'dc1', 1, 0, %s)", [(i, f"tok-{i}") for i in ids])
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


def _write(op: int, id: int, outcome: str, token: str, **content: object) -> list[dict]:
    base = {"op": op, "f": "write_order", "id": id, "dc": "dc1", "epoch": 1}
    return [{**base, "type": "invoke", "token": token, **content, "mono_ns": 2 * op - 1},
            {**base, "type": outcome, "mono_ns": 2 * op, **({"error": "timeout"} if outcome == "info" else {})}]


def test_collect_records_ids_settles_info_writes_and_canaries_stay_on_dc1(clean_topology, tmp_path: Path) -> None:
    topo = clean_topology
    _orders_on_dc1(topo, [1, 2, 3, 4, 5, 100])
    run = tmp_path / "run"
    run.mkdir()
    _ledger(run / "ledger.jsonl", [
        *_write(1, 5, "ok", "tok-5"),
        *_write(2, 100, "info", "tok-100", buyer_id=1, amount="9.99"),
        *_write(3, 999, "info", "tok-999"),
        *_write(4, 4, "ok", "someone-elses-token"),  # ID 4 is there, but not this write's row
        *_write(5, 3, "ok", "tok-3", buyer_id=1, amount="10.00"),  # this write's token, other content
    ])
    with journal_mod.Journal(run / "journal.jsonl", secrets=topo.secrets()) as j:
        account = evidence.collect(topo, j, None, run / "ledger.jsonl")
    assert account["errors"] == [], account["errors"]
    assert (account["source"], account["replica"]) == ("dc1", "dc2")
    assert account["settled"] == 5  # every order write is read back, acknowledged or not

    hist = History.load(run)
    settled = {o.op: o.settle for o in hist.ops}
    assert settled[1] == settled[2] == {"dc1": True, "dc2": True} and settled[3] == {"dc1": False, "dc2": False}
    assert settled[4] == {"dc1": False, "dc2": False}  # matched by token, never by ID alone
    assert settled[5] == {"dc1": False, "dc2": False}  # the token's row holds other content

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
    assert by_table["drills_canary.control"].get("found") is True  # the control canary did replicate
    assert {"app.job_switch", "app.job_log", "app.tmp_orders_bak_20260101", "bi.daily_sales"} <= set(by_table)
    for dc in ("dc1", "dc2"):  # canaries are cleaned up on both sides
        assert _rows(topo, dc, "SELECT COUNT(*) FROM app.app_config WHERE config_key LIKE 'drills-canary-%'")[0][0] == 0
        assert _rows(topo, dc, "SELECT COUNT(*) FROM drills_canary.control")[0][0] == 0

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
