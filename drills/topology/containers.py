"""`provider: containers`: the same topology, each component in a Docker container.

How CI pipelines run drills: no MariaDB, etcd or Toxiproxy installed on the runner, the
servers from an image (the official one, or the team's own). The topology is planned exactly
as the local provider plans it (`local.plan`: free ports, data directories from a template,
proxies, credentials, command lines) and each command line runs in a container started
through testcontainers, on the host's network with the state directory mounted at the same
path — so every address, file and command line is the same as on the local provider, and so
is everything built on them (baseline, faults, controller, checks).

- All four containers start at once; readiness is awaited in parallel.
- Every container carries the labels `drills.topology` (its state directory) and
  `drills.component`; `down` removes what carries its label, `down_all` what carries any —
  also after a run was killed. Ryuk (testcontainers' reaper) is off: it needs an image that
  may not be pullable, and the labels already say what to remove.
- Process faults through the engine: `crash` = kill, `hang` = pause/unpause, `restart`.
- No engine answering is one line with the fix (exit 2), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills.config_center import wait_until_ready
from drills.errors import EnvironmentProblem
from drills.mysql import admin
from drills.topology import baseline, images, local
from drills.topology import processes as proc
from drills.topology.provider import PROCESS_CONTROL
from drills.topology.spec import TopologySpec
from drills.topology.state import DCS, Topology

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

NAME = "containers"
LABEL = "drills.topology"
COMPONENT_LABEL = "drills.component"
HOME_LABEL = "drills.home"  # whose topology: `down_all` removes those of this DRILLS_HOME only
STATE_FILE = "containers.json"
STARTUP_TIMEOUT = local.STARTUP_TIMEOUT
ENGINE_HINT = ("start one (`sudo dockerd &`, or `scripts/setup` with DRILLS_DOCKER=1 installs docker.io) "
               "or point DOCKER_HOST at one")


def docker_client() -> Any:
    """A client of an engine that answers, or one line saying there is none and how to fix it."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except (docker.errors.DockerException, OSError) as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise EnvironmentProblem(f"provider containers: no Docker engine answers at {where} "
                                 f"({type(exc).__name__})", hint=ENGINE_HINT) from None


def container_name(base: Path, component: str) -> str:
    return f"drills-{hashlib.sha256(str(base).encode()).hexdigest()[:10]}-{component}"


class _ImageServerKind(local._ServerKind):
    """The server flavour inside an image: its binary, its version, its own template data
    directory made by a one-shot container (nothing of the server installed on this machine)."""

    def __init__(self, flavor: str, image: str, client: Any):
        self.flavor = flavor
        self.image = image
        self.client = client
        self.binary = images.BINARIES[flavor]
        self.install_db = "mariadb-install-db" if flavor == "mariadb" else None
        out = self._run([self.binary, "--version"])
        self.version_line = out.strip()

    def _run(self, argv: list[str], mounts: list[str] = ()) -> str:  # type: ignore[assignment]
        import docker.errors

        try:
            out = self.client.containers.run(self.image, entrypoint=[argv[0]], command=argv[1:], remove=True,
                                              network_mode="host", labels={LABEL: "one-shot"},
                                              volumes={m: {"bind": m, "mode": "rw"} for m in mounts})
        except docker.errors.ImageNotFound:
            raise _no_image(self.image) from None
        except docker.errors.ContainerError as exc:
            raise EnvironmentProblem(f"{self.image}: `{' '.join(argv[:2])}` failed: "
                                     f"{(exc.stderr or b'').decode(errors='replace').strip()[-300:]}") from None
        except docker.errors.APIError as exc:
            raise _image_problem(self.image, exc) from None
        return out.decode(errors="replace") if isinstance(out, bytes) else str(out)

    def argv(self, *args: Any, **kwargs: Any) -> list[str]:
        """The local provider's command line; inside the container the server runs as root,
        which it refuses unless told (`--user=root`), whoever runs the harness."""
        out = [a for a in super().argv(*args, **kwargs) if not a.startswith("--user=")]
        return out + ["--user=root"]

    @property
    def template_dir(self) -> Path:
        tag = hashlib.sha256(f"{self.image}|{self.version_line}".encode()).hexdigest()[:12]
        return local.cache_root() / "templates" / f"{self.flavor}-image-{tag}"

    def ensure_template(self) -> Path:
        tpl = self.template_dir
        if (tpl / ".complete").exists():
            return tpl
        tpl.parent.mkdir(parents=True, exist_ok=True)
        tmp = tpl.parent / f".{tpl.name}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if self.flavor == "mariadb":
            argv = [str(self.install_db), "--no-defaults", f"--datadir={tmp}", "--auth-root-authentication-method=normal",
                    "--skip-test-db", "--skip-name-resolve", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M",
                    "--user=root"]
        else:
            argv = [self.binary, "--no-defaults", "--initialize-insecure", f"--datadir={tmp}/data", "--user=root"]
        self._run(argv, mounts=[str(tmp)])
        if self.flavor != "mariadb":
            inner = tmp / "data"
            for item in inner.iterdir():
                item.rename(tmp / item.name)
            inner.rmdir()
        (tmp / ".complete").write_text(self.version_line)
        shutil.rmtree(tpl, ignore_errors=True)
        tmp.rename(tpl)
        return tpl


def _no_image(image: str) -> EnvironmentProblem:
    return EnvironmentProblem(f"image {image} is not on this machine and could not be pulled",
                              hint="build the local images with `drills images build` (no registry here), or set "
                                   "DRILLS_IMAGE_MARIADB / DRILLS_IMAGE_ETCD / DRILLS_IMAGE_TOXIPROXY to images you have")


def _image_problem(image: str, exc: Exception) -> EnvironmentProblem:
    text = str(exc)
    if "pull" in text or "manifest" in text or "not found" in text or "resolve" in text:
        return _no_image(image)
    return EnvironmentProblem(f"Docker refused {image}: {text[-300:]}")


class ContainersProvider:
    name = NAME
    capabilities = frozenset({PROCESS_CONTROL})

    def state_root(self) -> Path:
        return local.state_root()

    def up(self, spec: TopologySpec, state_dir: Path, say: Callable[[str], None]) -> Topology:
        return up(spec, state_dir, progress=say)

    def attach(self, state_dir: Path) -> Topology:
        return attach(state_dir)

    def reset(self, topo: Topology, spec: TopologySpec | None = None) -> None:
        reset(topo, spec)

    def down(self, state_dir: Path | None, *, keep: bool = False) -> dict[str, Any]:
        return down(state_dir, keep=keep)


def up(spec: TopologySpec | None = None, state_dir: str | os.PathLike[str] | None = None,
       progress: Callable[[str], None] | None = None) -> Topology:
    """The local provider's topology, in containers. On any failure whatever was started is
    removed (containers by label) before the error propagates."""
    spec = spec or TopologySpec(provider="containers")
    base = (Path(state_dir) if state_dir else local.default_state_dir()).resolve()
    say = progress or (lambda _msg: None)
    client = docker_client()
    for label, path in (("schema", spec.schema_file), ("filter list", spec.filter_list), ("seed", spec.seed)):
        if path is not None and not Path(path).is_file():
            raise EnvironmentProblem(f"{label} file {path} does not exist")
    if Topology.exists(base) or _containers(client, base):
        raise EnvironmentProblem(f"a topology is already in {base}",
                                 hint=f"stop it with `drills env down --state-dir {base}` or choose another --state-dir")
    base.mkdir(parents=True, exist_ok=True)
    _register(base)
    try:
        with proc.port_claim():  # until every component listens on the ports it was given
            return _up(spec, base, client, say)
    except BaseException:
        down(base)
        raise


def _register(base: Path) -> None:
    registry = local.state_root() / "registry"
    registry.parent.mkdir(parents=True, exist_ok=True)
    with open(registry, "a") as fh:
        fh.write(f"{base}\n")


def _up(spec: TopologySpec, base: Path, client: Any, say: Callable[[str], None]) -> Topology:
    t0 = time.monotonic()
    chosen = images.resolve(spec.flavor, spec.containers.images)
    kind = _ImageServerKind(spec.flavor, chosen.server, client)
    topo, processes = local.plan(spec, base, kind, provider=NAME, etcd_binary=images.BINARIES["etcd"],
                                 toxiproxy_binary=images.BINARIES["toxiproxy"])
    creds = topo.credentials
    assert creds is not None
    image_of = {"dc1": chosen.server, "dc2": chosen.server, "etcd": chosen.etcd, "toxiproxy": chosen.toxiproxy}
    mounts = sorted({str(base)} | {str(Path(processes[dc].socket or "").parent) for dc in DCS})
    for m in mounts:
        Path(m).mkdir(parents=True, exist_ok=True)
    record = {"images": image_of, "mounts": mounts,
              "containers": {c: container_name(base, c) for c in local.COMPONENTS}}
    (base / STATE_FILE).write_text(json.dumps(record, indent=2))
    topo.save()
    say(f"planned; images {', '.join(sorted(set(image_of.values())))} ({time.monotonic() - t0:.2f}s)")

    def start(component: str) -> None:
        _start_container(client, base, component, image_of[component], processes[component].argv, mounts)

    proc.in_parallel(lambda c=c: start(c) for c in local.COMPONENTS)
    control = ContainerProcesses(topo, client)
    topo.process_control = control
    say(f"containers started ({time.monotonic() - t0:.2f}s)")

    def prepare_server(dc: str) -> None:
        conn = local._wait_socket(topo.servers[dc], processes[dc], None)
        try:
            topo.servers[dc].version = admin.server_info(conn)["version"]
            local._bootstrap_users(conn, creds)
        finally:
            conn.close()

    jobs: list[Callable[[], None]] = [lambda d=dc: prepare_server(d) for dc in DCS]
    jobs.append(lambda: wait_until_ready("127.0.0.1", topo.etcd.port, STARTUP_TIMEOUT))
    jobs.append(lambda: proc.wait_port("127.0.0.1", topo.toxiproxy_api.port, STARTUP_TIMEOUT, what="toxiproxy container"))
    proc.in_parallel(jobs)
    topo.save()
    say(f"servers, etcd and toxiproxy answer ({time.monotonic() - t0:.2f}s)")
    baseline.establish(topo, timeout=STARTUP_TIMEOUT)
    say(f"replication dc1 -> dc2 running ({time.monotonic() - t0:.2f}s)")
    return topo


def _start_container(client: Any, base: Path, component: str, image: str, argv: list[str], mounts: list[str]) -> Any:
    """One component, through testcontainers: its own command line, the host's network, the
    state directory at the same path, the topology's labels."""
    import docker.errors
    from testcontainers.core.container import DockerContainer

    c = DockerContainer(image)
    for m in mounts:
        c = c.with_volume_mapping(m, m, "rw")
    c = c.with_command(argv[1:]).with_name(container_name(base, component)).with_kwargs(
        entrypoint=[argv[0]], network_mode="host",
        labels={LABEL: str(base), COMPONENT_LABEL: component, HOME_LABEL: str(local.state_root().resolve())})
    try:
        return c.start()
    except docker.errors.ImageNotFound:
        raise _no_image(image) from None
    except docker.errors.APIError as exc:
        raise _image_problem(image, exc) from None


def _containers(client: Any, base: Path | None) -> list[Any]:
    wanted = f"{LABEL}={base}" if base is not None else LABEL
    return list(client.containers.list(all=True, filters={"label": wanted}))


def attach(state_dir: str | os.PathLike[str]) -> Topology:
    topo = Topology.load(state_dir)
    topo.process_control = ContainerProcesses(topo, docker_client())
    return topo


def reset(topo: Topology, spec: TopologySpec | None = None) -> None:
    """Every container running again (unpaused, started), then the common baseline — with
    `spec`'s schema, seed and filter list when given, as the local provider does."""
    if spec is not None:
        for attr, value in (("filter_list_file", spec.filter_list), ("schema_file", spec.schema_file),
                            ("seed_file", spec.seed)):
            if value is not None:
                setattr(topo, attr, str(Path(value).resolve()))
        topo._filters = None
        topo.save()
    control = topo.process_control if isinstance(topo.process_control, ContainerProcesses) else \
        ContainerProcesses(topo, docker_client())
    for name in local.COMPONENTS:
        control.ensure_running(name)
    baseline.establish(topo, timeout=STARTUP_TIMEOUT)


def down(state_dir: str | os.PathLike[str] | None = None, *, keep: bool = False) -> dict[str, Any]:
    """Remove every container, network and volume labelled with this topology (also after a
    killed run: the labels are on the engine, not in our memory), then the state directory."""
    base = (Path(state_dir) if state_dir else local.default_state_dir()).resolve()
    client = docker_client()
    removed_containers = _remove_labelled(client, f"{LABEL}={base}")
    removed = False
    shutil.rmtree(local._short_socket_dir(base), ignore_errors=True)
    if not keep and base.exists():
        shutil.rmtree(base, ignore_errors=True)
        removed = True
    return {"state_dir": str(base), "stopped": removed_containers, "killed": [], "removed": removed}


def _remove_labelled(client: Any, label: str) -> list[str]:
    import docker.errors

    names = []
    for c in client.containers.list(all=True, filters={"label": label}):
        try:
            c.remove(force=True, v=True)
            names.append(c.name)
        except docker.errors.NotFound:
            pass
    for n in client.networks.list(filters={"label": label}):
        try:
            n.remove()
        except docker.errors.APIError:
            pass
    for v in client.volumes.list(filters={"label": label}):
        try:
            v.remove(force=True)
        except docker.errors.APIError:
            pass
    return names


def down_all(*, keep: bool = False) -> list[dict[str, Any]]:
    """Every containers topology of this user (this DRILLS_HOME) the engine holds — found by
    label, so also those of killed runs — with their state directories."""
    try:
        client = docker_client()
    except EnvironmentProblem:
        return []
    home = str(local.state_root().resolve())
    mine = client.containers.list(all=True, filters={"label": f"{HOME_LABEL}={home}"})
    bases = sorted({c.labels.get(LABEL) for c in mine if c.labels.get(LABEL)})
    out = [down(b, keep=keep) for b in bases]
    _remove_labelled(client, f"{LABEL}=one-shot")
    return out


class ContainerProcesses:
    """Process control through the engine (`drills.topology.provider.ProcessControl`): only the
    containers named for this topology, found by name and checked by label."""

    def __init__(self, topo: Topology, client: Any):
        self.topo = topo
        self.client = client
        self.base = Path(topo.state_dir)
        self._lock = threading.RLock()

    def _get(self, target: str) -> Any:
        import docker.errors

        if target not in local.COMPONENTS:
            raise EnvironmentProblem(f"{target} is not a component of this topology (known: {', '.join(local.COMPONENTS)})")
        try:
            c = self.client.containers.get(container_name(self.base, target))
        except docker.errors.NotFound:
            raise EnvironmentProblem(f"{target}: its container is gone", hint="reset the topology") from None
        if c.labels.get(LABEL) != str(self.base):
            raise EnvironmentProblem(f"{target}: container {c.name} does not belong to {self.base}")
        return c

    def pids(self) -> dict[str, int]:
        out = {}
        for name in local.COMPONENTS:
            try:
                c = self._get(name)
            except EnvironmentProblem:
                continue
            pid = int(c.attrs.get("State", {}).get("Pid") or 0)
            if pid:
                out[name] = pid
        return out

    def check_running(self, target: str) -> int:
        c = self._get(target)
        state = c.attrs.get("State", {})
        if state.get("Status") != "running" or state.get("Paused"):
            raise EnvironmentProblem(f"{target} is not running (container {state.get('Status')})",
                                     hint="heal the fault that stopped it, or reset the topology")
        return int(state.get("Pid") or 0)

    def crash(self, target: str) -> dict[str, Any]:
        pid = self.check_running(target)
        c = self._get(target)
        c.kill()
        c.wait(timeout=local.KILL_TIMEOUT)
        return {"pid": pid, "container": c.name}

    def hang(self, target: str) -> dict[str, Any]:
        pid = self.check_running(target)
        c = self._get(target)
        c.pause()
        return {"pid": pid, "container": c.name, "paused": True}

    def resume(self, target: str) -> dict[str, Any]:
        with self._lock:
            c = self._get(target)
            if c.attrs.get("State", {}).get("Paused"):
                c.unpause()
                return {"pid": int(c.attrs["State"].get("Pid") or 0), "container": c.name}
        return self.ensure_running(target)

    def restart(self, target: str) -> dict[str, Any]:
        pid = self.check_running(target)
        t0 = time.monotonic()
        c = self._get(target)
        c.restart(timeout=int(local.STOP_TIMEOUT))
        self._wait_ready(target)
        new = self._get(target)
        return {"old_pid": pid, "new_pid": int(new.attrs["State"].get("Pid") or 0),
                "downtime_ms": int((time.monotonic() - t0) * 1000)}

    def ensure_running(self, target: str) -> dict[str, Any]:
        with self._lock:
            c = self._get(target)
            state = c.attrs.get("State", {})
            if state.get("Paused"):
                c.unpause()
            if state.get("Status") == "running":
                return {"pid": int(state.get("Pid") or 0)}
            c.start()
        self._wait_ready(target)
        c = self._get(target)
        return {"pid": int(c.attrs["State"].get("Pid") or 0), "started": True}

    def _wait_ready(self, target: str) -> None:
        if target in self.topo.servers:
            process = local.Process(target, socket=local._socket_path(self.base, target))
            local._wait_socket(self.topo.servers[target], process, None, self.topo).close()
        elif target == "etcd":
            wait_until_ready(self.topo.etcd.host, self.topo.etcd.port, STARTUP_TIMEOUT)
        else:
            proc.wait_port(self.topo.toxiproxy_api.host, self.topo.toxiproxy_api.port, STARTUP_TIMEOUT,
                           what="toxiproxy container")
