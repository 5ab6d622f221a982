"""Issue 14 on the containers provider: active-active in Docker containers gives the local
provider's verdicts.

The same topology as the local provider's (host network, same addresses), each server in a
container; `establish` makes it two-way over SQL exactly as on local. The planned cut-over
passes, and the negative `aa-rules-before-catch-up` (new units before the link caught up)
fails `cutover_protocol` — on both providers, check for check; `aa-dc1-failure` kills dc1's
container through the engine, and the restarted unit takes its link again. The engine and the local images
come from the containers tests' own fixtures (dockerd started when none answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_containers_provider import engine, images  # noqa: F401 - the module's fixtures, shared

from drills.runner import run_scenario

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def aa_ctopo(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: F811
    from drills.topology import containers

    base = tmp_path_factory.mktemp("aa-containers") / "env"
    topo = containers.up(state_dir=base)
    try:
        yield topo
    finally:
        containers.down(base)


def verdicts(result: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in result["checks"]}


def provider(out: Path) -> str:
    from drills.journal import read

    return next(e["payload"]["provider"] for e in read(out / "journal.jsonl")
                if e["kind"] == "run.topology" and e["payload"].get("action") == "ready")


@pytest.mark.parametrize(("scenario", "failed"), [("aa-planned-cutover", set()),
                                                  ("aa-rules-before-catch-up", {"cutover_protocol"}),
                                                  ("aa-dc1-failure", set())])
def test_active_active_on_containers_gives_the_local_verdicts(aa_ctopo: Any, topology: Any, tmp_path: Path,
                                                             scenario: str, failed: set[str]) -> None:
    path = REPO / "scenarios" / f"{scenario}.yaml"
    on_containers = run_scenario(path, out_dir=tmp_path / "containers", state_dir=aa_ctopo.state_dir,
                                 record_history=False)
    assert provider(tmp_path / "containers") == "containers"
    if scenario == "aa-dc1-failure":  # the kill went through the engine, and dc1 rejoined
        from drills.journal import read

        journal = read(tmp_path / "containers" / "journal.jsonl")
        inject = next(e["payload"] for e in journal if e["kind"] == "fault.inject")
        assert inject["details"]["container"].endswith("-dc1")
        assert next(e["payload"] for e in journal if e["kind"] == "aa.rejoin")["running"] is True
    assert on_containers["status"] == "passed", on_containers["reasons"]
    got = verdicts(on_containers)
    assert {n for n, s in got.items() if s == "failed"} == failed, got
    assert all(s == "passed" for n, s in got.items() if n not in failed), got
    on_local = run_scenario(path, out_dir=tmp_path / "local", state_dir=topology.state_dir, record_history=False)
    assert provider(tmp_path / "local") == "local"
    assert verdicts(on_local) == got
