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
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from drills import masking
from drills.config_center import ConfigCenter, default_document, routing_key, wait_until_ready
from drills.errors import EnvironmentProblem, UserError
from drills.filter_list import load as load_filter_list
from drills.mysql import admin
from drills.topology import processes as proc
from drills.topology.spec import TopologySpec
from drills.topology.state import Credentials, ProcessState, ProxyState, ServerState, Topology

SERVER_IDS = {"dc1": 1, "dc2": 2}
STARTUP_TIMEOUT = 30.0


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

    def argv(self, s: ServerState, spec: TopologySpec, base: Path) -> list[str]:
        common = [
            self.binary, "--no-defaults", f"--datadir={s.datadir}", f"--port={s.port}", "--bind-address=127.0.0.1",
            f"--socket={s.socket}", f"--pid-file={base}/{s.name}/mysqld.pid", f"--log-error={base}/{s.name}/error.log",
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


# ---- up ---------------------------------------------------------------------------------------

def up(spec: TopologySpec | None = None, state_dir: str | os.PathLike[str] | None = None,
       progress: Callable[[str], None] | None = None) -> Topology:
    """Start a complete topology and return its handle. On any failure, whatever was
    started is stopped and the state directory removed before the error propagates."""
    spec = spec or TopologySpec()
    base = Path(state_dir) if state_dir else default_state_dir()
    base = base.resolve()
    say = progress or (lambda _msg: None)
    _check_inputs(spec)
    _claim_state_dir(base)
    try:
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
    p = spec.ports
    ports = proc.allocate_ports({
        "dc1": p.dc1, "dc2": p.dc2, "etcd": p.etcd, "etcd_peer": p.etcd_peer, "toxiproxy": p.toxiproxy,
        "app:dc1": p.app_dc1, "app:dc2": p.app_dc2, "link:dc1->dc2": p.link_dc1_dc2, "link:dc2->dc1": p.link_dc2_dc1,
        "etcd-proxy": p.etcd_proxy,
    })
    (base / "pids").mkdir(parents=True, exist_ok=True)
    (base / "logs").mkdir(parents=True, exist_ok=True)

    tpl = kind.ensure_template()
    servers: dict[str, ServerState] = {}
    for dc in ("dc1", "dc2"):
        d = base / dc
        d.mkdir(parents=True, exist_ok=True)
        servers[dc] = ServerState(name=dc, host="127.0.0.1", port=ports[dc], server_id=SERVER_IDS[dc], datadir=str(d / "data"),
                                  socket=_socket_path(base, dc), flavor=spec.flavor)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: shutil.copytree(tpl, s.datadir, ignore=shutil.ignore_patterns(".complete")), servers.values()))

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
    etcd = ProcessState("etcd", "127.0.0.1", ports["etcd"], argv=[
        proc.find_binary("etcd"), "--name", "drills", "--data-dir", str(etcd_dir / "data"),
        "--listen-client-urls", f"http://127.0.0.1:{ports['etcd']}", "--advertise-client-urls", f"http://127.0.0.1:{ports['etcd']}",
        "--listen-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
        "--initial-cluster", f"drills=http://127.0.0.1:{ports['etcd_peer']}", "--log-level", "warn", "--logger", "zap",
    ], extra={"peer_port": ports["etcd_peer"]})
    toxi = ProcessState("toxiproxy", "127.0.0.1", ports["toxiproxy"], argv=[
        proc.toxiproxy_binary(), "-host", "127.0.0.1", "-port", str(ports["toxiproxy"]), "-config", str(toxi_config)])
    for s in servers.values():
        s.argv = kind.argv(s, spec, base)
        s.version = kind.version_line

    creds = Credentials("drills", secrets.token_urlsafe(18), "repl", secrets.token_urlsafe(18), "app", secrets.token_urlsafe(18),
                        root_password=secrets.token_urlsafe(18))
    masking.register(*creds_secrets(creds))
    topo = Topology(
        state_dir=base, provider="local", flavor=spec.flavor, app=spec.app, monitor=spec.monitor,
        routing_key=routing_key(spec.app, spec.monitor), servers=servers, etcd=etcd, toxiproxy_api=toxi, proxies=proxies,
        filter_list_file=str(spec.filter_list), schema_file=str(spec.schema_file), seed_file=str(spec.seed) if spec.seed else None,
        retry={"times": spec.routing.retry.times, "delay_ms": spec.routing.retry.delay_ms}, credentials=creds,
    )
    # start everything at once; pid files first so a crash from here on is recoverable
    popens: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in [("dc1", servers["dc1"].argv), ("dc2", servers["dc2"].argv), ("etcd", etcd.argv), ("toxiproxy", toxi.argv)]:
        popens[name] = proc.start(argv, base / "logs" / f"{name}.log")
        (base / "pids" / f"{name}.pid").write_text(str(popens[name].pid))
    servers["dc1"].pid, servers["dc2"].pid = popens["dc1"].pid, popens["dc2"].pid
    etcd.pid, toxi.pid = popens["etcd"].pid, popens["toxiproxy"].pid
    topo.save()
    say(f"processes started ({time.monotonic() - t0:.2f}s)")

    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)
        return run

    def prepare_server(dc: str) -> None:
        s = servers[dc]
        conn = _wait_socket(s, popens[dc])
        try:
            info = admin.server_info(conn)
            s.version = info["version"]
            _bootstrap_users(conn, creds)
            _load_schema(conn, spec.schema_file, spec.seed, dc)
        finally:
            conn.close()

    threads = [threading.Thread(target=guarded(lambda d=dc: prepare_server(d))) for dc in ("dc1", "dc2")]
    threads.append(threading.Thread(target=guarded(lambda: wait_until_ready("127.0.0.1", ports["etcd"], STARTUP_TIMEOUT))))
    threads.append(threading.Thread(target=guarded(
        lambda: proc.wait_port("127.0.0.1", ports["toxiproxy"], STARTUP_TIMEOUT, proc=popens["toxiproxy"], what="toxiproxy-server"))))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    say(f"servers, etcd and toxiproxy answer ({time.monotonic() - t0:.2f}s)")

    cc = ConfigCenter("127.0.0.1", ports["etcd"], topo.routing_key)
    try:
        cc.put(default_document("dc1", times=spec.routing.retry.times, delay_ms=spec.routing.retry.delay_ms))
    finally:
        cc.close()
    _wait_proxies(topo)
    _start_link(topo, source="dc1", replica="dc2")
    _fence_standby(topo, "dc2")
    _seed_synced(topo)
    topo.save()
    _wait_replication(topo, "dc2", timeout=STARTUP_TIMEOUT)
    say(f"replication dc1 -> dc2 running ({time.monotonic() - t0:.2f}s)")
    return topo


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


def _root(s: ServerState, topo: Topology | None = None, **kw: Any) -> pymysql.connections.Connection:
    """root@localhost over the server's unix socket: the one account that may change accounts
    before ours exist. It has a random password from the first start on (kept with the others)."""
    password = topo.credentials.root_password if topo is not None and topo.credentials is not None else ""
    return pymysql.connect(unix_socket=s.socket, user="root", password=password, autocommit=True,
                           client_flag=CLIENT.MULTI_STATEMENTS, **kw)


def _wait_socket(s: ServerState, popen: subprocess.Popen[bytes] | None,
                 topo: Topology | None = None) -> pymysql.connections.Connection:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            raise EnvironmentProblem(f"{s.name}: server exited during start-up (code {popen.returncode}): "
                                     f"{_error_log_tail(Path(s.datadir).parent / 'error.log')}")
        if os.path.exists(s.socket):
            try:
                return _root(s, topo, connect_timeout=2)
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
        cur.execute("SELECT User, Host FROM mysql.user")
        for user, host in cur.fetchall():
            if user == "" or (user == "root" and host != "localhost"):
                cur.execute("DROP USER %s@%s", (user, host))
        if c.root_password:
            cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (c.root_password,))


def _exec_script(conn: pymysql.connections.Connection, sql: str) -> None:
    with conn.cursor() as cur:
        cur.execute(sql)
        while cur.nextset():
            pass


def _seed_sections(path: str | Path | None) -> dict[str, str]:
    if not path:
        return {}
    sections: dict[str, list[str]] = {}
    current = "synced"
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^--\s*@(\w+)\s*$", line)
        if m:
            current = m.group(1)
            continue
        sections.setdefault(current, []).append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def _for_dc(sql: str, dc: str) -> str:
    return sql.replace("{dc}", dc).replace("{dcn}", dc[-1]).replace("{dc_is_dc1}", "1" if dc == "dc1" else "0")


def _load_schema(conn: pymysql.connections.Connection, schema: str | Path, seed: str | Path | None, dc: str) -> None:
    """Schema on this side, unlogged (each side creates its own: DDL on filtered tables is
    filtered too), plus the per-side seed rows of filtered tables."""
    schema = Path(schema)
    try:
        _exec_script(conn, "SET SESSION sql_log_bin = 0;\n" + schema.read_text(encoding="utf-8"))
        each = _seed_sections(seed).get("each")
        if each and each.strip():
            _exec_script(conn, "SET SESSION sql_log_bin = 0;\n" + _for_dc(each, dc))
    except pymysql.err.MySQLError as exc:
        raise UserError(f"{dc}: loading {schema.name} failed: {exc.args[-1] if exc.args else exc}") from None
    finally:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_log_bin = 1")


def _seed_synced(topo: Topology) -> None:
    synced = _seed_sections(topo.seed_file).get("synced")
    if synced and synced.strip():
        # through the socket as root: seed rows replicate like any application write
        conn = _root(topo.servers["dc1"], topo)
        try:
            _exec_script(conn, synced)
        finally:
            conn.close()


def _wait_proxies(topo: Topology, timeout: float = 5.0) -> None:
    tp = topo.toxiproxy()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if set(tp.proxies()) >= set(topo.proxies):
                return
        except UserError:
            pass
        time.sleep(0.02)
    raise EnvironmentProblem("toxiproxy-server did not create the proxies from its config")


def _start_link(topo: Topology, *, source: str, replica: str) -> None:
    host, port = topo.link_address(source, replica)
    assert topo.credentials is not None
    conn = topo.connect(replica)
    try:
        admin.configure_replica(conn, host, port, topo.credentials.repl_user, topo.credentials.repl_password,
                                topo.declared_filters.as_filters())
    finally:
        conn.close()


def _fence_standby(topo: Topology, dc: str) -> None:
    """The standby starts read-only, as in the source documents: its application may read but
    not write until a switch promotes it (the replication thread still applies)."""
    conn = topo.connect(dc)
    try:
        admin.set_read_only(conn, True)
    finally:
        conn.close()


def _wait_replication(topo: Topology, replica: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    conn = topo.connect(replica)
    try:
        status = None
        while time.monotonic() < deadline:
            status = admin.replica_status(conn)
            if status and status.io_running and status.sql_running:
                src = topo.connect(topo.other(replica))
                try:
                    gtid = admin.gtid_executed(src)
                finally:
                    src.close()
                if admin.wait_for_gtid(conn, gtid, max(0.1, deadline - time.monotonic())):
                    return
            if status and status.last_sql_error:
                break
            time.sleep(0.02)
        detail = (status.last_io_error or status.last_sql_error or status.io_state) if status else "not configured"
        raise EnvironmentProblem(f"replication to {replica} did not start: {detail}")
    finally:
        conn.close()


# ---- reset (tests and runs that share one topology) -------------------------------------------------------------

def reset(topo: Topology, *, filter_list: str | os.PathLike[str] | None = None,
          schema: str | os.PathLike[str] | None = None, seed: str | os.PathLike[str] | None = None) -> None:
    """Back to the baseline of `up`: all processes running, proxies as created with no toxics,
    schema and seed reloaded, binlogs and GTID state cleared, replication dc1 -> dc2 with the
    declared filters, dc2 read-only, routing document active=dc1 epoch=1.

    `filter_list`, `schema` and `seed` replace the topology's own from now on (recorded in
    state.json), so scenarios that differ only in those can share one running topology."""
    topo.refresh_pids()  # before any save: a fault may have restarted a process since `topo` was loaded
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
    for name in ("dc1", "dc2", "etcd", "toxiproxy"):
        ensure_running(topo, name)
    tp = topo.toxiproxy()
    for name, px in topo.proxies.items():
        try:
            tp.delete_proxy(name)
        except UserError:
            pass
        tp.create_proxy(name, px.listen, px.upstream)
    conns = {dc: _root(topo.servers[dc], topo, connect_timeout=5) for dc in ("dc1", "dc2")}
    try:
        for conn in conns.values():
            admin.reset_replica(conn)
            admin.set_read_only(conn, False)
        for dc, conn in conns.items():
            _exec_script(conn, "SET SESSION sql_log_bin = 0; DROP DATABASE IF EXISTS app; DROP DATABASE IF EXISTS bi; "
                               "DROP DATABASE IF EXISTS percona; DROP DATABASE IF EXISTS drills_canary; RESET MASTER; "
                               "SET GLOBAL gtid_slave_pos = '';")
            _load_schema(conn, topo.schema_file, topo.seed_file, dc)
    finally:
        for conn in conns.values():
            conn.close()
    cc = topo.config_center()
    try:
        cc.put(default_document("dc1", times=topo.retry.get("times", 3), delay_ms=topo.retry.get("delay_ms", 5000)))
    finally:
        cc.close()
    _start_link(topo, source="dc1", replica="dc2")
    _fence_standby(topo, "dc2")
    _seed_synced(topo)
    _wait_replication(topo, "dc2", timeout=STARTUP_TIMEOUT)


def ensure_running(topo: Topology, name: str) -> int:
    """Start a component again from its recorded command line if it is not running (after a
    crash fault), resuming it if it was stopped (after a hang fault). Returns its pid."""
    state = topo.servers.get(name) or {"etcd": topo.etcd, "toxiproxy": topo.toxiproxy_api}[name]
    marker = str(topo.state_dir)
    if not proc.ours(state.pid, marker):
        # state.json may be stale (another handle restarted it): adopt a live instance of this
        # component rather than start a second one on the same data directory
        live = proc.pids_with_marker(_instance_marker(topo, name))
        if live:
            state.pid = live[0]
            (topo.state_dir / "pids" / f"{name}.pid").write_text(str(state.pid))
            topo.save()
    if proc.ours(state.pid, marker):
        os.kill(state.pid, signal.SIGCONT)  # harmless when running; resumes a hung process
        return state.pid  # type: ignore[return-value]
    popen = proc.start(state.argv, topo.state_dir / "logs" / f"{name}.log")
    state.pid = popen.pid
    (topo.state_dir / "pids" / f"{name}.pid").write_text(str(popen.pid))
    topo.save()
    if name in topo.servers:
        _wait_socket(topo.servers[name], popen, topo).close()
    elif name == "etcd":
        wait_until_ready(state.host, state.port, STARTUP_TIMEOUT)
    else:
        proc.wait_port(state.host, state.port, STARTUP_TIMEOUT, proc=popen, what="toxiproxy-server")
    return popen.pid


def _instance_marker(topo: Topology, name: str) -> str:
    """What only this component's command line contains (its data directory or config)."""
    if name in topo.servers:
        return f"--datadir={topo.servers[name].datadir}"
    if name == "etcd":
        return str(topo.state_dir / "etcd" / "data")
    return str(topo.state_dir / "toxiproxy.json")


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
