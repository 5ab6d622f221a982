"""Which filter entries match which tables, for lists of hundreds of entries and schemas of
thousands of tables.

Testing every entry against every table (O(tables x entries) LIKE matches) takes seconds
at 10,000 x 1,000, too slow for a check run on every commit. Instead: exact entries are a
dictionary lookup, and each wildcard pattern is tried only on the tables that share its
literal prefix (the text before its first `%` or `_`), found by bisecting the sorted table
names. Typical patterns (`app.tmp_%`, `bi.%`) then touch only their own tables; a pattern
starting with a wildcard (`%.tmp%`) still scans everything, correctly.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from drills.filter_list import FilterEntry, FilterList


@lru_cache(maxsize=4096)
def like_regex(pattern: str) -> re.Pattern[str]:
    """LIKE pattern -> compiled regex (case-insensitive, like `drills.filter_list.like_match`)."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(rx, re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=4096)
def separator_regex(pattern: str) -> re.Pattern[str]:
    """The pattern as its author most likely meant it: an `_` written between a letter and a
    letter or `%` (`tmp_%`, `job_log`) taken as a literal underscore. Used to spot tables a
    pattern matches only because LIKE's `_` matches any character."""
    out = []
    for i, c in enumerate(pattern):
        if c == "%":
            out.append(".*")
        elif c == "_":
            prev = pattern[i - 1] if i else ""
            nxt = pattern[i + 1] if i + 1 < len(pattern) else ""
            literal = prev.isalpha() and (nxt.isalpha() or nxt == "%")
            out.append("_" if literal else ".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def literal_prefix(pattern: str) -> str:
    for i, c in enumerate(pattern):
        if c in "%_":
            return pattern[:i]
    return pattern


@dataclass
class FilterIndex:
    """Both directions of the entry <-> table relation, computed once per audit."""

    filter_list: FilterList
    tables_by_entry: dict[int, list[str]] = field(default_factory=dict)  # entry index -> table keys
    entries_by_table: dict[str, list[int]] = field(default_factory=dict)  # table key -> entry indexes

    @classmethod
    def build(cls, filter_list: FilterList, table_keys: Iterable[str]) -> FilterIndex:
        names = sorted({k.lower() for k in table_keys})
        index = cls(filter_list)
        present = set(names)
        for i, entry in enumerate(filter_list.entries):
            name = entry.name.lower()
            if not entry.wildcard:
                matched = [name] if name in present else []
            else:
                prefix = literal_prefix(name)
                lo = bisect.bisect_left(names, prefix)
                hi = bisect.bisect_left(names, prefix + "\U0010ffff") if prefix else len(names)
                rx = like_regex(name)
                if prefix == name:  # a "pattern" without wildcards
                    matched = [name] if name in present else []
                else:
                    matched = [t for t in names[lo:hi] if rx.fullmatch(t)]
            index.tables_by_entry[i] = matched
            for t in matched:
                index.entries_by_table.setdefault(t, []).append(i)
        return index

    def is_filtered(self, table_key: str) -> bool:
        return table_key.lower() in self.entries_by_table

    def entries_for(self, table_key: str) -> list[FilterEntry]:
        return [self.filter_list.entries[i] for i in self.entries_by_table.get(table_key.lower(), [])]

    def tables_for(self, entry_index: int) -> list[str]:
        return self.tables_by_entry.get(entry_index, [])


def naive_match(filter_list: FilterList, table_keys: Iterable[str]) -> dict[str, list[int]]:
    """The O(tables x entries) baseline the benchmark compares against."""
    compiled = [(i, e.wildcard, like_regex(e.name.lower()) if e.wildcard else e.name.lower()) for i, e in enumerate(filter_list.entries)]
    out: dict[str, list[int]] = {}
    for t in {k.lower() for k in table_keys}:
        for i, wild, m in compiled:
            if (m.fullmatch(t) if wild else m == t):  # type: ignore[union-attr]
                out.setdefault(t, []).append(i)
    return out
