"""A handle on a running topology: where everything is, and how to reach it.

Made of endpoints and credentials only — whoever runs the servers (this machine's
processes, containers, someone else's environment) is the provider's business
(`drills.topology.provider`); a provider that can crash, hang and restart them hands the
handle a `process_control`, and only then are process faults possible.

Written by a provider when the topology is up (`state.json`, plus `credentials.json` kept
apart with mode 0600 so that nothing which copies or prints the state leaks a password).
Everything else in the harness reaches the servers through this handle, on one of two
paths that are never mixed: the *service* path through Toxiproxy (application, controller
probes, replication link: faults act here) and the *observer* path straight to the servers
(the harness's own verification: it reads the truth whatever faults are active).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pymysql
from pymysql.constants import CLIENT

from drills import masking
from drills.errors import EnvironmentProblem
from drills.filter_list import FilterList
from drills.filter_list import load as load_filter_list

Via = Literal["observer", "service"]
Role = Literal["admin", "app", "repl"]

DCS = ("dc1", "dc2")
LINK_PROXY = {("dc1", "dc2"): "link:dc1->dc2", ("dc2", "dc1"): "link:dc2->dc1"}


@dataclass
class ServerState:
    """One database server: where it answers on the observer path."""

    name: str
    host: str
    port: int
    server_id: int
    flavor: str = "mariadb"
    version: str = ""


@dataclass
class Endpoint:
    """etcd's client endpoint, Toxiproxy's API."""

    name: str
    host: str
    port: int


@dataclass
class ProxyState:
    name: str
    listen: str
    upstream: str


@dataclass
class Credentials:
    admin_user: str
    admin_password: str
    repl_user: str
    repl_password: str
    app_user: str
    app_password: str
    root_password: str = ""  # root@localhost (the unix socket only); "" in topologies made before it had one

    def for_role(self, role: Role) -> tuple[str, str]:
        return {
            "admin": (self.admin_user, self.admin_password),
            "app": (self.app_user, self.app_password),
            "repl": (self.repl_user, self.repl_password),
        }[role]


@dataclass
class Topology:
    state_dir: Path
    provider: str
    flavor: str
    app: str
    monitor: str
    routing_key: str
    servers: dict[str, ServerState]
    etcd: Endpoint
    toxiproxy_api: Endpoint
    proxies: dict[str, ProxyState]
    filter_list_file: str
    schema_file: str
    seed_file: str | None
    retry: dict[str, int]
    credentials: Credentials | None = None
    _filters: FilterList | None = field(default=None, repr=False)
    # crash / hang / restart of its processes, when the provider offers it (never persisted)
    process_control: Any = field(default=None, repr=False, compare=False)
    # someone else's environment (provider external): drills path -> their Toxiproxy proxy's
    # name, etcd's TLS/auth client options, and the environment file itself — rebuilt from
    # that file on every attach, never persisted (the options may hold a password)
    proxy_names: dict[str, str] = field(default_factory=dict, repr=False)
    etcd_options: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    environment: Any = field(default=None, repr=False, compare=False)

    # ---- persistence -------------------------------------------------------------------------
    @staticmethod
    def exists(state_dir: str | os.PathLike[str]) -> bool:
        """Whether a provider recorded a topology in `state_dir`."""
        return (Path(state_dir) / "state.json").exists()

    @classmethod
    def load(cls, state_dir: str | os.PathLike[str]) -> Topology:
        d = Path(state_dir)
        try:
            raw = json.loads((d / "state.json").read_text())
        except FileNotFoundError:
            raise EnvironmentProblem(f"no topology in {d} (state.json missing)", hint="start one with `drills env up`") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise EnvironmentProblem(f"{d}/state.json unreadable: {exc}") from None
        creds = None
        cpath = d / "credentials.json"
        if cpath.exists():
            creds = Credentials(**json.loads(cpath.read_text()))
            masking.register(creds.admin_password, creds.repl_password, creds.app_password, creds.root_password)
        return cls(
            state_dir=d,
            provider=raw["provider"],
            flavor=raw["flavor"],
            app=raw["app"],
            monitor=raw["monitor"],
            routing_key=raw["routing_key"],
            servers={k: ServerState(**_fields(ServerState, v)) for k, v in raw["servers"].items()},
            etcd=Endpoint(**_fields(Endpoint, raw["etcd"])),
            toxiproxy_api=Endpoint(**_fields(Endpoint, raw["toxiproxy"])),
            proxies={k: ProxyState(**v) for k, v in raw["proxies"].items()},
            filter_list_file=raw["filter_list_file"],
            schema_file=raw["schema_file"],
            seed_file=raw.get("seed_file"),
            retry=raw.get("retry", {"times": 3, "delay_ms": 5000}),
            credentials=creds,
        )

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        doc = {
            "version": 1,
            "provider": self.provider,
            "flavor": self.flavor,
            "app": self.app,
            "monitor": self.monitor,
            "routing_key": self.routing_key,
            "servers": {k: asdict(v) for k, v in self.servers.items()},
            "etcd": asdict(self.etcd),
            "toxiproxy": asdict(self.toxiproxy_api),
            "proxies": {k: asdict(v) for k, v in self.proxies.items()},
            "filter_list_file": self.filter_list_file,
            "schema_file": self.schema_file,
            "seed_file": self.seed_file,
            "retry": self.retry,
        }
        if self.environment is not None:
            doc["environment_file"] = str(self.environment.source)
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.state_dir / "state.json")
        if self.credentials is not None and self.environment is None:  # external: secrets stay where the user keeps them
            cpath = self.state_dir / "credentials.json"
            fd = os.open(cpath.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(asdict(self.credentials), fh)
            cpath.with_suffix(".tmp").replace(cpath)

    # ---- where things are -------------------------------------------------------------------------
    @property
    def declared_filters(self) -> FilterList:
        if self._filters is None:
            self._filters = load_filter_list(self.filter_list_file)
        return self._filters

    def other(self, dc: str) -> str:
        if dc not in DCS:
            raise EnvironmentProblem(f"unknown data centre {dc!r}; expected one of {', '.join(DCS)}")
        return "dc2" if dc == "dc1" else "dc1"

    def service_address(self, dc: str) -> tuple[str, int]:
        return _split(self._proxy(f"app:{dc}").listen)

    def link_proxy_name(self, source: str, replica: str) -> str:
        return LINK_PROXY[(source, replica)]

    def link_address(self, source: str, replica: str) -> tuple[str, int]:
        """Where `replica`'s IO thread connects to reach `source` (through Toxiproxy)."""
        return _split(self._proxy(self.link_proxy_name(source, replica)).listen)

    def identity_address(self, dc: str) -> tuple[str, int]:
        """The one address a controller should know `dc` by: where the other DC's replica
        reaches it (the link proxy out of `dc`), which is also what `dc` reports as its own
        (report_host/report_port). A controller that probes this address sees one consistent
        topology — the primary it probes is the source its replica names — and, like a
        controller in the other data centre, loses sight of `dc` when the link is cut."""
        if self.link_proxy_name(dc, self.other(dc)) not in self.proxies:  # someone else's link, not through a proxy
            return self.servers[dc].host, self.servers[dc].port
        return self.link_address(dc, self.other(dc))

    def source_behind(self, host: str, port: int) -> str | None:
        """The DC a replica reaches at `host:port` (the source its replica status reports):
        through a link proxy normally, or a server's own address if it was pointed there
        directly. Host and port both: two remote servers may both listen on 3306."""
        where = (_host(host), int(port))
        for name, px in self.proxies.items():
            listen_host, listen_port = _split(px.listen)
            if name.startswith("link:") and (_host(listen_host), listen_port) == where:
                return name[len("link:"):].split("->")[0]
        return next((dc for dc, s in self.servers.items() if (_host(s.host), s.port) == where), None)

    def etcd_address(self, via: Via = "observer") -> tuple[str, int]:
        if via == "service" and ("etcd" in self.proxies or self.environment is None):
            return _split(self._proxy("etcd").listen)
        return self.etcd.host, self.etcd.port

    def _proxy(self, name: str) -> ProxyState:
        try:
            return self.proxies[name]
        except KeyError:
            raise EnvironmentProblem(f"no proxy named {name!r}; known: {', '.join(sorted(self.proxies))}") from None

    def secrets(self) -> list[str]:
        c = self.credentials
        return [p for p in (c.admin_password, c.repl_password, c.app_password, c.root_password) if p] if c else []

    # ---- clients -------------------------------------------------------------------------------
    def connect(self, dc: str, *, via: Via = "observer", role: Role = "admin", database: str | None = None,
                timeout: float = 5.0, read_timeout: float | None = None, autocommit: bool = True,
                multi_statements: bool = False) -> pymysql.connections.Connection:
        """A new connection to `dc`. Observer path by default; `via="service"` goes through the
        application's proxy. Role `app` has DML rights only, so `read_only` fences it."""
        if self.credentials is None:
            raise EnvironmentProblem(f"{self.state_dir}: credentials.json missing; cannot connect to {dc}")
        host, port = (self.servers[dc].host, self.servers[dc].port) if via == "observer" else self.service_address(dc)
        user, password = self.credentials.for_role(role)
        try:
            return pymysql.connect(
                host=host, port=port, user=user, password=password, database=database,
                connect_timeout=timeout, read_timeout=read_timeout, write_timeout=read_timeout,
                autocommit=autocommit, charset="utf8mb4", client_flag=CLIENT.MULTI_STATEMENTS if multi_statements else 0,
            )
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else "?"
            raise EnvironmentProblem(f"{dc} ({via} path, {host}:{port}) unreachable: MySQL error {code}") from None

    def toxiproxy(self, timeout: float = 3.0):  # -> Toxiproxy
        from drills.toxiproxy import Toxiproxy

        return Toxiproxy(self.toxiproxy_api.host, self.toxiproxy_api.port, timeout=timeout, names=self.proxy_names or None)

    def config_center(self, via: Via = "observer", timeout: float = 2.0):  # -> ConfigCenter
        from drills.config_center import ConfigCenter

        host, port = self.etcd_address(via)
        return ConfigCenter(host, port, self.routing_key, timeout=timeout, options=self.etcd_options)

    def endpoint_env(self) -> dict[str, str]:
        """Environment handed to a user's own controller or workload commands (no secrets
        except through the dedicated variables, which never reach the journal). The
        README's "Drill your own controller" lists them: per DC `_IDENTITY_` (the address to
        manage it by), `_SERVICE_` (the application's path), plain HOST/PORT (the harness's
        observer path, which no fault touches — a controller that uses it cannot see the
        faults), the links, etcd and the routing key."""
        env = {
            "DRILLS_STATE_DIR": str(self.state_dir),
            "DRILLS_ROUTING_KEY": self.routing_key,
            "DRILLS_ETCD_ENDPOINT": "%s:%d" % self.etcd_address("observer"),
            "DRILLS_ETCD_SERVICE_ENDPOINT": "%s:%d" % self.etcd_address("service"),
            "DRILLS_TOXIPROXY_API": f"http://{self.toxiproxy_api.host}:{self.toxiproxy_api.port}",
        }
        for dc, s in self.servers.items():
            up = dc.upper()
            env[f"DRILLS_{up}_HOST"], env[f"DRILLS_{up}_PORT"] = s.host, str(s.port)
            sh, sp = self.service_address(dc)
            env[f"DRILLS_{up}_SERVICE_HOST"], env[f"DRILLS_{up}_SERVICE_PORT"] = sh, str(sp)
            ih, ip = self.identity_address(dc)
            env[f"DRILLS_{up}_IDENTITY_HOST"], env[f"DRILLS_{up}_IDENTITY_PORT"] = ih, str(ip)
        for (source, replica), name in LINK_PROXY.items():
            if name in self.proxies:
                env[f"DRILLS_LINK_{source.upper()}_TO_{replica.upper()}"] = "%s:%d" % self.link_address(source, replica)
        if self.credentials:
            env["DRILLS_ADMIN_USER"] = self.credentials.admin_user
            env["DRILLS_ADMIN_PASSWORD"] = self.credentials.admin_password
            env["DRILLS_REPL_USER"] = self.credentials.repl_user
            env["DRILLS_REPL_PASSWORD"] = self.credentials.repl_password
        return env


def _split(addr: str) -> tuple[str, int]:
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def _host(host: str) -> str:
    """One spelling per address: a replica may report `localhost` for 127.0.0.1."""
    return "127.0.0.1" if host in ("localhost", "::1") else host


def _fields(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """The keys `cls` knows (a state.json written by an older version may carry more)."""
    names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    return {k: v for k, v in raw.items() if k in names}
