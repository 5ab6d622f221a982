"""Generated admin SQL per flavour. MySQL 8.4 cannot run here, so its syntax is pinned here."""

from __future__ import annotations

import pytest

from drills.mysql.dialect import MariaDB, MySQL, ReplicaSettings, dialect_for_version

S = ReplicaSettings("127.0.0.1", 3307, "repl", "s3cret")


def test_dialect_is_chosen_from_the_server_version() -> None:
    assert dialect_for_version("10.11.19-MariaDB-0+deb12u1-log").flavor == "mariadb"
    assert dialect_for_version("8.4.3").flavor == "mysql"


def test_mariadb_replica_uses_gtid_slave_pos() -> None:
    (sql, args), = MariaDB().change_source(S)
    assert sql.startswith("CHANGE MASTER TO") and "MASTER_USE_GTID=slave_pos" in sql
    assert args[:4] == ("127.0.0.1", 3307, "repl", "s3cret")


def test_mysql_replica_uses_source_auto_position() -> None:
    (sql, args), = MySQL().change_source(S)
    assert sql.startswith("CHANGE REPLICATION SOURCE TO") and "SOURCE_AUTO_POSITION=1" in sql
    assert "MASTER" not in sql and args[:4] == ("127.0.0.1", 3307, "repl", "s3cret")


def test_mariadb_filters_are_system_variables() -> None:
    stmts = MariaDB().set_filters(["app.app_config", "app.job_log"], ["app.tmp_%"])
    assert stmts == [
        ("SET GLOBAL replicate_ignore_table = %s", ("app.app_config,app.job_log",)),
        ("SET GLOBAL replicate_wild_ignore_table = %s", ("app.tmp_%",)),
    ]


def test_mysql_filters_use_change_replication_filter() -> None:
    (sql, args), = MySQL().set_filters(["app.app_config"], ["app.tmp_%", "bi.%"])
    assert sql == ("CHANGE REPLICATION FILTER REPLICATE_IGNORE_TABLE = (`app`.`app_config`), "
                   "REPLICATE_WILD_IGNORE_TABLE = (%s, %s)")
    assert args == ("app.tmp_%", "bi.%")


def test_mysql_empty_filters_clear_the_rules() -> None:
    (sql, args), = MySQL().set_filters([], [])
    assert "REPLICATE_IGNORE_TABLE = ()" in sql and args == ()


def test_filters_read_back_parse_per_flavour() -> None:
    assert MariaDB().parse_filters([{"ignore_tables": "app.b,app.a", "wild_ignore_tables": ""}]) == (["app.a", "app.b"], [])
    rows = [{"name": "REPLICATE_IGNORE_TABLE", "rule": "`app`.`app_config`,`app`.`job_log`"},
            {"name": "REPLICATE_WILD_IGNORE_TABLE", "rule": "app.tmp_%"}]
    assert MySQL().parse_filters(rows) == (["app.app_config", "app.job_log"], ["app.tmp_%"])


def test_gtid_waits_per_flavour() -> None:
    assert MariaDB().wait_for_gtid("0-1-5", 2) == ("SELECT MASTER_GTID_WAIT(%s, %s) AS r", ("0-1-5", 2.0))
    assert MySQL().wait_for_gtid("uuid:1-5", 2)[0].startswith("SELECT WAIT_FOR_EXECUTED_GTID_SET(")
    assert MariaDB().wait_succeeded(0) and not MariaDB().wait_succeeded(-1)
    assert MySQL().wait_succeeded(0) and not MySQL().wait_succeeded(1)


def test_fencing_uses_super_read_only_on_mysql() -> None:
    assert MySQL().fence(True) == ["SET GLOBAL super_read_only = 1"]
    assert MariaDB().fence(True) == ["SET GLOBAL read_only = 1"]
    assert MySQL().fence(False)[-1] == "SET GLOBAL read_only = 0"


@pytest.mark.parametrize("thread,expected", [(None, "STOP SLAVE"), ("io", "STOP SLAVE IO_THREAD"), ("sql", "STOP SLAVE SQL_THREAD")])
def test_stop_replica_threads(thread: str | None, expected: str) -> None:
    assert MariaDB().stop_replica(thread) == expected
    assert MySQL().stop_replica(thread) == expected.replace("SLAVE", "REPLICA")


def test_unknown_thread_is_rejected() -> None:
    with pytest.raises(ValueError):
        MariaDB().stop_replica("both")


def test_a_rejoining_primary_starts_from_its_own_executed_position() -> None:
    assert MariaDB().align_replica_position() == ["SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"]
    assert MySQL().align_replica_position() == []  # auto-positioning already uses gtid_executed
