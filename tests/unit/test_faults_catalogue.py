"""The fault catalogue's validation, the inject/heal life cycle and the runner's register,
without a topology: the life cycle runs on an in-memory fault whose side effect is a flag."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drills import events
from drills.faults import (
    FAULT_TYPES,
    IMPLEMENTATIONS,
    ActiveFaults,
    Fault,
    FaultError,
    FaultSpecError,
    fault_json_schema,
    make_fault,
    validate_spec,
)
from drills.faults.catalogue import PROXY_TARGETS
from drills.journal import Journal, read, verify
from drills.topology.state import Endpoint, ProxyState, ServerState, Topology

# one valid mapping per type: the smallest a scenario could write
MINIMAL: dict[str, dict[str, Any]] = {
    "latency": {"target": "app:dc1"},
    "bandwidth": {"target": "link:dc1->dc2", "rate_kbps": 100},
    "timeout": {"target": "app:dc2"},
    "reset_peer": {"target": "etcd"},
    "slow_close": {"target": "app:dc1"},
    "down": {"target": "link:dc2->dc1"},
    "port_change": {"target": "app:dc1"},
    "crash": {"target": "dc1"},
    "hang": {"target": "etcd"},
    "restart": {"target": "dc2"},
    "replication_stop": {"target": "dc2"},
    "replication_delay": {"target": "dc2", "seconds": 5},
    "read_only": {"target": "dc1"},
    "etcd_down": {"target": "etcd"},
    "etcd_slow": {"target": "etcd", "latency_ms": 200},
}


def test_every_type_has_a_minimal_example() -> None:
    assert set(MINIMAL) == set(FAULT_TYPES)


@pytest.mark.parametrize("ftype", list(FAULT_TYPES))
def test_minimal_specs_validate_with_defaults_filled(ftype: str) -> None:
    spec = validate_spec({"type": ftype, **MINIMAL[ftype]})
    assert spec.type == ftype
    assert spec.name == f"{ftype}@{spec.target}"
    assert set(spec.params) == set(FAULT_TYPES[ftype].params)


def test_defaults_and_durations() -> None:
    spec = validate_spec({"type": "latency", "target": "app:dc1", "latency_ms": "2s", "jitter_ms": "250ms"})
    assert spec.params == {"latency_ms": 2000, "jitter_ms": 250, "stream": "downstream", "toxicity": 1.0}
    assert validate_spec({"type": "replication_delay", "target": "dc2", "seconds": "1m"}).params["seconds"] == 60
    assert validate_spec({"type": "timeout", "target": "app:dc1"}).params["timeout_ms"] == 0  # 0 = forever
    assert "needs a `target`: one of etcd" in _error({"type": "etcd_down"}).message
    assert validate_spec({"type": "down", "target": "app:dc1", "name": " cut "}).name == "cut"


def _error(spec: Any, **kwargs: Any) -> FaultSpecError:
    with pytest.raises(FaultSpecError) as info:
        validate_spec(spec, **kwargs)
    return info.value


def test_unknown_type_lists_the_known_ones_and_suggests() -> None:
    err = _error({"type": "latncy", "target": "app:dc1"})
    assert err.key == "type"
    assert "did you mean 'latency'" in err.message
    assert all(t in err.message for t in FAULT_TYPES)
    assert "known:" in _error({"type": 3, "target": "dc1"}).message


def test_missing_type_and_target() -> None:
    assert "without `type`" in _error({"target": "dc1"}).message
    err = _error({"type": "crash"})
    assert "needs a `target`" in err.message and "dc1, dc2, etcd" in err.message


def test_wrong_target_for_the_family_suggests_the_right_one() -> None:
    err = _error({"type": "latency", "target": "dc1"})
    assert err.key == "target" and "app:dc1" in err.message and "network faults target" in err.message
    err = _error({"type": "crash", "target": "app:dc2"})
    assert "did you mean 'dc2'" in err.message and "component" in err.message
    assert "did you mean 'link:dc1->dc2'" in _error({"type": "down", "target": "link:dc1-dc2"}).message
    err = _error({"type": "replication_stop", "target": "etcd"})
    assert err.hint and "replica" in err.hint
    assert _error({"type": "read_only", "target": ["dc1"]}).key == "target"


def test_unknown_parameter_suggests_and_lists_what_the_type_takes() -> None:
    err = _error({"type": "latency", "target": "app:dc1", "latency": 100})
    assert err.key == "latency"
    assert "did you mean 'latency_ms'" in err.message and "jitter_ms" in err.message
    assert _error({"type": "crash", "target": "dc1", "latency_ms": 5}).key == "latency_ms"  # not a crash parameter


@pytest.mark.parametrize(("param", "value", "expected"), [
    ("latency_ms", -5, "at least 0"),
    ("latency_ms", True, "whole number of milliseconds"),
    ("latency_ms", "fast", "duration such as 250ms"),
    ("latency_ms", [1], "duration"),
    ("stream", "bth", "did you mean 'both'"),
    ("toxicity", 1.5, "from 0 to 1"),
    ("toxicity", "all", "from 0 to 1"),
])
def test_bad_parameter_values_name_what_was_expected(param: str, value: Any, expected: str) -> None:
    err = _error({"type": "latency", "target": "app:dc1", param: value})
    assert err.key == param and expected in err.message


def test_required_and_integer_parameters() -> None:
    assert "`seconds` is required" in _error({"type": "replication_delay", "target": "dc2"}).message
    assert "at least 1" in _error({"type": "replication_delay", "target": "dc2", "seconds": 0}).message
    assert "whole number of seconds" in _error({"type": "replication_delay", "target": "dc2", "seconds": "1.5s"}).message
    assert "`rate_kbps` is required" in _error({"type": "bandwidth", "target": "app:dc1"}).message
    assert "whole number" in _error({"type": "bandwidth", "target": "app:dc1", "rate_kbps": 1.5}).message
    assert "one of both, io, sql" in _error({"type": "replication_stop", "target": "dc2", "thread": "relay"}).message


# Upper bounds (issue 18 item 7): what the real components accept, cut to a drill's horizon of a
# day. Toxiproxy v2.12 reads every time as int64 ms (1e20 is an HTTP 400); MariaDB refuses a
# MASTER_DELAY above 2**31-1 s (error 1729); a TCP port is at most 65535.
DAY_MS = 86_400_000


@pytest.mark.parametrize(("ftype", "param", "limit", "parsed", "beyond", "expected"), [
    ("latency", "latency_ms", "1440m", DAY_MS, 1.0e20, "`latency_ms` must be at most 86,400,000 ms (a day), not 1e+20"),
    ("latency", "latency_ms", DAY_MS, DAY_MS, 10**20, "must be at most 86,400,000 ms"),
    ("latency", "latency_ms", "86400s", DAY_MS, "1441m", "must be at most 86,400,000 ms"),
    ("latency", "latency_ms", 0, 0, "9" * 500 + "s", "must be at most 86,400,000 ms"),  # inf, not OverflowError
    ("latency", "latency_ms", 0.0, 0, float("inf"), "must be at most 86,400,000 ms"),
    ("latency", "jitter_ms", DAY_MS, DAY_MS, DAY_MS + 1, "`jitter_ms` must be at most"),
    ("etcd_slow", "latency_ms", 1, 1, 10**400, "not a number of 401 digits"),
    ("timeout", "timeout_ms", DAY_MS, DAY_MS, 10**13, "`timeout_ms` must be at most"),
    ("reset_peer", "timeout_ms", DAY_MS, DAY_MS, DAY_MS + 1, "`timeout_ms` must be at most"),
    ("slow_close", "delay_ms", "1440m", DAY_MS, "1441m", "`delay_ms` must be at most"),
    ("bandwidth", "rate_kbps", 10_000_000, 10_000_000, 10**17, "`rate_kbps` must be at most 10,000,000"),
    ("port_change", "port", 65535, 65535, 99999, "`port` must be at most 65,535 (the highest TCP port), not 99999"),
    ("port_change", "port", 0, 0, 65536, "`port` must be at most 65,535"),
    ("replication_delay", "seconds", "1440m", 86_400, 10**12,
     "`seconds` must be at most 86,400 s (a day; MariaDB's own limit is 2147483647)"),
    ("replication_delay", "seconds", 86_400, 86_400, 2**31, "must be at most 86,400 s"),
])
def test_parameters_are_accepted_up_to_the_limit_and_refused_beyond(
    ftype: str, param: str, limit: Any, parsed: int, beyond: Any, expected: str,
) -> None:
    assert validate_spec({"type": ftype, **MINIMAL[ftype], param: limit}).params[param] == parsed
    err = _error({"type": ftype, **MINIMAL[ftype], param: beyond})
    assert err.key == param and expected in err.message


def test_json_schema_states_the_upper_bounds() -> None:
    branches = {b["properties"]["type"]["const"]: b["properties"] for b in fault_json_schema()["oneOf"]}
    assert branches["port_change"]["port"]["maximum"] == 65535
    assert branches["latency"]["latency_ms"]["anyOf"][0]["maximum"] == 86_400_000
    assert branches["replication_delay"]["seconds"]["anyOf"][0]["maximum"] == 86_400
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "port_change", "target": "app:dc1", "port": 99999}, fault_json_schema())


def test_mapping_and_name_shape() -> None:
    assert "must be a mapping" in _error("latency app:dc1").message
    assert "must be a mapping" in _error(None).message
    assert _error({"type": "down", "target": "app:dc1", "name": ""}).key == "name"
    assert "keys must be strings" in _error({"type": "down", "target": "app:dc1", 1: 2}).message


def test_the_running_topologys_proxies_replace_the_standard_paths() -> None:
    assert validate_spec({"type": "down", "target": "app:dc3"}, proxies=[*PROXY_TARGETS, "app:dc3"]).target == "app:dc3"
    assert "app:dc3" in _error({"type": "down", "target": "app:dc1"}, proxies=["app:dc3"]).message
    # components are not proxies: process faults keep their own targets
    assert validate_spec({"type": "crash", "target": "dc1"}, proxies=["app:dc3"]).target == "dc1"


_KEYS = ["type", "target", "name", *sorted({p for t in FAULT_TYPES.values() for p in t.params}), "latncy", "speed"]
_VALUES = st.one_of(
    st.sampled_from([*FAULT_TYPES, *PROXY_TARGETS, "dc1", "dc2", "io", "both", "downstream", "2s", "250ms", "-1s", ""]),
    st.integers(-10, 10**6), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6), _VALUES))
def test_any_mapping_validates_or_raises_a_spec_error(spec: Any) -> None:
    try:
        out = validate_spec(spec)
    except FaultSpecError as exc:
        assert exc.message and (exc.key is None or exc.key in spec)
        return
    ftype = FAULT_TYPES[out.type]
    assert out.target in ftype.targets and set(out.params) == set(ftype.params)


def test_json_schema_accepts_the_examples_and_rejects_an_unknown_key() -> None:
    schema = fault_json_schema()
    for ftype, extra in MINIMAL.items():
        jsonschema.validate({"type": ftype, **extra}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "latency", "target": "app:dc1", "latency": 5}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "crash", "target": "app:dc1"}, schema)


# ---- the life cycle, on an in-memory fault -----------------------------------------------------------

class FlagFault(Fault):
    """A fault whose only side effect is `self.world[target] = True`; its failures are scripted."""

    def __init__(self, spec: dict[str, Any], journal: Journal | None, world: dict[str, Any], **script: Any):
        super().__init__(validate_spec(spec), None, journal)  # type: ignore[arg-type]
        self.world, self.script = world, script
        self.heal_calls = 0

    def _inject(self) -> None:
        if self.script.get("fail_before_effect"):
            raise OSError("refused before doing anything")
        self._touch()
        self.world[self.target] = True
        self.details = {"flag": self.target}
        if self.script.get("fail_after_effect"):
            raise OSError("failed half-way")

    def _heal(self) -> dict[str, Any] | None:
        self.heal_calls += 1
        if self.script.get("heal_fails"):
            raise OSError("cannot heal")
        self.world[self.target] = False
        return None


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


def _kinds(journal: Journal) -> list[tuple[str, dict[str, Any]]]:
    return [(e["kind"], e["payload"]) for e in read(journal.path)]


def test_inject_then_heal_journals_both_and_heal_is_idempotent(journal: Journal) -> None:
    world: dict[str, Any] = {}
    fault = FlagFault({"type": "down", "target": "app:dc1"}, journal, world)
    fault.inject()
    assert fault.active and world["app:dc1"] is True
    with pytest.raises(FaultError, match="already active"):
        fault.inject()
    assert fault.heal(by="step") is True
    assert fault.heal(by="runner") is False and fault.heal() is False
    assert not fault.active and world["app:dc1"] is False and fault.heal_calls == 1
    assert _kinds(journal) == [
        (events.FAULT_INJECT, {"name": "down@app:dc1", "type": "down", "target": "app:dc1", "params": {},
                               "details": {"flag": "app:dc1"}}),
        (events.FAULT_HEAL, {"name": "down@app:dc1", "type": "down", "target": "app:dc1", "by": "step", "ok": True}),
    ]
    assert verify(journal.path).ok


def test_heal_rejects_an_unknown_caller(journal: Journal) -> None:
    fault = FlagFault({"type": "down", "target": "app:dc1"}, journal, {})
    with pytest.raises(ValueError, match="step"):
        fault.heal(by="someone")


def test_a_failed_heal_is_journaled_raised_and_leaves_the_fault_active(journal: Journal) -> None:
    fault = FlagFault({"type": "crash", "target": "dc2"}, journal, {}, heal_fails=True)
    fault.inject()
    with pytest.raises(FaultError, match="healing fault 'crash@dc2' failed: OSError: cannot heal"):
        fault.heal()
    assert fault.active
    kind, payload = _kinds(journal)[-1]
    assert kind == events.FAULT_HEAL and payload["ok"] is False and "cannot heal" in payload["error"]
    fault.script["heal_fails"] = False
    assert fault.heal() is True and not fault.active


def test_an_inject_refused_before_any_effect_leaves_nothing(journal: Journal) -> None:
    world: dict[str, Any] = {}
    fault = FlagFault({"type": "read_only", "target": "dc1"}, journal, world, fail_before_effect=True)
    with pytest.raises(FaultError, match="refused before doing anything"):
        fault.inject()
    assert not fault.active and world == {} and fault.heal_calls == 0 and _kinds(journal) == []


def test_an_inject_failing_half_way_is_rolled_back(journal: Journal) -> None:
    world: dict[str, Any] = {}
    fault = FlagFault({"type": "read_only", "target": "dc1"}, journal, world, fail_after_effect=True)
    with pytest.raises(FaultError, match="half-way"):
        fault.inject()
    assert not fault.active and world["dc1"] is False and fault.heal_calls == 1
    assert _kinds(journal) == []  # nothing took effect, nothing to report as injected


def test_an_inject_whose_rollback_fails_stays_active_for_the_final_heal(journal: Journal) -> None:
    fault = FlagFault({"type": "read_only", "target": "dc1"}, journal, {}, fail_after_effect=True, heal_fails=True)
    with pytest.raises(FaultError, match="undoing it failed too"):
        fault.inject()
    assert fault.active


# ---- the register ---------------------------------------------------------------------------------------

def test_register_refuses_two_active_faults_with_one_name(journal: Journal) -> None:
    faults = ActiveFaults()
    faults.inject(FlagFault({"type": "down", "target": "app:dc1"}, journal, {}))
    with pytest.raises(FaultError, match="already active"):
        faults.inject(FlagFault({"type": "down", "target": "app:dc1"}, journal, {}))
    renamed = faults.inject(FlagFault({"type": "down", "target": "app:dc1", "name": "second"}, journal, {}))
    assert [f.name for f in faults.active()] == ["down@app:dc1", "second"] and faults.get("second") is renamed
    faults.heal("down@app:dc1")
    faults.inject(FlagFault({"type": "down", "target": "app:dc1"}, journal, {}))  # the name is free again
    assert len(faults) == 2


def test_heal_by_name_or_target_newest_first_and_already_healed_is_quiet(journal: Journal) -> None:
    world: dict[str, Any] = {}
    faults = ActiveFaults()
    a = faults.inject(FlagFault({"type": "latency", "target": "app:dc1", "name": "a"}, journal, world))
    b = faults.inject(FlagFault({"type": "down", "target": "app:dc1", "name": "b"}, journal, world))
    c = faults.inject(FlagFault({"type": "crash", "target": "dc2", "name": "c"}, journal, world))
    assert faults.heal("c") == [c]
    assert faults.heal("c") == []  # already healed: no error
    assert faults.heal("app:dc1") == [b, a]  # by target, newest first
    assert faults.active() == []
    heals = [p["name"] for k, p in _kinds(journal) if k == events.FAULT_HEAL]
    assert heals == ["c", "b", "a"]


def test_heal_of_an_unknown_name_says_what_exists(journal: Journal) -> None:
    faults = ActiveFaults()
    with pytest.raises(FaultSpecError, match="injected so far: none yet"):
        faults.heal("link")
    faults.inject(FlagFault({"type": "down", "target": "link:dc1->dc2", "name": "link-cut"}, journal, {}))
    with pytest.raises(FaultSpecError, match="did you mean 'link-cut'"):
        faults.heal("link-cit")


def test_heal_all_continues_past_a_failure_and_reports_it(journal: Journal) -> None:
    faults = ActiveFaults()
    ok1 = faults.inject(FlagFault({"type": "down", "target": "app:dc1"}, journal, {}))
    bad = faults.inject(FlagFault({"type": "crash", "target": "dc2"}, journal, {}, heal_fails=True))
    ok2 = faults.inject(FlagFault({"type": "hang", "target": "etcd"}, journal, {}))
    report = faults.heal_all()
    assert not report.ok
    assert report.healed == [ok2.name, ok1.name] and list(report.failed) == [bad.name]
    assert "cannot heal" in report.failed[bad.name] and bad.name in report.summary()
    assert faults.active() == [bad]
    heals = [p for k, p in _kinds(journal) if k == events.FAULT_HEAL]
    assert [(h["name"], h["ok"], h["by"]) for h in heals] == [
        (ok2.name, True, "runner"), (bad.name, False, "runner"), (ok1.name, True, "runner")]
    with pytest.raises(FaultError, match="cannot heal"):
        faults.heal(bad.name)


def test_concurrent_heals_heal_each_fault_exactly_once(journal: Journal) -> None:
    faults = ActiveFaults()
    injected = [faults.inject(FlagFault({"type": "down", "target": "app:dc1", "name": f"f{i}"}, journal, {}))
                for i in range(20)]
    barrier = threading.Barrier(4)

    def heal_everything() -> None:
        barrier.wait()
        faults.heal_all()
        for f in injected:
            faults.heal(f.name)

    threads = [threading.Thread(target=heal_everything) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(f.heal_calls == 1 for f in injected) and faults.active() == []
    assert sum(1 for k, _ in _kinds(journal) if k == events.FAULT_HEAL) == 20
    assert verify(journal.path).ok


# ---- binding to a topology (a handle only: nothing is started or reached) ----------------------------------

def _handle(tmp_path: Path, provider: str = "local") -> Topology:
    proxies = {name: ProxyState(name, f"127.0.0.1:{20000 + i}", "127.0.0.1:1") for i, name in enumerate(PROXY_TARGETS)}
    servers = {dc: ServerState(dc, "127.0.0.1", 3306 + i, i + 1) for i, dc in enumerate(("dc1", "dc2"))}
    return Topology(state_dir=tmp_path, provider=provider, flavor="mariadb", app="shop", monitor="m",
                    routing_key="/drills/shop/m/router", servers=servers,
                    etcd=Endpoint("etcd", "127.0.0.1", 2379), toxiproxy_api=Endpoint("toxiproxy", "127.0.0.1", 8474),
                    proxies=proxies, filter_list_file="", schema_file="", seed_file=None, retry={})


@pytest.mark.parametrize("ftype", list(FAULT_TYPES))
def test_make_fault_binds_every_type(ftype: str, tmp_path: Path) -> None:
    fault = make_fault({"type": ftype, **MINIMAL[ftype]}, _handle(tmp_path), None)
    assert isinstance(fault, IMPLEMENTATIONS[ftype]) and not fault.active
    assert (fault.name, fault.type, fault.target) == (f"{ftype}@{fault.target}", ftype, MINIMAL[ftype]["target"])


def test_make_fault_checks_paths_against_the_running_topology(tmp_path: Path) -> None:
    topo = _handle(tmp_path)
    del topo.proxies["link:dc2->dc1"]
    with pytest.raises(FaultSpecError, match="cannot target 'link:dc2->dc1'"):
        make_fault({"type": "down", "target": "link:dc2->dc1"}, topo, None)


def test_process_faults_refuse_a_topology_without_process_control(tmp_path: Path, journal: Journal) -> None:
    """A handle whose provider gave it no process control (someone else's servers)."""
    fault = make_fault({"type": "crash", "target": "dc1"}, _handle(tmp_path, provider="external"), journal)
    with pytest.raises(FaultError, match="crash needs process control, which the external provider does not offer"):
        fault.inject()
    assert not fault.active and _kinds(journal) == []


def test_a_scenario_whose_faults_need_a_missing_capability_is_refused_before_anything_starts() -> None:
    from drills.errors import UserError
    from drills.runner.session import refuse_missing_capabilities
    from drills.scenario import load_scenario_text
    from drills.topology.provider import PROCESS_CONTROL

    class ServiceOnly:
        name = "someone-else's"
        capabilities = frozenset()

    class Local:
        name = "local"
        capabilities = frozenset({PROCESS_CONTROL})

    scenario = load_scenario_text("name: x\nstages: [{name: s, steps: [{fault: {type: hang, target: dc1}}, "
                                  "{fault: {type: latency, target: 'app:dc1', latency_ms: 5}}]}]\n", "x.yaml")
    with pytest.raises(UserError, match=r"stage s, step 1:fault: fault hang needs process_control .* someone-else's "
                                        r"provider does not offer"):
        refuse_missing_capabilities(scenario, ServiceOnly())
    refuse_missing_capabilities(scenario, Local())  # nothing missing: no error


def test_a_closed_register_refuses_new_faults_and_undoes_one_that_lands_during_the_close(journal: Journal) -> None:
    """A stop condition trips while a step is injecting: the fault in flight must not survive
    the heal that the trip does (it was not active yet when that heal looked)."""
    world: dict[str, Any] = {}
    faults = ActiveFaults()

    class Slow(FlagFault):
        def _inject(self) -> None:
            faults.close("stop condition health tripped", by="stop_condition")  # the trip, mid-inject
            super()._inject()

    with pytest.raises(FaultError, match="healed as soon as it landed: stop condition health tripped"):
        faults.inject(Slow({"type": "down", "target": "app:dc1", "name": "in-flight"}, journal, world))
    assert world == {"app:dc1": False} and faults.active() == []
    heal = [p for k, p in _kinds(journal) if k == events.FAULT_HEAL]
    assert heal and heal[0]["by"] == "stop_condition"
    with pytest.raises(FaultError, match="not injected: stop condition health tripped"):
        faults.inject(FlagFault({"type": "down", "target": "app:dc2"}, journal, world))
    assert "app:dc2" not in world
