"""The active-active audit rules: AUD112 (unit table without unit key), AUD113 (central table
written from a normal unit) and AUD109 widened to every two-way-replicated table. Each rule
has a case where it must fire and a near miss where it must not; without --mode
active-active they are not evaluated, with why."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_audit_rules import audit, flist, ids, traffic
from test_audit_sarif import sarif_errors

from drills.audit.rules import NOT_EVALUATED, PARTIAL, AuditContext, Severity, coverage
from drills.audit.sqldump import parse_sql
from drills.audit.units import DEFAULT_UNIT_KEYS, ActiveActive, from_options
from drills.cli import main
from drills.errors import UserError
from drills.filter_list import FilterList

ORDERS = "CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, buyer_id BIGINT NOT NULL, amount DECIMAL(12,2));\n"
ORDER_ITEM = "CREATE TABLE order_item (id BIGINT NOT NULL PRIMARY KEY, order_id BIGINT NOT NULL, sku VARCHAR(32));\n"
USERS = "CREATE TABLE shop_user (id INT NOT NULL PRIMARY KEY, nickname VARCHAR(63));\n"
GOODS = "CREATE TABLE goods (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(63), stock INT NOT NULL);\n"
JOB_LOG = "CREATE TABLE job_log (id BIGINT NOT NULL PRIMARY KEY, msg VARCHAR(64));\n"
CART_AI = "CREATE TABLE cart (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, goods_id INT);\n"
CART_DIST = "CREATE TABLE cart (id BIGINT NOT NULL PRIMARY KEY, user_id INT NOT NULL, goods_id INT);\n"  # distributed id

AA = ActiveActive(central_tables=("app.goods",))


def _ctx(sql: str, aa: ActiveActive | None = AA, **kw: object) -> AuditContext:
    return AuditContext(filter_list=flist(), dc1=parse_sql(sql, file="dc1.sql", database="app"), active_active=aa, **kw)  # type: ignore[arg-type]


def _state(ctx: AuditContext, rule: str) -> tuple[str, str]:
    [c] = [c for c in coverage(ctx) if c.rule.id == rule]
    return c.state, c.reason


# ---- the declaration ------------------------------------------------------------------------


def test_options_build_the_declaration() -> None:
    aa = from_options("active-active", "dc2", ["Global"], ["app.goods%", "app.system"], ["shop_id, user_id"], extra_units=["dc3"])
    assert aa is not None and aa.central_dc == "dc2" and aa.unit_keys == ("shop_id", "user_id") and aa.unit_keys_given
    assert aa.units == ("dc1", "dc2", "dc3")
    assert aa.is_central("global.anything") and aa.is_central("app.goods_product") and aa.is_central("APP.System")
    assert not aa.is_central("app.orders") and not aa.is_central("app.systems")  # exact names stay exact


def test_without_active_active_mode_there_is_no_declaration() -> None:
    assert from_options(None, None, [], [], []) is None
    assert from_options("single-writer", None, [], [], []) is None
    default = from_options("active-active", None, [], [], [])
    assert default == ActiveActive() and default.unit_keys == DEFAULT_UNIT_KEYS and not default.unit_keys_given


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((None, None, ["global"], [], []), "--central-db describes an active-active topology: give --mode active-active"),
        ((None, None, [], [], ["user_id"]), "--unit-key describes an active-active"),
        (("active-active", None, [], [], ["user id"]), "--unit-key 'user id': 'user id' is not a column name"),
        (("active-active", None, [], [], ["user_id,"]), "'' is not a column name"),
        (("active-active", None, [], ["goods"], []), "--central-table 'goods': expected `db.table`"),
        (("active-active", None, ["app.x"], [], []), "--central-db 'app.x': expected a database name"),
        (("active-active", "dc 1", [], [], []), "--central-dc 'dc 1'"),
        (("both", None, [], [], []), "--mode 'both'"),
    ],
)
def test_bad_declarations_are_refused_with_the_option_and_value(args: tuple, says: str) -> None:
    with pytest.raises(UserError) as exc:
        from_options(*args)
    assert says in str(exc.value)


def test_bad_declaration_on_the_command_line_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.sql").write_text("USE app;\n" + ORDERS)
    (tmp_path / "l.txt").write_text("app.x\n")
    code = main(["audit", str(tmp_path / "l.txt"), "--schema", str(tmp_path / "s.sql"), "--central-db", "global"])
    err = capsys.readouterr().err
    assert code == 2 and "--central-db describes an active-active topology" in err and "Traceback" not in err


# ---- AUD112 unit table without unit key -------------------------------------------------------


def test_unit_table_without_unit_key_is_an_error() -> None:
    [f] = audit(ORDERS + JOB_LOG + GOODS, flist(), rules={"AUD112"}, active_active=AA)
    assert f.subject == "app.job_log" and f.severity is Severity.ERROR
    assert "no unit key column" in f.message and "`buyer_id`" in f.evidence[0] and "(default names" in f.evidence[0]
    assert any("--central-table app.job_log" in e for e in f.evidence)
    assert f.location() == ("dc1.sql", 2)


def test_child_of_a_unit_table_is_named_as_such() -> None:
    [f] = audit(ORDERS + ORDER_ITEM, flist(), rules={"AUD112"}, active_active=AA)
    assert f.subject == "app.order_item"
    assert any("child of unit table `app.orders` (through `order_id`)" in e for e in f.evidence)


def test_observed_writes_by_both_units_are_shown() -> None:
    both = traffic(dc1=["app.job_log"], dc2=["app.job_log"])
    [f] = audit(JOB_LOG, flist(), rules={"AUD112"}, active_active=AA, traffic=both)
    assert "observed written by dc1 and dc2" in f.evidence


def test_unit_table_near_misses() -> None:
    # a unit key; the user's own table keyed by its id; a central table (exact, pattern, database); a filtered table
    assert audit(ORDERS + CART_AI + USERS, flist(), rules={"AUD112"}, active_active=AA) == []
    assert audit(GOODS, flist(), rules={"AUD112"}, active_active=AA) == []
    assert audit(GOODS, flist(), rules={"AUD112"}, active_active=ActiveActive(central_tables=("app.go%",))) == []
    assert audit(GOODS, flist(), rules={"AUD112"}, active_active=ActiveActive(central_dbs=("app",))) == []
    assert audit(JOB_LOG, flist("app.job_log"), rules={"AUD112"}, active_active=AA) == []
    # single writer: not evaluated, so nothing
    assert audit(JOB_LOG, flist(), rules={"AUD112"}) == []


def test_declared_unit_key_replaces_the_defaults() -> None:
    aa = ActiveActive(central_tables=("app.goods",), unit_keys=("shop_id",), unit_keys_given=True)
    found = audit(ORDERS + "CREATE TABLE shop_stat (id INT PRIMARY KEY, shop_id INT NOT NULL);\n", flist(), rules={"AUD112"}, active_active=aa)
    [f] = found
    assert f.subject == "app.orders" and "(default names" not in f.evidence[0] and "`shop_id`" in f.evidence[0]


def test_entity_table_only_for_its_own_key() -> None:
    """`shop_user` keyed by id is the user's row; `shop_order` keyed by id is not."""
    assert ids(audit(USERS + "CREATE TABLE shop_order (id INT PRIMARY KEY, amount INT);\n", flist(), rules={"AUD112"},
                     active_active=AA), "AUD112") == ["app.shop_order"]


def test_without_central_tables_every_table_is_judged_as_a_unit_table() -> None:
    state, why = _state(_ctx(GOODS, ActiveActive()), "AUD112")
    assert state == PARTIAL and "no central tables declared" in why
    assert ids(audit(GOODS, flist(), rules={"AUD112"}, active_active=ActiveActive()), "AUD112") == ["app.goods"]
    assert _state(_ctx(GOODS), "AUD112") == ("evaluated", "")


_COLS = st.lists(st.sampled_from(["id", "name", "user_id", "buyer_id", "uid", "amount", "shop_id", "order_id"]), min_size=1, unique=True)


@given(_COLS, st.booleans(), st.booleans())
def test_a_unit_table_is_reported_exactly_when_it_lacks_every_unit_key(cols: list[str], central: bool, filtered: bool) -> None:
    sql = f"CREATE TABLE t_x ({', '.join(f'{c} INT' for c in cols)});\n"
    aa = ActiveActive(central_tables=("app.t_x",) if central else ())
    found = ids(audit(sql, flist("app.t_x") if filtered else flist(), rules={"AUD112"}, active_active=aa), "AUD112")
    keyless = not set(cols) & set(DEFAULT_UNIT_KEYS)
    assert found == (["app.t_x"] if keyless and not central and not filtered else [])


# ---- AUD113 central table written from a normal unit -----------------------------------------


def test_central_table_written_on_the_normal_unit_is_an_error() -> None:
    t = traffic(dc1=["app.goods", "app.orders"], dc2=["app.goods", "app.orders"])
    [f] = audit(ORDERS + GOODS, flist(), rules={"AUD113"}, active_active=AA, traffic=t)
    assert f.subject == "app.goods" and f.severity is Severity.ERROR and "written on dc2, not only on the central unit dc1" in f.message


def test_central_table_replicated_back_into_the_central_unit_is_a_warning() -> None:
    effective = {"dc1": FilterList.from_filters(["app.other"], []), "dc2": FilterList()}
    [f] = audit(ORDERS + GOODS, flist(), rules={"AUD113"}, active_active=AA, effective=effective)
    assert f.severity is Severity.WARNING and "replicates back into the central unit dc1" in f.message
    # both at once: the error carries the link as evidence
    t = traffic(dc2=["app.goods"], dc1=["app.goods"])
    [f] = audit(ORDERS + GOODS, flist(), rules={"AUD113"}, active_active=AA, effective=effective, traffic=t)
    assert f.severity is Severity.ERROR and any("those writes come back" in e for e in f.evidence)


def test_central_table_near_misses() -> None:
    only_central = traffic(dc1=["app.goods"], dc2=["app.orders"])
    assert audit(ORDERS + GOODS, flist(), rules={"AUD113"}, active_active=AA, traffic=only_central) == []
    filtered_back = {"dc1": FilterList.from_filters([], ["app.go%"])}
    assert audit(ORDERS + GOODS, flist(), rules={"AUD113"}, active_active=AA, effective=filtered_back) == []
    # the central unit is dc2: dc2's writes are fine, dc1's are not
    aa2 = ActiveActive(central_dc="dc2", central_tables=("app.goods",))
    assert audit(GOODS, flist(), rules={"AUD113"}, active_active=aa2, traffic=traffic(dc2=["app.goods"], dc1=["app.x"])) == []
    assert ids(audit(GOODS, flist(), rules={"AUD113"}, active_active=aa2, traffic=traffic(dc1=["app.goods"])), "AUD113") == ["app.goods"]


def test_central_rule_says_what_it_lacks() -> None:
    assert _state(_ctx(GOODS, None), "AUD113") == (NOT_EVALUATED, "only for an active-active topology (--mode active-active)")
    state, why = _state(_ctx(GOODS, ActiveActive()), "AUD113")
    assert state == NOT_EVALUATED and "--central-db" in why
    state, why = _state(_ctx(GOODS), "AUD113")
    assert state == NOT_EVALUATED and "--traffic" in why and "applied filters" in why
    state, why = _state(_ctx(GOODS, traffic=traffic(dc1=["app.goods"])), "AUD113")
    assert state == PARTIAL and "link into the central DC `dc1` were not read" in why
    state, why = _state(_ctx(GOODS, traffic=traffic(**{"server-1": ["app.goods"]})), "AUD113")
    assert state == PARTIAL and "name no write by the central DC `dc1`" in why and "--server-id" in why
    assert _state(_ctx(GOODS, traffic=traffic(dc1=["app.goods"]), effective={"dc1": FilterList()}), "AUD113") == ("evaluated", "")


# ---- AUD109 in active-active mode ------------------------------------------------------------


def test_active_active_judges_auto_increment_without_traffic() -> None:
    [f] = audit(CART_AI + GOODS, flist(), rules={"AUD109"}, active_active=AA, auto_increment={"dc1": (1, 1), "dc2": (1, 1)})
    assert f.subject == "app.cart" and f.severity is Severity.ERROR
    assert "is a unit table, written by dc1 and dc2 (active-active) without distinct offsets" in f.message
    assert "increment=1 offset=1" in f.evidence[0] and "2 writers need increment >= 2" in f.evidence[1]


def test_active_active_unknown_offsets_is_a_warning_naming_the_distributed_id() -> None:
    [f] = audit(CART_AI, flist(), rules={"AUD109"}, active_active=AA, auto_increment={"dc1": (2, 1)})
    assert f.severity is Severity.WARNING and "offsets are unknown for dc2" in f.message
    assert "--auto-increment dc1=2/1 --auto-increment dc2=2/2" in f.evidence[0] and "distributed id" in f.evidence[1]


def test_three_units_need_increment_of_three() -> None:
    aa = ActiveActive(central_tables=("app.goods",), units=("dc1", "dc2", "dc3"))
    offsets = {"dc1": (2, 1), "dc2": (2, 2), "dc3": (2, 3)}  # offset 3 under increment 2 collides with offset 1
    [f] = audit(CART_AI, flist(), rules={"AUD109"}, active_active=aa, auto_increment=offsets)
    assert "3 writers need increment >= 3" in f.evidence[1]
    assert audit(CART_AI, flist(), rules={"AUD109"}, active_active=aa, auto_increment={"dc1": (3, 1), "dc2": (3, 2), "dc3": (3, 3)}) == []


def test_active_active_auto_increment_near_misses() -> None:
    ok = {"dc1": (2, 1), "dc2": (2, 2)}
    same = {"dc1": (1, 1), "dc2": (1, 1)}
    assert audit(CART_AI, flist(), rules={"AUD109"}, active_active=AA, auto_increment=ok) == []  # distinct offsets
    assert audit(CART_DIST, flist(), rules={"AUD109"}, active_active=AA, auto_increment=same) == []  # distributed id
    assert audit(GOODS, flist(), rules={"AUD109"}, active_active=AA, auto_increment=same) == []  # central: one writer
    assert audit(CART_AI, flist("app.cart"), rules={"AUD109"}, active_active=AA, auto_increment=same) == []  # filtered
    # single writer without traffic: not evaluated at all (the mode is what says both units write)
    assert audit(CART_AI, flist(), rules={"AUD109"}, auto_increment=same) == []
    assert _state(_ctx(CART_AI, None), "AUD109")[0] == NOT_EVALUATED
    assert "--mode active-active" in _state(_ctx(CART_AI, None), "AUD109")[1]


def test_dual_write_rule_leaves_routed_tables_to_the_active_active_rules() -> None:
    both = traffic(dc1=["app.orders", "app.goods", "app.job_log"], dc2=["app.orders", "app.goods", "app.job_log"])
    single = ids(audit(ORDERS + GOODS + JOB_LOG, flist(), rules={"AUD108"}, traffic=both), "AUD108")
    assert single == ["app.job_log", "app.orders"]  # AI `goods` written twice is AUD109's
    assert ids(audit(ORDERS + GOODS + JOB_LOG, flist(), rules={"AUD108"}, traffic=both, active_active=AA), "AUD108") == ["app.job_log"]


# ---- the command and its formats --------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> list[str]:
    (tmp_path / "s.sql").write_text("USE app;\n" + ORDERS + ORDER_ITEM + GOODS + CART_AI)
    (tmp_path / "l.txt").write_text("app.tmp_%\n")
    (tmp_path / "t.yaml").write_text("writes:\n  dc1: [app.goods, app.orders]\n  dc2: [app.goods, app.orders]\n")
    return [str(tmp_path / "l.txt"), "--schema", str(tmp_path / "s.sql"), "--traffic", str(tmp_path / "t.yaml"),
            "--mode", "active-active", "--central-table", "app.goods", "--auto-increment", "dc1=1/1", "--auto-increment", "dc2=1/1"]


def test_command_reports_the_new_rules_in_every_format(shop: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", *shop, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    got = {(f["rule"], f["subject"]) for f in doc["findings"]}
    assert {("AUD112", "app.order_item"), ("AUD113", "app.goods"), ("AUD109", "app.cart")} <= got
    assert doc["inputs"]["active_active"]["central_tables"] == ["app.goods"]
    assert doc["inputs"]["active_active"]["unit_keys_from"] == "default"
    main(["audit", *shop, "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    assert sarif_errors(sarif) == []
    assert {"AUD112", "AUD113"} <= {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert {"AUD112", "AUD113"} <= {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    main(["audit", *shop, "--format", "junit"])
    suite = ET.fromstring(capsys.readouterr().out).find("testsuite")
    assert suite is not None
    failed = {c.get("classname") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert {"drills.audit.AUD112", "drills.audit.AUD113"} <= failed
    main(["audit", *shop])
    out = capsys.readouterr().out
    assert "note: active-active: unit key taken as any of the default columns" in out


def test_command_without_the_mode_leaves_the_new_rules_not_evaluated(shop: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a for a in shop if a not in ("--mode", "active-active", "--central-table", "app.goods")]
    main(["audit", *argv, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    by = {r["rule"]: r for r in doc["rules"]}
    assert by["AUD112"]["status"] == by["AUD113"]["status"] == "not evaluated"
    assert "--mode active-active" in by["AUD112"]["reason"]
    assert not {f["rule"] for f in doc["findings"]} & {"AUD112", "AUD113"} and "active_active" not in doc["inputs"]


# ---- the real litemall schema (read where it lies; never copied into the repository) ----------

REPO = Path(__file__).parents[2]
LITEMALL = next((p for p in (REPO.parent / "shared/realdata/litemall", REPO.parents[1] / "shared/realdata/litemall") if p.is_dir()),
                REPO.parent / "shared/realdata/litemall")
LITEMALL_CENTRAL = ["litemall.litemall_goods%", "litemall.litemall_system", "litemall.litemall_ad", "litemall.litemall_admin",
                    "litemall.litemall_brand", "litemall.litemall_category", "litemall.litemall_coupon", "litemall.litemall_groupon_rules",
                    "litemall.litemall_issue", "litemall.litemall_keyword", "litemall.litemall_notice%", "litemall.litemall_permission",
                    "litemall.litemall_region", "litemall.litemall_role", "litemall.litemall_storage", "litemall.litemall_topic"]


@pytest.mark.skipif(not LITEMALL.is_dir(), reason=f"litemall dump not present at {LITEMALL}")
def test_litemall_as_active_active(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """User-owned tables as unit tables, goods/configuration/admin as central: the order lines
    lack the unit key, and an order placed in dc2 decrements stock (a central table) there."""
    (tmp_path / "list.txt").write_text("litemall.litemall_log\n")
    (tmp_path / "t.yaml").write_text("writes:\n  dc1: [litemall.litemall_goods_product, litemall.litemall_order]\n"
                                     "  dc2: [litemall.litemall_order, litemall.litemall_order_goods, litemall.litemall_goods_product]\n")
    argv = ["audit", str(tmp_path / "list.txt"), "--schema", str(LITEMALL / "litemall_table.sql"), "--mode", "active-active",
            "--unit-key", "user_id", "--traffic", str(tmp_path / "t.yaml"), "--format", "json",
            *[a for t in LITEMALL_CENTRAL for a in ("--central-table", t)]]
    main([*argv, "--auto-increment", "dc1=1/1", "--auto-increment", "dc2=1/1"])
    doc = json.loads(capsys.readouterr().out)
    by_rule: dict[str, list[str]] = {}
    for f in doc["findings"]:
        by_rule.setdefault(f["rule"], []).append(f["subject"])
    assert by_rule["AUD112"] == ["litemall.litemall_order_goods"]  # litemall_user is keyed by its own id
    assert by_rule["AUD113"] == ["litemall.litemall_goods_product"]
    assert "litemall.litemall_order" in by_rule["AUD109"] and "litemall.litemall_goods" not in by_rule["AUD109"]
    assert len(by_rule["AUD109"]) == 14  # 13 unit tables with AUTO_INCREMENT + the central goods_product written on both
    main([*argv, "--auto-increment", "dc1=2/1", "--auto-increment", "dc2=2/2"])
    assert "AUD109" not in {f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]}
