"""Someone else's environment: `provider: external`, from an environment file.

Attaching never starts, stops or reconfigures anything: the handle is built from the file
(addresses, the user's own proxy names, secrets read from where the file says) and from
what the Toxiproxy API reports about the mapped proxies. `up` is an attach that checks the
parts answer; `down` forgets the handle and stops nothing; `reset` is refused — a baseline
that drops databases is for topologies drills made. Process faults go through the commands
the file gives, and only those (`CommandProcessControl`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills import masking
from drills.errors import EnvironmentProblem, UserError
from drills.topology import local
from drills.topology.environment import FAULT_COMMANDS, EnvironmentFile, load_environment
from drills.topology.processes import run_command
from drills.topology.provider import PROCESS_CONTROL
from drills.topology.spec import TopologySpec
from drills.topology.state import Credentials, Endpoint, ProxyState, ServerState, Topology

NAME = "external"


class ExternalProvider:
    name = NAME

    def __init__(self, env: EnvironmentFile, environ: dict[str, str] | None = None):
        self.env = env
        self.environ = dict(os.environ) if environ is None else environ
        self.capabilities = frozenset({PROCESS_CONTROL}) if env.process_faults else frozenset()

    def state_root(self) -> Path:
        return local.state_root() / "external"

    def state_dir(self) -> Path:
        return self.state_root() / self.env.name

    def up(self, spec: TopologySpec | None, state_dir: Path, say: Callable[[str], None]) -> Topology:
        """Attach and check that every part answers; start nothing."""
        topo = self.topology(state_dir)
        say(f"attached to environment {self.env.name} (nothing started: drills does not own it)")
        problems = reachability(topo)
        if problems:
            raise EnvironmentProblem(f"environment {self.env.name}: " + "; ".join(problems),
                                     hint=f"run `drills env check --environment {self.env.source}`")
        topo.save()
        return topo

    def attach(self, state_dir: Path) -> Topology:
        return self.topology(state_dir)

    def reset(self, topo: Topology, spec: TopologySpec | None = None) -> None:
        raise UserError(f"environment {self.env.name} is not drills' to reset (a baseline drops its databases); "
                        "put it in the state a drill should start from yourself")

    def down(self, state_dir: Path | None, *, keep: bool = False) -> dict[str, Any]:
        """Forget the handle; stop nothing (nothing here is ours)."""
        target = state_dir or self.state_dir()
        removed = False
        if not keep and (target / "state.json").exists():
            shutil.rmtree(target, ignore_errors=True)
            removed = True
        return {"state_dir": str(target), "stopped": [], "killed": [], "removed": removed}

    # ---- the handle -------------------------------------------------------------------------------
    def topology(self, state_dir: Path | None = None) -> Topology:
        env = self.env
        what = f"environment {env.name}"
        creds = Credentials(
            admin_user=env.accounts.admin.user,
            admin_password=env.accounts.admin.password.read(self.environ, env.base, f"{what}: accounts.admin.password"),
            repl_user=(env.accounts.repl or env.accounts.admin).user,
            repl_password=(env.accounts.repl or env.accounts.admin).password.read(
                self.environ, env.base, f"{what}: accounts.repl.password"),
            app_user=env.accounts.app.user,
            app_password=env.accounts.app.password.read(self.environ, env.base, f"{what}: accounts.app.password"),
        )
        options: dict[str, Any] = {}
        if env.etcd.user is not None and env.etcd.password is not None:
            options["user"] = env.etcd.user
            options["password"] = env.etcd.password.read(self.environ, env.base, f"{what}: etcd.password")
        if env.etcd.tls is not None:
            options["ca_cert"] = str(env.path(env.etcd.tls.ca_file))
            if env.etcd.tls.cert_file is not None:
                options["cert_cert"] = str(env.path(env.etcd.tls.cert_file))
            if env.etcd.tls.key_file is not None:
                options["cert_key"] = str(env.path(env.etcd.tls.key_file))
        host, port = env.toxiproxy.address()
        topo = Topology(
            state_dir=Path(state_dir) if state_dir is not None else self.state_dir(),
            provider=NAME,
            flavor=env.servers.dc1.flavor,
            app=env.app,
            monitor=env.monitor,
            routing_key=env.etcd.routing_key,
            servers={dc: ServerState(dc, s.observer.host, s.observer.port, 0, s.flavor)
                     for dc, s in (("dc1", env.servers.dc1), ("dc2", env.servers.dc2))},
            etcd=Endpoint("etcd", env.etcd.endpoint.host, env.etcd.endpoint.port),
            toxiproxy_api=Endpoint("toxiproxy", host, port),
            proxies={},
            filter_list_file=str(env.path(env.replication.filter_list)),
            schema_file="",
            seed_file=None,
            retry=dict(env.retry),
            credentials=creds,
            proxy_names=dict(env.toxiproxy.proxies),
            etcd_options=options,
            environment=env,
        )
        topo.proxies = mapped_proxies(topo)
        if env.process_faults:
            topo.process_control = CommandProcessControl(topo, self.environ)
        return topo


def mapped_proxies(topo: Topology) -> dict[str, ProxyState]:
    """The user's proxies as Toxiproxy reports them, under drills' path names. A missing one
    is left out here; `drills env check` names it."""
    try:
        live = topo.toxiproxy(timeout=3.0).proxies()
    except UserError:
        return {}
    return {name: ProxyState(name, p.listen, p.upstream) for name, p in live.items()}


def reachability(topo: Topology) -> list[str]:
    """The parts a drill needs, each asked once: servers (observer path), etcd and the routing
    key, the Toxiproxy API and every mapped proxy."""
    problems: list[str] = []
    for dc in topo.servers:
        try:
            topo.connect(dc, timeout=3.0, read_timeout=3.0).close()
        except UserError as exc:
            problems.append(str(exc))
    try:
        cc = topo.config_center(timeout=3.0)
        try:
            if cc.read() is None:
                problems.append(f"routing key {topo.routing_key} is empty")
        finally:
            cc.close()
    except UserError as exc:
        problems.append(str(exc))
    missing = sorted(set(topo.proxy_names) - set(topo.proxies))
    if missing:
        problems.append("Toxiproxy has no proxy for " + ", ".join(f"{p} ({topo.proxy_names[p]})" for p in missing))
    return problems


def attach_file(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> tuple[ExternalProvider, Topology]:
    provider = ExternalProvider(load_environment(path), environ)
    return provider, provider.topology()


def provider_from_state(state_dir: Path) -> ExternalProvider:
    """The provider of an external topology recorded in `state_dir` (its environment file)."""
    raw = json.loads((state_dir / "state.json").read_text())
    path = raw.get("environment_file")
    if not path:
        raise EnvironmentProblem(f"{state_dir}: an external topology without its environment file")
    return ExternalProvider(load_environment(path))


class CommandProcessControl:
    """Process faults through the environment file's commands — the only way drills touches
    a process it did not start. A fault whose commands are missing is refused before the run
    (`drills.runner.safety`); here a missing one is a last guard."""

    def __init__(self, topo: Topology, environ: dict[str, str]):
        self.topo = topo
        self.environ = environ
        self.env: EnvironmentFile = topo.environment

    def _run(self, target: str, action: str) -> dict[str, Any]:
        command = self.env.process_command(target, action)
        if command is None:
            raise UserError(f"environment {self.env.name} gives no `{action}` command for {target}")
        cmds = self.env.process_faults[target]  # type: ignore[index]
        env = {k: v for k, v in self.environ.items() if not k.startswith("DRILLS_") or k == "DRILLS_OPERATOR"}
        env.update({"DRILLS_TARGET": target, "DRILLS_ACTION": action, "DRILLS_ENVIRONMENT": self.env.name})
        result = run_command(command, env=env, cwd=str(self.env.base), timeout=float(cmds.timeout))
        if result.timed_out or result.exit_status != 0:
            why = "timed out" if result.timed_out else f"exited {result.exit_status}"
            raise UserError(f"{action} command for {target} {why}: {masking.mask(result.output.strip()[-300:])}")
        return {"command": action, "exit": result.exit_status}

    def check_running(self, target: str) -> int:
        if target in self.topo.servers:
            self.topo.connect(target, timeout=3.0, read_timeout=3.0).close()
        return 0

    def crash(self, target: str) -> dict[str, Any]:
        return self._run(target, "crash")

    def hang(self, target: str) -> dict[str, Any]:
        return self._run(target, "hang")

    def resume(self, target: str) -> dict[str, Any]:
        return self._run(target, "resume")

    def restart(self, target: str) -> dict[str, Any]:
        return self._run(target, "restart")

    def ensure_running(self, target: str) -> dict[str, Any]:
        try:
            self.check_running(target)
            return {"started": False}
        except UserError:
            done = self._run(target, "restart")
            return {**done, "started": True}

    def pids(self) -> dict[str, int]:
        return {}


def missing_process_commands(env: EnvironmentFile, fault_type: str, target: str) -> list[str]:
    return [a for a in FAULT_COMMANDS.get(fault_type, ()) if env.process_command(target, a) is None]
