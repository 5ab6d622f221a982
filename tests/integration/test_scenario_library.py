"""The whole scenario library, run against the session topology (reset to each scenario's own
baseline between drills). Positive drills must pass; negative ones pass only when exactly the
checks they declare fail -- the runner enforces that, and it is re-asserted here from the
evidence so a negative drill cannot pass by judging nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.checks.rejudge import judge_run_dir
from drills.journal import verify
from drills.runner import run_scenario
from drills.scenario.loader import load_scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path, topology, tmp_path: Path) -> None:  # noqa: ANN001 - Topology
    result = run_scenario(path, out_dir=tmp_path / "run", state_dir=topology.state_dir, approve=["all"], record_history=False)
    assert result["status"] == "passed", f"{path.stem}: {result['status']}: {result.get('reasons')}"
    scenario = load_scenario(path)
    checks = {c["name"]: c for c in result["checks"]}
    for name in scenario.objectives.checks.expected_to_fail:
        assert checks[name]["status"] == "failed" and checks[name]["expected_failure"], checks[name]
        assert checks[name]["evidence"], f"{name} failed without evidence"
    for name in scenario.objectives.checks.required:
        assert checks[name]["status"] == "passed", checks[name]
    for name, check in checks.items():  # every check judged, or waived with the scenario's reason
        assert check["status"] != "unknown" or check.get("waived") == scenario.objectives.checks.not_judged[name], check
    assert verify(tmp_path / "run" / "journal.jsonl", result["journal_sha256"]).ok
    # an auditor re-judging the run from its files alone reaches exactly the same verdicts
    again = judge_run_dir(tmp_path / "run")
    assert again["differences_from_result"] == [] and again["status"] == result["status"]
