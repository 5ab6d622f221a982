"""The control plane on a running topology: what the reference controller does for real.

Databases are reached on the service path (through Toxiproxy), as a real monitor would:
faults on that path are what it has to detect and survive. The routing document is read
and compare-and-swapped on the config centre. Each action opens its own short-lived
connection with a bounded timeout, so a hung server costs a timeout, never a stuck thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pymysql

from drills.mysql import admin

T = TypeVar("T")
_BROKEN = {2006, 2013, 2055}
EDGE_FENCE = "drills-edge-fence"  # toxics of this name are the controller's, not a scenario's fault


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args:
        return f"MySQL error {exc.args[0]}"
    return str(exc) or type(exc).__name__


class TopologyPlane:
    def __init__(self, topo: Any, *, probe_timeout: float = 0.2):
        self.topo = topo
        self.dcs = tuple(sorted(topo.servers))
        self.fence_timeout = max(0.5, probe_timeout * 2)
        self.action_timeout = max(2.0, probe_timeout * 5)
        self._cc_handle: Any = None
        self._sessions: dict[str, pymysql.connections.Connection] = {}
        self._session_locks = {dc: threading.Lock() for dc in self.dcs}

    @property
    def _cc(self) -> Any:
        # The monitor runs beside the config centre (as the source documents' MAS monitor
        # does), so a partition between the *applications* and etcd (fault `etcd_down` on the
        # `etcd` proxy) does not stop it; an outage of etcd itself (fault `crash` on etcd) does.
        if self._cc_handle is None:
            self._cc_handle = self.topo.config_center(via="observer")
        return self._cc_handle

    def _etcd(self, call: Callable[[Any], T]) -> T:
        """One config-centre call; a failed one drops the client so the next call opens a new
        channel instead of waiting out gRPC's reconnect back-off after etcd returns."""
        try:
            return call(self._cc)
        except Exception:
            cc, self._cc_handle = self._cc_handle, None
            if cc is not None:
                cc.close()
            raise

    def close(self) -> None:
        cc, self._cc_handle = self._cc_handle, None
        if cc is not None:
            cc.close()
        for dc in list(self._sessions):
            _close(self._sessions.pop(dc))

    def _with_session(self, dc: str, timeout: float, action: Callable[[pymysql.connections.Connection], T]) -> T:
        """Run `action` on a kept admin session to `dc` (a failover should not pay a new
        connection per step); a broken session is replaced once, any other error drops it.
        Probes never use it: they must see what a new client sees."""
        with self._session_locks[dc]:
            for attempt in (1, 2):
                conn = self._sessions.get(dc)
                if conn is None:
                    conn = self._connect(dc, timeout, read_timeout=self.action_timeout)
                    self._sessions[dc] = conn
                try:
                    return action(conn)
                except Exception as exc:
                    _close(self._sessions.pop(dc, conn))
                    code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else None
                    if attempt == 2 or code not in _BROKEN:
                        raise
            raise AssertionError("unreachable")

    def other(self, dc: str) -> str:
        return self.topo.other(dc)

    def _connect(self, dc: str, timeout: float, read_timeout: float | None = None) -> pymysql.connections.Connection:
        return self.topo.connect(dc, via="service", role="admin", timeout=timeout,
                                 read_timeout=read_timeout if read_timeout is not None else timeout)

    def probe(self, dc: str, timeout: float) -> str | None:
        try:
            conn = self._connect(dc, timeout)
        except Exception as exc:
            return _error_text(exc)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
            return None
        except Exception as exc:
            return _error_text(exc)
        finally:
            _close(conn)

    def peer_alive(self, dc: str, witness: str) -> bool | None:
        def look(conn: pymysql.connections.Connection) -> bool | None:
            status = admin.replica_status(conn)
            if status is not None and self.topo.source_behind(status.source_host, status.source_port) == dc:
                return status.io_running  # the IO thread still holds a live connection to dc
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%%'")
                (dumps,) = cur.fetchone()
            return bool(dumps) if status is None else None

        return self._with_session(witness, self.fence_timeout, look)

    def set_read_only(self, dc: str, on: bool, via: str = "service") -> None:
        if via == "management":
            conn = self.topo.connect(dc, via="observer", role="admin", timeout=self.fence_timeout,
                                     read_timeout=self.fence_timeout)
            try:
                admin.set_read_only(conn, on)
            finally:
                _close(conn)
            return
        self._with_session(dc, self.fence_timeout if on else self.action_timeout,
                           lambda conn: admin.set_read_only(conn, on))

    def _edge_paths(self, dc: str) -> list[str]:
        return [name for name in (f"app:{dc}", self.topo.link_proxy_name(dc, self.other(dc))) if name in self.topo.proxies]

    def cut_edge(self, dc: str) -> list[str]:
        """Reset-peer toxics on both streams of every service path into `dc`: connections that
        carry anything are reset at once, new ones die at their first byte."""
        tp = self.topo.toxiproxy()
        paths = self._edge_paths(dc)
        for name in paths:
            for stream in ("downstream", "upstream"):
                toxic = f"{EDGE_FENCE}-{stream}"
                if not any(t.name == toxic for t in tp.toxics(name)):
                    tp.add_toxic(name, "reset_peer", {"timeout": 0}, name=toxic, stream=stream)
        return paths

    def restore_edge(self, dc: str) -> None:
        tp = self.topo.toxiproxy()
        for name in self._edge_paths(dc):
            for toxic in tp.toxics(name):
                if toxic.name.startswith(EDGE_FENCE):
                    tp.remove_toxic(name, toxic.name)

    def replication_lag(self, dc: str) -> float | None:
        return self._with_session(dc, self.action_timeout, self._lag)

    def _lag(self, conn: pymysql.connections.Connection) -> float | None:
        status = admin.replica_status(conn)
        if status is None:
            return 0.0
        if status.lag_s is not None and status.io_running:
            return status.lag_s
        # IO thread gone (the source died): what was received is all there is; the
        # survivor is caught up once it has executed its whole relay log
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(admin.dialect(conn).status_sql)
            row = cur.fetchone() or {}
        read_file = row.get("Master_Log_File", row.get("Source_Log_File"))
        read_pos = row.get("Read_Master_Log_Pos", row.get("Read_Source_Log_Pos"))
        exec_file = row.get("Relay_Master_Log_File", row.get("Relay_Source_Log_File"))
        exec_pos = row.get("Exec_Master_Log_Pos", row.get("Exec_Source_Log_Pos"))
        if read_file is not None and (read_file, read_pos) == (exec_file, exec_pos):
            return 0.0
        return status.lag_s

    def replicates_from(self, replica: str, source: str) -> bool:
        status = self._with_session(replica, self.action_timeout, admin.replica_status)
        return status is not None and self.topo.source_behind(status.source_host, status.source_port) == source

    def stop_replication(self, dc: str) -> None:
        self._with_session(dc, self.action_timeout, admin.reset_replica)

    def gtid_executed(self, dc: str) -> str:
        return self._with_session(dc, self.action_timeout, admin.gtid_executed)

    def wait_for_gtid(self, dc: str, gtid: str, timeout: float) -> bool:
        conn = self._connect(dc, self.action_timeout, read_timeout=timeout + self.action_timeout)
        try:
            return admin.wait_for_gtid(conn, gtid, timeout)
        finally:
            _close(conn)

    def reverse_link(self, source: str, replica: str) -> dict[str, list[str]]:
        """`replica` replicates from `source` through the link proxy, with the declared
        filter list — the same list whichever way the link runs."""
        host, port = self.topo.link_address(source, replica)
        user, password = self.topo.credentials.for_role("repl")
        filters = self.topo.declared_filters.as_filters()
        conn = self._connect(replica, self.action_timeout)
        try:
            admin.configure_replica(conn, host, port, user, password, filters)  # from its own executed GTIDs
            return admin.read_filters(conn)
        finally:
            _close(conn)

    def read_route(self) -> Any:
        return self._etcd(lambda cc: cc.read())

    def publish_route(self, document: dict[str, Any], expected_revision: int) -> int | None:
        return self._etcd(lambda cc: cc.compare_and_swap(document, expected_revision))


def _close(conn: pymysql.connections.Connection) -> None:
    try:
        conn.close()
    except Exception:
        pass
