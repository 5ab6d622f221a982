"""`drills check consistency` against the real session topology (two mariadbd linked by
replication): identical sides pass; rows changed, deleted or NULL-vs-empty on dc2 are
named by key; filtered tables are skipped (and would differ if they were not); bad DSNs,
wrong passwords and unreachable servers are exit 2 with a message and no password."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from drills.cli import main
from drills.mysql import admin

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", "consistency", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def synced(topo, *statements: str) -> None:  # noqa: ANN001 - Topology
    """Run statements on dc1 and wait until dc2 has applied them."""
    dc1, dc2 = topo.connect("dc1"), topo.connect("dc2")
    try:
        with dc1.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
        assert admin.wait_for_gtid(dc2, admin.gtid_executed(dc1), 10)
    finally:
        dc1.close()
        dc2.close()


def on_dc2(topo, *statements: str) -> None:  # noqa: ANN001 - Topology
    """A direct write on the replica: the divergence the check must find."""
    conn = topo.connect("dc2")
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def dsn(topo, dc: str, password: str | None = None, port: int | None = None) -> str:  # noqa: ANN001
    s, creds = topo.servers[dc], topo.credentials
    return f"mysql://{creds.admin_user}:{password or creds.admin_password}@{s.host}:{port or s.port}"


ORDERS = ("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts) "
          "SELECT seq, seq % 7, seq / 100, 'dc1', 1, seq FROM app.seq_1_to_2500")


def test_identical_sides_exit_0_and_filtered_tables_are_skipped(clean_topology, capsys):
    synced(clean_topology, ORDERS)
    code, out, err = run(capsys, "--state-dir", str(clean_topology.state_dir), "--chunk-size", "500", "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["verdict"] == "passed" and result["position"]["exact"] is True
    orders = next(t for t in result["tables"] if t["table"] == "app.orders")
    assert orders["rows"] == {"dc1": 2500, "dc2": 2500} and orders["chunks"] == 5
    skipped = {s["table"] for s in result["skipped"]}
    assert {"app.app_config", "app.job_switch", "app.job_log", "bi.daily_sales"} <= skipped


def test_filtered_tables_would_differ_without_the_filter_list(clean_topology, capsys, tmp_path):
    """The negative of the test above: app.app_config holds each DC's own values."""
    empty = tmp_path / "none.yaml"
    empty.write_text("filter_list: []\n")
    code, out, _ = run(capsys, "--state-dir", str(clean_topology.state_dir), "--filter-list", str(empty),
                       "--tables", "app.app_config", "--json")
    assert code == 1
    table = json.loads(out)["tables"][0]
    assert table["table"] == "app.app_config" and table["differing"]["count"] >= 1


def test_row_changed_on_dc2_exits_1_naming_the_key(clean_topology, capsys):
    synced(clean_topology, ORDERS)
    on_dc2(clean_topology, "UPDATE app.orders SET amount = amount + 1 WHERE id = 1234")
    code, out, err = run(capsys, "--state-dir", str(clean_topology.state_dir), "--chunk-size", "500")
    assert code == 1, out + err
    assert "FAILED" in out and "differing (1): id=1234" in out
    assert "chunk 2: from id=1001 to before id=1501" in out


def test_row_deleted_on_dc2_is_named_missing(clean_topology, capsys):
    synced(clean_topology, ORDERS)
    on_dc2(clean_topology, "DELETE FROM app.orders WHERE id = 2500", "INSERT INTO app.customers (id, name) VALUES (99, 'Zed')")
    code, out, _ = run(capsys, "--state-dir", str(clean_topology.state_dir), "--json")
    assert code == 1
    tables = {t["table"]: t for t in json.loads(out)["tables"]}
    assert tables["app.orders"]["missing"]["dc2"] == {"count": 1, "keys": [[2500]]}
    assert tables["app.customers"]["missing"]["dc1"] == {"count": 1, "keys": [[99]]}
    assert tables["app.orders"]["differing"]["count"] == 0


def test_composite_key_and_null_versus_empty_string(clean_topology, capsys):
    synced(
        clean_topology,
        "CREATE TABLE app.pairs (a INT NOT NULL, b VARCHAR(8) NOT NULL, v VARCHAR(8) NULL, PRIMARY KEY (a, b))",
        "INSERT INTO app.pairs VALUES (1, 'x', NULL), (1, 'y', ''), (2, 'x', 'NULL'), (3, 'z', 'v')",
    )
    on_dc2(clean_topology, "UPDATE app.pairs SET v = '' WHERE a = 1 AND b = 'x'",
           "UPDATE app.pairs SET v = NULL WHERE a = 1 AND b = 'y'", "UPDATE app.pairs SET v = NULL WHERE a = 2")
    code, out, _ = run(capsys, "--state-dir", str(clean_topology.state_dir), "--tables", "app.pairs", "--json")
    assert code == 1
    table = json.loads(out)["tables"][0]
    assert table["key"] == ["a", "b"]
    assert sorted(table["differing"]["keys"]) == [[1, "x"], [1, "y"], [2, "x"]]


def test_table_without_primary_key_is_compared_whole(clean_topology, capsys):
    synced(clean_topology, "CREATE TABLE app.heap (x INT NULL, y VARCHAR(8))",
           "INSERT INTO app.heap VALUES (1, 'a'), (NULL, 'b')")
    code, out, _ = run(capsys, "--state-dir", str(clean_topology.state_dir), "--tables", "app.heap", "--json")
    assert code == 0, out
    on_dc2(clean_topology, "UPDATE app.heap SET y = 'c' WHERE x IS NULL")
    code, out, _ = run(capsys, "--state-dir", str(clean_topology.state_dir), "--tables", "app.heap", "--json")
    table = json.loads(out)["tables"][0]
    assert code == 1 and not table["identical"] and "no primary key" in table["note"]


def test_writes_continuing_on_the_source_give_no_false_difference(clean_topology, capsys):
    """The replica keeps applying after the wait, so its snapshot may be ahead of the
    source's: rows in flight must be re-checked away, not reported."""
    synced(clean_topology, ORDERS)
    stop, written = threading.Event(), []

    def writer() -> None:
        conn = clean_topology.connect("dc1")
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    n = 100_000 + len(written)
                    cur.execute("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts) "
                                "VALUES (%s, 1, 1, 'dc1', 1, 0)", (n,))
                    written.append(n)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.2)
        before = len(written)
        code, out, err = run(capsys, "--state-dir", str(clean_topology.state_dir), "--tables", "app.orders",
                             "--chunk-size", "500", "--json")
        during = len(written) - before
    finally:
        stop.set()
        thread.join()
    assert during > 0  # the source really was written to while the check ran
    assert code == 0, out + err
    assert json.loads(out)["tables"][0]["rows"]["dc1"] > 2500


def test_dsn_pair_works_like_the_state_dir(topology, capsys):
    code, out, err = run(capsys, "--dsn", dsn(topology, "dc1"), "--dsn", dsn(topology, "dc2"), "--tables", "app.id_sequence")
    assert code in (0, 1), err  # whatever earlier tests left; what matters is that it compared
    assert "app.id_sequence" in out and topology.credentials.admin_password not in out + err


def test_wrong_password_is_exit_2_without_the_password(topology, capsys):
    secret = "wrong-Secret-123"
    code, out, err = run(capsys, "--dsn", dsn(topology, "dc1"), "--dsn", dsn(topology, "dc2", password=secret))
    assert code == 2
    assert "dc2" in err and "access denied" in err
    assert secret not in out + err and topology.credentials.admin_password not in out + err


def test_unreachable_server_is_exit_2_naming_it(topology, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    code, out, err = run(capsys, "--dsn", dsn(topology, "dc1", port=free), "--dsn", dsn(topology, "dc2"))
    assert code == 2 and "dc1" in err and "unreachable" in err and f":{free}" in err
    assert topology.credentials.admin_password not in out + err


def test_unknown_table_is_exit_2(topology, capsys):
    code, _, err = run(capsys, "--state-dir", str(topology.state_dir), "--tables", "app.nope")
    assert code == 2 and "unknown table" in err and "app.nope" in err


@pytest.mark.parametrize("argv", [["--dsn", "mysql://u:pw-Hidden@h:notaport", "--dsn", "mysql://u@h:1"],
                                  ["--dsn", "only-one"], []])
def test_bad_arguments_are_exit_2_with_a_message(argv, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.startswith("drills: error:") and "pw-Hidden" not in out + err


# ---- issue 18 item 11: a server is never compared with itself; ports are 1..65535 ---------------


def test_same_dsn_twice_is_exit_2_not_passed(topology, capsys):
    code, out, err = run(capsys, "--dsn", dsn(topology, "dc1"), "--dsn", dsn(topology, "dc1"))
    assert code == 2 and "PASSED" not in out
    assert "same server" in err and topology.credentials.admin_password not in out + err


def test_one_server_under_two_addresses_is_exit_2(clean_topology, capsys):
    """dc1 directly and dc1 through its application proxy: different host:port, one server
    (MariaDB has no @@server_uuid and both servers say @@hostname 'vm', so it is found by a
    named lock both connections see). The negative: dc1 and dc2, both through their
    proxies, are two servers and still compare."""
    synced(clean_topology, ORDERS)
    (_, p1), (_, p2) = clean_topology.service_address("dc1"), clean_topology.service_address("dc2")
    code, out, err = run(capsys, "--dsn", dsn(clean_topology, "dc1", port=p1), "--dsn", dsn(clean_topology, "dc2", port=p2),
                         "--tables", "app.orders")
    assert code == 0 and "PASSED" in out, out + err

    assert p1 != clean_topology.servers["dc1"].port
    code, out, err = run(capsys, "--dsn", dsn(clean_topology, "dc1"), "--dsn", dsn(clean_topology, "dc1", port=p1))
    assert code == 2 and "PASSED" not in out
    assert "are the same server" in err and f":{p1}" in err
    assert clean_topology.credentials.admin_password not in out + err


def test_port_out_of_range_is_exit_2_saying_the_range(topology, capsys):
    code, out, err = run(capsys, "--dsn", dsn(topology, "dc1", port=99999), "--dsn", dsn(topology, "dc2"))
    assert code == 2 and "port 99999 is out of range (1-65535)" in err and "not a number" not in err
    assert topology.credentials.admin_password not in out + err
