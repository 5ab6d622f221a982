"""Executes a scenario: stages, steps, gates, always-heal, signals, result.json, exit codes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def run_scenario(path: str | os.PathLike[str], *, out_dir: str | os.PathLike[str] | None = None,
                 params: dict[str, str] | None = None, state_dir: str | os.PathLike[str] | None = None,
                 approve: list[str] | None = None, record_history: bool = True) -> dict[str, Any]:
    """Run one drill from Python (the pytest plugin, the library test) and return result.json.

    With `state_dir` of a running topology, it is reused and reset to the scenario's baseline
    first, so many drills can share one topology; otherwise one is brought up and torn down."""
    import io

    from drills.runner.session import RunOptions, run
    from drills.topology.state import Topology

    reuse = state_dir is not None and Topology.exists(state_dir)
    opts = RunOptions(scenario=str(path), out=Path(out_dir) if out_dir else None, params=dict(params or {}),
                      state_dir=Path(state_dir) if state_dir else None, reset=reuse, approve=list(approve or []),
                      record_history=record_history, stream=io.StringIO() if os.environ.get("DRILLS_QUIET") else None,
                      tty=False)
    return run(opts).result


__all__ = ["run_scenario"]
