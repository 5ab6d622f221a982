"""Issue 13, the pure parts: the environment file's validation, secrets, the proxy-name
mapping that never touches proxies drills does not own, the refusals, the failed-write stop
condition, and the environment's waivers in the judge (never turning a verdict into a pass)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_check_history import Drill, failover_drill

from drills import events as ev
from drills import masking
from drills.checks.judge import judge_record
from drills.errors import ConfigError
from drills.runner import safety
from drills.scenario.loader import load_scenario
from drills.scenario.model import Scenario
from drills.topology.environment import EnvironmentFile, StopCondition, load_environment
from drills.toxiproxy import Toxiproxy, ToxiproxyError

REPO = Path(__file__).resolve().parents[2]
BASE = """\
name: staging
provider: external
servers:
  dc1: {observer: {host: 10.0.0.1, port: 3306}}
  dc2: {observer: {host: 10.0.0.2, port: 3306}}
accounts:
  admin: {user: dba, password: {env: STAGING_ADMIN}}
  app: {user: app, password: {file: app.secret}}
etcd: {endpoint: {host: 10.0.0.3, port: 2379}, routing_key: /mall/router}
toxiproxy:
  api: http://10.0.0.4:8474
  proxies: {"app:dc1": mall-db1, "app:dc2": mall-db2, "link:dc1->dc2": repl-1-2}
replication: {source: dc1, replica: dc2, filter_list: filters.yaml}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "env.yaml"
    p.write_text(text)
    return p


def env_of(tmp_path: Path, extra: str = "") -> EnvironmentFile:
    return load_environment(write(tmp_path, BASE + extra))


def test_a_valid_file_loads_with_the_mapping_and_defaults(tmp_path: Path) -> None:
    env = env_of(tmp_path)
    assert env.toxiproxy.proxies["link:dc1->dc2"] == "repl-1-2"
    assert env.toxiproxy.address() == ("10.0.0.4", 8474)
    assert env.writes == "canary" and env.allow == [] and not env.protected
    assert env.lock_key == "/drills/locks/staging"
    assert not env.allows("latency", "app:dc1")  # nothing is allowed unless listed


@pytest.mark.parametrize(("line", "replacement", "where", "message"), [
    ("  admin: {user: dba, password: {env: STAGING_ADMIN}}", "  admin: {user: dba, password: hunter2}", ":7:",
     "a secret is never written in the file"),
    ('"app:dc2": mall-db2', '"app:dc3": mall-db2', ":12:", "unknown path(s) app:dc3"),
    ("replication: {source: dc1, replica: dc2", "replication: {source: dc1, replica: dc1", ":13:",
     "must be different"),
])
def test_a_broken_file_is_refused_at_its_line(tmp_path: Path, line: str, replacement: str, where: str,
                                               message: str) -> None:
    assert line in BASE
    with pytest.raises(ConfigError) as err:
        load_environment(write(tmp_path, BASE.replace(line, replacement)))
    text = str(err.value)
    assert where in text and message in text, text
    assert "hunter2" not in text  # even a secret written where it must not be is not echoed


def test_secrets_come_from_the_environment_or_a_file_and_are_masked_at_once(tmp_path: Path) -> None:
    env = env_of(tmp_path)
    with pytest.raises(ConfigError) as missing:
        env.accounts.admin.password.read({}, env.base, "accounts.admin.password")
    assert "STAGING_ADMIN is not set" in str(missing.value)
    (tmp_path / "app.secret").write_text("Zt6yN1cR8vQ3\n")
    value = env.accounts.app.password.read({}, env.base, "accounts.app.password")
    assert value == "Zt6yN1cR8vQ3"
    assert "Zt6yN1cR8vQ3" not in masking.mask("connecting with Zt6yN1cR8vQ3")


def test_someone_elses_toxiproxy_is_addressed_by_their_names_and_never_reset() -> None:
    tp = Toxiproxy("127.0.0.1", 1, timeout=0.1, names={"app:dc1": "mall-db1"})
    assert tp._their("app:dc1") == "mall-db1"
    with pytest.raises(ToxiproxyError, match="maps no proxy to the path 'app:dc2'"):
        tp._their("app:dc2")
    for refused in (tp.reset, lambda: tp.create_proxy("x", "a:1", "b:2"), lambda: tp.delete_proxy("app:dc1"),
                    lambda: tp.populate([]), lambda: tp.update_proxy("app:dc1", upstream="evil:1")):
        with pytest.raises(ToxiproxyError, match="refused"):
            refused()  # refused before any request: port 1 would have failed differently


def test_refusals_name_every_step_and_what_is_missing(tmp_path: Path) -> None:
    env = env_of(tmp_path, 'allow:\n  - {fault: latency, targets: ["link:dc1->dc2"]}\n  - {fault: crash, targets: [dc1]}\n'
                           'process_faults:\n  dc1: {crash: "ssh db1 sudo systemctl kill mariadb"}\n')
    port = load_scenario(REPO / "scenarios" / "dc1-port-change-failover.yaml")
    problems = safety.refusals(port, env)
    assert len(problems) == 1 and "port_change on app:dc1 is not allowed in environment staging" in problems[0]
    assert problems[0].startswith("stage ")
    crash = load_scenario(REPO / "scenarios" / "dc1-crash.yaml")
    problems = safety.refusals(crash, env)
    assert problems == [p for p in problems if "process_faults.dc1.restart" in p] and problems  # crash is given
    lag = load_scenario(REPO / "scenarios" / "replication-lag-unplanned-failover.yaml")
    assert all("not allowed" in p or "process_faults" in p for p in safety.refusals(lag, env))


def test_writes_none_refuses_the_workload_and_waives_the_checks_that_need_writes(tmp_path: Path) -> None:
    env = env_of(tmp_path, "writes: none\n")
    port = load_scenario(REPO / "scenarios" / "dc1-port-change-failover.yaml")
    assert any("allows no writes" in p for p in safety.refusals(port, env))
    assert set(safety.waivers(env)) == {"rto", "rpo", "sequence_continuity", "split_brain", "write_availability",
                                        "filter_tables"}
    assert set(safety.waivers(env_of(tmp_path, "writes: canary\n"))) == {"filter_tables"}
    assert safety.waivers(env_of(tmp_path, "writes: all\n")) == {}


def test_a_protected_environment_needs_its_own_name(tmp_path: Path) -> None:
    env = env_of(tmp_path, "protected: true\n")
    for given in (None, "prod", "Staging"):
        with pytest.raises(Exception, match="--confirm staging"):
            safety.confirm(env, given)
    safety.confirm(env, "staging")


def test_the_environments_waiver_only_ever_waives_an_unknown(tmp_path: Path) -> None:
    """An attacker's record: the environment says rpo cannot be judged, but the ledger shows
    an acknowledged order lost — the failure stands; only checks that could not decide are
    waived."""
    d = failover_drill(lost=3)
    d.journal.insert(0, {"seq": 0, "mono_ns": 0, "wall": "", "source": "runner", "kind": ev.RUN_ENVIRONMENT,
                         "payload": {"name": "staging", "writes": "none",
                                     "waive": {"rpo": "writes: none", "rto": "writes: none"}}})
    for i, e in enumerate(d.journal):
        e["seq"] = i
    run_dir = tmp_path / "run"
    d.save(run_dir)
    objectives = Scenario.model_validate({"name": "x", "objectives": {"rpo": 0}})
    checks = {c["name"]: c for c in judge_record(run_dir, objectives)}
    assert checks["rpo"]["status"] == "failed" and "waived" not in checks["rpo"]
    assert checks["rto"]["status"] == "passed" and "waived" not in checks["rto"]
    # the same environment on a record where rto cannot decide (no route change): waived
    d2 = Drill()
    d2.event(ev.RUN_ENVIRONMENT, "runner", name="staging", writes="none", waive={"rto": "writes: none"})
    d2.route("dc1", 1)
    d2.write(1, "dc1", 1)
    d2.save(tmp_path / "run2")
    rto = next(c for c in judge_record(tmp_path / "run2", None) if c["name"] == "rto")
    assert rto["status"] == "unknown" and rto["waived"] == "writes: none"


class Counts:
    def __init__(self, series: list[dict[str, int]]):
        self.series = series

    def __call__(self) -> dict[str, int] | None:
        return self.series.pop(0) if self.series else None


def test_the_failed_write_ceiling_trips_on_the_rate_in_its_window_not_on_a_few_failures() -> None:
    cond = StopCondition(name="writes", failed_writes={"max_rate": 0.5, "window": "10s", "min_attempts": 20})
    probe: Any = safety._probe_for(cond, None, Counts([
        {"ok": 0, "fail": 0, "info": 0},
        {"ok": 5, "fail": 5, "info": 0},   # 50% of 10: below min_attempts
        {"ok": 20, "fail": 10, "info": 0},  # 10 of 30 = 33%
        {"ok": 21, "fail": 30, "info": 9},  # 39 of 60 = 65%
    ]))
    assert probe()[0] and probe()[0]
    assert probe()[0]
    ok, detail = probe()
    assert not ok and "39 of 60 writes failed" in detail and "ceiling 50%" in detail
    idle: Any = safety._probe_for(cond, None, Counts([]))
    assert idle() == (True, "no workload running")


def test_the_shipped_example_validates_and_allows_only_what_it_lists() -> None:
    env = load_environment(REPO / "examples" / "existing-environment" / "environment.yaml")
    assert env.protected and env.writes == "canary" and env.etcd.tls is not None
    assert env.allows("crash", "dc1") and not env.allows("crash", "dc2") and not env.allows("latency", "etcd")
    assert env.process_command("dc1", "restart") and env.process_command("dc2", "crash") is None
    assert [c.kind for c in env.stop_conditions] == ["http", "sql", "failed_writes"]
