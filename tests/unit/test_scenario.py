"""Scenario files: what validates, what does not, and where the error points."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.cli import main
from drills.errors import ConfigError, UserError
from drills.scenario import json_schema, load_scenario, load_scenario_text
from drills.scenario.model import STEP_KINDS, Scenario

FULL = textwrap.dedent("""\
    name: full-drill
    description: every step kind once
    topology: {flavor: mariadb}
    workload: {kind: orders, rate: 200/s, workers: 2, sequence: {segment: 100, refetch_on_switch: false}}
    controller: {kind: reference, probe: {interval: 200ms, timeout: 200ms, failures: 3}, block_period: 30s}
    params:
      pause: 2s
      rows: 10
      db_password: {secret: true, env: DRILL_DB_PW}
    stages:
      - name: all
        steps:
          - wait: ${pause}
          - sql: {dc: dc1, statement: "SELECT ${rows}", via: service}
          - shell: echo hi
          - shell: {command: "true", timeout: 3s}
          - fault: {type: port_change, target: "app:dc1", name: dc1-port}
          - heal: dc1-port
          - switchover: {to: dc2}
          - failover: {to: dc2, force: true}
          - failback:
          - expect: {active: dc2, within: 10s}
          - gate: {name: go-live, timeout: 1m}
          - workload: stop
          - {name: lag, expect: {lag_below: 1s}, retry: 2, on_failure: continue, timeout: 5s}
    objectives:
      rto: 5s
      rpo: 0
      checks: {required: [rto, rpo], expected_to_fail: [sequence_continuity]}
""")


def load(text: str, **kw) -> Scenario:
    return load_scenario_text(textwrap.dedent(text), "s.yaml", **kw)


def error(text: str, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        load(text, **kw)
    return str(info.value)


def test_full_scenario_validates_with_every_step_kind() -> None:
    s = load_scenario_text(FULL, "full.yaml", environ={})
    kinds = [step.kind for _, _, step in s.steps()]
    assert set(kinds) == set(STEP_KINDS) - {"route", "cutover"}  # route: controller kind none; cutover: kind cutover
    assert s.stages[0].steps[0].wait == 2.0
    assert s.stages[0].steps[1].sql.statement == "SELECT 10"
    assert s.workload.rate == 200.0 and s.workload.sequence.refetch_on_switch is False
    assert s.controller.probe.interval == pytest.approx(0.2)
    assert s.objectives.rto == 5.0 and s.objectives.rpo == 0
    assert s.stages[0].steps[4].fault.model_dump(exclude_none=True) == {"type": "port_change", "target": "app:dc1", "name": "dc1-port"}
    assert s.stages[0].steps[8].failback is not None  # bare `failback:` means "with defaults"


def test_sections_absent_mean_no_workload_and_no_controller() -> None:
    s = load("name: x\nstages: [{name: a, steps: [{wait: 1}]}]\n")
    assert s.workload.kind == "none" and s.controller.kind == "none"


def test_misspelled_step_key_suggests_the_right_one() -> None:
    msg = error("""\
        name: x
        stages:
          - name: a
            steps:
              - expect: {active: dc2, whithin: 3s}
    """)
    assert msg.startswith("s.yaml:5:31: unknown key `whithin`") and "did you mean `within`?" in msg


def test_misspelled_action_key_suggests_the_action() -> None:
    msg = error("name: x\nstages:\n  - name: a\n    steps:\n      - wiat: 2s\n")
    assert "s.yaml:5:9: unknown key `wiat`" in msg and "did you mean `wait`?" in msg


def test_step_with_two_actions_is_refused_at_its_line() -> None:
    msg = error("name: x\nstages:\n  - name: a\n    steps:\n      - {wait: 1s, shell: ls}\n")
    assert msg.startswith("s.yaml:5:9:") and "exactly one action key" in msg and "found wait, shell" in msg


def test_unknown_dc_and_bad_duration_are_located() -> None:
    msg = error("name: x\nstages:\n  - name: a\n    steps:\n      - sql: {dc: dc3, statement: x}\n      - wait: soon\n")
    assert "s.yaml:5:19: stages[0].steps[0].sql.dc: Input should be 'dc1' or 'dc2'" in msg
    assert "s.yaml:6:15: stages[0].steps[1].wait: expected a duration" in msg


def test_route_steps_need_controller_none_and_switches_need_a_controller() -> None:
    assert "for `controller: {kind: none}` only" in error(
        "name: x\ncontroller: {kind: reference}\nstages: [{name: a, steps: [{route: {active: dc2}}]}]\n")
    assert "need a controller" in error("name: x\nstages: [{name: a, steps: [{failover: {}}]}]\n")


def test_external_parts_need_their_commands() -> None:
    assert "needs `command:`" in error("name: x\nworkload: {kind: external}\n")
    assert "at least one of" in error("name: x\ncontroller: {kind: external}\n")


def test_check_cannot_be_required_and_expected_to_fail() -> None:
    assert "cannot be both" in error("name: x\nobjectives: {checks: {required: [rpo], expected_to_fail: [rpo]}}\n")
    assert "Input should be 'rto'" in error("name: x\nobjectives: {checks: {required: [rtp]}}\n")


def test_unknown_param_reference_is_located_with_suggestion() -> None:
    msg = error("name: x\nparams: {pause: 1s}\nstages:\n  - name: a\n    steps:\n      - wait: ${paus}\n")
    assert msg.startswith("s.yaml:6:15: `${paus}` names no parameter; did you mean `pause`?")


def test_param_override_keeps_the_type_and_unknown_override_is_refused() -> None:
    text = "name: x\nparams: {n: 5}\nstages: [{name: a, steps: [{retry: '${n}', wait: 1}]}]\n"
    assert load(text, params={"n": "7"}).stages[0].steps[0].retry == 7
    with pytest.raises(UserError, match="no parameter `m`"):
        load(text, params={"m": "1"})


def test_secrets_come_only_from_the_environment() -> None:
    text = "name: x\nparams: {pw: {secret: true, env: PW}}\nstages: [{name: a, steps: [{shell: 'login ${pw}'}]}]\n"
    s = load(text, environ={"PW": "hunter2"}, require_secrets=True)
    assert s.secret_values == ["hunter2"]
    assert s.masked_params() == {"pw": "***"}
    assert s.stages[0].steps[0].shell == "login hunter2"
    with pytest.raises(UserError, match="needs the environment variable PW"):
        load(text, environ={}, require_secrets=True)
    with pytest.raises(UserError, match="is secret"):
        load(text, environ={"PW": "x"}, params={"pw": "y"})
    assert "must not have a default" in error("name: x\nparams: {pw: {secret: true, env: PW, default: abc}}\n")


def test_topology_path_is_relative_to_the_scenario(tmp_path: Path) -> None:
    f = tmp_path / "sub" / "s.yaml"
    f.parent.mkdir()
    f.write_text("name: x\ntopology: ../topo.yaml\n")
    assert load_scenario(f).topology == (tmp_path / "topo.yaml").resolve()


def test_json_schema_accepts_the_full_example_and_rejects_two_actions() -> None:
    import jsonschema
    import yaml

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = yaml.safe_load(FULL.replace("${pause}", "2s").replace("${rows}", "10"))
    jsonschema.validate(doc, schema)
    doc["stages"][0]["steps"][0] = {"wait": "1s", "shell": "ls"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_cli_validate_schema_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "scenarios" / "good.yaml"
    good.parent.mkdir()
    good.write_text("name: good\ndescription: a fine drill\nstages: [{name: a, steps: [{wait: 1}]}]\n")
    bad = tmp_path / "scenarios" / "bad.yaml"
    bad.write_text("name: bad\nstages: [{name: a, steps: [{wiat: 1}]}]\n")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"bad.yaml:2:29: unknown key `wiat`", err)
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "drills scenario"
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"good\s+a fine drill", out) and "bad" in out and "(invalid:" in out


# ---- property: mutated scenario files only ever fail with a located ConfigError -------------------

LOCATED = re.compile(r"^\s*\S+:\d+:\d+: ", re.MULTILINE)
TOKENS = st.sampled_from([":", "-", " ", "\n", "  ", "[", "]", "{", "}", ",", "'", '"', "#", "&a", "*a", "${", "}",
                          "wait", "sql", "dc9", "1s", "-1", "null", "~", "!!python/object", "%", "@", "\t"])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(FULL)), st.integers(0, 12), st.lists(TOKENS, max_size=5).map("".join))
def test_mutated_scenarios_fail_only_with_located_config_errors(at: int, cut: int, insert: str) -> None:
    text = FULL[:at] + insert + FULL[at + cut:]
    try:
        load_scenario_text(text, "m.yaml", environ={})
    except ConfigError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip() and not ln.endswith("problems")]
        assert lines and all(LOCATED.match(ln) for ln in lines), str(exc)


# ---- issue 18: ranges and bad input refused at validate time, at the line that holds them ------------

STEP = "name: x\ncontroller: {kind: reference}\nstages:\n  - name: a\n    steps:\n      - "


@pytest.mark.parametrize(("step", "at", "says"), [
    ("shell: ''", "''", "stages[0].steps[0].shell: a shell step needs a command to run (got '')"),
    ("shell: '   '", "'", "stages[0].steps[0].shell: a shell step needs a command to run (got '   ')"),
    ("shell: {command: ''}", "''", "stages[0].steps[0].shell.command: a shell step needs a command to run (got '')"),
    ("wait: 1.0e+300", "1.0", "stages[0].steps[0].wait: expected a duration of at most 24h (one day), got 1e+300"),
    ("wait: 25h", "25h", "expected a duration of at most 24h (one day), got '25h'"),
    ("wait: -" + "9" * 400, "-", "expected a non-negative duration, got a number of 400 digits"),
    ("expect: {active: dc2, within: 1" + "0" * 400 + "}", "1000", "expected a duration of at most 24h"),
    ("fault: {type: latency, target: 'app:dc1', latency_ms: 1.0e+20}", "1.0e+20",
     "fault 'latency': `latency_ms` must be at most 86,400,000 ms (a day), not 1e+20"),
    ("fault: {type: port_change, target: 'app:dc1', port: 99999}", "99999",
     "fault 'port_change': `port` must be at most 65,535 (the highest TCP port), not 99999"),
    ("fault: {type: replication_delay, target: dc2, seconds: 1000000000000}", "1000000000000",
     "`seconds` must be at most 86,400 s (a day; MariaDB's own limit is 2147483647)"),
])
def test_out_of_range_steps_are_refused_at_their_value(step: str, at: str, says: str) -> None:
    msg = error(STEP + step + "\n")
    col = len("      - ") + step.index(at) + 1
    assert msg.startswith(f"s.yaml:6:{col}: ") and says in msg, msg
    assert "errors.pydantic.dev" not in msg and "\n" not in msg


@pytest.mark.parametrize(("section", "says"), [
    ("workload: {kind: orders, rate: " + "9" * 500 + "}", "expected a rate above 0 and below 10,000,000/s"),
    ("workload: {kind: orders, rate: -" + "9" * 500 + "}", "expected a rate above 0"),
    ("workload: {kind: orders, rate: 20000000/s}", "expected a rate above 0 and below 10,000,000/s"),
    ("workload: {kind: orders, sequence: {segment: 4294967296}}", "less than or equal to 4294967295"),
    ("topology: {ports: {dc1: 99999}}", "topology.ports.dc1: Input should be less than or equal to 65535 (got 99999)"),
    ("topology: {routing: {retry: {delay_ms: " + "9" * 500 + "}}}", "topology.routing.retry.delay_ms"),
])
def test_out_of_range_sections_are_refused_with_one_clear_message(section: str, says: str) -> None:
    msg = error(f"name: x\n{section}\n")
    assert msg.startswith("s.yaml:2:") and says in msg and "\n" not in msg, msg


LIMITS = ("name: x\nworkload: {kind: orders, rate: 9999999/s, sequence: {segment: 4294967295}}\n"
          "topology: {ports: {dc1: 65535}, routing: {retry: {delay_ms: 86400000}}}\n"
          "controller: {kind: reference}\n"
          "stages: [{name: a, steps: [{wait: 24h}, {shell: {command: 'true', timeout: 86400}},"
          " {fault: {type: port_change, target: 'app:dc1', port: 65535}}]}]\n")


@pytest.mark.parametrize(("limit", "beyond"), [
    ("9999999/s", "9" * 500), ("4294967295", "4294967296"),
    ("86400000", "86400001"), ("wait: 24h", "wait: 86401"), ("timeout: 86400", "timeout: 86400.5"),
    ("port: 65535", "port: 65536"),
])
def test_the_limits_are_inclusive_and_one_past_is_refused(limit: str, beyond: str) -> None:
    s = load(LIMITS)
    assert s.stages[0].steps[0].wait == 86_400.0 and s.workload.sequence.segment == 4_294_967_295
    assert s.stages[0].steps[1].shell_spec.timeout == 86_400.0
    assert LIMITS.count(limit) == 1
    msg = error(LIMITS.replace(limit, beyond))
    assert re.match(r"s\.yaml:\d+:\d+: ", msg) and re.search("at most|less than|below", msg), msg


def test_every_example_scenario_loads() -> None:
    """The examples (a home-grown monitor, orchestrator) are scenarios users copy: they must
    stay valid as the schema moves, even those CI cannot run (orchestrator is built by hand)."""
    from pathlib import Path

    from drills.scenario.loader import load_scenario

    examples = sorted(p for p in (Path(__file__).resolve().parents[2] / "examples").rglob("*.yaml")
                      if p.name != "environment.yaml")  # an environment file, validated in its own test
    assert len(examples) >= 5
    for path in examples:
        scenario = load_scenario(path)
        assert scenario.controller.kind == "external" and scenario.controller.monitor, path
