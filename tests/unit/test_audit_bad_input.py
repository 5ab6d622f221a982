"""Issue 18 (items 4, 8, 9, 11, 12): what a hostile or careless filter list or dump does to
`drills audit`. Bad input is exit 2 with `file:line` and a short message, never a
traceback and never a PASS; hostile-but-valid input finishes quickly with bounded output.
The mutated inputs are the files in tests/data/audit/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drills.cli import main

REPO = Path(__file__).parents[2]
D = REPO / "tests/data/audit"
F = REPO / "fixtures/audit"


def audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    code = main(["audit", *argv])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    return code, out, err, elapsed


@pytest.mark.parametrize(
    ("name", "where", "expected"),
    [
        ("nonutf8.yaml", "4:16", "is not UTF-8 (byte 0xe9)"),  # was UnicodeDecodeError, exit 1
        ("nonutf8.txt", "3:8", "is not UTF-8 (byte 0xe9)"),
        ("deep.yaml", "4:", "nesting"),  # was RecursionError and 200 KB of stderr
        ("duplicate_key.yaml", "5:1", "key 'filter_list' appears twice in the same mapping (first at line 2)"),  # was: first list dropped
        ("duplicate_field.yaml", "4:5", "key 'table' appears twice"),
        ("alias_bomb.yaml", "9", "`table:` must be a `db.table` name, got a list"),  # was a 9.2 MB message
        ("bell.yaml", "6:17", "character '\\x07' is not allowed"),
        ("quoted_name.yaml", "3", "contains a quote or backtick"),
    ],
)
def test_bad_filter_list_is_exit_2_with_file_and_line(capsys: pytest.CaptureFixture[str], name: str, where: str, expected: str) -> None:
    code, out, err, elapsed = audit(capsys, str(D / name), "--schema", str(F / "app_dc1.sql"))
    assert code == 2, out + err
    assert err.startswith(f"drills: error: {D / name}:{where}") and expected in err, err
    assert "Traceback" not in err and len(err) < 1000 and not out and elapsed < 2


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        ("empty.sql", 1, "no table found"),  # was PASS
        ("comments_only.sql", 1, "no table found"),  # was PASS
        ("random_bytes.sql", 1, "no table found"),  # 2 KB of random bytes: was "3 warning -> PASS"
        ("auto_increment_1e400.sql", 6, "a whole number of at most 20 digits after AUTO_INCREMENT="),  # was OverflowError
        ("huge_number.sql", 4, "a number of at most 100 characters"),  # was ValueError (int of 5,000 digits)
    ],
)
def test_bad_dump_is_exit_2_with_file_and_line(capsys: pytest.CaptureFixture[str], name: str, line: int, expected: str) -> None:
    code, out, err, elapsed = audit(capsys, str(F / "list_ok.yaml"), "--schema", str(D / name))
    assert code == 2, out + err
    assert err.startswith(f"drills: error: {D / name}:{line}: ") and expected in err, err
    assert "Traceback" not in err and len(err) < 1000 and "PASS" not in out and elapsed < 2


def test_a_dump_without_tables_among_good_ones_is_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err, _ = audit(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--dc2-schema", str(D / "empty.sql"))
    assert code == 2 and f"{D / 'empty.sql'}:1: no table found" in err


def test_percent_runs_do_not_hang_the_audit(capsys: pytest.CaptureFixture[str]) -> None:
    """Item 4: `app.%%%%%%%%%%%%z` against fixtures/schema.sql took ~20 s (9 s here)."""
    code, out, _, elapsed = audit(capsys, str(D / "percent_bomb.yaml"), "--schema", str(REPO / "fixtures/schema.sql"))
    assert code == 0 and "pattern `app.%%%%%%%%%%%%z` matches no table" in out
    assert elapsed < 2


def test_escaped_underscore_is_a_literal_underscore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Item 12: `db.tmp\\_%` could not be audited; `db.tmp_%` is wider than it reads."""
    dump = tmp_path / "tmp.sql"
    dump.write_text("USE app;\nCREATE TABLE tmp_a (id INT PRIMARY KEY);\nCREATE TABLE tmpxa (id INT PRIMARY KEY);\n")
    code, out, _, _ = audit(capsys, str(D / "escaped_underscore.yaml"), "--schema", str(dump), "--format", "json")
    assert code == 0 and "AUD103" not in {f["rule"] for f in json.loads(out)["findings"]}  # matches tmp_a only
    loose = tmp_path / "loose.yaml"
    loose.write_text("filter_list:\n  - pattern: app.tmp_%\n    reason: DBA backups\n")
    code, out, _, _ = audit(capsys, str(loose), "--schema", str(dump))
    assert code == 1 and "matches `app.tmpxa` only because `_` matches any character" in out
    assert "write `app.tmp\\_%` for a literal underscore" in out


def _big_list(tmp_path: Path, n: int, yaml_format: bool) -> Path:
    if yaml_format:
        p = tmp_path / "big.yaml"
        p.write_text("filter_list:\n" + "".join(f"  - table: app.tbl_{i:06d}\n    reason: DBA backup {i}\n" for i in range(n)))
    else:
        p = tmp_path / "big.txt"
        p.write_text("".join(f"app.tbl_{i:06d}\n" for i in range(n)))
    return p


@pytest.mark.parametrize("yaml_format", [True, False], ids=["yaml", "plain"])
def test_a_100000_entry_list_is_fast_and_its_report_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_format: bool) -> None:
    """Item 11: 51 s for the YAML list, 7 s and 33 MB of output for the plain one."""
    code, out, _, elapsed = audit(capsys, str(_big_list(tmp_path, 100_000, yaml_format)), "--schema", str(REPO / "fixtures/schema.sql"))
    assert code == 1 and "100000 error" in out
    assert len(out) < 20_000 and "and 99,980 more AUD102 error finding(s)" in out
    assert elapsed < (15 if yaml_format else 8)


@pytest.mark.parametrize(
    ("option", "name", "text", "where", "expected"),
    [
        ("--baseline", "b.yaml", "accepted: []\naccepted: []\n", "2:1", "key 'accepted' appears twice"),
        ("--baseline", "b.yaml", "accepted:\n  - rule: *x\n", "2:", "has no anchor above it"),
        ("--traffic", "t.yaml", "writes:\n  dc1: [app.a]\nwrites: {}\n", "3:1", "key 'writes' appears twice"),
        ("--traffic", "t.yaml", "writes:\n  dc1: [[app.a]]\n", "2", "expected a db.table name, got a list"),
        ("--traffic", "t.jsonl", '{"op": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n", "2", "not a JSON line"),
        ("--traffic", "t.jsonl", '{"op": ' + "9" * 5000 + "}\n", "1", "not a JSON line the audit can read"),
    ],
)
def test_bad_baseline_and_traffic_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, name: str, text: str,
                                        where: str, expected: str) -> None:
    """The audit's other inputs: duplicate keys are errors, nesting and huge numbers no traceback."""
    p = tmp_path / name
    p.write_text(text)
    code, out, err, _ = audit(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), option, str(p))
    assert code == 2 and err.startswith(f"drills: error: {p}:{where}") and expected in err, err
    assert "Traceback" not in err and len(err) < 1000
