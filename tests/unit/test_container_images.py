"""Issue 12: which images a containers topology uses — the topology file's choice, else the
environment variable, else the official image — and the topology file's validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.errors import ConfigError
from drills.topology import images
from drills.topology.spec import load_spec


def test_the_topology_file_overrides_the_environment_which_overrides_the_official_image() -> None:
    assert images.resolve("mariadb", environ={}) == images.Images("mariadb:10.11", images.OFFICIAL["etcd"],
                                                                   images.OFFICIAL["toxiproxy"])
    env = images.local_environment()
    assert images.resolve("mariadb", environ=env) == images.Images(*(images.LOCAL[k] for k in ("mariadb", "etcd", "toxiproxy")))
    mine = images.resolve("mariadb", {"mariadb": "registry.example/team/mariadb:10.11.9"}, environ=env)
    assert mine.server == "registry.example/team/mariadb:10.11.9" and mine.etcd == images.LOCAL["etcd"]
    assert images.resolve("mysql", environ={}).server == "mysql:8.4"


def test_a_topology_file_picks_the_provider_and_its_images(tmp_path: Path) -> None:
    f = tmp_path / "topology.yaml"
    f.write_text("provider: containers\ncontainers:\n  images: {mariadb: team/mariadb:10.11}\n")
    spec = load_spec(f)
    assert spec.provider == "containers" and spec.containers.images == {"mariadb": "team/mariadb:10.11"}
    f.write_text("provider: containers\ncontainers:\n  images: {postgres: postgres:16}\n")
    with pytest.raises(ConfigError, match=":3:"):
        load_spec(f)
    f.write_text("provider: kubernetes\n")
    with pytest.raises(ConfigError, match="provider"):
        load_spec(f)
