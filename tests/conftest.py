"""Shared fixtures. Integration tests run against one real topology per session (MariaDB x2,
etcd, Toxiproxy as processes on 127.0.0.1), reset to its baseline before each test that
asks for `clean_topology`, and always torn down at the end of the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def drills_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep the session's registry of state dirs out of the user's home."""
    home = tmp_path_factory.mktemp("drills-home")
    os.environ["DRILLS_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory, drills_home: Path) -> Iterator:
    from drills.topology import local

    state = tmp_path_factory.mktemp("topology") / "env"
    topo = local.up(state_dir=state)
    try:
        yield topo
    finally:
        local.down(state)


@pytest.fixture
def clean_topology(topology):  # noqa: ANN001 - Topology
    """The session topology reset to the baseline of `env up` (default fixtures, whatever a
    previous test or drill switched to), as a fresh handle."""
    from drills.topology import local
    from drills.topology.spec import TopologySpec

    spec = TopologySpec()
    local.reset(topology, filter_list=spec.filter_list, schema=spec.schema_file, seed=spec.seed)
    return local.attach(topology.state_dir)


@pytest.fixture
def litemall_dir() -> Path:
    d = SHARED / "realdata" / "litemall"
    if not d.is_dir():
        pytest.skip(f"litemall fixture not found at {d}")
    return d


@pytest.fixture(scope="session", autouse=True)
def _history_out_of_the_repo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Drills run by tests record their history in a temporary database, not reports/."""
    os.environ.setdefault("DRILLS_HISTORY_DB", str(tmp_path_factory.mktemp("history") / "history.sqlite"))
