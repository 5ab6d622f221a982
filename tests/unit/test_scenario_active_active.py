"""Active-active scenario settings: what goes together is accepted, the rest refused with
where and what (a ConfigError, exit 2, no traceback)."""

from __future__ import annotations

import textwrap

import pytest

from drills.errors import ConfigError
from drills.scenario.loader import load_scenario_text

AA = """
name: s
topology: {mode: active-active}
workload: {kind: unit-orders}
controller: {kind: cutover}
stages:
  - name: x
    steps:
      - cutover: {range: [0, 99], to: dc2}
"""


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario_text(textwrap.dedent(text), "s.yaml", environ={})
    return str(info.value)


def test_an_active_active_scenario_loads() -> None:
    s = load_scenario_text(AA, "s.yaml", environ={})
    step = s.stages[0].steps[0]
    assert step.kind == "cutover" and step.cutover is not None and step.cutover.range == (0, 99)


def test_cutover_step_needs_the_cutover_controller() -> None:
    assert "`cutover:` steps need `controller: {kind: cutover}`" in error(AA.replace("{kind: cutover}", "{kind: none}"))


def test_units_need_the_active_active_mode() -> None:
    msg = error(AA.replace("topology: {mode: active-active}\n", ""))
    assert "need `topology: {mode: active-active}`" in msg


def test_active_active_refuses_the_single_writer_parts() -> None:
    assert "workload: {kind: unit-orders}" in error(AA.replace("{kind: unit-orders}", "{kind: orders}"))


def test_reversed_range_is_refused_with_its_place() -> None:
    msg = error(AA.replace("[0, 99]", "[99, 0]"))
    assert "must not exceed the last" in msg and "s.yaml" in msg


def test_unknown_mode_is_refused() -> None:
    assert "mode" in error(AA.replace("active-active", "multi-master"))


def test_another_provider_is_refused_before_anything_starts() -> None:
    from drills.active_active.runner import refuse_provider
    from drills.errors import UserError

    for provider in ("local", "containers", "external"):  # established (local, containers); attached (external)
        refuse_provider(provider)
    with pytest.raises(UserError, match="runs on the providers local, containers, external"):
        refuse_provider("kubernetes")
