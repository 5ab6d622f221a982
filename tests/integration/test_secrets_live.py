"""Issue 18 against real servers: what a secret parameter and the servers' accounts expose."""

from __future__ import annotations

import os
from pathlib import Path

import pymysql
import pytest
from secret_leaks import file_leaks, leaks

from drills.runner import run_scenario

pytestmark = pytest.mark.integration

SECRET = 'Zx9-"SECRET"\\ü-42'

SCENARIO = """\
name: secret-live
params: {pw: {secret: true, env: DRILLS_TEST_PW}}
stages:
  - name: leaks
    steps:
      - name: "a step named ${pw}"
        sql: {dc: dc1, statement: "SELECT * FROM app.customers WHERE ${pw}"}
        on_failure: continue
      - fault: {type: latency, target: "app:dc2", latency_ms: 1, name: "slow-${pw}"}
      - heal: "slow-${pw}"
objectives:
  checks:
    not_judged: {rto: "no switch", rpo: "no switch", sequence_continuity: "no workload",
                 split_brain: "no workload"}
"""


def _fragments(secret: str) -> list[str]:
    return [secret] + [secret[i:i + 6] for i in range(len(secret) - 5)]


def test_a_secret_reaches_no_file_no_server_environment_and_no_toxic_name(
        topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    monkeypatch.setenv("DRILLS_TEST_PW", SECRET)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    run = tmp_path / "run"
    result = run_scenario(scenario, out_dir=run, state_dir=topology.state_dir, record_history=False)
    # the server said "near '...'" about the statement: the step failed with MariaDB's words, masked
    step = next(s for s in result["steps"] if s["type"] == "sql")
    assert step["status"] == "failed" and "1064" in (step["error"] or "")
    from drills.report.commands import cmd_report  # every report the CLI can render

    class Args:
        run_dir = str(run)
        junit, allure_dir, summary, html, pdf = str(run / "j.xml"), str(run / "allure"), str(run / "s.md"), \
            str(run / "r.html"), None

    cmd_report(Args())
    out = capsys.readouterr()
    for path in run.rglob("*"):
        if path.is_file():
            assert not file_leaks(SECRET, path), (path, file_leaks(SECRET, path))
    assert not leaks(SECRET, out.out + out.err)
    # the fault's toxics were named without it (the journal names what was added)
    journal = (run / "journal.jsonl").read_text(encoding="utf-8")
    assert "slow-***" in journal
    # servers of the topology never inherit our environment's secrets
    from drills.topology import local

    for pid in local.attach(topology.state_dir).process_control.pids().values():  # as restarted by earlier tests
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"DRILLS_TEST_PW" not in environ and SECRET.encode() not in environ


def test_no_account_logs_in_without_a_password_over_tcp_or_any_proxy(topology) -> None:  # noqa: ANN001
    """The template's root accounts had empty passwords for 127.0.0.1, ::1 and the host name,
    so any local user could take a drill's servers, directly or through the proxies."""
    admin = topology.connect("dc1")
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT DISTINCT User FROM mysql.user")
            users = {row[0] for row in cur.fetchall()}
            cur.execute("SELECT User, Host FROM mysql.user WHERE User = '' OR (User = 'root' AND Host <> 'localhost')")
            assert cur.fetchall() == ()
    finally:
        admin.close()
    endpoints = [(s.host, s.port) for s in topology.servers.values()]
    endpoints += [tuple(px.listen.rsplit(":", 1)) for name, px in topology.proxies.items() if name != "etcd"]
    tried = 0
    for host, port in endpoints:
        for user in users | {"root", "", "mysql", "mariadb.sys"}:
            with pytest.raises(pymysql.err.OperationalError) as exc:
                pymysql.connect(host=str(host), port=int(port), user=user, password="", connect_timeout=3).close()
            assert exc.value.args[0] in (1045, 1698), (host, port, user, exc.value.args)
            tried += 1
    assert tried >= 4 * len(endpoints)
    assert os.geteuid() >= 0  # (the unix socket stays the one way in for root, with its own random password)


def test_a_fault_named_after_a_secret_gives_its_toxics_masked_names(topology, tmp_path: Path) -> None:  # noqa: ANN001
    from drills import masking
    from drills.faults import make_fault
    from drills.journal import Journal

    masking.register(SECRET)
    fault = make_fault({"type": "latency", "target": "app:dc2", "latency_ms": 1, "name": f"slow-{SECRET}"}, topology,
                       Journal(tmp_path / "journal.jsonl"))
    fault.inject()
    try:
        names = [t.name for t in topology.toxiproxy().toxics("app:dc2")]
        assert names and all(not [f for f in _fragments(SECRET) if f in n] for n in names), names
    finally:
        fault.heal()
