"""A dump without USE: the database comes from the filter list when all its entries name one
(and every report says so); with several, exit 2 naming them."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from drills.audit.matcher import databases_named, named_database
from drills.audit.sqldump import NoDatabaseError, parse_dumps
from drills.cli import main
from drills.filter_list import FilterEntry, FilterList

TABLES = """CREATE TABLE `id_sequence` (
  `name` varchar(64) NOT NULL,
  `next_val` bigint(20) unsigned NOT NULL,
  `step` int(10) unsigned NOT NULL DEFAULT 10000,
  PRIMARY KEY (`name`)
) COMMENT='UPDATE id_sequence SET next_val = LAST_INSERT_ID(next_val + step)';
CREATE TABLE `orders` (`id` bigint NOT NULL PRIMARY KEY, `amount` decimal(12,2));
"""
ROWS = "INSERT INTO `id_sequence` VALUES ('order',20001,10000);\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in {
        "table.sql": TABLES, "data.sql": ROWS, "with_use.sql": "USE `app`;\n" + TABLES,
        "one_db.yaml": "filter_list:\n  - table: app.id_sequence\n    reason: x\n  - pattern: App.tmp\\_%\n    reason: y\n",
        "two_dbs.yaml": "filter_list:\n  - table: app.id_sequence\n    reason: x\n  - pattern: bi.%\n    reason: y\n",
        "any_db.yaml": "filter_list:\n  - table: app.id_sequence\n    reason: x\n  - pattern: '%.tmp\\_%'\n    reason: y\n",
    }.items():
        (tmp_path / name).write_text(text)
        out[name] = tmp_path / name
    return out


def test_the_one_database_of_the_list_is_used_and_said(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(files["one_db.yaml"]), "--schema", str(files["table.sql"]), "--schema", str(files["data.sql"])]
    code, out, err = run(capsys, *argv)
    assert code == 1 and "AUD101 sequence-table-filtered: `app.id_sequence`" in out  # the audit ran on app's tables
    assert f"note: database `app` taken from the filter list (all its entries name it) for the unqualified names in " \
           f"{files['table.sql']}, {files['data.sql']}" in out
    code, out, _ = run(capsys, *argv, "--format", "json")
    doc = json.loads(out)
    assert doc["inputs"]["database"] == {"name": "app", "from": "filter list", "files": [str(files["table.sql"]), str(files["data.sql"])]}
    assert doc["notes"] and "taken from the filter list" in doc["notes"][0]
    _, out, _ = run(capsys, *argv, "--format", "sarif")
    notes = json.loads(out)["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert [n["message"]["text"] for n in notes if n["descriptor"]["id"] == "audit-note"][0].startswith("database `app` taken")
    _, out, _ = run(capsys, *argv, "--format", "junit")
    assert "database `app` taken from the filter list" in (ET.fromstring(out).find("testsuite/system-out").text or "")  # type: ignore[union-attr]


def test_no_note_when_the_dump_names_its_database(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Negative cases: a USE, or --database, leaves nothing assumed."""
    code, out, _ = run(capsys, str(files["one_db.yaml"]), "--schema", str(files["with_use.sql"]), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["notes"] == [] and "database" not in doc["inputs"]
    code, out, _ = run(capsys, str(files["two_dbs.yaml"]), "--schema", str(files["table.sql"]), "--database", "app")
    assert code == 1 and "note:" not in out and "`app.id_sequence`" in out


@pytest.mark.parametrize(
    ("listing", "says"),
    [
        ("two_dbs.yaml", "the filter list names 2 databases (`app`, `bi`), so it cannot tell which"),
        ("any_db.yaml", "its entry `%.tmp\\_%` (line 4) matches any database"),
    ],
)
def test_several_databases_keep_the_clear_exit_2(files: dict[str, Path], capsys: pytest.CaptureFixture[str], listing: str, says: str) -> None:
    code, out, err = run(capsys, str(files[listing]), "--schema", str(files["table.sql"]))
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"{files['table.sql']}:1: table `id_sequence` has no database: the dump has no USE statement" in err
    assert says in err and "hint: give the database with --database NAME" in err


def test_dc2_dump_without_use_takes_it_too(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(files["one_db.yaml"]), "--schema", str(files["with_use.sql"]),
                       "--dc2-schema", str(files["table.sql"]), "--format", "json")
    doc = json.loads(out)
    assert doc["inputs"]["database"]["files"] == [str(files["table.sql"])]  # only the dump that needed it
    assert not any(f["rule"] == "AUD104" for f in doc["findings"])  # same tables on both sides: the default was applied


def test_parse_dumps_records_where_the_default_was_used(files: dict[str, Path]) -> None:
    schema = parse_dumps([files["with_use.sql"], files["data.sql"]], default_database="app")
    assert schema.defaulted_files == [str(files["data.sql"])] and schema.get("app.id_sequence").rows  # type: ignore[union-attr]
    header = files["table.sql"].with_name("header.sql")
    header.write_text("-- Host: 127.0.0.1    Database: shop\n" + TABLES)
    schema = parse_dumps([header], default_database="app")  # the dump's own header wins over the default
    assert schema.defaulted_files == [] and "shop.orders" in schema.tables
    schema = parse_dumps([header], database="app")  # --database wins over the header, as before
    assert "app.orders" in schema.tables
    with pytest.raises(NoDatabaseError, match="has no database"):
        parse_dumps([files["table.sql"]])


@pytest.mark.parametrize(
    ("name", "wildcard", "db"),
    [
        ("app.t", False, "app"), ("App.tmp\\_%", True, "App"), ("litemall_report.%", True, "litemall_report"),
        ("app.%", True, "app"), ("%.tmp%", True, None), ("a_.t%", True, None), ("ap%p.t", True, None), ("app%", True, None),
    ],
)
def test_named_database(name: str, wildcard: bool, db: str | None) -> None:
    assert named_database(FilterEntry(name, wildcard)) == db


def test_databases_named_folds_case_as_the_server_does() -> None:
    fl = FilterList([FilterEntry("App.a", False), FilterEntry("app.b%", True), FilterEntry("%.c", True), FilterEntry("bi.x", False)])
    names, wild = databases_named(fl)
    assert names == ["App", "bi"] and [e.name for e in wild] == ["%.c"]
