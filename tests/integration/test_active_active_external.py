"""Issue 14 on the external provider: an active-active pair drills did not make is attached
and verified, never established.

The test sets up a two-way pair itself (the local provider + `establish`) and then drives it
only through an environment file declaring `mode: active-active`, as a DBA's staging pair
would be driven:

- the planned cut-over runs and passes; the pair's replication settings (sources, filters,
  server and domain ids) are exactly what they were — drills changed none; the loop check ran
  in the harness's own schema (`writes: canary`);
- `env check` verifies the pair and says the loop check is not verified under `writes: none`;
- a pair where one link lacks the filters is refused (exit 2) before anything starts, the
  missing entries named, nothing changed; `env check` names the same difference."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from drills.active_active import topology as aa
from drills.errors import UserError
from drills.journal import read
from drills.mysql import admin
from drills.runner.session import RunOptions, run
from drills.topology import local
from drills.topology.describe import describe, password_exports, render
from drills.topology.preflight import preflight
from drills.topology.spec import ActiveActive

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "fixtures" / "active_active"
PLANNED = REPO / "scenarios" / "aa-planned-cutover.yaml"


@pytest.fixture
def pair(topology: Any) -> Any:
    """The session topology made a two-way pair by the test (drills' establish, as an
    operator's own tooling would have): from here on it is "someone else's environment"."""
    local.reset(topology, filter_list=FIX / "filter_list.yaml", schema=FIX / "schema.sql", seed=FIX / "seed.sql")
    topo = local.attach(topology.state_dir)
    assert aa.establish(topo, ActiveActive(central="dc1"))["loop_check"]["ok"]
    return topo


def env_file(topo: Any, tmp_path: Path, **changes: Any) -> Path:
    doc = describe(topo, f"aa-{uuid.uuid4().hex[:8]}", writes="canary")
    doc.update({"mode": "active-active", "active_active": {"central": "dc1", "links": ["dc1->dc2", "dc2->dc1"]}})
    doc.update(changes)
    path = tmp_path / f"environment-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(render(doc))
    return path


def drill(scenario: Path, env: Path, topo: Any, out: Path) -> dict[str, Any]:
    return run(RunOptions(scenario=str(scenario), out=out, environment=env, environ={**os.environ, **password_exports(topo)},
                          record_history=False, stream=io.StringIO(), tty=False)).result


def replication_settings(topo: Any) -> dict[str, Any]:
    """Everything drills must not change in someone else's pair."""
    out = {}
    for dc in ("dc1", "dc2"):
        conn = topo.connect(dc)
        try:
            st = admin.replica_status(conn)
            with conn.cursor() as cur:
                cur.execute("SELECT @@GLOBAL.server_id, @@GLOBAL.gtid_domain_id, @@GLOBAL.read_only")
                ids = list(cur.fetchone())
            out[dc] = {"ids": ids, "source": (st.source_host, st.source_port) if st else None,
                       "filters": admin.read_filters(conn)}
        finally:
            conn.close()
    return out


def test_the_planned_cutover_runs_on_an_attached_pair_and_changes_no_replication_setting(
        pair: Any, tmp_path: Path) -> None:
    topo = pair
    before = replication_settings(topo)
    pids = topo.process_control.pids()
    path = env_file(topo, tmp_path)
    result = drill(PLANNED, path, topo, tmp_path / "run")
    assert result["status"] == "passed", result["reasons"]
    checks = {c["name"]: c for c in result["checks"]}
    # filter_tables is judged from each link's filters read back (no marker rows): it needs no writes
    assert {n: c["status"] for n, c in checks.items()} == dict.fromkeys(checks, "passed"), checks
    assert set(checks) >= {"unit_isolation", "cutover_protocol", "write_ban_window", "replication_conflicts", "rpo",
                           "data_consistency", "split_brain", "filter_tables"}
    assert replication_settings(topo) == before  # not one CHANGE MASTER, filter or id touched
    assert topo.process_control.pids() == pids
    journal = read(tmp_path / "run" / "journal.jsonl")
    setup = next(e["payload"] for e in journal if e["kind"] == "aa.topology")
    assert setup["established"] is False and setup["attached"].startswith("aa-")
    loops = [e["payload"] for e in journal if e["kind"] == "aa.loop_check"]
    assert loops[0]["ok"] is True and loops[0]["verified"] is True  # at attach, in drills_canary
    kinds = [e["kind"] for e in journal]
    assert kinds.index("safety.lock") < kinds.index("aa.topology") < kinds.index("cutover.ban" if "cutover.ban" in kinds
                                                                                 else "aa.rules")
    conn = topo.connect("dc1")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM drills_canary.loop_probe")
            assert cur.fetchone()[0] > 0
    finally:
        conn.close()


def test_env_check_verifies_the_pair_and_says_the_loop_check_is_not_verified_without_writes(
        pair: Any, tmp_path: Path) -> None:
    report = preflight(env_file(pair, tmp_path, writes="none"), password_exports(pair))
    mine = [p for p in report["problems"] if p["check"] == "active-active"]
    assert mine == [], mine
    assert any(e["check"] == "active-active" and "distinct server and GTID domain ids" in e["what"] for e in report["ok"])
    loop = [e for e in report["skipped"] if e["check"] == "active-active"]
    assert loop and "not verified" in loop[0]["what"] and "writes: none" in loop[0]["what"]
    assert not [e for e in report["problems"] if e["check"] in ("replication", "filters")]  # not judged as one writer


def test_a_pair_whose_link_lacks_the_filters_is_refused_naming_the_difference(pair: Any, tmp_path: Path) -> None:
    topo = pair
    conn = topo.connect("dc1")  # the link dc2 -> dc1 loses its filter list (the central database stays ignored)
    try:
        admin.stop_replica(conn)
        admin.set_filters(conn, {"ignore_tables": [], "wild_ignore_tables": ["central.%"]})
        admin.start_replica(conn)
    finally:
        conn.close()
    before = replication_settings(topo)
    path = env_file(topo, tmp_path)
    with pytest.raises(UserError) as refused:
        drill(PLANNED, path, topo, tmp_path / "run")
    assert refused.value.exit_code == 2
    msg = str(refused.value)
    assert "is not the active-active pair it declares (nothing was changed)" in msg
    assert "link dc2->dc1: dc1 does not apply app.job_log (replicate_ignore_table)" in msg
    assert "link dc1->dc2" not in msg  # the other link is as declared
    assert not (tmp_path / "run" / "journal.jsonl").exists()
    assert replication_settings(topo) == before
    report = preflight(path, password_exports(topo))
    assert any(p["check"] == "active-active" and "dc1 does not apply app.job_log" in p["what"]
               for p in report["problems"]), report["problems"]
