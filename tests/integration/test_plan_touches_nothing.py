"""`drills plan` against a real environment changes nothing in it.

The session topology is described as someone else's environment (`drills env describe`), its
observable state is snapshot — Toxiproxy's proxies and toxics, each server's replication
status, read_only and GTID position, the routing key's value and revision, etcd's raft index
(any write at all, a lock key or a lease, moves it) — and the
processes listed; then `drills plan` runs (one scenario it allows, one it refuses) with the
passwords' variables unset, and everything is snapshot again: identical."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pymysql
import pytest

from drills.cli import main
from drills.topology.describe import PASSWORD_VARIABLES, describe, render

pytestmark = [pytest.mark.integration]


def snapshot(topo: Any) -> dict[str, Any]:
    api = f"http://{topo.toxiproxy_api.host}:{topo.toxiproxy_api.port}/proxies"
    with urllib.request.urlopen(api, timeout=5) as resp:  # noqa: S310 - the test topology's own API
        proxies = json.loads(resp.read())
    servers: dict[str, Any] = {}
    for dc in sorted(topo.servers):
        conn = topo.connect(dc)
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute("SHOW SLAVE STATUS")
                slave = cur.fetchall()
                cur.execute("SELECT @@read_only AS read_only, @@gtid_current_pos AS gtid")
                servers[dc] = {"slave_status": slave, **cur.fetchone()}
        finally:
            conn.close()
    cc = topo.config_center()
    try:
        route = cc.read()
        raft_index = cc.revision()  # any write to etcd at all (a lock key, a lease) moves it
    finally:
        cc.close()
    assert route is not None
    return {"proxies": proxies, "servers": servers,
            "route": {"document": route.document, "mod_revision": route.revision}, "etcd_raft_index": raft_index}


def processes(topo: Any) -> tuple[list[str], list[str]]:
    """The topology's processes, and this test process's children."""
    def pgrep(*args: str) -> list[str]:
        return sorted(subprocess.run(["pgrep", *args], capture_output=True, text=True).stdout.split())

    return pgrep("-f", str(topo.state_dir)), pgrep("-P", str(os.getpid()))


def test_plan_touches_nothing(topology: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    for var in PASSWORD_VARIABLES.values():
        monkeypatch.delenv(var, raising=False)  # plan must not need a password
    env_file = tmp_path / "itest-env.yaml"
    env_file.write_text(render(describe(topology, "itest-env")))

    before, procs_before = snapshot(topology), processes(topology)
    assert procs_before[0], "the topology's processes should be listed"

    allowed = main(["plan", "dc1-port-change-failover", "--environment", str(env_file)])
    out, err = capsys.readouterr()
    assert allowed == 0, err
    assert "ALLOWED" in out and "app:dc1" in out

    refused = main(["plan", "dc1-crash", "--environment", str(env_file), "--json"])
    out, _ = capsys.readouterr()
    assert refused == 2
    assert any("process_faults.dc1.crash" in r for r in json.loads(out)["refusals"])

    after, procs_after = snapshot(topology), processes(topology)
    assert after == before
    assert procs_after == procs_before
