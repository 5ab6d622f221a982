"""Issue 15: the strategies draw only schedules the space allows, and every one of them is a
valid scenario (the scenario loader, with the fault catalogue's checks, accepts it)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.explore.schedule import Action, normalise, render_scenario, timeline
from drills.explore.space import NumberRange, Space, load_space, load_space_text
from drills.explore.strategies import schedules
from drills.scenario.loader import load_scenario_text

REPO = Path(__file__).resolve().parents[2]
WIDE = load_space_text("""\
name: wide
faults:
  - {type: hang}
  - {type: crash, targets: [dc1, dc2]}
  - type: latency
    params: {latency_ms: {min: 0, max: 2000, step: 250}, jitter_ms: [0, 10], stream: [downstream, both]}
  - type: replication_delay
    targets: [dc2]
    params: {seconds: {min: 1, max: 5}}
  - {type: down, targets: ["app:dc1", "link:dc1->dc2"]}
  - {type: etcd_down}
switches: [switchover, failover, failback]
min_steps: 0
max_steps: 6
at: {min: 0s, max: 4s, step: 250ms}
duration: {min: 100ms, max: 3s, step: 100ms}
property: {checks: [split_brain, rpo]}
""", "wide.yaml")
SAMPLES = [load_space(p) for p in sorted((REPO / "explore").glob("*.yaml"))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([WIDE, *SAMPLES]).flatmap(lambda space: st.tuples(st.just(space), schedules(space))))
def test_every_drawn_schedule_is_a_valid_scenario(drawn) -> None:  # noqa: ANN001
    space, schedule = drawn
    assert space.min_steps <= len(schedule) <= space.max_steps
    text = render_scenario(space, schedule, name="drawn", comment="a comment\non two lines")
    scenario = load_scenario_text(text, "drawn.yaml")  # raises with file:line:col on anything invalid
    faults = [s.fault for _, _, s in scenario.steps() if s.fault is not None]
    heals = [s.heal for _, _, s in scenario.steps() if s.heal is not None]
    assert len(faults) == sum(a.kind == "fault" for a in schedule.actions)
    assert sorted(heals) == sorted(f.name for f in faults)  # every fault is healed by its own name
    if space.property_checks():
        assert set(space.property_checks()) <= set(scenario.objectives.checks.required)
    for action in schedule.actions:
        assert space.at.min <= action.at  # may start later than drawn (a busy target), never earlier
        if action.kind == "fault":
            choice = next(c for c in space.faults if c.type == action.fault["type"])
            assert action.fault["target"] in choice.target_list()
            assert space.duration.min <= action.duration <= space.duration.max
            for pname, allowed in choice.params.items():
                value = action.fault[pname]
                if isinstance(allowed, NumberRange):
                    assert allowed.min <= value <= allowed.max
                elif isinstance(allowed, list):
                    assert value in allowed
        else:
            assert action.kind in space.switches


@settings(max_examples=150, deadline=None)
@given(schedules(WIDE))
def test_no_two_faults_hold_one_target_at_once(schedule) -> None:  # noqa: ANN001
    held: dict[str, list[tuple[float, float]]] = {}
    for a in schedule.actions:
        if a.kind == "fault":
            held.setdefault(a.fault["target"], []).append((a.at, a.end))
    for spans in held.values():
        spans.sort()
        assert all(prev_end <= start + 1e-9 for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False))


def test_busy_target_is_taken_when_healed() -> None:
    first = Action("fault", 0.0, {"type": "hang", "target": "dc1"}, 2.0)
    second = Action("fault", 1.0, {"type": "crash", "target": "dc1"}, 1.0)
    other = Action("fault", 1.0, {"type": "hang", "target": "dc2"}, 1.0)
    schedule = normalise([second, other, first])
    assert [(a.fault["type"], a.fault["target"], a.at) for a in schedule.actions] == [
        ("hang", "dc1", 0.0), ("hang", "dc2", 1.0), ("crash", "dc1", 2.0)]
    steps = timeline(schedule)
    # at t=2 the hang on dc1 is healed before the crash on dc1 is injected
    kinds = [next(iter(s)) for s in steps]
    assert kinds == ["fault", "wait", "fault", "wait", "heal", "heal", "fault", "wait", "heal"]
    assert steps[4] == {"heal": "f1-hang"} and steps[6]["fault"]["type"] == "crash"


def test_timeline_waits_add_up() -> None:
    schedule = normalise([Action("fault", 0.5, {"type": "hang", "target": "dc1"}, 4.0), Action("switchover", 1.0)])
    steps = timeline(schedule)
    assert steps == [{"wait": "500ms"}, {"fault": {"type": "hang", "target": "dc1", "name": "f1-hang"}},
                     {"wait": "500ms"}, {"switchover": {}, "on_failure": "skip"}, {"wait": "3.5s"}, {"heal": "f1-hang"}]


def test_space_is_a_space() -> None:
    assert isinstance(WIDE, Space) and WIDE.at.values() == 17 and WIDE.duration.values() == 30


def test_a_fault_lasting_0s_is_healed_after_it_is_injected() -> None:
    """duration min 0s is what a shrink towards small values reaches: a crash and its restart.
    Its heal must follow its own injection (not precede it: no valid scenario), and still come
    before the next fault on the same target, injected at the same instant."""
    crash = Action("fault", 1.0, {"type": "crash", "target": "dc1"}, 0.0)
    hang = Action("fault", 1.0, {"type": "hang", "target": "dc1"}, 2.0)
    steps = timeline(normalise([crash, hang]))
    assert steps == [{"wait": "1s"}, {"fault": {"type": "crash", "target": "dc1", "name": "f1-crash"}},
                     {"heal": "f1-crash"}, {"fault": {"type": "hang", "target": "dc1", "name": "f2-hang"}},
                     {"wait": "2s"}, {"heal": "f2-hang"}]


def test_a_space_with_0s_faults_loads_and_renders() -> None:
    space = load_space_text("name: s\nfaults: [{type: crash, targets: [dc1]}]\nduration: {min: 0s, max: 2s}\n", "s.yaml")
    schedule = normalise([Action("fault", 0.0, {"type": "crash", "target": "dc1"}, 0.0)])
    load_scenario_text(render_scenario(space, schedule, name="zero"), "zero.yaml")
