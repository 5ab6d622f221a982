"""Active-active in someone else's environment, the pure parts: the environment file's
`mode: active-active` declaration, the refusals before a run (mode mismatch, a cut-over the
environment does not allow), and `attached.differences` — the one judgement of whether a pair
is what its file declares, each difference named (and nothing found when it is)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from drills.active_active import attached
from drills.active_active.runner import environment_refusals
from drills.errors import ConfigError
from drills.runner import safety
from drills.scenario.loader import load_scenario
from drills.topology.environment import load_environment
from drills.topology.spec import TopologySpec

REPO = Path(__file__).resolve().parents[2]
BASE = """\
name: pair
provider: external
servers:
  dc1: {observer: {host: 10.0.0.1, port: 3306}}
  dc2: {observer: {host: 10.0.0.2, port: 3306}}
accounts:
  admin: {user: dba, password: {env: PAIR_ADMIN}}
  app: {user: app, password: {env: PAIR_APP}}
etcd: {endpoint: {host: 10.0.0.3, port: 2379}, routing_key: /mall/router}
toxiproxy:
  api: http://10.0.0.4:8474
  proxies: {"app:dc1": db1, "app:dc2": db2, "link:dc1->dc2": repl-1-2, "link:dc2->dc1": repl-2-1}
replication: {filter_list: filters.yaml}
allow: [{fault: "*"}]
"""
AA = "mode: active-active\nactive_active: {central: dc1, links: [dc1->dc2, dc2->dc1]}\n"


def env_of(tmp_path: Path, text: str) -> Any:
    p = tmp_path / "env.yaml"
    p.write_text(text)
    return load_environment(p)


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        env_of(tmp_path, text)
    return str(exc.value)


def test_the_declaration_loads_and_single_writer_stays_the_default(tmp_path: Path) -> None:
    env = env_of(tmp_path, BASE + AA)
    assert env.mode == "active-active" and env.active_active is not None and env.active_active.central == "dc1"
    assert attached.settings(env).filter_links == ["dc1->dc2", "dc2->dc1"]
    plain = env_of(tmp_path, BASE)
    assert plain.mode == "single-writer" and plain.active_active is None


@pytest.mark.parametrize(("text", "message"), [
    (BASE + "mode: active-active\n", "declare `active_active"),
    (BASE + "mode: active-active\nactive_active: {central: dc1, links: [dc1->dc2]}\n", "needs both links"),
    (BASE + "mode: active-active\nactive_active: {central: dc1, links: [dc1->dc2, dc1->dc2]}\n", "needs both links"),
    (BASE.replace(', "link:dc2->dc1": repl-2-1', "") + AA, "missing: link:dc2->dc1"),
    (BASE + "active_active: {central: dc1, links: [dc1->dc2, dc2->dc1]}\n", "mode is single-writer"),
])
def test_an_incomplete_declaration_is_refused_with_its_place(tmp_path: Path, text: str, message: str) -> None:
    msg = refused(tmp_path, text)
    assert message in msg and "env.yaml" in msg, msg


def test_the_scenarios_mode_must_match_the_environments(tmp_path: Path) -> None:
    pair, single = env_of(tmp_path, BASE + AA), env_of(tmp_path, BASE)
    aa = TopologySpec(mode="active-active")
    assert environment_refusals(aa, pair) == []
    assert "never reconfigures replication" in environment_refusals(aa, single)[0]
    assert "single-writer" in environment_refusals(TopologySpec(), pair)[0]
    assert environment_refusals(TopologySpec(), single) == []
    other_central = TopologySpec(mode="active-active", active_active={"central": "dc2"})
    assert "central unit is dc2" in environment_refusals(other_central, pair)[0]
    one_link = load_scenario(REPO / "scenarios" / "aa-filter-one-link.yaml")
    assert any("dc1->dc2 only" in p for p in safety.refusals(one_link, pair))


def test_a_cutover_needs_the_environments_leave(tmp_path: Path) -> None:
    planned = load_scenario(REPO / "scenarios" / "aa-planned-cutover.yaml")
    assert safety.refusals(planned, env_of(tmp_path, BASE + AA)) == []
    only_dc1 = env_of(tmp_path, BASE.replace('allow: [{fault: "*"}]', "allow: [{fault: cutover, targets: [dc1]}]") + AA)
    problems = safety.refusals(planned, only_dc1)
    assert len(problems) == 1 and "cut-over to dc2 writes the routing document" in problems[0], problems
    assert "{fault: cutover, targets: [dc2]}" in problems[0]


def test_a_whole_unit_failover_needs_the_leave_and_failback_is_never_drills_business(tmp_path: Path) -> None:
    failure = load_scenario(REPO / "scenarios" / "aa-dc1-failure.yaml")
    env = env_of(tmp_path, BASE.replace('allow: [{fault: "*"}]', "allow: [{fault: crash, targets: [dc1]}]") + AA
                 + "process_faults:\n  dc1: {crash: kill-db1, restart: start-db1}\n")
    problems = safety.refusals(failure, env)
    assert any("cut-over to dc2 writes the routing document" in p for p in problems), problems
    assert any("failback in active-active re-points" in p for p in problems), problems
    assert len(problems) == 2, problems


# ---- the judgement ---------------------------------------------------------------------------------
FILTERS = {"ignore_tables": ["app.job_log"], "wild_ignore_tables": []}
INTO_CENTRAL = {"ignore_tables": ["app.job_log"], "wild_ignore_tables": ["central.%"]}


def _replica(port: int) -> dict[str, Any]:
    return {"io_running": True, "sql_running": True, "io_state": "Yes", "lag_s": 0.0, "source_host": "127.0.0.1",
            "source_port": port, "last_io_error": "", "last_sql_error": "", "gtid_io_pos": ""}


def good() -> tuple[dict[str, Any], dict[str, Any]]:
    observed = {"dc1": {"reachable": True, "server_id": 1, "gtid_domain_id": 1, "replica": _replica(7002),
                        "filters": copy.deepcopy(INTO_CENTRAL)},
                "dc2": {"reachable": True, "server_id": 2, "gtid_domain_id": 2, "replica": _replica(7001),
                        "filters": copy.deepcopy(FILTERS)}}
    want = {"dc1->dc2": {"source": "dc1", "replica": "dc2", "via": "127.0.0.1:7001", "proxy": "link:dc1->dc2",
                         "filters": FILTERS},
            "dc2->dc1": {"source": "dc2", "replica": "dc1", "via": "127.0.0.1:7002", "proxy": "link:dc2->dc1",
                         "filters": INTO_CENTRAL}}
    return observed, want


def test_a_pair_as_declared_has_no_differences() -> None:
    assert attached.differences(*good()) == []


@pytest.mark.parametrize(("break_it", "named"), [
    (lambda o, w: o["dc1"]["filters"]["ignore_tables"].clear(), "link dc2->dc1: dc1 does not apply app.job_log"),
    (lambda o, w: o["dc1"]["filters"]["wild_ignore_tables"].clear(), "dc1 does not apply central.%"),
    (lambda o, w: o["dc2"]["filters"]["wild_ignore_tables"].append("central.%"), "dc2 applies central.%"),
    (lambda o, w: o["dc2"].update(server_id=1), "share server id 1"),
    (lambda o, w: o["dc2"].update(gtid_domain_id=1), "share GTID domain id 1"),
    (lambda o, w: o["dc1"].update(replica=None), "dc1 is not a replica at all"),
    (lambda o, w: o["dc1"]["replica"].update(sql_running=False, last_sql_error="Duplicate entry"),
     "dc1's SQL thread is not running (last error: Duplicate entry)"),
    (lambda o, w: o["dc2"]["replica"].update(source_port=3306), "dc2 reads from an unknown server (127.0.0.1:3306)"),
    (lambda o, w: w["dc2->dc1"].update(via=None), "no proxy for link:dc2->dc1"),
    (lambda o, w: o["dc2"].update(reachable=False, error="timed out"), "dc2 does not answer: timed out"),
])
def test_each_difference_is_named(break_it: Any, named: str) -> None:
    observed, want = good()
    break_it(observed, want)
    found = attached.differences(observed, want)
    assert any(named in f for f in found), found


def test_mysql_has_no_domain_ids_and_is_not_blamed_for_it() -> None:
    observed, want = good()
    for dc in ("dc1", "dc2"):
        observed[dc]["gtid_domain_id"] = None
    assert attached.differences(observed, want) == []


def test_the_examples_commented_active_active_block_validates_when_uncommented(tmp_path: Path) -> None:
    example = REPO / "examples" / "existing-environment" / "environment.yaml"
    text = example.read_text()
    assert "# mode: active-active" in text and "# active_active:" in text
    text = text.replace("# mode: active-active", "mode: active-active").replace("# active_active:", "active_active:")
    env = env_of(tmp_path, text)
    assert env.mode == "active-active" and env.active_active is not None and env.active_active.central == "dc1"
