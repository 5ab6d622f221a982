"""The environment file: someone else's servers, described for `--environment FILE`.

A DBA's staging pair, a CI pipeline's shared environment: drills did not start them and may
only do what this file allows. It names where everything is (each server's observer address
for verification, etcd and the routing key, the Toxiproxy API with the user's own proxy names
mapped to the paths drills knows), how the link runs and which filter list it declares, and
what a drill may do there: the faults allowed (`allow`), the commands that carry out process
faults (none given: none possible), the longest a fault may stay, the stop conditions that
abort a run, whether the harness may write at all (`writes`), and whether a run must name the
environment to proceed (`protected`).

Secrets are never written in it: a password is `{env: VAR}` or `{file: PATH}`, read when the
environment is attached, registered for masking at once and never stored, printed, journaled
or reported. Validated like scenarios: every problem with file:line:column.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drills import masking
from drills.errors import ConfigError
from drills.yamlsource import Duration

PATHS = ("app:dc1", "app:dc2", "link:dc1->dc2", "link:dc2->dc1", "etcd")
AA_LINKS = ("dc1->dc2", "dc2->dc1")
PROCESS_TARGETS = ("dc1", "dc2", "etcd")
PROCESS_ACTIONS = ("crash", "hang", "resume", "restart")
# the scenario's fault type -> the commands it needs: the act, and what heals it (a crashed
# server is brought back by `restart`, a hung one by `resume`)
FAULT_COMMANDS = {"crash": ("crash", "restart"), "hang": ("hang", "resume"), "restart": ("restart",)}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Secret(_Strict):
    """Where a secret comes from: an environment variable or a file (first line), never the
    file itself."""

    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("a secret is never written in the file: give {env: VARIABLE} or {file: PATH}")
        return value

    @model_validator(mode="after")
    def _one(self) -> Secret:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of `env: VARIABLE` or `file: PATH` (a secret is never written here)")
        return self

    def read(self, environ: dict[str, str], base: Path, what: str) -> str:
        if self.env is not None:
            value = environ.get(self.env)
            if not value:
                raise ConfigError(f"{what}: environment variable {self.env} is not set")
        else:
            assert self.file is not None
            path = self.file if self.file.is_absolute() else base / self.file
            try:
                lines = path.read_text().strip().splitlines()
            except OSError as exc:
                raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
            value = lines[0].strip() if lines else ""
            if not value:
                raise ConfigError(f"{what}: {path} is empty")
        masking.register(value)
        return value


class Account(_Strict):
    user: str = Field(min_length=1, max_length=80)
    password: Secret


class Accounts(_Strict):
    admin: Account = Field(description="verification, the reference controller's promote/fence, canaries")
    app: Account = Field(description="the workload's writes, through the application's paths")
    repl: Account | None = Field(None, description="what the link uses (only needed when a controller re-points the link)")


class Address(_Strict):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Server(_Strict):
    observer: Address = Field(description="direct, never through a proxy: the harness's own reads")
    flavor: Literal["mariadb", "mysql"] = "mariadb"


class Servers(_Strict):
    dc1: Server
    dc2: Server


class EtcdTLS(_Strict):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


class Etcd(_Strict):
    endpoint: Address = Field(description="etcd's client endpoint on the observer path")
    routing_key: str = Field(min_length=1, pattern=r"^/\S*$")
    user: str | None = None
    password: Secret | None = None
    tls: EtcdTLS | None = None

    @model_validator(mode="after")
    def _auth(self) -> Etcd:
        if (self.user is None) != (self.password is None):
            raise ValueError("etcd `user` and `password` go together")
        return self


class Toxiproxy(_Strict):
    api: str = Field(pattern=r"^https?://[^/\s]+/?$", description="the Toxiproxy API in front of the servers")
    proxies: dict[str, str] = Field(description="drills path (app:dc1, app:dc2, link:dc1->dc2, link:dc2->dc1, etcd) -> your proxy's name")

    @field_validator("proxies")
    @classmethod
    def _paths(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(PATHS))
        if unknown:
            raise ValueError(f"unknown path(s) {', '.join(unknown)}; drills knows {', '.join(PATHS)}")
        for need in ("app:dc1", "app:dc2"):
            if need not in v:
                raise ValueError(f"the application's path {need} must be mapped to one of your proxies")
        for name in v.values():
            if not re.match(r"^[A-Za-z0-9_.:>-]{1,100}$", name):
                raise ValueError(f"proxy name {name!r}: letters, digits and _ . : - > only")
        return v

    def address(self) -> tuple[str, int]:
        rest = self.api.split("://", 1)[1].rstrip("/")
        host, _, port = rest.rpartition(":")
        if not host:
            return rest, 80
        return host, int(port)


class Replication(_Strict):
    source: Literal["dc1", "dc2"] = "dc1"
    replica: Literal["dc1", "dc2"] = "dc2"
    filter_list: Path = Field(description="the filter list the link declares (relative to this file)")

    @model_validator(mode="after")
    def _two(self) -> Replication:
        if self.source == self.replica:
            raise ValueError("`source` and `replica` must be different data centres")
        return self


class Allow(_Strict):
    fault: str = Field(description="a fault type from the catalogue, `cutover` (active-active: the cut-over "
                                   "controller's writes to the routing document), or * for any")
    targets: list[str] = Field(default_factory=lambda: ["*"], description="paths or servers (for `cutover`: the DC "
                                                                          "users may move to); * for any")


class ProcessCommands(_Strict):
    """Shell commands that act on a server the user runs (for example an `ssh host systemctl
    kill ...` line). Run with the same contract as an external controller's commands."""

    crash: str | None = None
    hang: str | None = None
    resume: str | None = None
    restart: str | None = None
    timeout: Duration = Field(60.0, gt=0)


class SqlProbe(_Strict):
    dc: Literal["dc1", "dc2"]
    query: str = Field(min_length=1)
    expect: str = Field(description="the first column of the first row, as text")


class HttpProbe(_Strict):
    url: str = Field(pattern=r"^https?://\S+$")
    status: int = Field(200, ge=100, le=599)
    contains: str | None = None


class FailedWrites(_Strict):
    max_rate: float = Field(gt=0, le=1, description="share of the workload's writes that failed, over `window`")
    window: Duration = Field(5.0, gt=0)
    min_attempts: int = Field(20, ge=1, description="fewer attempts in the window never trip it")


class StopCondition(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    every: Duration = Field(0.5, gt=0, description="how often it is polled")
    timeout: Duration = Field(2.0, gt=0, description="a probe that does not answer in time has failed")
    failures: int = Field(1, ge=1, description="consecutive failed polls that trip it")
    sql: SqlProbe | None = None
    http: HttpProbe | None = None
    failed_writes: FailedWrites | None = None

    @model_validator(mode="after")
    def _one(self) -> StopCondition:
        kinds = [k for k in ("sql", "http", "failed_writes") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of `sql`, `http` or `failed_writes`")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("sql", "http", "failed_writes") if getattr(self, k) is not None)


class Lock(_Strict):
    key: str | None = Field(None, pattern=r"^/\S*$", description="default /drills/locks/<name>")
    ttl: Duration = Field(10.0, ge=2, le=3600, description="a crashed run's lock expires after this")


class ActiveActiveEnv(_Strict):
    """`mode: active-active`: the environment already runs two-way replication (drills never
    makes it so: it attaches and verifies, `drills.active_active.attached`)."""

    central: Literal["dc1", "dc2"] = Field(description="the unit that alone writes the central database")
    links: list[Literal["dc1->dc2", "dc2->dc1"]] = Field(description="the links that exist: both, for two writers")

    @field_validator("links")
    @classmethod
    def _both(cls, v: list[str]) -> list[str]:
        if sorted(set(v)) != sorted(AA_LINKS) or len(v) != len(AA_LINKS):
            raise ValueError(f"active-active needs both links, each once: {', '.join(AA_LINKS)} (given: "
                             f"{', '.join(v) or 'none'}); one link is the single-writer mode")
        return v


class EnvironmentFile(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    provider: Literal["external"]
    description: str = ""
    protected: bool = Field(False, description="`drills run` needs --confirm NAME")
    app: str = Field("mall", pattern=r"^[A-Za-z0-9_.-]+$", description="the routing document's application")
    monitor: str = Field("mysql-monitor", pattern=r"^[A-Za-z0-9_.-]+$")
    servers: Servers
    accounts: Accounts
    etcd: Etcd
    toxiproxy: Toxiproxy
    replication: Replication
    mode: Literal["single-writer", "active-active"] = Field(
        "single-writer", description="active-active: both DCs write, two-way replication the environment set up itself")
    active_active: ActiveActiveEnv | None = Field(None, description="with mode active-active: the central unit, the links")
    allow: list[Allow] = Field(default_factory=list, description="faults permitted; anything else is refused")
    process_faults: dict[Literal["dc1", "dc2", "etcd"], ProcessCommands] = Field(default_factory=dict)
    max_fault_duration: Duration = Field(300.0, gt=0, description="a fault is healed when it has been active this long")
    stop_conditions: list[StopCondition] = Field(default_factory=list)
    lock: Lock = Lock()
    writes: Literal["all", "canary", "none"] = Field(
        "canary", description="canary: the harness writes only to its own schema drills_canary; all: also marker rows "
                              "in the filtered tables (deleted again, unlogged); none: nothing at all")
    retry: dict[str, int] = Field(default_factory=lambda: {"times": 3, "delay_ms": 5000},
                                  description="the routing document's retry settings the clients follow")

    source: Path | None = Field(None, exclude=True)

    @field_validator("stop_conditions")
    @classmethod
    def _unique(cls, v: list[StopCondition]) -> list[StopCondition]:
        names = [c.name for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"stop condition name(s) used twice: {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _mode(self) -> EnvironmentFile:
        if self.mode == "active-active":
            if self.active_active is None:
                raise ValueError("mode active-active: declare `active_active: {central: dc1|dc2, links: [dc1->dc2, "
                                 "dc2->dc1]}`")
            unmapped = [f"link:{link}" for link in self.active_active.links if f"link:{link}" not in self.toxiproxy.proxies]
            if unmapped:
                raise ValueError(f"mode active-active: map both link proxies in toxiproxy.proxies (missing: "
                                 f"{', '.join(unmapped)})")
        elif self.active_active is not None:
            raise ValueError("`active_active` is declared but mode is single-writer: add `mode: active-active` or "
                             "remove it")
        return self

    @property
    def base(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def lock_key(self) -> str:
        return self.lock.key or f"/drills/locks/{self.name}"

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.base / p).resolve()

    def allows(self, fault_type: str, target: str) -> bool:
        return any(a.fault in ("*", fault_type) and ("*" in a.targets or target in a.targets) for a in self.allow)

    def process_command(self, target: str, action: str) -> str | None:
        cmds = self.process_faults.get(target)  # type: ignore[call-overload]
        return getattr(cmds, action) if cmds is not None else None


def load_environment(path: str | os.PathLike[str]) -> EnvironmentFile:
    from drills.yamlsource import load_model

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such environment file")
    env = load_model(p, EnvironmentFile)
    env.source = p.resolve()
    return env


def describe_fields() -> dict[str, Any]:
    """The JSON Schema of the file (for editors and `drills schema`)."""
    return EnvironmentFile.model_json_schema()
