"""The offline schema reader: mysqldump output, the litemall dump, and errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.audit.sqldump import SchemaParseError, parse_dumps, parse_sql, split_statements

LITEMALL = Path(__file__).parents[2].parent / "shared/realdata/litemall"
needs_litemall = pytest.mark.skipif(not LITEMALL.is_dir(), reason=f"litemall dump not present at {LITEMALL}")


@needs_litemall
def test_litemall_dump_structure_and_rows() -> None:
    schema = parse_dumps([LITEMALL / "litemall_table.sql", LITEMALL / "litemall_data.sql"])
    assert len(schema) == 34 and schema.databases == {"litemall"}  # from the `Database: litemall` header
    ad = schema.get("litemall.litemall_ad")
    assert ad is not None and ad.line == 25 and ad.primary_key == ("id",) and ad.auto_increment == 4
    assert ad.comment == "广告表" and ad.column("name").comment == "广告标题"  # type: ignore[union-attr]
    assert ad.auto_increment_column.name == "id"  # type: ignore[union-attr]
    assert len(ad.rows or []) == 3 and ad.rows_as_dicts()[0]["name"] == "合作 谁是你的菜"
    storage = schema.get("litemall.litemall_storage")
    assert storage is not None and "key" in storage.columns and storage.indexes == [("key",)]  # `key` column + KEY `key`
    user = schema.get("litemall.litemall_user")
    assert user is not None and user.unique_keys == [("username",)] and user.column("password") is not None
    assert schema.get("litemall.litemall_region").rows and len(schema.get("litemall.litemall_region").rows) > 3000  # type: ignore[union-attr, arg-type]
    assert all(t.primary_key for t in schema)


def test_statement_lines_and_comments() -> None:
    text = "-- header\n\n/*!40101 SET NAMES utf8 */;\n-- about t\nCREATE TABLE t (\n  a INT\n);\nSELECT ';' -- x;\n;\n"
    stmts = split_statements(text, "f.sql")
    assert [(s.line, s.text.split()[0]) for s in stmts] == [(3, "SET"), (5, "CREATE"), (8, "SELECT")]
    assert stmts[1].comments == ["about t"]


def test_delimiter_blocks_and_procedures() -> None:
    sql = ("USE app;\nCREATE TABLE n (k VARCHAR(8) PRIMARY KEY, v BIGINT);\nDELIMITER ;;\n"
           "CREATE PROCEDURE p() BEGIN UPDATE n SET v = LAST_INSERT_ID(v + 1); SELECT 1; END ;;\nDELIMITER ;\n"
           "CREATE TABLE after_proc (id INT PRIMARY KEY);\n")
    schema = parse_sql(sql, file="p.sql")
    assert set(schema.tables) == {"app.n", "app.after_proc"}
    assert schema.get("app.after_proc").line == 6  # type: ignore[union-attr]
    assert len(schema.statements) == 1 and "LAST_INSERT_ID" in schema.statements[0][0]


def test_definitions_mysqldump_writes() -> None:
    sql = """
    CREATE TABLE IF NOT EXISTS `app`.`t` (
      `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
      `amount` decimal(12,2) NOT NULL DEFAULT '0.00',
      `note` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT 'it''s \\'quoted\\'' COMMENT 'a ; b',
      `ts` timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      `g` int GENERATED ALWAYS AS ((`id` * 2)) VIRTUAL,
      `parent_id` bigint unsigned DEFAULT NULL,
      PRIMARY KEY (`id`) USING BTREE,
      UNIQUE KEY `uk` (`note`(10), `amount`),
      KEY `idx` (`ts` DESC),
      CONSTRAINT `fk` FOREIGN KEY (`parent_id`) REFERENCES `t` (`id`) ON DELETE CASCADE,
      CONSTRAINT `chk` CHECK (`amount` >= 0)
    ) ENGINE=InnoDB AUTO_INCREMENT=1000 DEFAULT CHARSET=utf8mb4 COMMENT='the; table';
    CREATE TABLE app.t2 LIKE app.t;
    """
    schema = parse_sql(sql)
    t = schema.get("app.t")
    assert t is not None
    assert list(t.columns) == ["id", "amount", "note", "ts", "g", "parent_id"]
    assert t.columns["id"].unsigned and t.columns["id"].auto_increment and not t.columns["id"].nullable
    assert t.columns["amount"].type_args == "12,2" and t.columns["amount"].default == "0.00"
    assert t.columns["note"].default == "it's 'quoted'" and t.columns["note"].comment == "a ; b"
    assert t.primary_key == ("id",) and t.unique_keys == [("note", "amount")] and t.indexes == [("ts",)]
    assert t.foreign_keys[0].ref_table == "app.t" and t.auto_increment == 1000 and t.comment == "the; table"
    assert schema.get("app.t2").primary_key == ("id",)  # type: ignore[union-attr]


def test_inline_keys_sequence_and_insert_column_lists() -> None:
    sql = ("CREATE TABLE a (id INT NOT NULL PRIMARY KEY, code CHAR(2) UNIQUE, s SERIAL);\n"
           "CREATE SEQUENCE s1;\n"
           "INSERT INTO a (code, id) VALUES ('x', 1), ('y\\n', 2);\n")
    schema = parse_sql(sql, database="app")
    a = schema.get("app.a")
    assert a is not None and a.primary_key == ("id",) and ("code",) in a.unique_keys
    assert a.rows_as_dicts() == [{"code": "x", "id": 1}, {"code": "y\n", "id": 2}]
    assert schema.get("app.s1").is_sequence  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("sql", "line", "expected"),
    [
        ("USE app;\n\nCREATE TABLE t (\n  id INT,\n  name\n);\n", 6, "expected a type for column `name`"),
        ("USE app;\nCREATE TABLE t id INT;\n", 2, "expected `(` and the column definitions"),
        ("USE app;\nCREATE TABLE t (id INT, PRIMARY (id));\n", 2, "expected KEY after PRIMARY"),
        ("USE app;\nINSERT INTO t VALUES (1,\n'unterminated);\n", 3, "unterminated string"),
        ("USE app;\nINSERT INTO t VALUES (1 2);\n", 2, "expected `,` or `)` in the VALUES list"),
        ("CREATE TABLE t (id INT);\n", 1, "table `t` has no database"),
    ],
)
def test_errors_carry_file_line_and_what_was_expected(tmp_path: Path, sql: str, line: int, expected: str) -> None:
    f = tmp_path / "bad.sql"
    f.write_text(sql)
    with pytest.raises(SchemaParseError) as exc:
        parse_dumps([f])
    assert str(exc.value).startswith(f"{f}:{line}: ")
    assert expected in str(exc.value)
    assert exc.value.exit_code == 2


def test_unreadable_dump_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaParseError, match="cannot read schema dump"):
        parse_dumps([tmp_path / "missing.sql"])


def test_database_option_applies_to_unqualified_names() -> None:
    schema = parse_sql("CREATE TABLE t (id INT PRIMARY KEY);", database="shop")
    assert list(schema.tables) == ["shop.t"]


# ---- property: what we render as mysqldump would, we read back -----------------------------------

_ident = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda s: s not in {"key", "index", "primary", "unique", "constraint", "check", "foreign", "fulltext", "spatial", "period"})
_type = st.sampled_from(["int(11)", "bigint(20) unsigned", "varchar(64)", "decimal(12,2)", "datetime", "text", "tinyint(1)"])


@settings(max_examples=60, deadline=None)
@given(
    name=_ident,
    columns=st.lists(st.tuples(_ident, _type, st.booleans(), st.text(alphabet="ab ;'\\\"c", max_size=8)), min_size=1, max_size=6,
                     unique_by=lambda c: c[0]),
    pk_count=st.integers(min_value=0, max_value=2),
)
def test_rendered_tables_read_back(name: str, columns: list[tuple[str, str, bool, str]], pk_count: int) -> None:
    lines = []
    for col, typ, not_null, comment in columns:
        escaped = comment.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"  `{col}` {typ}{' NOT NULL' if not_null else ' DEFAULT NULL'} COMMENT '{escaped}'")
    pk = [c[0] for c in columns[:pk_count]]
    if pk:
        lines.append("  PRIMARY KEY (" + ",".join(f"`{c}`" for c in pk) + ")")
    sql = f"CREATE TABLE `{name}` (\n" + ",\n".join(lines) + "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    table = parse_sql(sql, database="db").get(f"db.{name}")
    assert table is not None
    assert [c.name for c in table.columns.values()] == [c[0] for c in columns]
    assert [c.comment for c in table.columns.values()] == [c[3] for c in columns]
    assert [c.nullable for c in table.columns.values()] == [not c[2] for c in columns]
    assert table.primary_key == tuple(pk)


# ---- issue 18, item 10: every literal form the dump tools write ------------------------------------

DATA = Path(__file__).parents[1] / "data/audit"


def test_every_literal_form_mysqldump_writes() -> None:
    """`VALUES (1,0x616263)` failed with ``expected `,` or `)` ... got `x616263)` ``; X'..', b'..' and
    _binary '..' likewise."""
    schema = parse_dumps([DATA / "literals.sql"])
    rows = schema.get("app.lit").rows  # type: ignore[union-attr]
    assert rows == [
        (1, "abc", 5, '{"a": 1}', "-1.5e-10", "it's"),
        (2, "ab", 3, "x'y", "1.7976931348623157e308", "n"),
        (-3, "A", 0, None, 0, "a\\b\n"),
        (4, "", 1, "caf", "1E+15", "tab\there"),
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ("(1,0x616263)", (1, "abc")),
        ("(1,X'616263')", (1, "abc")),
        ("(1,b'1010')", (1, 10)),
        ("(1,_binary 'abc')", (1, "abc")),
        ("(1,_utf8mb4'abc' COLLATE utf8mb4_bin)", (1, "abc")),
        ("(1,_latin1 0x41)", (1, "A")),
        ("(-1,-2.5e-3)", (-1, "-2.5e-3")),
        ("(1,'a' 'b')", (1, "ab")),
        ("(1,ST_GeomFromText('POINT(1 1)'))", (1, "ST_GeomFromText('POINT(1 1)')")),
        ("(1,NOW())", (1, "NOW()")),
        ("(18446744073709551615,99999999999999999999999)", (18446744073709551615, "99999999999999999999999")),
    ],
)
def test_literal_values(values: str, expected: tuple[object, ...]) -> None:
    schema = parse_sql(f"CREATE TABLE t (a INT, b BLOB);\nINSERT INTO t VALUES {values};\n", database="app")
    assert schema.get("app.t").rows == [expected]  # type: ignore[union-attr]


def test_view_stand_in_tables_are_not_tables() -> None:
    """mysqldump writes a stand-in table for each view before the view itself."""
    sql = ("USE app;\nCREATE TABLE t (id INT PRIMARY KEY);\n"
           "/*!50001 CREATE TABLE `v` (\n  `id` tinyint NOT NULL\n) ENGINE=MyISAM */;\n"
           "/*!50001 DROP TABLE IF EXISTS `v`*/;\n"
           "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n"
           "/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */;\n")
    assert set(parse_sql(sql).tables) == {"app.t"}


def test_column_defaults_in_every_literal_form() -> None:
    sql = ("CREATE TABLE t (a bit(1) NOT NULL DEFAULT b'1', b varbinary(4) DEFAULT 0x00, c varchar(4) DEFAULT _utf8mb4'x', "
           "d int DEFAULT -1, e double DEFAULT 1e10, n varchar(2) DEFAULT N'z');")
    t = parse_sql(sql, database="x").get("x.t")
    assert {k: c.default for k, c in t.columns.items()} == {"a": "b'1'", "b": "0x00", "c": "x", "d": "-1", "e": "1e10", "n": "z"}  # type: ignore[union-attr]
