"""The pure parts of `drills env check`: which privileges drills needs per flavour and version,
how grants are read and compared, the fixes it prints, and that the report never shows a
secret. The live checks are in tests/integration/test_env_check.py."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
import yaml

from drills import masking
from drills.errors import ConfigError
from drills.filter_list import FilterList
from drills.mysql.dialect import MariaDB, MySQL
from drills.topology.environment import EnvironmentFile
from drills.topology.preflight import (
    Held,
    Need,
    admin_needs,
    app_needs,
    canonical,
    expected_upstreams,
    filter_apply_fix,
    filter_differences,
    grant_statement,
    grantee,
    parse_grants,
    parse_version,
    preflight,
    print_report,
    render_statement,
    report_lines,
    route_findings,
    same_address,
    split_account,
    split_grant_privileges,
)


def _missing(needs: list[Need], held: Held) -> dict[str, list[str]]:
    return {n.why: n.missing(held) for n in needs if n.missing(held)}


# ---- privileges --------------------------------------------------------------------------------------


def test_aliases_are_spelled_as_information_schema_reports_them() -> None:
    assert canonical("replica monitor") == "SLAVE MONITOR"
    assert canonical("REPLICATION CLIENT") == "BINLOG MONITOR"  # MariaDB >= 10.5.2
    assert canonical(" read_only   admin ") == "READ_ONLY ADMIN"
    assert canonical("ALL") == "ALL PRIVILEGES"


def test_held_covers_global_schema_pattern_and_table_grants() -> None:
    held = Held()
    held.add_global(["SELECT"])
    held.add_schema("drills\\_canary", ["CREATE", "INSERT"])
    held.add_schema("drills%", ["DELETE"])
    held.add_schema("app", ["ALL PRIVILEGES"])
    held.add_table("bi", "report", ["INSERT"])
    assert held.has("SELECT", "anything")
    assert held.has("CREATE", "drills_canary") and held.has("DELETE", "drills_canary")
    assert not held.has("CREATE", "drillsXcanary")  # an escaped `_` is literal
    assert not held.has("DROP", "drills_canary")
    assert held.has("UPDATE", "app") and not held.has("UPDATE", "bi")
    assert held.has("INSERT", "bi", "report") and not held.has("INSERT", "bi", "other")
    assert not held.has("REPLICATION SLAVE ADMIN")


def test_mariadb_10_11_needs_read_only_admin_super_does_not_cover_it() -> None:
    needs = admin_needs("mariadb", "10.11.19-MariaDB-0+deb12u1-log", "canary")
    held = Held()
    held.add_global(["SUPER", "SELECT"])
    held.add_schema("drills_canary", ["CREATE", "INSERT", "DELETE", "DROP"])
    missing = _missing(needs, held)
    assert list(missing.values()) == [["READ_ONLY ADMIN"]]
    assert "SUPER does not cover it from MariaDB 10.11" in next(n.note for n in needs if n.privileges == ("READ_ONLY ADMIN",))


def test_mariadb_10_6_accepts_super_for_read_only() -> None:
    held = Held()
    held.add_global(["SUPER", "SELECT", "CREATE", "INSERT", "DELETE", "DROP"])
    assert _missing(admin_needs("mariadb", "10.6.18-MariaDB", "canary"), held) == {}


def test_mariadb_10_11_named_privileges_without_super() -> None:
    held = Held()
    held.add_global(["SLAVE MONITOR", "REPLICATION CLIENT", "SELECT", "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN",
                     "BINLOG ADMIN"])
    needs = admin_needs("mariadb", "10.11.6-MariaDB", "canary")
    assert _missing(needs, held) == {
        "to keep its canary table in the harness schema drills_canary": ["CREATE", "INSERT", "DELETE", "DROP"]}
    # writes: none asks for no write privilege at all
    assert _missing(admin_needs("mariadb", "10.11.6-MariaDB", "none"), held) == {}


def test_writes_all_needs_marker_rows_in_the_filtered_tables() -> None:
    filters = FilterList.from_filters(["app.app_config"], ["bi.%", "%.tmp"])
    needs = admin_needs("mariadb", "10.11.6", "all", filters)
    tables = [(n.schema, n.table) for n in needs if n.privileges == ("INSERT", "DELETE")]
    assert tables == [("app", "app_config"), ("bi", None)]  # a pattern whose schema is a wildcard names no schema


def test_mysql_and_old_mariadb_have_their_own_names() -> None:
    mysql = {p for n in admin_needs("mysql", "8.4.2", "none") for p in n.privileges}
    assert {"REPLICATION CLIENT", "SYSTEM_VARIABLES_ADMIN", "REPLICATION_SLAVE_ADMIN", "SELECT"} == mysql
    old = admin_needs("mariadb", "10.4.30-MariaDB", "none")
    held = Held()
    held.add_global(["SUPER", "SELECT"])
    assert _missing(old, held) == {}


def test_app_needs_dml_on_its_database() -> None:
    held = Held()
    held.add_schema("app", ["SELECT", "INSERT"])
    assert _missing(app_needs(), held) == {"for the workload's reads and writes in `app`": ["UPDATE", "DELETE"]}


def test_parse_version() -> None:
    assert parse_version("10.11.19-MariaDB-0+deb12u1-log") == (10, 11, 19)
    assert parse_version("8.0") == (8, 0, 0)
    assert parse_version("") == (0, 0, 0)


def test_parse_show_grants_as_mariadb_writes_them() -> None:
    lines = [  # SHOW GRANTS of MariaDB 10.11 (role membership, a password hash, escaped and wildcard schemas)
        "GRANT `r_mon` TO `p_none`@`%`",
        "GRANT USAGE ON *.* TO `p_none`@`%` IDENTIFIED BY PASSWORD '*3E37AF99C403572FF7CC53D335BE336E52569EBF'",
        "GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO `r_mon`",
        "GRANT SELECT, INSERT ON `app`.* TO `r_mon`",
        "GRANT ALL PRIVILEGES ON `drills\\_canary`.* TO `r_mon`",
        "GRANT INSERT ON `app`.`app_config` TO `p_x`@`%`",
        "GRANT SELECT (id, name), UPDATE ON `bi`.`report` TO `p_x`@`%`",
        "GRANT EXECUTE ON PROCEDURE `app`.`p` TO `p_x`@`%`",
        "SET DEFAULT ROLE `r_mon` FOR `p_none`@`%`",
    ]
    held = parse_grants(lines)
    assert held.global_ == {"USAGE", "SLAVE MONITOR", "BINLOG MONITOR"}
    assert held.has("INSERT", "app") and not held.has("DELETE", "app")
    assert held.has("DROP", "drills_canary")
    assert held.tables == {("app", "app_config"): {"INSERT"}, ("bi", "report"): {"UPDATE"}}  # column grants left out
    assert not held.has("EXECUTE", "app")


def test_parse_show_grants_as_mysql_writes_dynamic_privileges() -> None:
    held = parse_grants(["GRANT SELECT, REPLICATION CLIENT ON *.* TO `drills`@`%`",
                         "GRANT REPLICATION_SLAVE_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `drills`@`%`"])
    assert {"SELECT", "BINLOG MONITOR", "REPLICATION_SLAVE_ADMIN", "SYSTEM_VARIABLES_ADMIN"} == held.global_
    assert split_grant_privileges("SELECT (a, b), INSERT") == ["INSERT"]


def test_the_grant_statement_uses_the_account_as_current_user_reports_it() -> None:
    assert split_account("dr_ro@%") == ("dr_ro", "%")
    assert split_account("odd@name@10.0.0.%") == ("odd@name", "10.0.0.%")
    assert grantee("o'brien", "%") == "'o''brien'@'%'"
    assert (grant_statement(["SLAVE MONITOR"], "*.*", grantee("dr_ro", "%"))
            == "GRANT REPLICA MONITOR ON *.* TO 'dr_ro'@'%';")
    need = Need("x", ("CREATE", "DROP"), schema="drills_canary")
    assert grant_statement(need.missing(Held()), need.on, "'u'@'h'") == "GRANT CREATE, DROP ON `drills_canary`.* TO 'u'@'h';"
    assert Need("x", ("INSERT",), schema="app", table="t`1").on == "`app`.`t``1`"


# ---- filters ---------------------------------------------------------------------------------------------


def test_filter_differences_name_each_missing_and_extra_entry() -> None:
    declared = {"ignore_tables": ["app.a", "app.b"], "wild_ignore_tables": ["bi.%"]}
    effective = {"ignore_tables": ["app.b", "app.c"], "wild_ignore_tables": ["bi.%"]}
    assert filter_differences(declared, effective) == [("ignore_tables", "app.a", "missing"),
                                                       ("ignore_tables", "app.c", "extra")]
    assert filter_differences(declared, declared) == []


def test_filter_fixes_in_each_flavours_syntax() -> None:
    declared = {"ignore_tables": ["app.a"], "wild_ignore_tables": ["app.tmp\\_%", "bi.%"]}
    assert (filter_apply_fix(MariaDB(), "dc2", declared, "wild_ignore_tables")
            == "on dc2: STOP SLAVE; SET GLOBAL replicate_wild_ignore_table = 'app.tmp\\\\_%,bi.%'; START SLAVE;")
    assert (filter_apply_fix(MariaDB(), "dc2", declared, "ignore_tables")
            == "on dc2: STOP SLAVE; SET GLOBAL replicate_ignore_table = 'app.a'; START SLAVE;")
    assert (filter_apply_fix(MySQL(), "dc1", declared, "ignore_tables")
            == "on dc1: STOP REPLICA; CHANGE REPLICATION FILTER REPLICATE_IGNORE_TABLE = (`app`.`a`), "
               "REPLICATE_WILD_IGNORE_TABLE = ('app.tmp\\\\_%', 'bi.%'); START REPLICA;")
    assert render_statement("SELECT %s, %s", ("it's", 3)) == "SELECT 'it\\'s', 3"


# ---- addresses and routes ------------------------------------------------------------------------------


def test_same_address_treats_localhost_as_127_0_0_1() -> None:
    assert same_address("localhost:3306", "127.0.0.1:3306", resolve=False)
    assert same_address("[::1]:3306", "127.0.0.1:3306", resolve=False)
    assert not same_address("127.0.0.1:3306", "127.0.0.1:3307", resolve=False)
    assert not same_address("db1:3306", "db2:3306", resolve=False)
    assert same_address(f"{socket.gethostname()}:1", f"{socket.gethostname()}:1")


def _env(**changes: object) -> EnvironmentFile:
    doc = {
        "name": "staging", "provider": "external",
        "servers": {"dc1": {"observer": {"host": "db1", "port": 3306}}, "dc2": {"observer": {"host": "db2", "port": 3307}}},
        "accounts": {"admin": {"user": "a", "password": {"env": "A"}}, "app": {"user": "b", "password": {"env": "B"}}},
        "etcd": {"endpoint": {"host": "etcd1", "port": 2379}, "routing_key": "/r"},
        "toxiproxy": {"api": "http://tp:8474", "proxies": {"app:dc1": "x", "app:dc2": "y"}},
        "replication": {"filter_list": "f.yaml"},
        **changes,
    }
    return EnvironmentFile.model_validate(doc)


def test_expected_upstreams_lead_each_path_to_its_server() -> None:
    assert expected_upstreams(_env()) == {"app:dc1": "db1:3306", "app:dc2": "db2:3307", "link:dc1->dc2": "db1:3306",
                                          "link:dc2->dc1": "db2:3307", "etcd": "etcd1:2379"}


def test_route_findings() -> None:
    good = {"active": "dc1", "epoch": 3, "retry": {"times": 3, "delay_ms": 100}}
    assert route_findings(good, "dc1") == []
    assert "the route and the link disagree" in route_findings(good, "dc2")[0]
    assert "neither dc1 nor dc2" in route_findings({**good, "active": "dc3"}, "dc1")[0]
    assert "cannot follow it" in route_findings({"active": "dc1", "epoch": "3"}, "dc1")[0]


# ---- the report -----------------------------------------------------------------------------------------


def test_report_lines_one_per_finding_and_the_count_last() -> None:
    report = {"problems": [{"check": "grants", "where": "w", "what": "X lacks Y", "fix": "GRANT Y ON *.* TO 'x'@'%';"}],
              "ok": [{"check": "server", "where": "dc1", "what": "dc1 answers"}],
              "skipped": [{"check": "replication", "where": "dc1 -> dc2", "what": "not checked: why"}]}
    assert report_lines(report) == [
        "ok server dc1 answers",
        "skip replication not checked: why",
        "PROBLEM grants X lacks Y — fix: GRANT Y ON *.* TO 'x'@'%';",
        "1 problem, 1 ok, 1 not checked: fix these before the exercise",
    ]
    assert report_lines({"problems": [], "ok": [], "skipped": []})[-1].endswith("ready to drill")


def test_print_report_never_shows_a_registered_secret() -> None:
    secret = "Qz7!kV2#wX9pL"
    masking.register(secret)
    report = {"environment": "e", "file": "f", "ready": False, "ok": [], "skipped": [],
              "problems": [{"check": "server", "where": "dc1", "what": f"login failed near '{secret}'",
                            "fix": f"mysql -p{secret}"}]}
    for as_json in (False, True):
        out = io.StringIO()
        print_report(report, as_json=as_json, out=out)
        assert secret not in out.getvalue() and "Qz7!kV" not in out.getvalue()
    out = io.StringIO()
    print_report(report, as_json=True, out=out)
    assert json.loads(out.getvalue())["problems"][0]["check"] == "server"


# ---- no servers at all: still a report --------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_invalid_file_raises_config_error(tmp_path: Path) -> None:
    f = tmp_path / "env.yaml"
    f.write_text("name: x\nprovider: external\n")
    with pytest.raises(ConfigError):
        preflight(f, {})
    with pytest.raises(ConfigError):
        preflight(tmp_path / "missing.yaml", {})


def test_nothing_answering_is_a_report_of_problems_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "filters.txt").write_text("app.t1\n")
    doc = {
        "name": "nowhere", "provider": "external",
        "servers": {dc: {"observer": {"host": "127.0.0.1", "port": _closed_port()}} for dc in ("dc1", "dc2")},
        "accounts": {"admin": {"user": "a", "password": {"env": "PF_ADMIN"}},
                     "app": {"user": "b", "password": {"file": "no-such-file"}}},
        "etcd": {"endpoint": {"host": "127.0.0.1", "port": _closed_port()}, "routing_key": "/r/k"},
        "toxiproxy": {"api": f"http://127.0.0.1:{_closed_port()}", "proxies": {"app:dc1": "a1", "app:dc2": "a2"}},
        "replication": {"filter_list": "filters.txt"},
    }
    f = tmp_path / "env.yaml"
    f.write_text(yaml.safe_dump(doc))
    report = preflight(f, {"PF_ADMIN": "Hj4$kq-Zp0"})
    checks = [p["check"] for p in report["problems"]]
    assert checks.count("server") == 2 and {"toxiproxy", "etcd", "secrets"} <= set(checks)
    app = next(p for p in report["problems"] if p["check"] == "secrets")
    assert "no-such-file" in app["what"] and app["fix"].startswith("put the password of the application account b")
    assert all("MySQL error 2003" in p["what"] for p in report["problems"] if p["check"] == "server")
    assert {s["check"] for s in report["skipped"]} >= {"grants", "replication", "filters", "proxy", "app"}
    assert report["ready"] is False


def test_filter_fix_on_a_server_that_is_no_replica_yet_has_no_threads_to_stop() -> None:
    declared = {"ignore_tables": ["app.a"], "wild_ignore_tables": []}
    assert (filter_apply_fix(MariaDB(), "dc1", declared, "ignore_tables", replicating=False)
            == "on dc1: SET GLOBAL replicate_ignore_table = 'app.a';")


def test_the_cli_exits_2_on_an_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from drills.cli import main

    f = tmp_path / "env.yaml"
    f.write_text("name: x\nprovider: external\nservers: 3\n")
    assert main(["env", "check", "--environment", str(f)]) == 2
    err = capsys.readouterr().err
    assert "env.yaml" in err and "Traceback" not in err


def test_writes_canary_asks_the_application_account_for_the_probe_table() -> None:
    from drills.topology.preflight import app_needs

    assert [n.schema for n in app_needs(writes="all")] == ["app"]
    canary = app_needs(writes="canary")
    assert [(n.schema, n.privileges) for n in canary] == [("app", ("SELECT", "INSERT", "UPDATE", "DELETE")),
                                                         ("drills_canary", ("INSERT",))]
