"""Hypothesis strategies over a `Space`: what a schedule is, in the terms Hypothesis shrinks.

Everything is drawn as an index — which fault choice, which target, which grid value of a
range — so Hypothesis' own shrinking moves towards the first fault listed, the first target,
the smallest value, the earliest time; the list of actions shrinks by dropping actions. The
space file's order is therefore also the order of preference for a minimal example.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from drills.explore.schedule import Action, Schedule, normalise
from drills.explore.space import FaultChoice, NumberRange, Space, TimeRange, param_value


def _grid(r: TimeRange) -> st.SearchStrategy[float]:
    return st.integers(0, r.values() - 1).map(r.value)


def _param(ftype: str, pname: str, choice: Any, whole: bool) -> st.SearchStrategy[Any]:
    if isinstance(choice, NumberRange):
        strategy: st.SearchStrategy[Any] = st.integers(0, choice.values() - 1).map(lambda i: choice.value(i, whole))
    elif isinstance(choice, list):
        strategy = st.sampled_from(choice)
    else:
        strategy = st.just(choice)
    return strategy.map(lambda v: param_value(ftype, pname, v))


def _fault(space: Space, choice: FaultChoice) -> st.SearchStrategy[Action]:
    from drills.faults.catalogue import FAULT_TYPES

    ftype = FAULT_TYPES[choice.type]
    params = {pname: _param(choice.type, pname, value, ftype.params[pname].kind != "fraction")
              for pname, value in choice.params.items()}
    return st.builds(
        lambda target, values, at, duration: Action(
            "fault", at, {"type": choice.type, "target": target, **values}, duration),
        st.sampled_from(choice.target_list()), st.fixed_dictionaries(params), _grid(space.at), _grid(space.duration))


def actions(space: Space) -> st.SearchStrategy[Action]:
    """One action: a fault of the space (in the order listed) or one of its switches."""
    options = [_fault(space, choice) for choice in space.faults]
    options += [_grid(space.at).map(lambda at, kind=kind: Action(kind, at)) for kind in space.switches]
    return st.one_of(options)


def schedules(space: Space) -> st.SearchStrategy[Schedule]:
    """A schedule of `min_steps`..`max_steps` actions."""
    return st.lists(actions(space), min_size=space.min_steps, max_size=space.max_steps).map(normalise)
