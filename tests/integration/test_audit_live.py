"""`drills audit` against the real running topology (MariaDB dc1 -> dc2 with the declared filters)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, text = audit_json(capsys, flist, "--dsn", _dsn(clean_topology, "dc1"), "--dsn", f"mysql://u:pw-x@127.0.0.1:{port}")
    assert code == 2 and "cannot connect to dc2" in text and "pw-x" not in text
