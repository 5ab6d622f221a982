"""The default provider: a whole two-DC topology as processes on this machine.

Two MySQL-family servers (dc1, dc2) initialised by copying a template data directory made
once per server version (initialisation is the slow part of a MySQL start, so it is never
repeated per server), one etcd member holding the routing document, and the real
Toxiproxy server in front of every service path. Replication runs dc1 -> dc2 through the
link proxy with the declared filter list applied on the replica.

Everything binds to 127.0.0.1 on free ports, lives in one state directory, and is stopped
by `down` — including after a crash, from the pid files and the state directory that every
process carries in its command line.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from drills import masking
from drills.config_center import routing_key, wait_until_ready
from drills.errors import EnvironmentProblem, UserError
from drills.filter_list import load as load_filter_list
from drills.mysql import admin
from drills.topology import baseline
from drills.topology import processes as proc
from drills.topology.provider import PROCESS_CONTROL
from drills.topology.spec import TopologySpec
from drills.topology.state import DCS, Credentials, Endpoint, ProxyState, ServerState, Topology

SERVER_IDS = {"dc1": 1, "dc2": 2}
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
KILL_TIMEOUT = 5.0
PROCESSES_FILE = "local.json"  # the local provider's own record: pids, command lines, data dirs
COMPONENTS = ("dc1", "dc2", "etcd", "toxiproxy")


def state_root() -> Path:
    return Path(os.environ.get("DRILLS_HOME") or Path.home() / ".local" / "state" / "drills")


def default_state_dir() -> Path:
    return Path(os.environ.get("DRILLS_STATE_DIR") or state_root() / "default")


def cache_root() -> Path:
    return Path(os.environ.get("DRILLS_CACHE") or Path.home() / ".cache" / "drills")


# ---- server flavours ----------------------------------------------------------------------------

class _ServerKind:
    """How to initialise and start one flavour's server binary."""

    def __init__(self, flavor: str):
        self.flavor = flavor
        if flavor == "mariadb":
            self.binary = proc.find_binary("mariadbd")
            self.install_db = proc.find_binary("mariadb-install-db")
        else:
            self.binary = proc.find_binary("mysqld")
            self.install_db = None
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=20,
                             env=proc.server_environment())
        self.version_line = (out.stdout or out.stderr).strip()

    @property
    def template_dir(self) -> Path:
        tag = hashlib.sha256(self.version_line.encode()).hexdigest()[:12]
        return cache_root() / "templates" / f"{self.flavor}-{tag}"

    def ensure_template(self) -> Path:
        tpl = self.template_dir
        if (tpl / ".complete").exists():
            return tpl
        tpl.parent.mkdir(parents=True, exist_ok=True)
        with open(tpl.parent / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (tpl / ".complete").exists():
                return tpl
            tmp = tpl.parent / f".{tpl.name}.{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            if self.flavor == "mariadb":
                argv = [self.install_db, "--no-defaults", f"--datadir={tmp}", "--auth-root-authentication-method=normal",
                        "--skip-test-db", "--skip-name-resolve", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"]
            else:
                argv = [self.binary, "--no-defaults", "--initialize-insecure", f"--datadir={tmp}"]
            if os.geteuid() == 0:
                argv.append("--user=root")
            res = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=proc.server_environment())
            if res.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                tail = (res.stdout + res.stderr).strip().splitlines()[-5:]
                raise EnvironmentProblem(f"initialising the {self.flavor} template data directory failed: " + " | ".join(tail))
            (tmp / ".complete").write_text(self.version_line)
            shutil.rmtree(tpl, ignore_errors=True)
            tmp.rename(tpl)
        return tpl

    def argv(self, s: ServerState, p: Process, spec: TopologySpec, base: Path, identity: tuple[str, int]) -> list[str]:
        """`identity`: the address the server reports as its own (report_host/report_port) —
        the link proxy its replica reaches it by (`Topology.identity_address`)."""
        common = [
            self.binary, "--no-defaults", f"--datadir={p.datadir}", f"--port={s.port}", "--bind-address=127.0.0.1",
            f"--report-host={identity[0]}", f"--report-port={identity[1]}",
            f"--socket={p.socket}", f"--pid-file={base}/{s.name}/mysqld.pid", f"--log-error={base}/{s.name}/error.log",
            f"--server-id={s.server_id}", "--log-bin=binlog", "--relay-log=relay-bin", "--binlog-format=ROW",
            f"--innodb-buffer-pool-size={spec.server.innodb_buffer_pool_size}", "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0", "--skip-name-resolve", "--max-connections=400", "--character-set-server=utf8mb4",
            "--performance-schema=OFF",
        ]
        if self.flavor == "mariadb":
            common += ["--log-slave-updates=ON", "--skip-slave-start", "--slave-net-timeout=2", "--innodb-log-file-size=8M"]
        else:
            common += ["--gtid-mode=ON", "--enforce-gtid-consistency=ON", "--log-replica-updates=ON", "--skip-replica-start",
                       "--replica-net-timeout=2", "--mysqlx=OFF"]
        if os.geteuid() == 0:
            common.append(f"--user={getpass.getuser()}")
        return common + list(spec.server.extra_args)


# ---- the provider ---------------------------------------------------------------------------------

@dataclass
class Process:
    """One process this provider started: how to start it again and how to recognise it."""

    name: str
    argv: list[str] = field(default_factory=list)
    pid: int | None = None
    datadir: str | None = None  # servers
    socket: str | None = None  # servers: root's way in before our accounts exist


class LocalProvider:
    """Processes on this machine (`drills.topology.provider.TopologyProvider`)."""

    name = "local"
    capabilities = frozenset({PROCESS_CONTROL})

    def state_root(self) -> Path:
        return state_root()

    def up(self, spec: TopologySpec, state_dir: Path, say: Callable[[str], None]) -> Topology:
        return up(spec, state_dir, progress=say)

    def attach(self, state_dir: Path) -> Topology:
        return attach(state_dir)

    def reset(self, topo: Topology, spec: TopologySpec | None = None) -> None:
        if spec is None:
            reset(topo)
        else:
            reset(topo, filter_list=spec.filter_list, schema=spec.schema_file, seed=spec.seed)

    def down(self, state_dir: Path | None, *, keep: bool = False) -> dict[str, Any]:
        return down(state_dir, keep=keep)


def attach(state_dir: str | os.PathLike[str]) -> Topology:
    """A handle on a running local topology, with control of its processes."""
    topo = Topology.load(state_dir)
    topo.process_control = LocalProcesses(topo)
    return topo


class LocalProcesses:
    """Process control for a local topology (`drills.topology.provider.ProcessControl`).

    Only processes of this topology are signalled: the pid is re-read from the state
    directory (a heal or a reset may have restarted the process since the handle was
    loaded) and must carry the state directory in its command line, so a reused pid of an
    unrelated process is never touched. The targeted wait reaps only the pid it killed,
    never any child (the runner's shell steps keep their exit codes)."""

    def __init__(self, topo: Topology, processes: dict[str, Process] | None = None):
        self.topo = topo
        self.base = Path(topo.state_dir)
        self._lock = threading.RLock()
        self.processes = processes if processes is not None else load_processes(self.base)

    # ---- bookkeeping -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Adopt what is on disk: another handle (a fault's heal, a reset) may have restarted
        a process since this one was loaded."""
        on_disk = load_processes(self.base)
        for name, p in on_disk.items():
            if name in self.processes:
                self.processes[name].pid = p.pid

    def save(self) -> None:
        save_processes(self.base, self.processes)

    def pids(self) -> dict[str, int]:
        self.refresh()
        return {name: p.pid for name, p in self.processes.items() if p.pid}

    def _get(self, target: str) -> Process:
        if target not in self.processes:
            raise EnvironmentProblem(f"{target} is not a process of this topology (known: {', '.join(self.processes)})")
        return self.processes[target]

    def check_running(self, target: str) -> int:
        """Its pid, or an EnvironmentProblem saying it is not running (nothing is touched)."""
        with self._lock:
            self.refresh()
            p = self._get(target)
            if not proc.ours(p.pid, str(self.base)):
                raise EnvironmentProblem(f"{target} is not running (pid {p.pid})",
                                         hint="heal the fault that stopped it, or reset the topology")
            return int(p.pid)  # type: ignore[arg-type]

    # ---- the capability ----------------------------------------------------------------------------
    def crash(self, target: str) -> dict[str, Any]:
        pid = self.check_running(target)
        os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, KILL_TIMEOUT):
            raise EnvironmentProblem(f"{target} (pid {pid}) survived SIGKILL for {KILL_TIMEOUT:.0f}s")
        return {"pid": pid}

    def hang(self, target: str) -> dict[str, Any]:
        pid = self.check_running(target)
        os.kill(pid, signal.SIGSTOP)
        if not _wait_state(pid, stopped=True, timeout=KILL_TIMEOUT):
            raise EnvironmentProblem(f"{target} (pid {pid}) did not stop on SIGSTOP")
        return {"pid": pid}

    def resume(self, target: str) -> dict[str, Any]:
        with self._lock:
            self.refresh()
            pid = self._get(target).pid
            if pid and proc.ours(pid, str(self.base)):
                os.kill(pid, signal.SIGCONT)
                if not _wait_state(pid, stopped=False, timeout=KILL_TIMEOUT):
                    raise EnvironmentProblem(f"{target} (pid {pid}) did not resume on SIGCONT")
                return {"pid": pid}
        return self.ensure_running(target)  # it died while stopped: start it again

    def restart(self, target: str) -> dict[str, Any]:
        pid = self.check_running(target)
        t0 = time.monotonic()
        out: dict[str, Any] = {"old_pid": pid}
        os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, KILL_TIMEOUT)
            out["killed_after_s"] = STOP_TIMEOUT
        out["new_pid"] = self.ensure_running(target)["pid"]
        out["downtime_ms"] = int((time.monotonic() - t0) * 1000)
        return out

    def ensure_running(self, target: str) -> dict[str, Any]:
        """Start a component again from its recorded command line if it is not running (after a
        crash), resuming it if it was stopped (after a hang)."""
        with self._lock:
            self.refresh()
            p = self._get(target)
            marker = str(self.base)
            if not proc.ours(p.pid, marker):
                # the record may be stale (another handle restarted it): adopt a live instance of
                # this component rather than start a second one on the same data directory
                live = proc.pids_with_marker(self._instance_marker(p))
                if live:
                    p.pid = live[0]
                    (self.base / "pids" / f"{target}.pid").write_text(str(p.pid))
                    self.save()
            if proc.ours(p.pid, marker):
                os.kill(p.pid, signal.SIGCONT)  # type: ignore[arg-type] - harmless when running
                return {"pid": p.pid}
            popen = proc.start(p.argv, self.base / "logs" / f"{target}.log")
            p.pid = popen.pid
            (self.base / "pids" / f"{target}.pid").write_text(str(popen.pid))
            self.save()
        self._wait_ready(target, popen)
        return {"pid": popen.pid, "started": True}

    def _wait_ready(self, target: str, popen: subprocess.Popen[bytes]) -> None:
        if target in self.topo.servers:
            _wait_socket(self.topo.servers[target], self.processes[target], popen, self.topo).close()
        elif target == "etcd":
            wait_until_ready(self.topo.etcd.host, self.topo.etcd.port, STARTUP_TIMEOUT)
        else:
            api = self.topo.toxiproxy_api
            proc.wait_port(api.host, api.port, STARTUP_TIMEOUT, proc=popen, what="toxiproxy-server")

    def _instance_marker(self, p: Process) -> str:
        """What only this component's command line contains (its data directory or config)."""
        if p.datadir:
            return f"--datadir={p.datadir}"
        if p.name == "etcd":
            return str(self.base / "etcd" / "data")
        return str(self.base / "toxiproxy.json")


def load_processes(base: Path) -> dict[str, Process]:
    path = base / PROCESSES_FILE
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {name: Process(**{k: v for k, v in d.items() if k in Process.__dataclass_fields__}) for name, d in raw.items()}


def save_processes(base: Path, processes: dict[str, Process]) -> None:
    tmp = base / (PROCESSES_FILE + ".tmp")
    tmp.write_text(json.dumps({name: asdict(p) for name, p in processes.items()}, indent=2))
    tmp.replace(base / PROCESSES_FILE)


def _wait_gone(pid: int, timeout: float) -> bool:
    """Until every thread has exited (`is_alive` looks at all of them: a killed server's main
    thread turns zombie while the others still hold its port and InnoDB lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.reap([pid])
        if not proc.is_alive(pid):
            return True
        time.sleep(0.005)
    return not proc.is_alive(pid)


def _wait_state(pid: int, *, stopped: bool, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = proc.process_state(pid)
        if not state:
            return not stopped
        if (state in ("T", "t")) == stopped:
            return True
        time.sleep(0.005)
    return False


# ---- up ---------------------------------------------------------------------------------------

def up(spec: TopologySpec | None = None, state_dir: str | os.PathLike[str] | None = None,
       progress: Callable[[str], None] | None = None) -> Topology:
    """Start a complete topology and return its handle (with control of its processes). On
    any failure, whatever was started is stopped and the state directory removed before the
    error propagates."""
    spec = spec or TopologySpec()
    base = Path(state_dir) if state_dir else default_state_dir()
    base = base.resolve()
    say = progress or (lambda _msg: None)
    _check_inputs(spec)
    _claim_state_dir(base)
    try:
        with proc.port_claim():  # until every component listens on the ports it was given
            return _up(spec, base, say)
    except BaseException:
        down(base)
        raise


def _check_inputs(spec: TopologySpec) -> None:
    for label, path in (("schema", spec.schema_file), ("filter list", spec.filter_list), ("seed", spec.seed)):
        if path is not None and not Path(path).is_file():
            raise UserError(f"{label} file {path} does not exist")
    load_filter_list(spec.filter_list)  # validates, with file:line errors
    proc.find_binary("etcd")
    proc.toxiproxy_binary()


def _claim_state_dir(base: Path) -> None:
    if (base / "state.json").exists() or (base / "pids").exists():
        live = _live_pids(base)
        if live:
            raise EnvironmentProblem(f"a topology is already running in {base} (pids {', '.join(map(str, sorted(live)))})",
                                     hint=f"stop it with `drills env down --state-dir {base}` or choose another --state-dir")
        down(base)  # leftovers of a crashed run
    base.mkdir(parents=True, exist_ok=True)
    registry = state_root() / "registry"
    registry.parent.mkdir(parents=True, exist_ok=True)
    with open(registry, "a") as fh:
        fh.write(f"{base}\n")


def _up(spec: TopologySpec, base: Path, say: Callable[[str], None]) -> Topology:
    t0 = time.monotonic()
    kind = _ServerKind(spec.flavor)
    (base / "pids").mkdir(parents=True, exist_ok=True)
    topo, processes = plan(spec, base, kind, provider="local", etcd_binary=proc.find_binary("etcd"),
                           toxiproxy_binary=proc.toxiproxy_binary())
    servers, creds, ports = topo.servers, topo.credentials, {"etcd": topo.etcd.port, "toxiproxy": topo.toxiproxy_api.port}
    assert creds is not None
    control = LocalProcesses(topo, processes)
    topo.process_control = control
    # start everything at once; pid files first so a crash from here on is recoverable
    popens: dict[str, subprocess.Popen[bytes]] = {}
    for name in COMPONENTS:
        popens[name] = proc.start(processes[name].argv, base / "logs" / f"{name}.log")
        (base / "pids" / f"{name}.pid").write_text(str(popens[name].pid))
        processes[name].pid = popens[name].pid
    control.save()
    topo.save()
    say(f"processes started ({time.monotonic() - t0:.2f}s)")

    def prepare_server(dc: str) -> None:
        """Only what needs root and the unix socket: our accounts. The rest is the baseline."""
        conn = _wait_socket(servers[dc], processes[dc], popens[dc])
        try:
            servers[dc].version = admin.server_info(conn)["version"]
            _bootstrap_users(conn, creds)
        finally:
            conn.close()

    proc.in_parallel([*(lambda d=dc: prepare_server(d) for dc in DCS),
                      lambda: wait_until_ready("127.0.0.1", ports["etcd"], STARTUP_TIMEOUT),
                      lambda: proc.wait_port("127.0.0.1", ports["toxiproxy"], STARTUP_TIMEOUT, proc=popens["toxiproxy"],
                                             what="toxiproxy-server")])
    topo.save()
    say(f"servers, etcd and toxiproxy answer ({time.monotonic() - t0:.2f}s)")
    baseline.establish(topo, timeout=STARTUP_TIMEOUT)
    say(f"replication dc1 -> dc2 running ({time.monotonic() - t0:.2f}s)")
    return topo


def plan(spec: TopologySpec, base: Path, kind: _ServerKind, *, provider: str, etcd_binary: str,
         toxiproxy_binary: str) -> tuple[Topology, dict[str, Process]]:
    """Everything a topology is before anything runs: free ports, data directories copied from
    the template, the proxies, fresh credentials, each component's command line. The same for
    processes on this machine and for containers on its network (`drills.topology.containers`),
    which run these very command lines with the state directory mounted at the same path."""
    p = spec.ports
    ports = proc.allocate_ports({
        "dc1": p.dc1, "dc2": p.dc2, "etcd": p.etcd, "etcd_peer": p.etcd_peer, "toxiproxy": p.toxiproxy,
        "app:dc1": p.app_dc1, "app:dc2": p.app_dc2, "link:dc1->dc2": p.link_dc1_dc2, "link:dc2->dc1": p.link_dc2_dc1,
        "etcd-proxy": p.etcd_proxy,
    })
    (base / "logs").mkdir(parents=True, exist_ok=True)

    tpl = kind.ensure_template()
    servers: dict[str, ServerState] = {}
    processes: dict[str, Process] = {}
    for dc in DCS:
        d = base / dc
        d.mkdir(parents=True, exist_ok=True)
        servers[dc] = ServerState(name=dc, host="127.0.0.1", port=ports[dc], server_id=SERVER_IDS[dc], flavor=spec.flavor,
                                  version=kind.version_line)
        processes[dc] = Process(dc, datadir=str(d / "data"), socket=_socket_path(base, dc))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda p: shutil.copytree(tpl, p.datadir, ignore=shutil.ignore_patterns(".complete")),
                      [processes[dc] for dc in DCS]))

    proxies = {
        "app:dc1": ProxyState("app:dc1", f"127.0.0.1:{ports['app:dc1']}", f"127.0.0.1:{ports['dc1']}"),
        "app:dc2": ProxyState("app:dc2", f"127.0.0.1:{ports['app:dc2']}", f"127.0.0.1:{ports['dc2']}"),
        "link:dc1->dc2": ProxyState("link:dc1->dc2", f"127.0.0.1:{ports['link:dc1->dc2']}", f"127.0.0.1:{ports['dc1']}"),
        "link:dc2->dc1": ProxyState("link:dc2->dc1", f"127.0.0.1:{ports['link:dc2->dc1']}", f"127.0.0.1:{ports['dc2']}"),
        "etcd": ProxyState("etcd", f"127.0.0.1:{ports['etcd-proxy']}", f"127.0.0.1:{ports['etcd']}"),
    }
    toxi_config = base / "toxiproxy.json"
    toxi_config.write_text(json.dumps([{"name": x.name, "listen": x.listen, "upstream": x.upstream, "enabled": True}
                                       for x in proxies.values()]))
    etcd_dir = base / "etcd"
    processes["etcd"] = Process("etcd", argv=[
        etcd_binary, "--name", "drills", "--data-dir", str(etcd_dir / "data"),
        "--listen-client-urls", f"http://127.0.0.1:{ports['etcd']}", "--advertise-client-urls", f"http://127.0.0.1:{ports['etcd']}",
        "--listen-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
        "--initial-cluster", f"drills=http://127.0.0.1:{ports['etcd_peer']}", "--log-level", "warn", "--logger", "zap",
    ])
    processes["toxiproxy"] = Process("toxiproxy", argv=[
        toxiproxy_binary, "-host", "127.0.0.1", "-port", str(ports["toxiproxy"]), "-config", str(toxi_config)])

    creds = Credentials("drills", secrets.token_urlsafe(18), "repl", secrets.token_urlsafe(18), "app", secrets.token_urlsafe(18),
                        root_password=secrets.token_urlsafe(18))
    masking.register(*creds_secrets(creds))
    topo = Topology(
        state_dir=base, provider=provider, flavor=spec.flavor, app=spec.app, monitor=spec.monitor,
        routing_key=routing_key(spec.app, spec.monitor), servers=servers,
        etcd=Endpoint("etcd", "127.0.0.1", ports["etcd"]), toxiproxy_api=Endpoint("toxiproxy", "127.0.0.1", ports["toxiproxy"]),
        proxies=proxies, filter_list_file=str(spec.filter_list), schema_file=str(spec.schema_file),
        seed_file=str(spec.seed) if spec.seed else None,
        retry={"times": spec.routing.retry.times, "delay_ms": spec.routing.retry.delay_ms}, credentials=creds,
    )
    for dc in DCS:
        processes[dc].argv = kind.argv(servers[dc], processes[dc], spec, base, topo.identity_address(dc))
    return topo, processes


SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; MariaDB refuses longer paths at start-up


def _socket_path(base: Path, dc: str) -> str:
    """The server's Unix socket: in its state directory when the path fits, otherwise in a
    short per-topology directory under the system temp dir (removed by `down`)."""
    path = base / dc / "mysqld.sock"
    if len(str(path)) <= SOCKET_PATH_MAX:
        return str(path)
    short = _short_socket_dir(base)
    short.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(short / f"{dc}.sock")


def _short_socket_dir(base: Path) -> Path:
    tag = hashlib.sha256(str(base).encode()).hexdigest()[:16]
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"drills-{tag}"


def creds_secrets(c: Credentials) -> list[str]:
    return [c.admin_password, c.repl_password, c.app_password, c.root_password]


def _root(p: Process, topo: Topology | None = None, **kw: Any) -> pymysql.connections.Connection:
    """root@localhost over the server's unix socket: the one account that may change accounts
    before ours exist. It has a random password from the first start on (kept with the others)."""
    password = topo.credentials.root_password if topo is not None and topo.credentials is not None else ""
    return pymysql.connect(unix_socket=p.socket, user="root", password=password, autocommit=True,
                           client_flag=CLIENT.MULTI_STATEMENTS, **kw)


def _wait_socket(s: ServerState, p: Process, popen: subprocess.Popen[bytes] | None,
                 topo: Topology | None = None) -> pymysql.connections.Connection:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            raise EnvironmentProblem(f"{s.name}: server exited during start-up (code {popen.returncode}): "
                                     f"{_error_log_tail(Path(p.datadir or '').parent / 'error.log')}")
        if p.socket and os.path.exists(p.socket):
            try:
                return _root(p, topo, connect_timeout=2)
            except pymysql.err.OperationalError as exc:
                last = str(exc.args[0]) if exc.args else ""
        time.sleep(0.02)
    raise EnvironmentProblem(f"{s.name}: server did not accept connections within {STARTUP_TIMEOUT:.0f}s (last error {last})")


def _error_log_tail(path: Path, lines: int = 3) -> str:
    """The server's own reason, for the message (the state directory is removed after a failed up)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"no error log at {path}"
    errors = [line for line in text if "[ERROR]" in line] or text
    return " | ".join(line.strip() for line in errors[-lines:]) or "error log empty"


def _bootstrap_users(conn: pymysql.connections.Connection, c: Credentials) -> None:
    """Our three accounts, each with its own random password; then nothing else may log in
    without one: the template's passwordless root accounts for TCP (127.0.0.1, ::1, the host
    name) and any anonymous account are dropped, and root@localhost — the unix socket only —
    gets a random password too. Any local user could otherwise take a drill's servers."""
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_log_bin = 0")
        for user, pw in ((c.admin_user, c.admin_password), (c.repl_user, c.repl_password), (c.app_user, c.app_password)):
            cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (user, pw))
            cur.execute("ALTER USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, pw))
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'127.0.0.1' WITH GRANT OPTION", (c.admin_user,))
        cur.execute("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %s@'127.0.0.1'", (c.repl_user,))
        for db in ("app", "bi"):
            cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO %s@'127.0.0.1'", (c.app_user,))
        # the write probe of a drill run as someone else's environment (`writes: canary`)
        cur.execute("GRANT INSERT ON `drills_canary`.* TO %s@'127.0.0.1'", (c.app_user,))
        cur.execute("SELECT User, Host FROM mysql.user")
        for user, host in cur.fetchall():
            if user == "" or (user == "root" and host != "localhost"):
                cur.execute("DROP USER %s@%s", (user, host))
        if c.root_password:
            cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (c.root_password,))


# ---- reset (tests and runs that share one topology) -------------------------------------------------------------

def reset(topo: Topology, *, filter_list: str | os.PathLike[str] | None = None,
          schema: str | os.PathLike[str] | None = None, seed: str | os.PathLike[str] | None = None) -> None:
    """Back to the baseline of `up`: all processes running, then `baseline.establish`.

    `filter_list`, `schema` and `seed` replace the topology's own from now on (recorded in
    state.json), so scenarios that differ only in those can share one running topology."""
    changes = {"filter_list_file": filter_list, "schema_file": schema, "seed_file": seed}
    for attr, value in changes.items():
        if value is not None:
            if not Path(value).is_file():
                raise UserError(f"{attr.replace('_file', '').replace('_', ' ')} file {value} does not exist")
            setattr(topo, attr, str(Path(value).resolve()))
    if filter_list is not None:
        load_filter_list(topo.filter_list_file)  # validate before touching anything
        topo._filters = None
    if any(v is not None for v in changes.values()):
        topo.save()
    control = topo.process_control if isinstance(topo.process_control, LocalProcesses) else LocalProcesses(topo)
    for name in COMPONENTS:
        control.ensure_running(name)
    baseline.establish(topo, timeout=STARTUP_TIMEOUT)


# ---- down ---------------------------------------------------------------------------------------

def _live_pids(base: Path) -> set[int]:
    marker = str(base)
    pids: set[int] = set()
    pid_dir = base / "pids"
    if pid_dir.is_dir():
        for f in pid_dir.glob("*.pid"):
            try:
                pid = int(f.read_text().strip())
            except (OSError, ValueError):
                continue
            if proc.ours(pid, marker):
                pids.add(pid)
    pids.update(proc.pids_with_marker(marker + "/"))
    pids.update(p for p in proc.pids_with_marker(marker) if proc.ours(p, marker))
    return pids


def down(state_dir: str | os.PathLike[str] | None = None, *, keep: bool = False) -> dict[str, Any]:
    """Stop everything the topology in `state_dir` started (found from pid files and command
    lines, so it also works after a crash) and remove the directory unless `keep`."""
    base = Path(state_dir).resolve() if state_dir else default_state_dir().resolve()
    if not base.exists():
        return {"state_dir": str(base), "stopped": [], "killed": [], "removed": False}
    pids = sorted(_live_pids(base))
    killed = proc.stop(pids)
    leftover = _live_pids(base)
    if leftover:
        raise EnvironmentProblem(f"could not stop pids {sorted(leftover)} of {base}")
    removed = False
    shutil.rmtree(_short_socket_dir(base), ignore_errors=True)
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
        removed = True
    else:
        shutil.rmtree(base / "pids", ignore_errors=True)
    return {"state_dir": str(base), "stopped": pids, "killed": killed, "removed": removed}


def known_state_dirs() -> list[Path]:
    root = state_root()
    dirs: set[Path] = set()
    if root.is_dir():
        dirs.update(p for p in root.iterdir() if p.is_dir() and ((p / "state.json").exists() or (p / "pids").exists()))
    registry = root / "registry"
    if registry.exists():
        for line in registry.read_text().splitlines():
            p = Path(line.strip())
            if line.strip() and p.exists():
                dirs.add(p)
    return sorted(dirs)


def down_all(*, keep: bool = False) -> list[dict[str, Any]]:
    out = [down(d, keep=keep) for d in known_state_dirs()]
    registry = state_root() / "registry"
    if registry.exists():
        registry.unlink()
    return out
