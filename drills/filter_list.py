"""The replication filter list: tables deliberately not replicated, each with a reason.

Two kinds of entry, as MySQL/MariaDB replicas know them: exact tables
(`replicate_ignore_table`, `db.table`) and wildcard patterns
(`replicate_wild_ignore_table`, LIKE syntax: `%` any run, `_` any one character).
An exact entry must be declared as `table:` because `_` in a table name would be a
wildcard if it were given as a pattern.

Accepted files:
- YAML (the project's format)::

    filter_list:
      - table: app.app_config
        reason: environment-specific hosts and keys differ between DCs
        owner: platform
      - pattern: app.tmp_%
        reason: DBA temporary backup tables

- a plain text list, one `db.table` per line (`#` comments); a line containing `%`
  is a pattern, anything else an exact table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drills.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_$%-]+\.[A-Za-z0-9_$%-]+$")


@dataclass(frozen=True)
class FilterEntry:
    name: str  # db.table or db.pattern
    wildcard: bool
    reason: str = ""
    owner: str = ""
    line: int | None = None  # where it was declared, for findings and errors

    def matches(self, table: str) -> bool:
        if not self.wildcard:
            return table.lower() == self.name.lower()
        return like_match(self.name, table)


@dataclass
class FilterList:
    entries: list[FilterEntry] = field(default_factory=list)
    source: str | None = None

    @property
    def ignore_tables(self) -> list[str]:
        return sorted(e.name for e in self.entries if not e.wildcard)

    @property
    def wild_ignore_tables(self) -> list[str]:
        return sorted(e.name for e in self.entries if e.wildcard)

    def as_filters(self) -> dict[str, list[str]]:
        """The shape `env status` and result.json use."""
        return {"ignore_tables": self.ignore_tables, "wild_ignore_tables": self.wild_ignore_tables}

    def is_filtered(self, table: str) -> bool:
        return any(e.matches(table) for e in self.entries)

    def matching(self, table: str) -> list[FilterEntry]:
        return [e for e in self.entries if e.matches(table)]

    @classmethod
    def from_filters(cls, ignore_tables: Iterable[str], wild_ignore_tables: Iterable[str], source: str | None = None) -> FilterList:
        entries = [FilterEntry(t, False) for t in ignore_tables if t]
        entries += [FilterEntry(p, True) for p in wild_ignore_tables if p]
        return cls(entries, source)


def like_match(pattern: str, value: str) -> bool:
    """SQL LIKE semantics as replicate_wild_ignore_table uses them (case-insensitive here,
    which is what lower_case_table_names=1 servers do; exact matching is stricter)."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, flags=re.IGNORECASE | re.DOTALL) is not None


def normalise_filters(ignore: str | Iterable[str] | None, wild: str | Iterable[str] | None) -> dict[str, list[str]]:
    """Server values (comma-separated strings) or lists -> sorted lists, for comparison."""

    def split(v: str | Iterable[str] | None) -> list[str]:
        if v is None:
            return []
        items = v.split(",") if isinstance(v, str) else list(v)
        return sorted({i.strip() for i in items if i and i.strip()})

    return {"ignore_tables": split(ignore), "wild_ignore_tables": split(wild)}


def load(path: str | Path) -> FilterList:
    """Load a filter list file (YAML or plain). Errors carry file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read filter list: {exc.strerror}") from None
    if p.suffix.lower() in (".yaml", ".yml") or text.lstrip().startswith("filter_list:"):
        return _load_yaml(p, text)
    return _load_plain(p, text)


def _load_plain(p: Path, text: str) -> FilterList:
    entries = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not _NAME.match(line):
            raise ConfigError(f"{p}:{n}: expected `db.table` or `db.pattern%`, got {line!r}")
        entries.append(FilterEntry(line, "%" in line, line=n))
    return FilterList(entries, str(p))


def _load_yaml(p: Path, text: str) -> FilterList:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict) or "filter_list" not in doc:
        raise ConfigError(f"{p}:1: expected a mapping with a `filter_list:` key")
    items = doc["filter_list"] or []
    lines = _item_lines(node)
    if not isinstance(items, list):
        raise ConfigError(f"{p}: `filter_list` must be a list of entries")
    entries = []
    for i, item in enumerate(items):
        line = lines[i] if i < len(lines) else None
        where = f"{p}:{line}" if line else str(p)
        entries.append(_entry(item, where, line))
    seen: dict[str, int | None] = {}
    for e in entries:
        key = e.name.lower()
        if key in seen:
            raise ConfigError(f"{p}:{e.line}: `{e.name}` is declared twice (first at line {seen[key]})")
        seen[key] = e.line
    return FilterList(entries, str(p))


def _entry(item: Any, where: str, line: int | None) -> FilterEntry:
    if isinstance(item, str):
        item = {"pattern" if "%" in item else "table": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: an entry must be a mapping with `table:` or `pattern:`")
    unknown = set(item) - {"table", "pattern", "reason", "owner"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; expected table|pattern, reason, owner")
    if ("table" in item) == ("pattern" in item):
        raise ConfigError(f"{where}: give exactly one of `table:` (exact) or `pattern:` (wildcard)")
    name = str(item.get("table") or item.get("pattern"))
    if not _NAME.match(name):
        raise ConfigError(f"{where}: `{name}` is not `db.table`")
    wildcard = "pattern" in item
    if not wildcard and "%" in name:
        raise ConfigError(f"{where}: `{name}` contains `%`; declare it as `pattern:`")
    return FilterEntry(name, wildcard, str(item.get("reason") or ""), str(item.get("owner") or ""), line)


def _item_lines(node: Any) -> list[int]:
    try:
        for key, value in node.value:
            if key.value == "filter_list":
                return [child.start_mark.line + 1 for child in value.value]
    except (AttributeError, TypeError):
        pass
    return []
