"""`drills env check` against real MariaDB, etcd and Toxiproxy processes: the session topology,
described as someone else's environment (`drills env describe`), then checked the way a DBA
checks theirs before an exercise — and broken in the ways theirs breaks (a restricted
account, a proxy pointing at the wrong server, a filter list that drifted, a password not
exported, a server that does not answer)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyetcd
import pymysql
import pymysql.cursors
import pytest
import requests
import yaml

from drills.cli import main
from drills.topology import Topology
from drills.topology.describe import PASSWORD_VARIABLES, describe, password_exports, render
from drills.topology.preflight import preflight

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
RO_USER, RO_PASSWORD, RO_VARIABLE = "dr_ro", "Zq8-Kx3vW-41pLm", "DRILLS_TEST_RO_PASSWORD"


def _env_doc(topo: Topology, **changes: Any) -> dict[str, Any]:
    doc = describe(topo, "preflight-test", writes="canary")
    doc.update(changes)
    return doc


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "env.yaml") -> Path:
    f = tmp_path / name
    f.write_text(render(doc))
    return f


def _problems(report: dict[str, Any], check: str) -> list[dict[str, str]]:
    return [p for p in report["problems"] if p["check"] == check]


def _cli(f: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], *extra: str) -> int:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return main(["env", "check", "--environment", str(f), *extra])


def _sql(topo: Topology, dc: str, *statements: str) -> None:
    """Set-up of a test, as the admin account, never binlogged (each side on its own)."""
    conn = topo.connect(dc)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def restricted_admin(clean_topology: Topology) -> Iterator[Topology]:
    """An admin account that can log in and read tables, nothing else — on both servers."""
    for dc in ("dc1", "dc2"):
        _sql(clean_topology, dc, f"CREATE OR REPLACE USER '{RO_USER}'@'%' IDENTIFIED BY '{RO_PASSWORD}'",
             f"GRANT SELECT ON *.* TO '{RO_USER}'@'%'")
    try:
        yield clean_topology
    finally:
        for dc in ("dc1", "dc2"):
            _sql(clean_topology, dc, f"DROP USER IF EXISTS '{RO_USER}'@'%'")


# ---- (a) healthy ----------------------------------------------------------------------------------


def test_a_healthy_environment_has_no_problems_and_exits_0(clean_topology: Topology, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, _env_doc(clean_topology))
    environ = password_exports(clean_topology)
    report = preflight(f, environ)
    assert report["problems"] == [], report["problems"]
    assert report["skipped"] == []
    verified = {e["check"] for e in report["ok"]}
    assert verified >= {"secrets", "toxiproxy", "etcd", "routing", "server", "grants", "app", "repl", "replication",
                        "filters", "proxy"}
    # every mapped proxy, both servers' grants, the link and the route, each named
    oks = "\n".join(e["what"] for e in report["ok"])
    for path in ("app:dc1", "app:dc2", "link:dc1->dc2", "link:dc2->dc1", "etcd"):
        assert f"({path}) exists, is enabled" in oks
    assert "dc2 replicates from dc1 via link:dc1->dc2" in oks
    assert "names dc1 active" in oks

    assert _cli(f, monkeypatch, environ) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[-1].startswith("0 problems,") and "ready to drill" in lines[-1]
    assert all(line.startswith("ok ") for line in lines[:-1])
    assert "Traceback" not in out.err

    assert _cli(f, monkeypatch, environ, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ready"] is True and doc["problems"] == [] and doc["environment"] == "preflight-test"
    for secret in clean_topology.secrets():
        assert secret not in out.out and secret not in json.dumps(doc)


# ---- (b) a missing grant --------------------------------------------------------------------------


def test_b_missing_grants_name_the_privilege_and_the_exact_grant(restricted_admin: Topology, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    topo = restricted_admin
    doc = _env_doc(topo)
    doc["accounts"]["admin"] = {"user": RO_USER, "password": {"env": RO_VARIABLE}}
    f = _write(tmp_path, doc)
    environ = {**password_exports(topo), RO_VARIABLE: RO_PASSWORD}

    report = preflight(f, environ)
    grants = _problems(report, "grants")
    fixes = {p["fix"] for p in grants}
    for dc in ("dc1", "dc2"):
        # the account as the server reports CURRENT_USER(), the server, the privilege, the statement
        assert f"on {dc}: GRANT REPLICA MONITOR ON *.* TO 'dr_ro'@'%';" in fixes
        assert f"on {dc}: GRANT BINLOG MONITOR ON *.* TO 'dr_ro'@'%';" in fixes
        assert f"on {dc}: GRANT READ_ONLY ADMIN ON *.* TO 'dr_ro'@'%';" in fixes  # SUPER does not do on 10.11
        assert f"on {dc}: GRANT REPLICATION SLAVE ADMIN ON *.* TO 'dr_ro'@'%';" in fixes
        assert f"on {dc}: GRANT CREATE, INSERT, DELETE, DROP ON `drills_canary`.* TO 'dr_ro'@'%';" in fixes
    monitor = next(p for p in grants if "REPLICA MONITOR" in p["fix"] and "dc1" in p["where"])
    assert "'dr_ro'@'%' on dc1 lacks REPLICA MONITOR" in monitor["what"]
    assert not any("lacks SELECT" in p["what"] for p in grants)  # what it has is not reported missing
    # the link cannot be read with this account: said so, not passed
    assert any(s["check"] == "replication" and "cannot read replica status" in s["what"] for s in report["skipped"])
    assert not any(e["check"] == "replication" for e in report["ok"])

    assert _cli(f, monkeypatch, environ) == 1
    out = capsys.readouterr().out
    assert "PROBLEM grants admin account 'dr_ro'@'%' on dc1 lacks REPLICA MONITOR" in out
    assert "— fix: on dc1: GRANT REPLICA MONITOR ON *.* TO 'dr_ro'@'%';" in out
    assert RO_PASSWORD not in out

    # the fixes are exact: run as printed, the next check finds nothing missing
    for p in grants:
        dc, statement = p["fix"].split(": ", 1)
        _sql(topo, dc.removeprefix("on "), statement)
    again = preflight(f, environ)
    assert _problems(again, "grants") == [], _problems(again, "grants")
    assert again["problems"] == [], again["problems"]


# ---- (c) a wrong proxy upstream -------------------------------------------------------------------


def test_c_a_proxy_pointing_at_the_wrong_server_is_named_with_its_expected_upstream(
        clean_topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    topo = clean_topology
    dc1 = f"{topo.servers['dc1'].host}:{topo.servers['dc1'].port}"
    dc2 = f"{topo.servers['dc2'].host}:{topo.servers['dc2'].port}"
    api = f"http://{topo.toxiproxy_api.host}:{topo.toxiproxy_api.port}"
    toxiproxy = topo.toxiproxy()
    toxiproxy.create_proxy("preflight-wrong-dc2", "127.0.0.1:0", f"localhost:{topo.servers['dc1'].port}")
    try:
        doc = _env_doc(topo)
        doc["toxiproxy"]["proxies"]["app:dc2"] = "preflight-wrong-dc2"
        f = _write(tmp_path, doc)
        environ = password_exports(topo)
        report = preflight(f, environ)
        proxy = _problems(report, "proxy")
        wrong = next(p for p in proxy if "points at" in p["what"])
        assert wrong["where"] == "app:dc2 (preflight-wrong-dc2)"
        assert f"points at localhost:{topo.servers['dc1'].port}" in wrong["what"]
        assert f"must lead to {dc2}" in wrong["what"]
        assert wrong["fix"].startswith(f"curl -sS -X POST {api}/proxies/preflight-wrong-dc2 ")
        assert f'{{"upstream": "{dc2}"}}' in wrong["fix"]
        # and through it, the application's path really reaches the other server
        assert any("leads to dc1" in p["what"] and "not to dc2" in p["what"] for p in proxy)
        # localhost and 127.0.0.1 are one host: the right proxies are not reported
        assert not any(p["where"].startswith(("app:dc1", "link:", "etcd")) for p in proxy)
        assert dc1 in next(e["what"] for e in report["ok"] if e["where"] == "app:dc1 (app:dc1)")

        assert _cli(f, monkeypatch, environ) == 1
        assert "PROBLEM proxy proxy preflight-wrong-dc2 (app:dc2) points at" in capsys.readouterr().out
    finally:
        requests.delete(f"{api}/proxies/preflight-wrong-dc2", timeout=3).raise_for_status()


def test_c_a_leftover_toxic_and_a_missing_proxy_are_named(clean_topology: Topology, tmp_path: Path) -> None:
    topo = clean_topology
    toxiproxy = topo.toxiproxy()
    toxiproxy.add_toxic("link:dc1->dc2", "latency", {"latency": 50}, name="forgotten-latency")
    try:
        doc = _env_doc(topo)
        doc["toxiproxy"]["proxies"]["etcd"] = "no-such-proxy"
        report = preflight(_write(tmp_path, doc), password_exports(topo))
        proxy = {p["where"]: p for p in _problems(report, "proxy")}
        assert "forgotten-latency (latency)" in proxy["link:dc1->dc2 (link:dc1->dc2)"]["what"]
        assert proxy["link:dc1->dc2 (link:dc1->dc2)"]["fix"].endswith("/proxies/link:dc1->dc2/toxics/forgotten-latency")
        assert "which Toxiproxy" in proxy["etcd (no-such-proxy)"]["what"]
        assert f'"upstream": "{topo.etcd.host}:{topo.etcd.port}"' in proxy["etcd (no-such-proxy)"]["fix"]
    finally:
        toxiproxy.remove_toxic("link:dc1->dc2", "forgotten-latency")


# ---- (d) a filter mismatch ------------------------------------------------------------------------


def test_d_each_missing_and_extra_filter_entry_is_named(clean_topology: Topology, tmp_path: Path) -> None:
    declared = yaml.safe_load((REPO / "fixtures" / "filter_list.yaml").read_text())
    entries = [e for e in declared["filter_list"] if e.get("table") != "app.job_log"]  # the server still applies it
    entries.append({"pattern": "app.extra_%", "reason": "declared, never applied", "owner": "dba"})
    filters = tmp_path / "filters.yaml"
    filters.write_text(yaml.safe_dump({"filter_list": entries}, sort_keys=False))
    line = next(n for n, text in enumerate(filters.read_text().splitlines(), 1) if "app.extra_%" in text)
    doc = _env_doc(clean_topology)
    doc["replication"]["filter_list"] = str(filters)
    report = preflight(_write(tmp_path, doc), password_exports(clean_topology))

    found = _problems(report, "filters")
    assert len(found) == 2, found
    missing = next(p for p in found if "app.extra_%" in p["what"])
    assert f"declared in {filters}:{line}" in missing["what"] and "dc2 does not apply it" in missing["what"]
    assert missing["where"] == "dc2 replicate_wild_ignore_table"
    assert ("on dc2: STOP SLAVE; SET GLOBAL replicate_wild_ignore_table = 'app.extra_%,app.tmp_%,bi.%'; START SLAVE;"
            in missing["fix"])
    assert f"remove `pattern: app.extra_%` from {filters}:{line}" in missing["fix"]
    extra = next(p for p in found if "app.job_log" in p["what"])
    assert "dc2 applies app.job_log (replicate_ignore_table)" in extra["what"]
    assert "add `- table: app.job_log`" in extra["fix"]
    assert "SET GLOBAL replicate_ignore_table = 'app.app_config,app.job_switch'" in extra["fix"]


# ---- (e) a missing password, an unreachable server, a wrong password ----------------------------------------


def test_e_a_password_variable_not_exported_is_a_problem_not_a_traceback(
        clean_topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, _env_doc(clean_topology))
    environ = password_exports(clean_topology)
    del environ[PASSWORD_VARIABLES["admin"]]
    report = preflight(f, environ)
    secret = _problems(report, "secrets")
    assert len(secret) == 1
    assert "DRILLS_ENV_ADMIN_PASSWORD is not set" in secret[0]["what"]
    assert secret[0]["fix"].startswith("export DRILLS_ENV_ADMIN_PASSWORD=")
    # what needs the admin account is said to be unchecked; the rest is still checked
    assert {s["check"] for s in report["skipped"]} >= {"server"}
    assert {e["check"] for e in report["ok"]} >= {"toxiproxy", "etcd", "routing", "proxy"}

    monkeypatch.delenv(PASSWORD_VARIABLES["admin"], raising=False)
    assert _cli(f, monkeypatch, environ) == 1
    out = capsys.readouterr()
    assert "PROBLEM secrets accounts.admin.password:" in out.out and "Traceback" not in out.err + out.out


def test_e_an_unreachable_server_and_a_wrong_password_are_problems_with_their_fix(
        clean_topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    doc = _env_doc(clean_topology)
    port = _closed_port()
    doc["servers"]["dc2"]["observer"]["port"] = port
    f = _write(tmp_path, doc)
    report = preflight(f, password_exports(clean_topology))
    down = _problems(report, "server")
    assert len(down) == 1 and down[0]["where"] == f"dc2 127.0.0.1:{port}"
    assert "is unreachable" in down[0]["what"] and "MySQL error 2003" in down[0]["what"]
    assert "servers.dc2.observer" in down[0]["fix"]
    assert any(s["check"] == "replication" and "dc2 did not answer" in s["what"] for s in report["skipped"])

    wrong = "Yv7#Tq2-Lm9w"
    environ = {**password_exports(clean_topology), PASSWORD_VARIABLES["admin"]: wrong}
    f2 = _write(tmp_path, _env_doc(clean_topology), "env2.yaml")
    report = preflight(f2, environ)
    refused = _problems(report, "server")
    assert {p["where"].split()[0] for p in refused} == {"dc1", "dc2"}
    assert all("refused the login of the admin account drills" in p["what"] and "1045" in p["what"] for p in refused)
    assert all("$DRILLS_ENV_ADMIN_PASSWORD holds the password of drills" in p["fix"] for p in refused)
    assert _cli(f2, monkeypatch, environ, "--json") == 1
    out = capsys.readouterr()
    assert wrong not in out.out + out.err and "Traceback" not in out.err
    assert json.loads(out.out)["ready"] is False


# ---- (f) it touches nothing -------------------------------------------------------------------------


def _snapshot(topo: Topology) -> dict[str, Any]:
    api = f"http://{topo.toxiproxy_api.host}:{topo.toxiproxy_api.port}"
    snap: dict[str, Any] = {"proxies": requests.get(f"{api}/proxies", timeout=3).json()}
    for dc in ("dc1", "dc2"):
        conn = topo.connect(dc)
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute("SHOW SLAVE STATUS")
                snap[f"{dc}.slave_status"] = cur.fetchall()
                cur.execute("SELECT @@GLOBAL.read_only AS ro, @@GLOBAL.gtid_binlog_pos AS gtid, "
                            "@@GLOBAL.replicate_ignore_table AS i, @@GLOBAL.replicate_wild_ignore_table AS w")
                snap[f"{dc}.globals"] = cur.fetchone()
                cur.execute("SHOW DATABASES")
                snap[f"{dc}.databases"] = cur.fetchall()
                cur.execute("SELECT user, host FROM mysql.user ORDER BY user, host")
                snap[f"{dc}.users"] = cur.fetchall()
        finally:
            conn.close()
    client = pyetcd.client(host=topo.etcd.host, port=topo.etcd.port, timeout=3)
    try:
        value, meta = client.get(topo.routing_key)
        snap["route"] = (value, meta.mod_revision, meta.response_header.revision)
    finally:
        client.close()
    return snap


def test_f_preflight_changes_nothing(clean_topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    topo = clean_topology
    environ = password_exports(topo)
    healthy = _write(tmp_path, _env_doc(topo))
    everything = _write(tmp_path, _env_doc(topo, writes="all"), "all.yaml")  # the widest set of checks
    before = _snapshot(topo)
    assert preflight(healthy, environ)["problems"] == []
    assert preflight(everything, environ)["problems"] == []
    assert _cli(healthy, monkeypatch, environ) == 0
    capsys.readouterr()
    after = _snapshot(topo)
    assert after == before


# ---- the link and the route, as declared ------------------------------------------------------------


def test_a_file_declaring_the_link_the_wrong_way_round_is_named_on_each_side(clean_topology: Topology,
                                                                            tmp_path: Path) -> None:
    doc = _env_doc(clean_topology)
    doc["replication"]["source"], doc["replication"]["replica"] = "dc2", "dc1"
    report = preflight(_write(tmp_path, doc), password_exports(clean_topology))
    whats = [p["what"] for p in _problems(report, "replication")]
    assert "dc1 is not a replica at all: the declared link dc2 -> dc1 does not exist" in whats
    assert any(w.startswith("the declared source dc2 is itself a replica of dc1") for w in whats)
    link_fix = next(p["fix"] for p in _problems(report, "replication") if "not a replica at all" in p["what"])
    listen = clean_topology.proxies["link:dc2->dc1"].listen.rsplit(":", 1)
    assert (f"CHANGE MASTER TO MASTER_HOST='{listen[0]}', MASTER_PORT={listen[1]}, MASTER_USER='repl', "
            "MASTER_PASSWORD='<$DRILLS_ENV_REPL_PASSWORD>'") in link_fix
    route = _problems(report, "routing")
    assert len(route) == 1 and "the route and the link disagree" in route[0]["what"]
    assert any("dc2 is the declared source but read_only is ON" in p["what"] for p in _problems(report, "server"))


def test_a_stopped_replica_thread_is_a_problem_with_the_statement_that_starts_it(clean_topology: Topology,
                                                                                tmp_path: Path) -> None:
    _sql(clean_topology, "dc2", "STOP SLAVE SQL_THREAD")
    try:
        report = preflight(_write(tmp_path, _env_doc(clean_topology)), password_exports(clean_topology))
        found = _problems(report, "replication")
        assert [p["what"] for p in found] == ["dc2's SQL thread is not running (No)"]
        assert found[0]["fix"] == "on dc2: START SLAVE;"
    finally:
        _sql(clean_topology, "dc2", "START SLAVE")
