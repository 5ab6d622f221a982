"""The run history shared by a fleet, on a real MariaDB server: twenty runners recording at
once lose nothing, `drills history --history-url` lists them without ever printing the
password, the regression gate reads the same store, and an unreachable server is one line."""

from __future__ import annotations

import multiprocessing
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pymysql.cursors
import pytest
from recorded_runs import recorded_run
from sqlalchemy import URL

from drills.report import past_runs as history

pytestmark = [pytest.mark.integration]

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
SCENARIO = "dc1-port-change-failover"
WRITERS = 20


def make_run(root: Path, run_id: str, *, rto: float, started: str) -> Path:
    """A real recorded run (journal, ledger, result.json) under another run id."""
    return recorded_run(root, run_id, rto, started=started)


def drills(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drills", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def history_url(topology) -> Iterator[str]:  # noqa: ANN001 - Topology
    """A database of its own on dc1, made and dropped unlogged, and a URL to it with the
    topology's admin account. The history's own session is unlogged too (init_command):
    dc2 replicates dc1 and has no such database, so a logged CREATE TABLE would stop the link
    for every test after this one. A history server of one's own needs none of this."""
    name = f"drills_history_test_{secrets.token_hex(4)}"
    creds, server = topology.credentials, topology.servers["dc1"]
    conn = topology.connect("dc1")
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute(f"CREATE DATABASE `{name}`")
        url = URL.create("mysql+pymysql", username=creds.admin_user, password=creds.admin_password,
                         host=server.host, port=server.port, database=name,
                         query={"init_command": "SET SESSION sql_log_bin = 0"})
        yield url.render_as_string(hide_password=False)
    finally:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 0")
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def _record(barrier: multiprocessing.synchronize.Barrier, run_dir: str, url: str) -> None:
    barrier.wait(timeout=60)
    history.record(run_dir, url=url)


def test_a_fleet_shares_one_history_on_mariadb(history_url: str, topology, tmp_path: Path) -> None:  # noqa: ANN001
    password = topology.credentials.admin_password
    dirs = [str(make_run(tmp_path, f"fleet-{i:02d}", rto=3.0 + i / 1000, started=f"2025-05-01T10:00:{i:02d}Z"))
            for i in range(WRITERS)]

    # twenty runners at once, into a database with no table yet: they race to create it too
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_record, args=(barrier, d, history_url)) for d in dirs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    expected = [f"fleet-{i:02d}" for i in range(WRITERS)]
    rows = history.runs(url=history_url, limit=100)
    assert sorted(r.run_id for r in rows) == expected
    assert rows[0].run_id == "fleet-19" and rows[0].rto_s == 3.019  # newest first; DOUBLE, not FLOAT
    assert rows[0].operator == "ci-bot" and rows[0].status == "passed"

    # recording a run again refreshes its row: still twenty
    history.record(dirs[0], url=history_url)
    assert len(history.runs(url=history_url, limit=100)) == WRITERS

    # the CLI, on a command line, records and lists — and never shows the password
    extra = make_run(tmp_path, "cli-run", rto=3.0, started="2025-05-02T10:00:00Z")
    recorded = drills("history", "--history-url", history_url, "--record", str(extra))
    assert recorded.returncode == 0, recorded.stderr
    assert "recorded cli-run" in recorded.stdout and ":***@" in recorded.stdout
    listed = drills("history", "--history-url", history_url, "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    assert all(run_id in listed.stdout for run_id in [*expected, "cli-run"])
    trend = drills("history", "--history-url", history_url, "--scenario", SCENARIO)
    assert trend.returncode == 0 and "passing runs: RTO median" in trend.stdout
    for out in (recorded, listed, trend):
        assert password not in out.stdout + out.stderr

    # the regression gate reads the same store (median of the last 5 passing: 3.015 .. 3.019, cli-run 3.0)
    assert history.baseline_regression(None, SCENARIO, 3.5, 0.2, url=history_url) is None
    message = history.baseline_regression(None, SCENARIO, 3.7, 0.2, url=history_url, exclude_run_id="cli-run")
    assert message is not None and "baseline of 3.017 s" in message and "last 5 passing" in message
    assert history.baseline_regression(None, "another-scenario", 99.0, 0.2, url=history_url) is None

    # keys compare byte for byte on the server as on SQLite
    conn = topology.connect("dc1", database=history_url.rsplit("/", 1)[1].split("?")[0])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM runs WHERE run_id = 'FLEET-00'")
            assert cur.fetchone()[0] == 0
            cur.execute("SELECT COUNT(*) FROM runs")
            assert cur.fetchone()[0] == WRITERS + 1
    finally:
        conn.close()

    # nothing of it reached dc2: its link from dc1 is still applying without error
    replica = topology.connect("dc2")
    try:
        with replica.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SHOW SLAVE STATUS")
            status = cur.fetchone()
            assert status is not None and status["Last_SQL_Errno"] == 0, status and status["Last_SQL_Error"]
    finally:
        replica.close()


def test_the_runner_default_follows_the_url_variable(history_url: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner calls record(run_dir) and baseline_regression(None, ...) with no store named
    (here in the mariadb+pymysql spelling: SQLAlchemy's MariaDB dialect, same table)."""
    history_url = history_url.replace("mysql+pymysql://", "mariadb+pymysql://", 1)
    monkeypatch.setenv(history.URL_VARIABLE, history_url)
    history.record(make_run(tmp_path, "by-runner", rto=2.0, started="2025-05-03T10:00:00Z"))
    assert [r.run_id for r in history.runs(url=history_url)] == ["by-runner"]
    assert history.baseline_regression(None, SCENARIO, 9.0, 0.2) is not None


def test_an_unreachable_server_is_one_line_without_the_password(topology) -> None:  # noqa: ANN001
    creds = topology.credentials
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = URL.create("mysql+pymysql", username=creds.admin_user, password=creds.admin_password,
                     host="127.0.0.1", port=port, database="drills_history")
    done = drills("history", "--history-url", url.render_as_string(hide_password=False))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "2003" in done.stderr
    assert creds.admin_password not in done.stdout + done.stderr
