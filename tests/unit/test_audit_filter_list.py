"""Reading filter list files: every format the team writes, and every way one can be broken,
each an error with file:line (issue 18, items 8, 9, 11, 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drills import filter_list
from drills.errors import ConfigError
from drills.filter_list import load

REPO = Path(__file__).parents[2]
D = REPO / "tests/data/audit"


@pytest.mark.parametrize("path", sorted([*REPO.glob("fixtures/*filter_list*.yaml"), *REPO.glob("fixtures/audit/*list*.yaml"),
                                         *REPO.glob("tests/data/runs/*/filter_list.yaml")]), ids=lambda p: p.name)
def test_every_list_of_the_repository_still_loads(path: Path) -> None:
    assert load(path).entries


def test_escaped_patterns_in_both_formats(tmp_path: Path) -> None:
    plain = tmp_path / "list.txt"
    plain.write_text("app.job_log\napp.tmp\\_%   # DBA backups\napp.tmp\\_x\n")
    assert [(e.name, e.wildcard, e.line) for e in load(plain).entries] == [
        ("app.job_log", False, 1), ("app.tmp\\_%", True, 2), ("app.tmp\\_x", True, 3)]
    assert [(e.name, e.wildcard) for e in load(D / "escaped_underscore.yaml").entries] == [("app.tmp\\_%", True)]


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("filter_list:\n  - pattern: \"app.tmp\\_%\"\n", "2", "in double quotes YAML reads `\\_` as one"),
        ("filter_list:\n  - table: app.x\n  - table: APP.X\n", "3", "'APP.X' is declared twice (first at line 2)"),
        ("filter_list:\n  - table: app.x\r  - table: app.y\n", "2:17", "a line break other than"),
        ("filter_list:\n  - table: app.x,app.y\n", "2", "the separator between entries"),
        ("filter_list:\n  - table: app.tmp\\_x\n", "2", "escapes only mean something in a `pattern:`"),
        ("filter_list:\n  - table: [a, b]\n", "2", "`table:` must be a `db.table` name, got a list"),
        ("filter_list:\n  - table: app.x\n    reason: {a: 1}\n", "3", "`reason:` must be text, got a mapping"),
        ("filter_list:\n  - table: app.x\n    colour: red\n", "3", "unknown field 'colour'"),
        ("filter_list:\n  - table: " + "x" * 100_000 + ".y\n", "2", "(100,002 characters) is too long"),
        ("filter_list: *nowhere\n", "1:14", "has no anchor above it"),
        ("filter_list:\n  - table: app.x\n---\nfilter_list: []\n", "3:1", "a second YAML document"),
        ("filter_list: " + "[" * 40 + "]" * 40 + "\n", "1:", "nested deeper than 32 levels"),
        ("nothing: here\n", "1", "expected a mapping with a `filter_list:` key"),
        ("filter_list:\n  - table: app.x\n    reason: bad\x00byte\n", "3:16", "character '\\x00' is not allowed"),
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_broken_yaml_lists_name_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str,
                                               expected: str, loader: str) -> None:
    if loader == "python":
        monkeypatch.setattr(filter_list, "_EVENT_LOADER", yaml.SafeLoader)
    p = tmp_path / "list.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load(p)
    message = str(exc.value)
    assert message.startswith(f"{p}:{where}") and expected in message, message
    assert len(message) < 600


def test_the_plain_format_counts_lines_as_editors_do(tmp_path: Path) -> None:
    p = tmp_path / "list.txt"
    p.write_bytes(b"app.a\n\x0capp.b\napp.c d\n")  # a form feed is not a line break for an editor
    with pytest.raises(ConfigError, match=r"list.txt:3: 'app.c d' contains a space"):
        load(p)
