"""`drills plan`: the actions a drill would take in someone else's environment, their targets,
blast radius and longest duration, and what would be refused — from the two files alone.

Every test here runs with the network, subprocesses and secret reading disabled (`untouched`),
and the environment's passwords name variables that are not set: a plan that connected to
anything, ran anything or read a secret would fail, not just be slower."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills import masking
from drills.cli import main
from drills.runner import safety
from drills.runner.plan import CONTROLLER_RADIUS, blast_radius, plan, render_text
from drills.scenario.loader import find_scenario, load_scenario
from drills.topology.environment import Secret, load_environment

PASSWORD_VARS = ("PLAN_TEST_ADMIN_PW", "PLAN_TEST_APP_PW", "PLAN_TEST_ETCD_PW")
PORT_CHANGE = "dc1-port-change-failover"
CRASH = "dc1-crash"


@pytest.fixture(autouse=True)
def untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection, no subprocess, no secret: any attempt fails the test. The process's
    register of secrets starts empty, as in a fresh `drills plan`."""
    for var in PASSWORD_VARS:
        monkeypatch.delenv(var, raising=False)

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("drills plan must not touch anything")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(Secret, "read", refuse)
    # secrets other tests registered in this process would mask words of the plan ("password")
    monkeypatch.setattr(masking, "_registered", set())
    monkeypatch.setattr(masking, "_current", masking.Masker())


def environment(tmp_path: Path, name: str = "staging", **overrides: Any) -> Path:
    """An environment file written by hand, as its owner would; `overrides` replace top-level keys."""
    doc: dict[str, Any] = {
        "name": name,
        "provider": "external",
        "servers": {"dc1": {"observer": {"host": "db1.example", "port": 3306}},
                    "dc2": {"observer": {"host": "db2.example", "port": 3306}}},
        "accounts": {"admin": {"user": "drills", "password": {"env": "PLAN_TEST_ADMIN_PW"}},
                     "app": {"user": "app", "password": {"env": "PLAN_TEST_APP_PW"}}},
        "etcd": {"endpoint": {"host": "etcd.example", "port": 2379}, "routing_key": "/mall/route",
                 "user": "root", "password": {"env": "PLAN_TEST_ETCD_PW"}},
        "toxiproxy": {"api": "http://toxi.example:8474",
                      "proxies": {"app:dc1": "mall_dc1", "app:dc2": "mall_dc2", "link:dc1->dc2": "repl",
                                  "etcd": "etcd_clients"}},
        "replication": {"filter_list": "filters.yaml"},
        "allow": [{"fault": "*", "targets": ["*"]}],
        "max_fault_duration": "5m",
    }
    doc.update(overrides)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["plan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def stage_actions(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in p["actions"] if a["phase"] == "stage"]


# ---- the actions, in order ---------------------------------------------------------------------------
def test_actions_in_order_with_targets_blast_radius_and_caps(tmp_path: Path) -> None:
    p = plan(PORT_CHANGE, environment(tmp_path), {}, None)
    assert p["allowed"] and p["exit_code"] == 0 and p["refusals"] == []

    scenario = load_scenario(find_scenario(PORT_CHANGE))
    steps = stage_actions(p)
    assert [(a["stage"], a["step"], a["kind"]) for a in steps] == \
        [(stage.name, step.label(i), step.kind) for stage, i, step in scenario.steps()]
    # setup before the stages, cleanup after, with the lock first and last
    assert [a["kind"] for a in p["actions"] if a["phase"] == "setup"] == ["lock", "controller"]
    assert [a["kind"] for a in p["actions"] if a["phase"] == "cleanup"] == \
        ["workload", "controller", "heal", "judge", "lock"]

    fault = next(a for a in steps if a["kind"] == "fault")
    assert fault["target"] == "app:dc1"
    assert fault["blast_radius"] == "the application's connections to dc1 (writes and reads through its service path)"
    # healed by its heal step; between them: expect 10s, expect 10s, wait 2s
    assert fault["limit"] == "heal step"
    assert fault["healed_by"] == "stage dc1-healed-no-automatic-failback, step 1:heal"
    assert fault["until_heal_s"] == 22.0 and fault["max_duration_s"] == 22.0
    assert "until its heal step (stage dc1-healed-no-automatic-failback, step 1:heal)" in fault["max_duration"]
    assert "max_fault_duration 5m does not bind" in fault["max_duration"]

    by_step = {(a["stage"], a["step"]): a for a in steps}
    assert by_step[("steady-state", "3:wait")]["max_duration_s"] == 2.0
    expect = by_step[("dc1-port-change", "2:expect")]
    assert expect["max_duration_s"] == 10.0 and "`within`" in expect["max_duration"]
    gate = by_step[("manual-failback", "1:gate")]
    assert gate["max_duration_s"] == 600.0 and "gate's timeout" in gate["max_duration"]
    failback = by_step[("manual-failback", "2:failback")]
    assert failback["blast_radius"] == CONTROLLER_RADIUS == "moves the application's writes between data centres"
    assert failback["target"] == "to dc1"
    heal = by_step[("dc1-healed-no-automatic-failback", "1:heal")]
    assert heal["heals"] == ["dc1-port"] and heal["target"] == "app:dc1"


def test_max_fault_duration_caps_a_fault_whose_heal_comes_later(tmp_path: Path) -> None:
    p = plan(PORT_CHANGE, environment(tmp_path, max_fault_duration="15s"), {}, None)
    fault = next(a for a in stage_actions(p) if a["kind"] == "fault")
    assert fault["limit"] == "max_fault_duration"
    assert fault["max_duration_s"] == 15.0 and fault["until_heal_s"] == 22.0
    assert fault["max_duration"].startswith("15s: the environment's max_fault_duration heals it")


def test_a_fault_no_step_heals_lasts_until_the_end_of_the_run(tmp_path: Path) -> None:
    scenario = tmp_path / "unhealed.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "unhealed",
        "stages": [
            {"name": "cut", "steps": [{"fault": {"type": "down", "target": "link:dc1->dc2"}}, {"wait": "3s"}]},
            {"name": "both", "parallel": True, "steps": [{"wait": "4s"}, {"expect": {"active": "dc1", "within": "7s"}}]},
        ],
    }))
    p = plan(scenario, environment(tmp_path), {}, None)
    fault = stage_actions(p)[0]
    assert fault["blast_radius"] == "replication from dc1 to dc2 (dc2 falls behind; RPO at risk)"
    assert fault["limit"] == "end of run" and fault["healed_by"] == "end of run"
    assert fault["max_duration_s"] == 10.0  # 3s, then a parallel stage of 4s and 7s
    assert stage_actions(p)[2].get("parallel") is True
    cleanup_heal = next(a for a in p["actions"] if a["phase"] == "cleanup" and a["kind"] == "heal")
    assert cleanup_heal["heals"] == ["down@link:dc1->dc2"]


def test_blast_radius_in_plain_words() -> None:
    assert blast_radius("latency", "app:dc2") == \
        "the application's connections to dc2 (writes and reads through its service path)"
    assert blast_radius("down", "link:dc2->dc1") == "replication from dc2 to dc1 (dc1 falls behind; RPO at risk)"
    assert blast_radius("etcd_down", "etcd") == "every client's and the controller's view of the routing key"
    assert blast_radius("timeout", "etcd") == "every client's and the controller's view of the routing key"
    assert blast_radius("crash", "dc1") == "the whole dc1 server: every client, the link in and out of it"
    assert blast_radius("hang", "dc2") == "the whole dc2 server: every client, the link in and out of it"


# ---- refusals ----------------------------------------------------------------------------------------
def test_an_unlisted_fault_is_refused_naming_the_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = environment(tmp_path, allow=[{"fault": "latency", "targets": ["app:dc1"]}])
    p = plan(PORT_CHANGE, env_file, {}, None)
    expected = ("stage dc1-port-change, step 1:fault: fault port_change on app:dc1 is not allowed in environment "
                "staging (allow: latency on app:dc1)")
    assert p["refusals"] == [expected]
    assert not p["allowed"] and p["exit_code"] == 2
    # the same wording as the run's own check
    assert p["refusals"] == safety.refusals(load_scenario(find_scenario(PORT_CHANGE)), load_environment(env_file))
    assert next(a for a in stage_actions(p) if a["kind"] == "fault")["allowed"] is False

    code, out, _ = run_cli(capsys, PORT_CHANGE, "--environment", str(env_file))
    assert code == 2
    assert expected in out
    assert "REFUSED: scenario dc1-port-change-failover may not run in environment staging" in out


def test_a_process_fault_without_its_commands_is_refused_naming_them(tmp_path: Path) -> None:
    p = plan(CRASH, environment(tmp_path), {}, None)
    where = "stage crash, step 1:fault: fault crash on dc1 needs the environment's"
    assert [r for r in p["refusals"] if r.startswith(where)] == [
        f"{where} process_faults.dc1.crash command, which staging does not give "
        "(drills never touches a process it did not start)",
        f"{where} process_faults.dc1.restart command, which staging does not give "
        "(drills never touches a process it did not start)",
    ]
    assert p["exit_code"] == 2

    # the act given, the heal not: only the missing one is named; the given command is shown
    env_file = environment(tmp_path, process_faults={"dc1": {"crash": "ssh db1 sudo systemctl kill -s KILL mariadb"}})
    p = plan(CRASH, env_file, {}, None)
    assert len(p["refusals"]) == 1 and "process_faults.dc1.restart" in p["refusals"][0]
    assert p["refusals"][0].startswith("stage crash, step 1:fault:")
    crash = next(c for c in p["process_commands"] if c["action"] == "crash")
    assert crash["command"] == "ssh db1 sudo systemctl kill -s KILL mariadb"
    assert crash["step"] == "stage crash, step 1:fault" and crash["when"] == "inject"
    fault = next(a for a in stage_actions(p) if a["kind"] == "fault")
    assert fault["blast_radius"] == "the whole dc1 server: every client, the link in and out of it"


def test_a_process_fault_with_its_commands_shows_what_would_run(tmp_path: Path) -> None:
    cmds = {"crash": "ssh db1 sudo systemctl kill -s KILL mariadb", "restart": "ssh db1 sudo systemctl start mariadb",
            "timeout": "30s"}
    p = plan(CRASH, environment(tmp_path, process_faults={"dc1": cmds}), {}, None)
    assert p["allowed"] and p["refusals"] == []
    assert [(c["step"], c["action"], c["command"], c["timeout_s"]) for c in p["process_commands"]] == [
        ("stage crash, step 1:fault", "crash", cmds["crash"], 30.0),
        ("stage restart, step 1:heal", "restart", cmds["restart"], 30.0),
    ]
    text = render_text(p)
    assert f"process_faults.dc1.crash: {cmds['crash']}" in text
    assert f"process_faults.dc1.restart: {cmds['restart']}" in text


def test_protected_needs_confirm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = environment(tmp_path, protected=True)
    p = plan(PORT_CHANGE, env_file, {}, None)
    assert p["refusals"] == ["environment staging is protected: a drill there needs --confirm staging"]
    assert p["confirm"] == {"needed": True, "given": None, "matches": False} and p["exit_code"] == 2

    p = plan(PORT_CHANGE, env_file, {}, "production")
    assert p["refusals"] == ["environment staging is protected: a drill there needs --confirm staging "
                             "(--confirm 'production' does not name it)"]

    code, out, _ = run_cli(capsys, PORT_CHANGE, "--environment", str(env_file), "--confirm", "staging")
    assert code == 0
    assert "--confirm staging: matches" in out and "ALLOWED" in out


def test_writes_none_refuses_a_workload_and_waives_its_checks(tmp_path: Path) -> None:
    p = plan(PORT_CHANGE, environment(tmp_path, writes="none"), {}, None)
    assert "workload orders writes, and environment staging allows no writes (writes: none)" in p["refusals"]
    assert p["exit_code"] == 2
    assert p["writes"]["policy"] == "none"
    assert set(p["waived"]) == {"rto", "rpo", "sequence_continuity", "split_brain", "write_availability",
                                "filter_tables"}


def test_every_refusal_is_listed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = environment(tmp_path, protected=True, writes="none", allow=[])
    code, out, _ = run_cli(capsys, CRASH, "--environment", str(env_file))
    assert code == 2
    refused = out[out.index("REFUSED"):].splitlines()[1:]
    # not allowed, two commands missing, the workload, ... — whatever the run's check says — then --confirm
    expected = safety.refusals(load_scenario(find_scenario(CRASH)), load_environment(env_file))
    assert len(expected) >= 4
    assert refused == [f"  - {r}" for r in expected] + \
        ["  - environment staging is protected: a drill there needs --confirm staging"]


# ---- output and inputs -------------------------------------------------------------------------------
def test_json_output_and_stop_conditions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = environment(tmp_path, stop_conditions=[
        {"name": "dc2-answers", "sql": {"dc": "dc2", "query": "SELECT 1", "expect": "1"}, "every": "500ms"},
        {"name": "health", "http": {"url": "https://shop.example/health", "contains": "ok"}, "failures": 3},
        {"name": "errors", "failed_writes": {"max_rate": 0.2, "window": "10s"}},
    ])
    code, out, _ = run_cli(capsys, PORT_CHANGE, "--environment", str(env_file), "--json")
    assert code == 0
    p = json.loads(out)
    assert [(s["name"], s["kind"]) for s in p["stop_conditions"]] == \
        [("dc2-answers", "sql"), ("health", "http"), ("errors", "failed_writes")]
    assert p["stop_conditions"][0]["every_s"] == 0.5
    assert "'SELECT 1' must return '1'" in p["stop_conditions"][0]["probe"]
    assert p["stop_conditions"][1]["failures"] == 3
    assert p["secrets"] == [
        {"for": "accounts.admin.password", "from": "environment variable PLAN_TEST_ADMIN_PW"},
        {"for": "accounts.app.password", "from": "environment variable PLAN_TEST_APP_PW"},
        {"for": "etcd.password", "from": "environment variable PLAN_TEST_ETCD_PW"},
    ]

    code, out, _ = run_cli(capsys, PORT_CHANGE, "--environment", str(env_file))
    assert code == 0
    order = [out.index(h) for h in ("actions, in order:", "stop conditions that would be armed:", "ALLOWED")]
    assert order == sorted(order)
    assert "dc2-answers (sql)" in out and "errors (failed_writes)" in out


def test_an_invalid_environment_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = environment(tmp_path, max_fault_durration="5m")
    code, out, err = run_cli(capsys, PORT_CHANGE, "--environment", str(env_file))
    assert code == 2 and out == ""
    assert str(env_file) in err and "max_fault_durration" in err

    code, _, err = run_cli(capsys, PORT_CHANGE, "--environment", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such environment file" in err


def test_a_scenario_secret_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAN_TEST_TOKEN", "s3cr3t-t0ken-value")
    scenario = tmp_path / "secretive.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "secretive",
        "params": {"token": {"secret": True, "env": "PLAN_TEST_TOKEN"}, "pause": {"default": "1s", "env": "PLAN_PAUSE"}},
        "stages": [{"name": "s", "steps": [{"shell": "curl -H 'X-Token: ${token}' https://x.example"},
                                           {"wait": "${pause}"}]}],
    }))
    monkeypatch.setenv("PLAN_PAUSE", "4s")  # a parameter that is not secret still comes from the environment
    p = plan(scenario, environment(tmp_path), {}, None)
    text = json.dumps(p) + render_text(p)
    assert "s3cr3t" not in text
    assert "s3cr3t-t0ken-value" not in masking._registered  # never even learnt
    assert "X-Token: <secret>" in stage_actions(p)[0]["action"]
    assert stage_actions(p)[1]["max_duration_s"] == 4.0
    assert {"for": "scenario parameter token", "from": "environment variable PLAN_TEST_TOKEN"} in p["secrets"]


def test_param_overrides_reach_the_plan(tmp_path: Path) -> None:
    scenario = tmp_path / "param.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "param", "params": {"pause": "1s"},
        "stages": [{"name": "s", "steps": [{"fault": {"type": "latency", "target": "app:dc2", "name": "slow"}},
                                           {"wait": "${pause}", "retry": 0}, {"heal": "app:dc2"}]}],
    }))
    p = plan(scenario, environment(tmp_path), {"pause": "8s"}, None)
    fault = stage_actions(p)[0]
    assert fault["until_heal_s"] == 8.0 and fault["healed_by"] == "stage s, step 3:heal"  # healed by target
