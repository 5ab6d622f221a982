"""The active-active audit rules against the real running topology (MariaDB dc1 -> dc2): the
units' auto_increment settings and the filters a replica applies are read from the servers."""

from __future__ import annotations

import json

import pytest

from drills.cli import main
from drills.mysql import admin

pytestmark = pytest.mark.integration

UNIT_AI = "CREATE TABLE app.aa_cart (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, buyer_id BIGINT NOT NULL, sku VARCHAR(32))"


def audit_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    main(["audit", *argv, "--format", "json"])
    return json.loads(capsys.readouterr().out)


def _set_offsets(conns: list, settings: list[tuple[int, int]]) -> None:  # noqa: ANN001
    for conn, (inc, off) in zip(conns, settings, strict=True):
        with conn.cursor() as cur:
            cur.execute(f"SET GLOBAL auto_increment_increment = {int(inc)}, auto_increment_offset = {int(off)}")


def test_live_offsets_and_the_link_into_the_central_unit(clean_topology, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    dc1, dc2 = clean_topology.connect("dc1"), clean_topology.connect("dc2")
    saved = []
    for conn in (dc1, dc2):
        with conn.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.auto_increment_increment, @@GLOBAL.auto_increment_offset")
            saved.append(tuple(int(v) for v in cur.fetchone()))
    state = str(clean_topology.state_dir)
    # dc2 (the replica) declared central: what it receives from dc1 is "the link back"
    aa = ["--mode", "active-active", "--central-dc", "dc2", "--central-table", "app.customers", "--no-binlog"]
    try:
        with dc1.cursor() as cur:
            cur.execute(UNIT_AI)
            cur.execute("SELECT @@gtid_binlog_pos")
            gtid = cur.fetchone()[0]
        assert admin.wait_for_gtid(dc2, gtid, 10)
        _set_offsets([dc1, dc2], [(1, 1), (1, 1)])
        doc = audit_json(capsys, "--state-dir", state, *aa)
        by = {(f["rule"], f["subject"]): f for f in doc["findings"]}
        ai = by[("AUD109", "app.aa_cart")]
        assert ai["severity"] == "error" and "increment=1 offset=1" in ai["evidence"][0]  # read from the servers
        back = by[("AUD113", "app.customers")]
        assert back["severity"] == "warning" and "replicates back into the central unit dc2" in back["message"]
        assert ("AUD112", "app.aa_cart") not in by and ("AUD112", "app.orders") not in by  # both carry buyer_id
        status = {r["rule"]: r for r in doc["rules"]}
        assert status["AUD113"]["status"] == "evaluated in part" and "no observed writes" in status["AUD113"]["reason"]

        # the negative case: distinct offsets on the servers; the central table filtered on the link
        _set_offsets([dc1, dc2], [(2, 1), (2, 2)])
        doc = audit_json(capsys, "--state-dir", state, *[a if a != "app.customers" else "app.job_log" for a in aa])
        got = {(f["rule"], f["subject"]) for f in doc["findings"]}
        assert not {r for r, _ in got} & {"AUD109", "AUD113"}, got

        # the central unit dc1 is no replica here: without traffic AUD113 cannot be judged, and says why
        doc = audit_json(capsys, "--state-dir", state, "--mode", "active-active", "--central-table", "app.customers", "--no-binlog")
        status = {r["rule"]: r for r in doc["rules"]}
        assert status["AUD113"]["status"] == "not evaluated" and "applied filters" in status["AUD113"]["reason"]
    finally:
        _set_offsets([dc1, dc2], saved)
        with dc1.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS app.aa_cart")
        dc1.close()
        dc2.close()
