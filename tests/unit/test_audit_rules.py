"""Each audit rule: a schema and list where it must fire, and a near miss where it must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.audit.rules import AuditContext, Finding, Severity, run_rules
from drills.audit.sqldump import parse_sql
from drills.audit.traffic import Traffic
from drills.filter_list import FilterEntry, FilterList, load

REPO = Path(__file__).parents[2]


def flist(*names: str) -> FilterList:
    """`app.x` exact, `app.x%` pattern, as the plain loader decides."""
    return FilterList([FilterEntry(n, "%" in n, line=i + 1) for i, n in enumerate(names)], source="list.txt")


def audit(sql1: str, filters: FilterList, sql2: str | None = None, *, rules: set[str] | None = None, **kw: object) -> list[Finding]:
    dc1 = parse_sql(sql1, file="dc1.sql", database="app")
    dc2 = parse_sql(sql2, file="dc2.sql", database="app", label="dc2") if sql2 is not None else None
    ctx = AuditContext(filter_list=filters, dc1=dc1, dc2=dc2, **kw)  # type: ignore[arg-type]
    return run_rules(ctx, rules)


def ids(findings: list[Finding], rule: str) -> list[str]:
    return [f.subject for f in findings if f.rule.id == rule]


def traffic(**writes: list[str]) -> Traffic:
    t = Traffic(sources=["test"])
    for dc, tables in writes.items():
        for table in tables:
            t.add_write(table, dc)
    return t


SEQUENCE = """
CREATE TABLE id_sequence (name VARCHAR(64) NOT NULL PRIMARY KEY, next_val BIGINT UNSIGNED NOT NULL, step INT NOT NULL DEFAULT 10000);
"""
ORDERS = "CREATE TABLE orders (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, buyer_id BIGINT NOT NULL, amount DECIMAL(12,2));\n"


# ---- AUD101 sequence table filtered ----------------------------------------------------------


def test_incident_list_is_caught_critical_at_the_entry_line() -> None:
    dc1 = parse_sql((REPO / "fixtures/schema.sql").read_text(), file="fixtures/schema.sql")
    filters = load(REPO / "fixtures/filter_list_incident.yaml")
    findings = run_rules(AuditContext(filter_list=filters, dc1=dc1))
    [f] = [f for f in findings if f.rule.id == "AUD101"]
    assert f.subject == "app.id_sequence" and f.severity is Severity.CRITICAL
    assert f.location() == (str(REPO / "fixtures/filter_list_incident.yaml"), 11)
    assert any("LAST_INSERT_ID" in e for e in f.evidence)


def test_reference_list_has_no_sequence_finding() -> None:
    dc1 = parse_sql((REPO / "fixtures/schema.sql").read_text(), file="fixtures/schema.sql")
    findings = run_rules(AuditContext(filter_list=load(REPO / "fixtures/filter_list.yaml"), dc1=dc1))
    assert ids(findings, "AUD101") == []


@pytest.mark.parametrize(
    ("sql", "filtered", "why"),
    [
        # Meituan Leaf's segment table: no "seq" in the name, recognised by counter + step columns
        ("CREATE TABLE biz_alloc_tbl (biz_tag VARCHAR(128) NOT NULL PRIMARY KEY, max_id BIGINT NOT NULL, step INT NOT NULL, "
         "description VARCHAR(256), update_time TIMESTAMP);", "app.biz_alloc_tbl", "counter column `max_id`"),
        # neutral names, recognised by use in a stored procedure of the dump
        ("CREATE TABLE kv_numbers (k VARCHAR(32) NOT NULL PRIMARY KEY, v BIGINT NOT NULL);\n"
         "DELIMITER ;;\nCREATE PROCEDURE next_id(IN key_name VARCHAR(32))\nBEGIN\n"
         "  UPDATE kv_numbers SET v = LAST_INSERT_ID(v + 1) WHERE k = key_name;\nEND ;;\nDELIMITER ;\n",
         "app.kv_numbers", "LAST_INSERT_ID"),
        # neutral names, recognised because its counter rows feed orders.id (no AUTO_INCREMENT)
        (ORDERS + "CREATE TABLE holder (biz VARCHAR(32) NOT NULL PRIMARY KEY, val BIGINT NOT NULL);\n"
         "INSERT INTO holder VALUES ('order', 5000);", "app.holder", "app.orders.id"),
        # Flickr-style ticket server
        ("CREATE TABLE tickets64 (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, stub CHAR(1) NOT NULL DEFAULT '', "
         "UNIQUE KEY stub (stub));", "app.tickets64", "ticket table"),
        # a MariaDB SEQUENCE, caught by a pattern
        ("CREATE SEQUENCE order_seq START WITH 1 INCREMENT BY 1;", "app.%_seq", "SEQUENCE"),
    ],
)
def test_sequence_recognised_by_structure_and_use(sql: str, filtered: str, why: str) -> None:
    findings = audit(sql, flist(filtered), rules={"AUD101"})
    assert len(findings) == 1, findings
    assert findings[0].severity is Severity.CRITICAL
    assert why in " ".join(findings[0].evidence)


@pytest.mark.parametrize(
    ("sql", "filtered"),
    [
        # a page-view counter has the key + counter shape but no use, name or feeding evidence
        ("CREATE TABLE page_views (page VARCHAR(255) NOT NULL PRIMARY KEY, views BIGINT NOT NULL);", "app.page_views"),
        # job switches: text key + tinyint flag, not a counter
        ("CREATE TABLE job_switch (job_name VARCHAR(64) NOT NULL PRIMARY KEY, enabled TINYINT(1) NOT NULL);", "app.job_switch"),
        # rows name a table, but that table's key is AUTO_INCREMENT: nothing is fed
        ("CREATE TABLE orders (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY);\n"
         "CREATE TABLE holder (biz VARCHAR(32) NOT NULL PRIMARY KEY, val BIGINT NOT NULL);\n"
         "INSERT INTO holder VALUES ('order', 5000);", "app.holder"),
    ],
)
def test_sequence_near_misses_are_not_reported(sql: str, filtered: str) -> None:
    assert audit(sql, flist(filtered), rules={"AUD101"}) == []


def test_sequence_table_that_replicates_is_fine() -> None:
    assert audit(SEQUENCE + ORDERS, flist("app.orders_bak"), rules={"AUD101"}) == []


def test_sequence_use_from_observed_traffic() -> None:
    sql = "CREATE TABLE numbers (k VARCHAR(32) NOT NULL PRIMARY KEY, v BIGINT NOT NULL);"
    assert audit(sql, flist("app.numbers"), rules={"AUD101"}) == []
    t = Traffic(statements=["UPDATE app.numbers SET v = LAST_INSERT_ID(v + 100) WHERE k = 'pay'"])
    [f] = audit(sql, flist("app.numbers"), rules={"AUD101"}, traffic=t)
    assert "updated with" in f.evidence[1]


# ---- AUD102 entry matches no table ---------------------------------------------------------------


def test_typo_entry_is_an_error_with_a_suggestion() -> None:
    [f] = audit(ORDERS + "CREATE TABLE app_config (k VARCHAR(8) PRIMARY KEY);", flist("app.app_confg"), rules={"AUD102"})
    assert f.severity is Severity.ERROR and "did you mean `app.app_config`" in f.message
    assert f.location() == ("list.txt", 1)


def test_pattern_matching_nothing_and_unknown_database_are_warnings() -> None:
    findings = audit(ORDERS, flist("app.tmp_%", "bi.%", "other.t"), rules={"AUD102"})
    assert {f.subject: f.severity for f in findings} == {
        "app.tmp_%": Severity.WARNING, "bi.%": Severity.WARNING, "other.t": Severity.WARNING}
    assert "not in the audited schema" in next(f.message for f in findings if f.subject == "other.t")


def test_entry_matching_in_other_case_or_only_on_dc2_is_not_a_typo() -> None:
    extra = ORDERS + "CREATE TABLE only_dc2 (id INT PRIMARY KEY);"
    assert audit(ORDERS, flist("APP.Orders", "app.only_dc2"), extra, rules={"AUD102"}) == []


# ---- AUD103 wildcard matches too much -------------------------------------------------------------


def test_underscore_wildcard_matching_a_letter_is_reported() -> None:
    sql = "CREATE TABLE tmp_orders_bak (id INT PRIMARY KEY);\nCREATE TABLE tmpl_settings (id INT PRIMARY KEY);"
    [f] = audit(sql, flist("app.tmp_%"), rules={"AUD103"})
    assert "`app.tmpl_settings`" in f.message and "`_` matches any character" in f.message
    assert f.severity is Severity.ERROR


def test_pattern_matching_a_referenced_business_table() -> None:
    sql = ORDERS + "CREATE TABLE order_items (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL);\nCREATE TABLE order_bak (id INT PRIMARY KEY);"
    [f] = audit(sql, flist("app.order%"), rules={"AUD103"})
    assert "business table" in f.message and "app.order_items.order_id" in f.evidence[0]


def test_pattern_matching_more_than_n_tables_is_a_warning() -> None:
    sql = "".join(f"CREATE TABLE log{i} (id INT PRIMARY KEY);\n" for i in range(5))
    [f] = audit(sql, flist("app.log%"), rules={"AUD103"}, max_wildcard_matches=3)
    assert f.severity is Severity.WARNING and "matches 5 tables" in f.message


def test_wildcard_near_misses() -> None:
    sql = ("CREATE TABLE tmp_orders_bak (id INT PRIMARY KEY);\nCREATE TABLE log_202401 (id INT PRIMARY KEY);\n"
           + "".join(f"CREATE TABLE r{i} (id INT PRIMARY KEY);\n" for i in range(5)))
    # literal underscore matched; `_` used on purpose for digits; a whole-database pattern may be large
    assert audit(sql, flist("app.tmp_%", "app.log_2024__", "app.%"), rules={"AUD103"}, max_wildcard_matches=3) == []
    # a referenced table matched by an exact entry is a decision, not an accident
    assert audit(ORDERS + "CREATE TABLE order_items (id BIGINT PRIMARY KEY, order_id BIGINT);", flist("app.orders"), rules={"AUD103"}) == []


# ---- AUD104 / AUD105 two sides ----------------------------------------------------------------


def test_filtered_table_missing_on_dc2() -> None:
    cfg = "CREATE TABLE app_config (k VARCHAR(8) PRIMARY KEY, v VARCHAR(64));\n"
    [f] = audit(ORDERS + cfg, flist("app.app_config"), ORDERS, rules={"AUD104"})
    assert f.message == "filtered table `app.app_config` exists on dc1 but not on dc2"
    assert f.location() == ("list.txt", 1)


def test_replicated_table_missing_on_dc2() -> None:
    [f] = audit(ORDERS + SEQUENCE, flist(), ORDERS, rules={"AUD104"})
    assert f.subject == "app.id_sequence" and "replication will stop" in f.message


def test_table_on_both_sides_or_whole_database_absent_is_not_missing() -> None:
    bi = "CREATE TABLE bi.daily (day DATE PRIMARY KEY);\n"
    assert audit(ORDERS + bi, flist("bi.%"), ORDERS, rules={"AUD104"}) == []


def test_schema_differs_on_a_filtered_table() -> None:
    a = "CREATE TABLE app_config (k VARCHAR(64) NOT NULL PRIMARY KEY, v VARCHAR(512) NOT NULL);"
    b = "CREATE TABLE app_config (k VARCHAR(64) NOT NULL PRIMARY KEY, v VARCHAR(255) NOT NULL, note TEXT);"
    [f] = audit(a, flist("app.app_config"), b, rules={"AUD105"})
    assert f.message.startswith("filtered table `app.app_config` differs")
    assert "column `note` only on dc2" in f.evidence
    assert any("varchar(512)" in e and "varchar(255)" in e for e in f.evidence)


def test_cosmetic_differences_are_not_schema_drift() -> None:
    a = "CREATE TABLE t (id INT(11) NOT NULL AUTO_INCREMENT COMMENT 'x', PRIMARY KEY (id)) ENGINE=InnoDB AUTO_INCREMENT=42 COMMENT='a';"
    b = "CREATE TABLE `t` (`id` int NOT NULL AUTO_INCREMENT, PRIMARY KEY (`id`)) ENGINE=InnoDB AUTO_INCREMENT=7;"
    assert audit(a, flist(), b, rules={"AUD105"}) == []


# ---- AUD106 / AUD107 environment-specific values -----------------------------------------------------

CONFIG = "CREATE TABLE app_config (config_key VARCHAR(128) NOT NULL PRIMARY KEY, config_value VARCHAR(512) NOT NULL);\n"
ENDPOINTS = "CREATE TABLE svc (id INT PRIMARY KEY, name VARCHAR(32), endpoint_host VARCHAR(64));\n"


def seeded(dc: str) -> str:
    return (CONFIG + f"INSERT INTO app_config VALUES ('oss.endpoint','https://oss-{dc}.example.test'),('timeout','30');\n"
            + ENDPOINTS + f"INSERT INTO svc VALUES (1,'pay','pay.{dc}.example.test');\n")


def test_env_table_with_differing_values_replicated() -> None:
    findings = audit(seeded("dc1"), flist(), seeded("dc2"), rules={"AUD106"})
    assert ids(findings, "AUD106") == ["app.app_config", "app.svc"]
    svc = next(f for f in findings if f.subject == "app.svc")
    assert "`endpoint_host`" in svc.evidence[0]
    assert "example.test" not in " ".join(svc.evidence)  # values are never shown (they may be secrets)


def test_env_table_near_misses() -> None:
    # identical values; filtered although differing; no rows to compare; a business table that differs
    assert audit(seeded("dc1"), flist(), seeded("dc1"), rules={"AUD106"}) == []
    assert audit(seeded("dc1"), flist("app.app_config", "app.svc"), seeded("dc2"), rules={"AUD106"}) == []
    assert audit(CONFIG + ENDPOINTS, flist(), CONFIG + ENDPOINTS, rules={"AUD106"}) == []
    cust = "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(32));\n"
    assert audit(cust + "INSERT INTO customers VALUES (1,'a');", flist(), cust + "INSERT INTO customers VALUES (1,'b');", rules={"AUD106"}) == []


def test_same_city_reports_identical_filtered_env_table() -> None:
    [f] = audit(seeded("dc1"), flist("app.app_config"), seeded("dc1"), rules={"AUD107"}, same_city=True)
    assert f.subject == "app.app_config" and f.severity is Severity.WARNING


def test_same_city_near_misses() -> None:
    assert audit(seeded("dc1"), flist("app.app_config"), seeded("dc1"), rules={"AUD107"}) == []  # not same-city
    assert audit(seeded("dc1"), flist("app.app_config"), seeded("dc2"), rules={"AUD107"}, same_city=True) == []


# ---- AUD108 / AUD109 written by both DCs ------------------------------------------------------

CALL_LOG = "CREATE TABLE call_log (id BIGINT NOT NULL PRIMARY KEY, dc VARCHAR(8), msg VARCHAR(64));\n"
JOB_LOG_AI = "CREATE TABLE job_log (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, dc VARCHAR(8), msg VARCHAR(64));\n"


def test_dual_write_table_observed_in_traffic() -> None:
    [f] = audit(CALL_LOG, flist(), rules={"AUD108"}, traffic=traffic(dc1=["app.call_log"], dc2=["app.call_log"]))
    assert f.severity is Severity.ERROR and "written by dc1 and dc2" in f.message


def test_dual_write_hint_from_structure_is_a_warning() -> None:
    [f] = audit(CALL_LOG, flist(), rules={"AUD108"})
    assert f.severity is Severity.WARNING and "data-centre column `dc`" in f.evidence[0]


def test_dual_write_near_misses() -> None:
    orders_with_dc = "CREATE TABLE orders (id BIGINT PRIMARY KEY, dc VARCHAR(8));\n"
    assert audit(orders_with_dc, flist(), rules={"AUD108"}) == []  # dc column, but not a log/switch
    assert audit(CALL_LOG, flist(), rules={"AUD108"}, traffic=traffic(dc1=["app.call_log"])) == []  # one writer
    assert audit(CALL_LOG, flist("app.call_log"), rules={"AUD108"}, traffic=traffic(dc1=["app.call_log"], dc2=["app.call_log"])) == []


def test_auto_increment_written_in_both_dcs_without_distinct_offsets() -> None:
    both = traffic(dc1=["app.job_log"], dc2=["app.job_log"])
    [f] = audit(JOB_LOG_AI, flist(), rules={"AUD109", "AUD108"}, traffic=both, auto_increment={"dc1": (1, 1), "dc2": (1, 1)})
    assert f.rule.id == "AUD109" and f.severity is Severity.ERROR and "increment=1 offset=1" in f.evidence[0]
    [f] = audit(JOB_LOG_AI, flist(), rules={"AUD109"}, traffic=both)
    assert f.severity is Severity.WARNING and "unknown" in f.message


def test_auto_increment_near_misses() -> None:
    both = traffic(dc1=["app.job_log"], dc2=["app.job_log"])
    assert audit(JOB_LOG_AI, flist(), rules={"AUD109", "AUD108"}, traffic=both, auto_increment={"dc1": (2, 1), "dc2": (2, 2)}) == []
    assert audit(JOB_LOG_AI, flist(), rules={"AUD109"}, traffic=traffic(dc1=["app.job_log"]), auto_increment={"dc1": (1, 1), "dc2": (1, 1)}) == []


# ---- AUD110 declared vs effective -------------------------------------------------------------


def test_declared_list_differs_from_the_replica() -> None:
    declared = flist("app.app_config", "app.job_log", "app.tmp_%")
    effective = FilterList.from_filters(["app.app_config", "app.extra"], ["app.tmp_%"])
    findings = audit(ORDERS, declared, rules={"AUD110"}, effective={"dc2": effective})
    assert sorted(f.message for f in findings) == [
        "`app.extra` is applied on dc2 (replicate_ignore_table) but not declared",
        "`app.job_log` is declared but not applied on dc2 (replicate_ignore_table)",
    ]
    assert next(f for f in findings if "job_log" in f.subject).location() == ("list.txt", 2)


def test_declared_list_equal_to_the_replica_up_to_case_and_order() -> None:
    declared = flist("app.job_log", "APP.App_Config", "app.tmp_%")
    effective = FilterList.from_filters(["app.app_config", "app.job_log"], ["app.tmp_%"])
    assert audit(ORDERS, declared, rules={"AUD110"}, effective={"dc2": effective}) == []


# ---- AUD111 no primary key ----------------------------------------------------------------------


def test_replicated_table_without_primary_key() -> None:
    sql = "CREATE TABLE audit_trail (at DATETIME, who VARCHAR(32));\nCREATE TABLE m (code VARCHAR(8) NOT NULL, UNIQUE KEY (code));"
    findings = audit(sql, flist(), rules={"AUD111"})
    assert {f.subject: f.severity for f in findings} == {"app.audit_trail": Severity.ERROR, "app.m": Severity.WARNING}
    assert findings[0].location() == ("dc1.sql", 1)


def test_no_primary_key_near_misses() -> None:
    sql = "CREATE TABLE audit_trail (at DATETIME, who VARCHAR(32));\n" + ORDERS
    assert audit(sql, flist("app.audit_trail"), rules={"AUD111"}) == []
