"""SQL per flavour. Pure: each method returns statements (with pymysql-style `%s` args) so
the MySQL 8.4 syntax, which no server here can run, is at least pinned by unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Statement = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class ReplicaSettings:
    host: str
    port: int
    user: str
    password: str
    connect_retry: int = 1
    heartbeat_s: float = 0.5


class Dialect:
    flavor = "abstract"
    status_sql = ""
    field_io = field_sql = field_lag = field_host = field_port = ""

    def change_source(self, s: ReplicaSettings) -> list[Statement]:
        raise NotImplementedError

    def set_filters(self, ignore: list[str], wild: list[str]) -> list[Statement]:
        raise NotImplementedError

    def align_replica_position(self) -> list[str]:
        """Before pointing a server at a (new) source: start from what it has executed itself,
        so an old primary rejoining as a replica does not replay its own transactions."""
        return []

    def read_filters_sql(self) -> str:
        raise NotImplementedError

    def parse_filters(self, rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def start_replica(self) -> str:
        raise NotImplementedError

    def stop_replica(self, thread: str | None = None) -> str:
        raise NotImplementedError

    def reset_replica(self) -> str:
        raise NotImplementedError

    def gtid_executed_sql(self) -> str:
        raise NotImplementedError

    def wait_for_gtid(self, gtid: str, timeout_s: float) -> Statement:
        raise NotImplementedError

    def wait_succeeded(self, value: Any) -> bool:
        raise NotImplementedError

    def fence(self, on: bool) -> list[str]:
        raise NotImplementedError

    def read_only_sql(self) -> str:
        return "SELECT @@GLOBAL.read_only AS ro"


def _thread_clause(thread: str | None) -> str:
    if thread is None:
        return ""
    if thread.lower() not in ("io", "sql"):
        raise ValueError(f"replication thread must be 'io' or 'sql', not {thread!r}")
    return f" {thread.upper()}_THREAD"


class MariaDB(Dialect):
    flavor = "mariadb"
    status_sql = "SHOW SLAVE STATUS"
    field_io, field_sql, field_lag = "Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master"
    field_host, field_port = "Master_Host", "Master_Port"

    def change_source(self, s: ReplicaSettings) -> list[Statement]:
        return [(
            "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, MASTER_PASSWORD=%s, "
            "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=%s, MASTER_HEARTBEAT_PERIOD=%s",
            (s.host, int(s.port), s.user, s.password, int(s.connect_retry), float(s.heartbeat_s)),
        )]

    def set_filters(self, ignore: list[str], wild: list[str]) -> list[Statement]:
        # MariaDB: dynamic system variables, settable while the replica threads are stopped.
        return [
            ("SET GLOBAL replicate_ignore_table = %s", (",".join(ignore),)),
            ("SET GLOBAL replicate_wild_ignore_table = %s", (",".join(wild),)),
        ]

    def align_replica_position(self) -> list[str]:
        # MASTER_USE_GTID=slave_pos starts from gtid_slave_pos, which a former primary never set;
        # its binlog (log_slave_updates is on) holds everything it executed, local or replicated.
        return ["SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"]

    def read_filters_sql(self) -> str:
        return "SELECT @@GLOBAL.replicate_ignore_table AS ignore_tables, @@GLOBAL.replicate_wild_ignore_table AS wild_ignore_tables"

    def parse_filters(self, rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        row = rows[0] if rows else {}
        split = lambda v: sorted({x.strip() for x in (v or "").split(",") if x.strip()})  # noqa: E731
        return split(row.get("ignore_tables")), split(row.get("wild_ignore_tables"))

    def start_replica(self) -> str:
        return "START SLAVE"

    def stop_replica(self, thread: str | None = None) -> str:
        return "STOP SLAVE" + _thread_clause(thread)

    def reset_replica(self) -> str:
        return "RESET SLAVE ALL"

    def gtid_executed_sql(self) -> str:
        # log_slave_updates is on, so the binlog position holds local and replicated transactions
        return "SELECT @@GLOBAL.gtid_binlog_pos AS gtid"

    def wait_for_gtid(self, gtid: str, timeout_s: float) -> Statement:
        return ("SELECT MASTER_GTID_WAIT(%s, %s) AS r", (gtid, float(timeout_s)))

    def wait_succeeded(self, value: Any) -> bool:
        return value is not None and int(value) == 0  # -1 = timeout

    def fence(self, on: bool) -> list[str]:
        return [f"SET GLOBAL read_only = {1 if on else 0}"]


class MySQL(Dialect):
    flavor = "mysql"
    status_sql = "SHOW REPLICA STATUS"
    field_io, field_sql, field_lag = "Replica_IO_Running", "Replica_SQL_Running", "Seconds_Behind_Source"
    field_host, field_port = "Source_Host", "Source_Port"

    def change_source(self, s: ReplicaSettings) -> list[Statement]:
        return [(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST=%s, SOURCE_PORT=%s, SOURCE_USER=%s, SOURCE_PASSWORD=%s, "
            "SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=%s, SOURCE_HEARTBEAT_PERIOD=%s, GET_SOURCE_PUBLIC_KEY=1",
            (s.host, int(s.port), s.user, s.password, int(s.connect_retry), float(s.heartbeat_s)),
        )]

    def set_filters(self, ignore: list[str], wild: list[str]) -> list[Statement]:
        # CHANGE REPLICATION FILTER takes identifiers (exact) and string patterns (wild);
        # an empty list clears the rule.
        def ident(name: str) -> str:
            db, table = name.split(".", 1)
            return f"`{db.replace('`', '``')}`.`{table.replace('`', '``')}`"

        exact = ", ".join(ident(n) for n in ignore)
        wild_sql = ", ".join(["%s"] * len(wild))
        return [(
            f"CHANGE REPLICATION FILTER REPLICATE_IGNORE_TABLE = ({exact}), REPLICATE_WILD_IGNORE_TABLE = ({wild_sql})",
            tuple(wild),
        )]

    def read_filters_sql(self) -> str:
        return ("SELECT FILTER_NAME AS name, FILTER_RULE AS rule "
                "FROM performance_schema.replication_applier_global_filters")

    def parse_filters(self, rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        ignore: set[str] = set()
        wild: set[str] = set()
        for row in rows:
            rule = (row.get("rule") or "").replace("`", "")
            items = {x.strip() for x in rule.split(",") if x.strip()}
            if row.get("name") == "REPLICATE_IGNORE_TABLE":
                ignore |= items
            elif row.get("name") == "REPLICATE_WILD_IGNORE_TABLE":
                wild |= items
        return sorted(ignore), sorted(wild)

    def start_replica(self) -> str:
        return "START REPLICA"

    def stop_replica(self, thread: str | None = None) -> str:
        return "STOP REPLICA" + _thread_clause(thread)

    def reset_replica(self) -> str:
        return "RESET REPLICA ALL"

    def gtid_executed_sql(self) -> str:
        return "SELECT @@GLOBAL.gtid_executed AS gtid"

    def wait_for_gtid(self, gtid: str, timeout_s: float) -> Statement:
        return ("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s) AS r", (gtid, float(timeout_s)))

    def wait_succeeded(self, value: Any) -> bool:
        return value is not None and int(value) == 0  # 1 = timeout

    def fence(self, on: bool) -> list[str]:
        # super_read_only also stops accounts with CONNECTION_ADMIN/SUPER from writing
        return ["SET GLOBAL super_read_only = 1"] if on else ["SET GLOBAL super_read_only = 0", "SET GLOBAL read_only = 0"]

    def read_only_sql(self) -> str:
        return "SELECT @@GLOBAL.read_only AS ro"


def dialect_for_version(version: str) -> Dialect:
    return MariaDB() if "mariadb" in version.lower() else MySQL()
