"""Which filter entries match which tables, for lists of hundreds of entries and schemas of
thousands of tables.

Testing every entry against every table (O(tables x entries) LIKE matches) takes seconds
at 10,000 x 1,000, too slow for a check run on every commit. Instead: exact entries are a
dictionary lookup, and each wildcard pattern is tried only on the tables that share its
literal prefix (the text before its first `%` or unescaped `_`), found by bisecting the
folded, sorted table names. Typical patterns (`app.tmp\\_%`, `bi.%`) then touch only their
own tables; a pattern starting with a wildcard (`%.tmp%`) still scans everything,
correctly. Each match is linear (`drills.filter_list.WildPattern`), so no pattern, however
many `%` it has, can make the audit hang.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from drills.filter_list import (
    ANY_RUN,
    FilterEntry,
    FilterList,
    compile_pattern,
    fold_pattern_text,
    fold_table_name,
    literal_prefix,
    pattern_atoms,
)

__all__ = ["FilterIndex", "databases_named", "literal_prefix", "meant_pattern", "naive_match", "named_database"]


def meant_pattern(pattern: str) -> str:
    """The pattern as its author most likely meant it: an unescaped `_` written between a
    letter and a letter or `%` (`tmp_%`, `job_log`) taken as a literal underscore (`tmp\\_%`).
    Tables the pattern matches but this one does not are matched only because LIKE's `_`
    matches any character."""
    atoms = pattern_atoms(pattern)
    out = []
    for i, atom in enumerate(atoms):
        prev = atoms[i - 1] if i else None
        nxt = atoms[i + 1] if i + 1 < len(atoms) else None
        if atom is None:
            literal = isinstance(prev, str) and prev != ANY_RUN and prev.isalpha() and (
                nxt == ANY_RUN or isinstance(nxt, str) and nxt.isalpha())
            out.append("\\_" if literal else "_")
        elif atom == ANY_RUN:
            out.append("%")
        else:
            out.append("\\" + atom if atom in "%_\\" else atom)
    return "".join(out)


@dataclass
class FilterIndex:
    """Both directions of the entry <-> table relation, computed once per audit."""

    filter_list: FilterList
    tables_by_entry: dict[int, list[str]] = field(default_factory=dict)  # entry index -> table keys
    entries_by_table: dict[str, list[int]] = field(default_factory=dict)  # table key -> entry indexes

    @classmethod
    def build(cls, filter_list: FilterList, table_keys: Iterable[str]) -> FilterIndex:
        keys = sorted({k.lower() for k in table_keys})
        folded = sorted((fold_pattern_text(k), k) for k in keys)
        folded_names = [f for f, _ in folded]
        exact: dict[str, list[str]] = {}
        for k in keys:
            exact.setdefault(fold_table_name(k), []).append(k)
        index = cls(filter_list)
        for i, entry in enumerate(filter_list.entries):
            if not entry.wildcard:
                matched = list(exact.get(fold_table_name(entry.name), []))
            else:
                pattern = compile_pattern(entry.name)
                prefix = pattern.prefix
                lo = bisect.bisect_left(folded_names, prefix)
                hi = bisect.bisect_left(folded_names, prefix + "\U0010ffff") if prefix else len(folded_names)
                matched = sorted(k for f, k in folded[lo:hi] if pattern.matches_folded(f))
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
    out: dict[str, list[int]] = {}
    for t in {k.lower() for k in table_keys}:
        for i, entry in enumerate(filter_list.entries):
            if entry.matches(t):
                out.setdefault(t, []).append(i)
    return out


def named_database(entry: FilterEntry) -> str | None:
    """The one database an entry is about (`app` for `app.t` and `app.tmp\\_%`), or None when
    its database part is itself a pattern (`%.tmp%`, `a_.t`) and could be any. An `_` between
    letters is read as its author meant it (`litemall_report.%` names `litemall_report`)."""
    if not entry.wildcard:
        return entry.name.split(".", 1)[0]
    atoms = pattern_atoms(meant_pattern(entry.name))
    if "." not in atoms:
        return None
    head = atoms[: atoms.index(".")]
    if not head or any(a is None or a == ANY_RUN for a in head):
        return None
    return "".join(head)  # type: ignore[arg-type]


def databases_named(filter_list: FilterList) -> tuple[list[str], list[FilterEntry]]:
    """(the databases the entries name, compared case-insensitively as the server does, in
    order of first mention; the entries whose database part is a wildcard)."""
    names: dict[str, str] = {}
    wild: list[FilterEntry] = []
    for e in filter_list.entries:
        db = named_database(e)
        if db is None:
            wild.append(e)
        else:
            names.setdefault(db.lower(), db)
    return list(names.values()), wild
