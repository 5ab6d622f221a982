"""Starting, finding and stopping the processes of a local topology.

Every process is started in its own session (so a Ctrl-C at the terminal reaches the
harness, which then stops them in order, not the servers directly) with its state
directory in its command line. That is how `drills env down` recognises what is ours even
after a crash left only pid files behind, and never kills an unrelated process that reused
a pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.errors import EnvironmentProblem, MissingBinaryError
from drills.topology.spec import REPO_ROOT

SETUP_HINT = "scripts/setup installs it"
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/mysql/bin")


def find_binary(name: str, *, env_var: str | None = None, extra_dirs: Iterable[str] = ()) -> str:
    if env_var and os.environ.get(env_var):
        path = os.environ[env_var]
        if os.access(path, os.X_OK):
            return path
        raise MissingBinaryError(f"{env_var}={path} is not an executable", hint=SETUP_HINT)
    for d in extra_dirs:
        cand = Path(d) / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))
    if not found:
        raise MissingBinaryError(f"`{name}` not found (looked on PATH and in {', '.join(_SBIN)})", hint=SETUP_HINT)
    return found


def toxiproxy_binary() -> str:
    return find_binary("toxiproxy-server", env_var="DRILLS_TOXIPROXY", extra_dirs=[str(REPO_ROOT / ".tools" / "bin")])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


LISTEN_PORTS_LOW = 20000  # listening ports come from [LOW, the kernel's ephemeral range)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def allocate_ports(requested: dict[str, int]) -> dict[str, int]:
    """Free ports for the 0 entries; fixed ones are checked. Held sockets are released
    together at the end so two requests in one call never get the same port.

    Chosen below the kernel's ephemeral range, at random: a port from `bind(0)` is one any
    outgoing connection of any process may take as its local port between our release and
    the server's bind — with drills running in parallel (pytest -n, several shells) that
    window is where topologies collided. Below the range no outgoing connection takes it, and
    `port_claim()` keeps two boots from picking the same one."""
    import random

    out: dict[str, int] = {}
    held: list[socket.socket] = []
    try:
        for name, port in requested.items():
            if port:
                if not port_is_free(port):
                    raise EnvironmentProblem(f"port {port} ({name}) is already in use",
                                             hint="choose another in the topology file's `ports:` or use 0 for a free one")
                out[name] = port
        high = _ephemeral_low()
        for name, port in requested.items():
            if port:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            for _ in range(200):
                candidate = random.randrange(LISTEN_PORTS_LOW, high) if high > LISTEN_PORTS_LOW + 1000 else 0
                try:
                    s.bind(("127.0.0.1", candidate))
                    break
                except OSError:
                    continue
            else:
                s.bind(("127.0.0.1", 0))
            held.append(s)
            out[name] = s.getsockname()[1]
    finally:
        for s in held:
            s.close()
    return out


@contextmanager
def port_claim() -> Iterator[None]:
    """One machine-wide claim from choosing listening ports until they are listened on: two
    topologies booting at once (parallel drills) never choose the same free port."""
    import fcntl

    lock_dir = Path(os.environ.get("DRILLS_CACHE") or Path.home() / ".cache" / "drills")
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "ports.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# What a server of the topology inherits from us: enough to find its libraries and speak in
# a known locale, nothing else — a secret parameter in our environment is not its business.
SERVER_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "HOME")


def in_parallel(jobs: Iterable[Callable[[], Any]]) -> None:
    """Run `jobs` at once, one thread each; when all have finished, raise the first failure
    (a boot waits for every component before it says which one did not come up)."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = list(jobs)
    if not jobs:
        return
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
    for f in futures:
        f.result()


def server_environment() -> dict[str, str]:
    return {k: os.environ[k] for k in SERVER_ENV_KEYS if k in os.environ}


def start(argv: list[str], log_path: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A server of the topology in its own session, with only `server_environment()` (or `env`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, env=server_environment() if env is None else env, start_new_session=True)
    finally:
        log.close()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes -- but a killed multi-threaded server's main
    # thread turns zombie while its other threads still hold the port and the InnoDB lock:
    # the process is alive until every thread has exited.
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        tasks = [Path(f"/proc/{pid}")]
    return any(_stat_state(task / "stat") not in ("", "Z", "X") for task in tasks)


def _stat_state(stat: Path) -> str:
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def process_state(pid: int) -> str:
    """The one-letter state of the main thread (R, S, T stopped, Z zombie...), "" if gone."""
    return _stat_state(Path(f"/proc/{pid}/stat"))


def ours(pid: int | None, marker: str) -> bool:
    return bool(pid) and is_alive(pid) and marker in cmdline(pid)  # type: ignore[arg-type]


def pids_with_marker(marker: str) -> list[int]:
    """Every live process whose command line mentions `marker` (our state directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if marker in cmdline(pid) and is_alive(pid):
                found.append(pid)
    return found


def stop(pids: Iterable[int], *, timeout: float = 10.0) -> list[int]:
    """SIGCONT (a hung process cannot exit), SIGTERM, then SIGKILL after `timeout`.
    Returns the pids that were still alive and had to be killed."""
    pids = [p for p in pids if is_alive(p)]
    for p in pids:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(p) for p in pids):
        reap(pids)
        time.sleep(0.02)
    killed = []
    for p in pids:
        if is_alive(p):
            killed.append(p)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_alive(p) for p in pids):
        reap(pids)
        time.sleep(0.02)
    reap(pids)
    return killed


def stop_group(popen: subprocess.Popen[Any], grace: float = 2.0) -> None:
    """Stop a command started with `start_new_session=True` (a user's shell step, controller
    or load generator) with everything it spawned: SIGTERM to its process group, then SIGKILL
    after `grace` seconds — to the whole group, so a child that outlives its shell (a monitor
    started by a wrapper script) is not left behind. A group already gone is not an error."""
    pgid = popen.pid
    deadline = time.monotonic() + grace
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        popen.poll()
        return
    while time.monotonic() < deadline:
        popen.poll()
        if not group_alive(pgid):
            return
        time.sleep(0.02)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def group_alive(pgid: int) -> bool:
    """Whether any process of the group `pgid` is still there."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class CommandResult:
    exit_status: int | None  # None: it did not finish in time
    output: str  # stdout and stderr, interleaved
    timed_out: bool
    left_running: bool  # it returned, but something it started was still running (now stopped)


def run_command(command: str, *, env: dict[str, str], cwd: str | os.PathLike[str] | None, timeout: float,
                grace: float = 2.0) -> CommandResult:
    """A user's command (a controller's failover, a `ready:` probe) in its own process group.
    Nothing it starts outlives it: on timeout the whole group is stopped — a failover still
    acting after the harness gave up on it would be a change nobody journaled — and so is
    anything it left running when it returned."""
    proc = subprocess.Popen(command, shell=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
        left = group_alive(proc.pid)
    except subprocess.TimeoutExpired:
        timed_out = proc.poll() is None  # else it returned and a child kept its output open
        left = not timed_out
        stop_group(proc, grace=grace)
        out, _ = proc.communicate()
    if left:
        stop_group(proc, grace=grace)
    return CommandResult(None if timed_out else proc.returncode, (out or b"").decode("utf-8", "replace"), timed_out, left)


def reap(pids: Iterable[int]) -> None:
    """Collect those of `pids` that are our exited children, so they do not linger as zombies.
    Never waitpid(-1): that would steal the exit status of other children (a shell step's)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def wait_port(host: str, port: int, timeout: float, *, proc: subprocess.Popen[bytes] | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise EnvironmentProblem(f"{what or 'process'} exited during start-up (code {proc.returncode})")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise EnvironmentProblem(f"{what or 'process'} did not listen on {host}:{port} within {timeout:.0f}s")
