"""`drills audit` against the real running topology (MariaDB dc1 -> dc2 with the declared filters)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from drills.audit.sqldump import parse_dumps
from drills.cli import main
from drills.mysql import admin

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]


def audit_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["audit", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), out + err


def rules_of(doc: dict) -> set[tuple[str, str]]:
    return {(f["rule"], f["subject"]) for f in doc["findings"]}


def test_reference_topology_passes_and_live_inputs_are_read(clean_topology, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    code, doc, _ = audit_json(capsys, "--state-dir", str(clean_topology.state_dir))
    assert code == 0, doc["findings"]
    assert not [f for f in doc["findings"] if f["severity"] in ("critical", "error")]
    assert doc["inputs"]["servers"].keys() == {"dc1", "dc2"}
    # live: both sides and a replica, so the rules needing them are evaluated
    status = {r["rule"]: r["status"] for r in doc["rules"]}
    assert status["AUD110"] == status["AUD104"] == status["AUD106"] == "evaluated", status


def test_incident_list_and_drift_on_the_replica_are_caught(clean_topology, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    # the incident list declared, while dc2 applies the reference list: the audit sees both
    incident = str(REPO / "fixtures/filter_list_incident.yaml")
    code, doc, _ = audit_json(capsys, incident, "--state-dir", str(clean_topology.state_dir))
    got = rules_of(doc)
    assert code == 1
    assert ("AUD101", "app.id_sequence") in got  # structure + DDL comment, read from information_schema
    assert ("AUD110", "dc2:app.id_sequence") in got  # declared but not applied on the replica
    seq = next(f for f in doc["findings"] if f["rule"] == "AUD101")
    assert seq["location"] == {"file": incident, "line": 11}
    assert any("app.orders.id" in e for e in seq["evidence"])  # its sampled rows feed orders' key


def test_env_values_differing_on_a_replicated_table(clean_topology, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    dc1 = clean_topology.connect("dc1")
    dc2 = clean_topology.connect("dc2")
    try:
        with dc1.cursor() as cur:
            cur.execute("CREATE TABLE app.svc_endpoint (id INT PRIMARY KEY, endpoint_host VARCHAR(64) NOT NULL)")
            cur.execute("INSERT INTO app.svc_endpoint VALUES (1, 'pay.dc1.example.test')")
            cur.execute("SELECT @@gtid_binlog_pos")
            gtid = cur.fetchone()[0]
        assert admin.wait_for_gtid(dc2, gtid, 10)
        code, doc, _ = audit_json(capsys, "--state-dir", str(clean_topology.state_dir))
        assert ("AUD106", "app.svc_endpoint") not in rules_of(doc)  # replicated, identical: fine
        with dc2.cursor() as cur:  # someone "fixes" the host on the standby directly
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute("UPDATE app.svc_endpoint SET endpoint_host = 'pay.dc2.example.test' WHERE id = 1")
        code, doc, text = audit_json(capsys, "--state-dir", str(clean_topology.state_dir))
        assert code == 1 and ("AUD106", "app.svc_endpoint") in rules_of(doc)
        assert "pay.dc2.example.test" not in text  # values are never printed
    finally:
        with dc1.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS app.svc_endpoint")
        dc1.close()
        dc2.close()


def _dsn(topo, dc: str, password: str | None = None) -> str:  # noqa: ANN001
    user, pw = topo.credentials.for_role("admin")
    server = topo.servers[dc]
    return f"mysql://{user}:{password if password is not None else pw}@{server.host}:{server.port}"


def test_dsn_pair_and_an_unreachable_dc2(clean_topology, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    _user, password = clean_topology.credentials.for_role("admin")
    flist = str(REPO / "fixtures/filter_list.yaml")
    code, doc, text = audit_json(capsys, flist, "--dsn", _dsn(clean_topology, "dc1"), "--dsn", _dsn(clean_topology, "dc2"))
    assert code == 0, doc["findings"]
    assert not password or password not in text
    # dc1 alone is no replica: the declared-vs-applied rule says it could not be evaluated
    code, doc, _ = audit_json(capsys, flist, "--dsn", _dsn(clean_topology, "dc1"))
    [aud110] = [r for r in doc["rules"] if r["rule"] == "AUD110"]
    assert aud110["status"] == "not evaluated" and "none of the live servers is a replica" in aud110["reason"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, text = audit_json(capsys, flist, "--dsn", _dsn(clean_topology, "dc1"), "--dsn", f"mysql://u:pw-x@127.0.0.1:{port}")
    assert code == 2 and "cannot connect to dc2" in text and "pw-x" not in text


# ---- issue 18, item 10: dumps written by the real mariadb-dump ------------------------------------

DUMP_SETUP = r"""
CREATE DATABASE dumpcheck;
USE dumpcheck;
CREATE TABLE kinds (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL DEFAULT 1,
  bin VARBINARY(16), blb BLOB, bits BIT(10), js JSON, pt POINT NOT NULL, geo GEOMETRY,
  dbl DOUBLE, dec1 DECIMAL(30,10), neg BIGINT, txt TEXT, dt DATETIME(6), en ENUM('a','b'),
  gen_v INT AS (n * 2) VIRTUAL, gen_s VARCHAR(40) AS (CONCAT('k', n)) STORED, u UUID, ip INET6,
  flag BIT(1) NOT NULL DEFAULT b'1', bd VARBINARY(4) DEFAULT 0x0001, ci VARCHAR(8) CHARACTER SET latin1 DEFAULT 'x',
  SPATIAL KEY sp (pt)
) ENGINE=InnoDB;
INSERT INTO kinds (bin, blb, bits, js, pt, geo, dbl, dec1, neg, txt, dt, en, u, ip) VALUES
 (0x00FF27225C0A0D1A, 'blob''\\', b'1010101010', '{"a": [1, "x\\"y"], "b": null}', ST_GeomFromText('POINT(1 2)'),
  ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), -1.5e-300, -12345678901234567890.0123456789, -9223372036854775808,
  'line1\nline2\ttab ''q'' é 中文', '2024-01-02 03:04:05.123456', 'b', 'e7a3c0c4-6f2b-11ee-b962-0242ac120002', '::1'),
 (NULL, NULL, b'0', NULL, ST_GeomFromText('POINT(0 0)'), NULL, 1.7976931348623157e308, 0, 0, '', NULL, NULL, NULL, NULL);
CREATE TABLE parts (id INT NOT NULL, region VARCHAR(8) NOT NULL, PRIMARY KEY (id, region))
  PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN MAXVALUE);
INSERT INTO parts VALUES (1, 'eu'), (200, 'us');
CREATE TABLE audit_log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(64)) AUTO_INCREMENT=1000;
CREATE TABLE id_seq (name VARCHAR(32) PRIMARY KEY, next_val BIGINT UNSIGNED NOT NULL);
INSERT INTO id_seq VALUES ('orders', 10000);
CREATE SEQUENCE s1 START WITH 100 INCREMENT BY 10;
CREATE TABLE hist (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
INSERT INTO hist VALUES (1, 1);
DELIMITER ;;
CREATE TRIGGER kinds_ai AFTER INSERT ON kinds FOR EACH ROW BEGIN INSERT INTO audit_log (msg) VALUES (CONCAT('ins; ', NEW.id)); END;;
CREATE PROCEDURE next_id(IN n VARCHAR(32), OUT v BIGINT)
  BEGIN UPDATE id_seq SET next_val = LAST_INSERT_ID(next_val + 1) WHERE name = n; SELECT LAST_INSERT_ID() INTO v; END;;
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;;
DELIMITER ;
CREATE VIEW kinds_v AS SELECT id, txt FROM kinds WHERE id > 0;
CREATE VIEW v_on_v AS SELECT id FROM kinds_v;
"""


def _client(name: str) -> str:
    found = shutil.which(name) or shutil.which(name.replace("mariadb", "mysql"))
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


def test_dumps_written_by_mariadb_dump_are_read(clean_topology, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    user, password = clean_topology.credentials.for_role("admin")
    server = clean_topology.servers["dc1"]
    conn_args = ["--no-defaults", f"--host={server.host}", f"--port={server.port}", f"--user={user}"]
    env = {"PATH": os.environ.get("PATH", ""), "MYSQL_PWD": password}  # never on a command line
    setup = subprocess.run([_client("mariadb"), *conn_args, "--init-command=SET SESSION sql_log_bin=0"], input=DUMP_SETUP,
                           text=True, capture_output=True, env=env, timeout=60)
    try:
        assert setup.returncode == 0, setup.stderr
        dumps = {}
        for name, extra in {"plain": [], "hex-blob": ["--hex-blob"], "one-row-per-insert": ["--complete-insert", "--skip-extended-insert"]}.items():
            done = subprocess.run([_client("mariadb-dump"), *conn_args, "--routines", "--triggers", "--events", *extra, "--databases", "dumpcheck"],
                                  capture_output=True, env=env, timeout=60)
            assert done.returncode == 0, done.stderr
            dumps[name] = tmp_path / f"{name}.sql"
            dumps[name].write_bytes(done.stdout)
    finally:
        cleanup = subprocess.run([_client("mariadb"), *conn_args, "-e", "SET SESSION sql_log_bin=0; DROP DATABASE IF EXISTS dumpcheck"],
                                 capture_output=True, env=env, timeout=60)
        assert cleanup.returncode == 0, cleanup.stderr

    plain = parse_dumps([dumps["plain"]])
    assert set(plain.tables) == {"dumpcheck.kinds", "dumpcheck.parts", "dumpcheck.audit_log", "dumpcheck.id_seq", "dumpcheck.s1",
                                 "dumpcheck.hist"}  # and no views
    kinds = plain.get("dumpcheck.kinds")
    assert kinds is not None and {"gen_v", "gen_s", "pt", "js", "bits"} <= set(kinds.columns) and len(kinds.rows or []) == 2
    assert kinds.columns["flag"].default == "b'1'" and kinds.primary_key == ("id",)
    assert plain.get("dumpcheck.s1").is_sequence and plain.get("dumpcheck.audit_log").auto_increment == 1000  # type: ignore[union-attr]
    assert len(plain.get("dumpcheck.parts").rows or []) == 2  # type: ignore[union-attr]
    assert any("LAST_INSERT_ID" in s for s, _f, _l in plain.statements)  # the procedure shows how id_seq is used
    for name in ("hex-blob", "one-row-per-insert"):  # every form of the same data reads back to the same rows
        other = parse_dumps([dumps[name]])
        assert {k: t.rows for k, t in other.tables.items()} == {k: t.rows for k, t in plain.tables.items()}, name

    listing = tmp_path / "list.yaml"
    listing.write_text("filter_list:\n  - table: dumpcheck.audit_log\n    reason: written by the trigger on both sides\n")
    for dump in dumps.values():
        code, out, err = main(["audit", str(listing), "--schema", str(dump), "--format", "json"]), *capsys.readouterr()
        assert code == 0 and not err, (dump.name, out, err)
    # the negative case on the same real dump: the sequence table filtered
    listing.write_text("filter_list:\n  - table: dumpcheck.id_seq\n    reason: the incident\n")
    code, out, _ = main(["audit", str(listing), "--schema", str(dumps["plain"]), "--format", "json"]), *capsys.readouterr()
    assert code == 1 and ("AUD101", "dumpcheck.id_seq") in rules_of(json.loads(out))
