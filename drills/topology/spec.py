"""The topology file: what `drills env up --topology FILE` may change. Defaults need no file.

Relative paths in a topology file are relative to that file; the defaults point at the
reference fixtures shipped in the repository's `fixtures/` folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "fixtures"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Ports(_Strict):
    """0 = pick a free port. A fixed port that is taken is an error naming the port.
    TCP ports are 16-bit: 1..65535 (and 0 for "any"), refused outside that at validate time."""

    dc1: int = Field(0, ge=0, le=65535)
    dc2: int = Field(0, ge=0, le=65535)
    etcd: int = Field(0, ge=0, le=65535)
    etcd_peer: int = Field(0, ge=0, le=65535)
    toxiproxy: int = Field(0, ge=0, le=65535, description="Toxiproxy REST API")
    app_dc1: int = Field(0, ge=0, le=65535, description="proxy app:dc1")
    app_dc2: int = Field(0, ge=0, le=65535, description="proxy app:dc2")
    link_dc1_dc2: int = Field(0, ge=0, le=65535, description="proxy link:dc1->dc2")
    link_dc2_dc1: int = Field(0, ge=0, le=65535, description="proxy link:dc2->dc1")
    etcd_proxy: int = Field(0, ge=0, le=65535, description="proxy etcd")


class Retry(_Strict):
    """The data-source SDK's re-route retries. Bounded so that a typo cannot make the
    application wait for ever (and `time.sleep` cannot be handed a 500-digit number)."""

    times: int = Field(3, ge=0, le=1000)
    delay_ms: int = Field(5000, ge=0, le=86_400_000, description="at most a day")


class Routing(_Strict):
    retry: Retry = Retry()


class ServerTuning(_Strict):
    innodb_buffer_pool_size: str = "64M"
    extra_args: list[str] = Field(default_factory=list, description="extra mariadbd/mysqld options")


class Containers(_Strict):
    """provider containers: the images (defaults: the official ones; DRILLS_IMAGE_* override
    them; `drills images build` makes local ones where no registry can be reached)."""

    images: dict[Literal["mariadb", "mysql", "etcd", "toxiproxy"], str] = Field(default_factory=dict)


class ActiveActive(_Strict):
    """`mode: active-active` (drills.active_active): both DCs take writes for the users their
    unit owns; unit databases replicate both ways; `central` alone writes the global data
    (database `central`), which replicates one way from it."""

    central: Literal["dc1", "dc2"] = "dc1"
    filter_links: list[Literal["dc1->dc2", "dc2->dc1"]] = Field(
        default_factory=lambda: ["dc1->dc2", "dc2->dc1"],
        description="links the filter list is applied on (both, always; one only is the negative case)")
    users: int = Field(10000, ge=2, le=1_000_000_000, description="user ids 0..users-1, split in two units at the middle")


class TopologySpec(_Strict):
    provider: Literal["local", "containers"] = Field("local", description="who runs the topology (drills.topology.provider)")
    containers: Containers = Containers()
    app: str = Field("mall", pattern=r"^[A-Za-z0-9_.-]+$")
    monitor: str = Field("mysql-monitor", pattern=r"^[A-Za-z0-9_.-]+$")
    flavor: Literal["mariadb", "mysql"] = "mariadb"
    schema_file: Path = Field(FIXTURES / "schema.sql", alias="schema")
    seed: Path | None = FIXTURES / "seed.sql"
    filter_list: Path = FIXTURES / "filter_list.yaml"
    ports: Ports = Ports()
    routing: Routing = Routing()
    server: ServerTuning = ServerTuning()
    mode: Literal["single-writer", "active-active"] = Field("single-writer", description="one writer (default) or units")
    active_active: ActiveActive = ActiveActive()

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def resolved(self, base: Path) -> TopologySpec:
        """Paths relative to the topology file's folder."""
        def fix(p: Path | None) -> Path | None:
            return None if p is None else (p if p.is_absolute() else (base / p).resolve())

        return self.model_copy(update={"schema_file": fix(self.schema_file), "seed": fix(self.seed), "filter_list": fix(self.filter_list)})


def load_spec(path: str | Path | None) -> TopologySpec:
    if path is None:
        return TopologySpec()
    from drills.yamlsource import load_model

    p = Path(path)
    spec = load_model(p, TopologySpec)
    return spec.resolved(p.resolve().parent)
