"""Database faults: replication stopped or delayed on the replica, read_only flipped on.

They act through the admin account on the observer path (direct to the server), so a
network fault on the service path cannot stop them being injected or healed. A heal puts
back what inject found (threads that were running, the previous delay, the previous
read_only) rather than a fixed value, so healing never un-fences a side that a controller
had fenced before the fault.
"""

from __future__ import annotations

from typing import Any

import pymysql
import pymysql.cursors

from drills.faults.base import Fault, FaultError
from drills.mysql import admin


class DatabaseFault(Fault):
    family = "database"

    def _connect(self) -> pymysql.connections.Connection:
        return self.topo.connect(self.target, via="observer", role="admin", timeout=5.0, read_timeout=30.0)

    def _replica_row(self, conn: pymysql.connections.Connection) -> dict[str, Any]:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(admin.dialect(conn).status_sql)
            row = cur.fetchone()
        if not row:
            other = self.topo.other(self.target)
            raise FaultError(f"fault {self.name!r}: {self.target} is not a replica (no replication configured there)",
                             hint=f"target the replica side; while {other} -> {self.target} is not set up, "
                                  f"that is probably {other}")
        return row


def _threads_running(conn: pymysql.connections.Connection) -> dict[str, bool]:
    status = admin.replica_status(conn)
    if status is None:
        return {"io": False, "sql": False}
    return {"io": status.io_state in ("Yes", "Connecting"), "sql": status.sql_running}


class ReplicationStopFault(DatabaseFault):
    def _threads(self) -> tuple[str, ...]:
        thread = self.params["thread"]
        return ("io", "sql") if thread == "both" else (thread,)

    def _inject(self) -> None:
        conn = self._connect()
        try:
            self._replica_row(conn)
            was = _threads_running(conn)
            self.details = {"was_running": was}
            self._touch()
            admin.stop_replica(conn, None if self.params["thread"] == "both" else self.params["thread"])
        finally:
            conn.close()

    def _heal(self) -> dict[str, Any] | None:
        was = self.details.get("was_running", {})
        conn = self._connect()
        try:
            now = _threads_running(conn)
            started = [t for t in self._threads() if was.get(t) and not now[t]]
            start = admin.dialect(conn).start_replica()
            with conn.cursor() as cur:
                if len(started) == 2:
                    cur.execute(start)
                elif started:
                    cur.execute(f"{start} {started[0].upper()}_THREAD")
        finally:
            conn.close()
        return {"started": started}


class ReplicationDelayFault(DatabaseFault):
    def _set_delay(self, conn: pymysql.connections.Connection, seconds: int, restart: bool) -> None:
        d = admin.dialect(conn)
        sql = "CHANGE MASTER TO MASTER_DELAY = %s" if d.flavor == "mariadb" else "CHANGE REPLICATION SOURCE TO SOURCE_DELAY = %s"
        with conn.cursor() as cur:
            cur.execute(d.stop_replica())
            cur.execute(sql, (int(seconds),))
            if restart:
                cur.execute(d.start_replica())

    def _inject(self) -> None:
        conn = self._connect()
        try:
            row = self._replica_row(conn)
            was = _threads_running(conn)
            self.details = {"previous_delay_s": int(row.get("SQL_Delay") or 0), "was_running": was}
            self._touch()
            self._set_delay(conn, self.params["seconds"], restart=was["io"] or was["sql"])
        finally:
            conn.close()

    def _heal(self) -> dict[str, Any] | None:
        previous = int(self.details.get("previous_delay_s", 0))
        conn = self._connect()
        try:
            row = self._replica_row(conn)
            now = _threads_running(conn)
            if int(row.get("SQL_Delay") or 0) != previous:
                was = self.details.get("was_running", {})
                self._set_delay(conn, previous, restart=now["io"] or now["sql"] or bool(was.get("io") or was.get("sql")))
        finally:
            conn.close()
        return {"delay_s": previous}


class ReadOnlyFault(DatabaseFault):
    def _inject(self) -> None:
        conn = self._connect()
        try:
            self.details = {"previous": admin.read_only(conn)}
            self._touch()
            admin.set_read_only(conn, True)
        finally:
            conn.close()

    def _heal(self) -> dict[str, Any] | None:
        previous = bool(self.details.get("previous", False))
        conn = self._connect()
        try:
            if admin.read_only(conn) != previous:
                admin.set_read_only(conn, previous)
        finally:
            conn.close()
        return {"read_only": previous}
