"""The audit rules: each has an id, a severity, a one-line rationale and a suggested fix.

A rule is a function over one `AuditContext` (the filter list, one or two schemas,
optional traffic, optional live settings) that yields `Finding`s. Rules only read; the
context computes the expensive relations (entry <-> table matching, references) once.
Ids are stable: baselines and code-scanning UIs key on them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property

from drills.audit import evidence
from drills.audit.matcher import FilterIndex, meant_pattern
from drills.audit.schema import Column, Schema, Table
from drills.audit.traffic import Traffic
from drills.audit.units import ActiveActive
from drills.filter_list import ANY_RUN, FilterEntry, FilterList, compile_pattern, like_match, pattern_atoms


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; expected one of critical, error, warning, info") from None


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    rationale: str
    fix: str
    needs: str = ""  # inputs without which the rule stays silent (shown in --list-rules)


@dataclass
class Finding:
    rule: Rule
    subject: str  # the table (db.table) or entry the finding is about; with rule.id, the baseline key
    message: str
    severity: Severity
    evidence: list[str] = field(default_factory=list)
    entry: FilterEntry | None = None  # the offending filter-list entry, if there is one
    filter_file: str | None = None
    table: Table | None = None  # the table, for a location in the schema dump

    @property
    def fingerprint(self) -> str:
        return f"{self.rule.id}:{self.subject}"

    def location(self) -> tuple[str, int | None] | None:
        """Where a person should look: the filter list line of the entry, else the CREATE TABLE."""
        if self.entry is not None and self.filter_file:
            return self.filter_file, self.entry.line
        if self.table is not None and self.table.source and self.table.line:
            return self.table.source, self.table.line
        return None


@dataclass
class AuditContext:
    filter_list: FilterList
    dc1: Schema
    dc2: Schema | None = None
    traffic: Traffic | None = None
    effective: dict[str, FilterList] | None = None  # replica name -> filters read live from it
    auto_increment: dict[str, tuple[int, int]] | None = None  # dc -> (increment, offset)
    same_city: bool = False
    max_wildcard_matches: int = 100
    active_active: ActiveActive | None = None  # None: one active writer (the default topology)

    @cached_property
    def all_table_keys(self) -> set[str]:
        keys = set(self.dc1.tables)
        if self.dc2 is not None:
            keys |= set(self.dc2.tables)
        return keys

    @cached_property
    def index(self) -> FilterIndex:
        return FilterIndex.build(self.filter_list, self.all_table_keys)

    @cached_property
    def references(self) -> dict[str, list[str]]:
        return evidence.references(self.dc1)

    @cached_property
    def statements(self) -> list[str]:
        out = [s for s, _f, _l in self.dc1.statements]
        if self.dc2 is not None:
            out += [s for s, _f, _l in self.dc2.statements]
        if self.traffic is not None:
            out += self.traffic.statements
        return out

    def table(self, key: str) -> Table | None:
        return self.dc1.get(key) or (self.dc2.get(key) if self.dc2 is not None else None)

    def tables(self) -> Iterator[Table]:
        """Every table once, dc1's definition first."""
        yield from self.dc1
        if self.dc2 is not None:
            for t in self.dc2:
                if t.key not in self.dc1.tables:
                    yield t

    def finding(self, rule: Rule, subject: str, message: str, *, severity: Severity | None = None,
                evidence: list[str] | None = None, entry: FilterEntry | None = None, table: Table | None = None) -> Finding:
        return Finding(rule, subject, message, severity or rule.severity, evidence or [], entry,
                       self.filter_list.source, table)

    def first_entry(self, table_key: str) -> FilterEntry | None:
        entries = self.index.entries_for(table_key)
        return entries[0] if entries else None

    def writers(self, table_key: str) -> set[str]:
        return self.traffic.writers(table_key) if self.traffic is not None else set()

    def is_unit_table(self, table_key: str) -> bool:
        """Active-active: a table both units write by design (replicated both ways, not central)."""
        aa = self.active_active
        return aa is not None and not aa.is_central(table_key) and not self.index.is_filtered(table_key)


CheckFn = Callable[[AuditContext], Iterator[Finding]]
# Why a rule cannot be judged (or only partly) with the inputs of this audit; None: it can.
GateFn = Callable[[AuditContext], str | None]
RULES: list[tuple[Rule, CheckFn]] = []
_MISSING: dict[str, GateFn] = {}  # rule id -> why it cannot be evaluated at all
_LIMITED: dict[str, GateFn] = {}  # rule id -> why it is evaluated only in part


def rule(r: Rule, *, missing: GateFn | None = None, limited: GateFn | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register a rule. `missing` says why the context lacks what the rule needs (the rule
    is then not run and is reported as not evaluated: silence would read as a pass);
    `limited` says what the rule could not look at although it ran."""
    def register(fn: CheckFn) -> CheckFn:
        RULES.append((r, fn))
        if missing is not None:
            _MISSING[r.id] = missing
        if limited is not None:
            _LIMITED[r.id] = limited
        return fn

    return register


EVALUATED, PARTIAL, NOT_EVALUATED = "evaluated", "evaluated in part", "not evaluated"


@dataclass(frozen=True)
class Coverage:
    """Whether one rule was judged in this audit, and if not (or only in part) why."""

    rule: Rule
    state: str  # EVALUATED, PARTIAL or NOT_EVALUATED
    reason: str = ""

    @property
    def evaluated(self) -> bool:
        return self.state != NOT_EVALUATED


def coverage(ctx: AuditContext, only: set[str] | None = None) -> list[Coverage]:
    """One entry per registered rule, in registry order."""
    out = []
    for r, _ in RULES:
        if only and r.id not in only:
            out.append(Coverage(r, NOT_EVALUATED, "not selected (--rule " + " --rule ".join(sorted(only)) + ")"))
            continue
        why = _MISSING[r.id](ctx) if r.id in _MISSING else None
        if why:
            out.append(Coverage(r, NOT_EVALUATED, why))
            continue
        limit = _LIMITED[r.id](ctx) if r.id in _LIMITED else None
        out.append(Coverage(r, PARTIAL, limit) if limit else Coverage(r, EVALUATED))
    return out


NEEDS_DC2 = "needs dc2's schema too (--dc2-schema FILE, or a second --dsn)"
NEEDS_TRAFFIC = "needs observed writes (--traffic FILE, or live servers whose binlog is read)"


def _needs_dc2(ctx: AuditContext) -> str | None:
    return None if ctx.dc2 is not None else NEEDS_DC2


def _env_tables_without_rows(ctx: AuditContext) -> tuple[list[str], list[str]]:
    """(environment-candidate tables on both sides, those of them without rows on a side)."""
    if ctx.dc2 is None:
        return [], []
    both = [k for k, t in sorted(ctx.dc1.tables.items()) if k in ctx.dc2.tables and evidence.is_env_candidate(t)]
    return both, [k for k in both if ctx.dc1.tables[k].rows is None or ctx.dc2.tables[k].rows is None]


def _needs_rows_of_both(ctx: AuditContext) -> str | None:
    if ctx.dc2 is None:
        return NEEDS_DC2
    both, unread = _env_tables_without_rows(ctx)
    if both and len(unread) == len(both):
        return (f"needs the rows of both sides, and none of the {len(both)} environment-candidate table(s) has rows "
                f"on both (e.g. `{ctx.dc1.tables[unread[0]].full_name}`): give the data dumps too")
    return None


def _some_rows_missing(ctx: AuditContext) -> str | None:
    both, unread = _env_tables_without_rows(ctx)
    if not unread:
        return None
    return (f"{len(unread)} of {len(both)} environment-candidate tables have no rows on one side and were not compared "
            f"(e.g. `{ctx.dc1.tables[unread[0]].full_name}`)")


# ---- AUD101 ---------------------------------------------------------------------------------

SEQUENCE_FILTERED = Rule(
    "AUD101", "sequence-table-filtered", Severity.CRITICAL,
    "A filtered sequence/ID-allocator table stays behind on the standby; after a switch it hands out IDs already used (the incident of the source documents).",
    "Remove the entry so the table replicates; let the standby application start read-only and re-fetch a segment once it can write.",
)


@rule(SEQUENCE_FILTERED)
def _sequence_filtered(ctx: AuditContext) -> Iterator[Finding]:
    for key in sorted(ctx.index.entries_by_table):
        table = ctx.table(key)
        if table is None:
            continue
        found = evidence.sequence_evidence(table, ctx.dc1 if key in ctx.dc1.tables else ctx.dc2, ctx.statements)  # type: ignore[arg-type]
        if not found:
            continue
        entry = ctx.first_entry(key)
        how = "" if entry is None or not entry.wildcard else f" (by pattern `{entry.name}`)"
        yield ctx.finding(SEQUENCE_FILTERED, table.full_name,
                          f"`{table.full_name}` is a sequence/ID allocator and is filtered{how}",
                          evidence=found, entry=entry, table=table)


# ---- AUD102 ---------------------------------------------------------------------------------

ENTRY_MATCHES_NOTHING = Rule(
    "AUD102", "entry-matches-no-table", Severity.ERROR,
    "An entry that matches no table is a typo or a dropped table; the table it was meant for replicates unnoticed.",
    "Correct the name to the table it was meant for, or delete the entry if the table is gone.",
)


@rule(ENTRY_MATCHES_NOTHING)
def _entry_matches_nothing(ctx: AuditContext) -> Iterator[Finding]:
    known_dbs = ctx.dc1.databases | (ctx.dc2.databases if ctx.dc2 is not None else set())
    names_by_db: dict[str, list[str]] = {}
    for key in sorted(ctx.all_table_keys):
        names_by_db.setdefault(key.split(".", 1)[0], []).append(key)
    budget = HINT_BUDGET
    for i, entry in enumerate(ctx.filter_list.entries):
        if ctx.index.tables_for(i):
            continue
        db = _database_part(entry)
        db_known = any(like_match(db, d) for d in known_dbs) if entry.wildcard else db in known_dbs
        if not db_known:
            yield ctx.finding(ENTRY_MATCHES_NOTHING, entry.name,
                              f"`{entry.name}` matches no table: database `{db}` is not in the audited schema",
                              severity=Severity.WARNING, entry=entry,
                              evidence=["give that database's dump (or a live server) to audit this entry"])
            continue
        same_db = names_by_db.get(db, [])  # a typo is looked for among its own database's tables
        hint: list[str] = []
        if not entry.wildcard and budget >= len(same_db):  # bounded: a list of 100,000 typos gets hints for the first ones
            budget -= len(same_db)
            hint = difflib.get_close_matches(entry.name.lower(), same_db, n=1, cutoff=0.8)
        if entry.wildcard:  # a pattern for DBA temporary tables may rightly match nothing today
            yield ctx.finding(ENTRY_MATCHES_NOTHING, entry.name, f"pattern `{entry.name}` matches no table",
                              severity=Severity.WARNING, entry=entry,
                              evidence=["fine for a pattern kept for tables created later (DBA backups); otherwise a typo"])
            continue
        yield ctx.finding(ENTRY_MATCHES_NOTHING, entry.name, f"table `{entry.name}` matches no table"
                          + (f"; did you mean `{ctx.table(hint[0]).full_name}`?" if hint else ""),  # type: ignore[union-attr]
                          entry=entry)


HINT_BUDGET = 50_000  # name comparisons spent on did-you-mean hints in one audit (bounded work)


def _database_part(entry: FilterEntry) -> str:
    """The entry's text before its first `.` (lower case): the database an exact entry names,
    or the pattern its database must match."""
    return _split_pattern(entry.name)[0].lower() if entry.wildcard else entry.name.split(".", 1)[0].lower()


def _split_pattern(pattern: str) -> tuple[str, list[str | None]]:
    """(source text before the first `.`, atoms after it) of a pattern; escapes kept in the text."""
    atoms = pattern_atoms(pattern)
    raw, i = [], 0
    while i < len(pattern):
        step = 2 if pattern[i] == "\\" and i + 1 < len(pattern) else 1
        raw.append(pattern[i:i + step])
        i += step
    k = atoms.index(".") if "." in atoms else len(atoms)
    return "".join(raw[:k]), atoms[k + 1:]


# ---- AUD103 ---------------------------------------------------------------------------------

WILDCARD_TOO_BROAD = Rule(
    "AUD103", "wildcard-matches-too-much", Severity.ERROR,
    "A pattern that also matches replicated business tables silently stops their replication; LIKE's `_` matches any character.",
    "Narrow the pattern (a longer literal prefix) or list the intended tables exactly with `table:` entries.",
)


@rule(WILDCARD_TOO_BROAD)
def _wildcard_too_broad(ctx: AuditContext) -> Iterator[Finding]:
    refs = ctx.references
    for i, entry in enumerate(ctx.filter_list.entries):
        if not entry.wildcard:
            continue
        matched = ctx.index.tables_for(i)
        if not matched:
            continue
        meant = meant_pattern(entry.name)
        strict = compile_pattern(meant)
        loose = [t for t in matched if not strict.matches(t)]
        if loose:
            yield ctx.finding(WILDCARD_TOO_BROAD, entry.name,
                              f"pattern `{entry.name}` matches {_names(ctx, loose)} only because `_` matches any character",
                              entry=entry, evidence=[f"{len(loose)} of {len(matched)} matched tables",
                                                     f"write `{meant}` for a literal underscore"])
            continue
        whole_db = set(_split_pattern(entry.name)[1]) == {ANY_RUN}  # a whole application's schema: deliberate
        business = [] if whole_db else [(t, refs[t]) for t in matched if refs.get(t)]
        if business:
            t, users = business[0]
            yield ctx.finding(WILDCARD_TOO_BROAD, entry.name,
                              f"pattern `{entry.name}` matches business table{'s' if len(business) > 1 else ''} "
                              f"{_names(ctx, [b[0] for b in business])} that other tables reference",
                              entry=entry, evidence=[f"`{ctx.table(t).full_name}` is referenced by " + ", ".join(f"`{u}`" for u in users[:3])])  # type: ignore[union-attr]
            continue
        if not whole_db and len(matched) > ctx.max_wildcard_matches:
            yield ctx.finding(WILDCARD_TOO_BROAD, entry.name,
                              f"pattern `{entry.name}` matches {len(matched)} tables (more than {ctx.max_wildcard_matches})",
                              severity=Severity.WARNING, entry=entry,
                              evidence=[f"first: {_names(ctx, matched[:3])}", "raise --max-wildcard-matches if this is intended"])


def _names(ctx: AuditContext, keys: list[str], limit: int = 3) -> str:
    shown = [f"`{(ctx.table(k).full_name if ctx.table(k) else k)}`" for k in keys[:limit]]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more


# ---- AUD104 / AUD105 ------------------------------------------------------------------------

TABLE_MISSING = Rule(
    "AUD104", "table-missing-on-one-side", Severity.ERROR,
    "DDL of a filtered table is filtered too: each side must create it, or the application fails on the side that lacks it after a switch.",
    "Create the table on the side that lacks it (same definition), or remove it from both sides and from the list.",
    needs="two schemas (--schema and --dc2-schema, or two live servers)",
)


@rule(TABLE_MISSING, missing=_needs_dc2)
def _table_missing(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.dc2 is None:
        return
    for key in sorted(ctx.all_table_keys):
        in1, in2 = key in ctx.dc1.tables, key in ctx.dc2.tables
        if in1 and in2:
            continue
        table = ctx.table(key)
        have, lack = (ctx.dc1.label, ctx.dc2.label) if in1 else (ctx.dc2.label, ctx.dc1.label)
        entry = ctx.first_entry(key)
        if table.db.lower() not in (ctx.dc2.databases if in1 else ctx.dc1.databases):  # type: ignore[union-attr]
            continue  # a whole database absent: an application not deployed on that side, not a missing table
        if entry is not None:
            msg = f"filtered table `{table.full_name}` exists on {have} but not on {lack}"  # type: ignore[union-attr]
        else:
            msg = f"replicated table `{table.full_name}` exists on {have} but not on {lack}; replication will stop on it"  # type: ignore[union-attr]
        yield ctx.finding(TABLE_MISSING, table.full_name, msg, entry=entry, table=table)  # type: ignore[union-attr]


SCHEMA_DIFFERS = Rule(
    "AUD105", "schema-differs-between-dcs", Severity.ERROR,
    "A table defined differently in dc1 and dc2 breaks the application after a switch (filtered) or stops replication (replicated).",
    "Apply the same DDL on both sides (for a filtered table, on each side separately).",
    needs="two schemas",
)


@rule(SCHEMA_DIFFERS, missing=_needs_dc2)
def _schema_differs(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.dc2 is None:
        return
    for key in sorted(set(ctx.dc1.tables) & set(ctx.dc2.tables)):
        a, b = ctx.dc1.tables[key], ctx.dc2.tables[key]
        if a.definition_signature() == b.definition_signature():
            continue
        diffs = _definition_diff(a, b, ctx.dc1.label, ctx.dc2.label)
        kind = "filtered" if ctx.index.is_filtered(key) else "replicated"
        yield ctx.finding(SCHEMA_DIFFERS, a.full_name, f"{kind} table `{a.full_name}` differs between {ctx.dc1.label} and {ctx.dc2.label}",
                          evidence=diffs, entry=ctx.first_entry(key), table=a)


def _definition_diff(a: Table, b: Table, la: str, lb: str) -> list[str]:
    out = []
    for name in a.columns.keys() - b.columns.keys():
        out.append(f"column `{a.columns[name].name}` only on {la}")
    for name in b.columns.keys() - a.columns.keys():
        out.append(f"column `{b.columns[name].name}` only on {lb}")
    for name in a.columns.keys() & b.columns.keys():
        ca, cb = a.columns[name], b.columns[name]
        if ca.signature() != cb.signature():
            out.append(f"column `{ca.name}`: {_coldesc(ca)} on {la}, {_coldesc(cb)} on {lb}")
    if [c.lower() for c in a.primary_key] != [c.lower() for c in b.primary_key]:
        out.append(f"primary key ({', '.join(a.primary_key) or 'none'}) on {la}, ({', '.join(b.primary_key) or 'none'}) on {lb}")
    if not out:
        out.append("unique keys differ")
    return sorted(out)


def _coldesc(col: Column) -> str:
    t = col.type + (f"({col.type_args})" if col.type_args else "")
    t += " unsigned" if col.unsigned else ""
    t += "" if col.nullable else " not null"
    t += " auto_increment" if col.auto_increment else ""
    return t


# ---- AUD106 / AUD107 ------------------------------------------------------------------------

ENV_NOT_FILTERED = Rule(
    "AUD106", "env-specific-table-replicated", Severity.ERROR,
    "Replicating a table of environment-specific values (hosts, IPs, URLs, keys) points the standby's application at the other DC.",
    "Add the table to the filter list and seed each side with its own values.",
    needs="rows of both sides (seed INSERTs in two dumps, or two live servers)",
)
ENV_FILTERED_IDENTICAL = Rule(
    "AUD107", "env-table-filtered-but-identical", Severity.WARNING,
    "In a same-city setup a configuration table whose values are identical on both sides need not be filtered; filtering it lets the sides drift.",
    "Remove the entry so the table replicates, or keep it and accept the finding in the baseline with the reason.",
    needs="--same-city and rows of both sides",
)


def _env_comparison(ctx: AuditContext, key: str) -> tuple[Table, list[str], list[str], list[str]] | None:
    """(table, env columns, keys differing, columns differing) for an env-candidate table with rows on both sides."""
    if ctx.dc2 is None or key not in ctx.dc1.tables or key not in ctx.dc2.tables:
        return None
    a, b = ctx.dc1.tables[key], ctx.dc2.tables[key]
    if not evidence.is_env_candidate(a):
        return None
    diff = evidence.row_differences(a, b)
    if diff is None:
        return None
    env_cols = evidence.env_columns(a)
    kv = evidence.key_value_columns(a)
    return a, env_cols + ([kv[1]] if kv else []), diff[0], diff[1]


@rule(ENV_NOT_FILTERED, missing=_needs_rows_of_both, limited=_some_rows_missing)
def _env_not_filtered(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.dc2 is None:
        return
    for key in sorted(ctx.dc1.tables):
        if ctx.index.is_filtered(key):
            continue
        cmp = _env_comparison(ctx, key)
        if cmp is None:
            continue
        table, env_cols, keys, cols = cmp
        env_diff = [c for c in cols if c.lower() in {e.lower() for e in env_cols}]
        if not keys or not (env_diff or evidence.env_values_in(table, cols) or evidence.env_values_in(ctx.dc2.tables[key], cols)):
            continue
        shown = env_diff or cols
        yield ctx.finding(ENV_NOT_FILTERED, table.full_name,
                          f"`{table.full_name}` holds environment-specific values that differ between {ctx.dc1.label} and {ctx.dc2.label}, but it replicates",
                          evidence=[f"differing column(s): {', '.join(f'`{c}`' for c in shown[:5])}",
                                    f"{len(keys)} row(s) differ, e.g. key {', '.join(keys[:3])}"],
                          table=table)


def _needs_same_city(ctx: AuditContext) -> str | None:
    return "only for a same-city setup (--same-city)" if not ctx.same_city else _needs_rows_of_both(ctx)


@rule(ENV_FILTERED_IDENTICAL, missing=_needs_same_city, limited=_some_rows_missing)
def _env_filtered_identical(ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.same_city or ctx.dc2 is None:
        return
    for key in sorted(ctx.dc1.tables):
        if not ctx.index.is_filtered(key):
            continue
        cmp = _env_comparison(ctx, key)
        if cmp is None:
            continue
        table, _env_cols, keys, _cols = cmp
        if keys or not table.rows:
            continue
        yield ctx.finding(ENV_FILTERED_IDENTICAL, table.full_name,
                          f"`{table.full_name}` is filtered as environment-specific, but its {len(table.rows)} row(s) are identical on both sides",
                          entry=ctx.first_entry(key), table=table)


# ---- AUD108 / AUD109 ------------------------------------------------------------------------

DUAL_WRITE_REPLICATED = Rule(
    "AUD108", "dual-write-table-replicated", Severity.ERROR,
    "A table both DCs write (job logs, switches) collides on keys and mixes the two sides' histories when it replicates.",
    "Add the table to the filter list (each side keeps its own), or give it keys that cannot collide and make that explicit.",
    needs="observed traffic (--traffic) for an error; name/structure hints give a warning",
)
AUTO_INCREMENT_BOTH = Rule(
    "AUD109", "auto-increment-written-in-both-dcs", Severity.ERROR,
    "Both DCs writing a replicated AUTO_INCREMENT table without distinct auto_increment_offset hand out the same keys: duplicate-key errors stop replication.",
    "Set auto_increment_increment=2 and auto_increment_offset=1 on dc1, 2 on dc2 (or allocate ids from the sequence / a distributed id), or filter the table.",
    needs="observed traffic, or --mode active-active; offsets from live servers or --auto-increment",
)


def _offsets_distinct(ctx: AuditContext, dcs: set[str]) -> bool | None:
    if not ctx.auto_increment or not dcs.issubset(ctx.auto_increment):
        return None
    settings = [ctx.auto_increment[d] for d in sorted(dcs)]
    offsets = {off % max(inc, 1) for inc, off in settings}
    return all(inc >= len(dcs) for inc, _ in settings) and len(offsets) == len(settings)


def _without_traffic(ctx: AuditContext) -> str | None:
    if ctx.traffic is not None:
        return None
    return "no observed writes (--traffic FILE, or live servers whose binlog is read): judged from table names and structure only"


def _without_offsets(ctx: AuditContext) -> str | None:
    if ctx.auto_increment:
        return None
    return "auto_increment offsets unknown (--auto-increment DC=INC/OFF, or live servers): a table written on both sides is a warning"


def _routed_by_unit(ctx: AuditContext, table: Table) -> bool:
    """Active-active: a central table (AUD113 judges its writers) or a unit table carrying the
    unit key (both units write it by design, each its own users' rows)."""
    aa = ctx.active_active
    return aa is not None and (aa.is_central(table.key) or aa.unit_key_of(table) is not None)


@rule(DUAL_WRITE_REPLICATED, limited=_without_traffic)
def _dual_write(ctx: AuditContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if ctx.index.is_filtered(table.key) or table.auto_increment_column is not None and len(ctx.writers(table.key)) > 1:
            continue  # AI tables written on both sides are AUD109's
        if _routed_by_unit(ctx, table):
            continue
        writers = ctx.writers(table.key)
        if len(writers) > 1:
            yield ctx.finding(DUAL_WRITE_REPLICATED, table.full_name, f"`{table.full_name}` is written by {' and '.join(sorted(writers))} but replicates",
                              evidence=["observed in " + ", ".join(ctx.traffic.sources or ["traffic"])], table=table)  # type: ignore[union-attr]
            continue
        hint = evidence.dual_write_hint(table)
        if hint and not writers:
            yield ctx.finding(DUAL_WRITE_REPLICATED, table.full_name, f"`{table.full_name}` looks like a dual-write table but replicates",
                              severity=Severity.WARNING, evidence=[hint, "give observed traffic (--traffic) to confirm"], table=table)


def _needs_traffic_or_active_active(ctx: AuditContext) -> str | None:
    if ctx.traffic is not None or ctx.active_active is not None:
        return None
    return NEEDS_TRAFFIC + "; or --mode active-active, where both units write every unit table by design"


@rule(AUTO_INCREMENT_BOTH, missing=_needs_traffic_or_active_active, limited=_without_offsets)
def _auto_increment_both(ctx: AuditContext) -> Iterator[Finding]:
    for table in ctx.tables():
        ai = table.auto_increment_column
        if ai is None or ctx.index.is_filtered(table.key):
            continue
        writers = set(ctx.writers(table.key))
        by_design = ctx.is_unit_table(table.key)
        if by_design:  # active-active: every unit writes its users' rows of a unit table
            writers |= set(ctx.active_active.units)  # type: ignore[union-attr]
        if len(writers) < 2:
            continue
        distinct = _offsets_distinct(ctx, writers)
        if distinct:
            continue
        who = (f"is a unit table, written by {' and '.join(sorted(writers))} (active-active)" if by_design
               else f"is written by {' and '.join(sorted(writers))}")
        if distinct is None:
            known = sorted(d for d in writers if d in (ctx.auto_increment or {}))
            hint = " ".join(f"--auto-increment {d}={len(writers)}/{i}" for i, d in enumerate(sorted(writers), start=1))
            yield ctx.finding(AUTO_INCREMENT_BOTH, table.full_name,
                              f"`{table.full_name}` (AUTO_INCREMENT `{ai.name}`) {who}; auto_increment offsets are unknown"
                              + (f" for {', '.join(sorted(writers - set(known)))}" if known else ""),
                              severity=Severity.WARNING, table=table,
                              evidence=[f"give {hint}, or audit live servers"]
                              + (["or give the table a distributed id (no AUTO_INCREMENT), as seed 004 does"] if by_design else []))
        else:
            shown = ", ".join(f"{d}: increment={ctx.auto_increment[d][0]} offset={ctx.auto_increment[d][1]}" for d in sorted(writers))  # type: ignore[index]
            yield ctx.finding(AUTO_INCREMENT_BOTH, table.full_name,
                              f"`{table.full_name}` (AUTO_INCREMENT `{ai.name}`) {who} without distinct offsets",
                              evidence=[shown] + ([f"{len(writers)} writers need increment >= {len(writers)} and one offset each"]
                                                  if any(ctx.auto_increment[d][0] < len(writers) for d in writers) else []),  # type: ignore[index]
                              table=table)


# ---- AUD110 ---------------------------------------------------------------------------------

DECLARED_VS_EFFECTIVE = Rule(
    "AUD110", "declared-list-differs-from-replica", Severity.ERROR,
    "What the replica applies is what protects you; a declared list that differs from it is documentation, not configuration.",
    "Re-apply the declared list to the replica (drills env up does it; or SET GLOBAL replicate_*), or update the file to what is intended.",
    needs="a live replica (--dsn or --state-dir)",
)


def _needs_replica(ctx: AuditContext) -> str | None:
    if ctx.effective is None:
        return "needs a live replica to read its applied filters (--dsn or --state-dir)"
    if not ctx.effective:
        return "none of the live servers is a replica (no replication configured on them)"
    return None


@rule(DECLARED_VS_EFFECTIVE, missing=_needs_replica)
def _declared_vs_effective(ctx: AuditContext) -> Iterator[Finding]:
    for replica, effective in sorted((ctx.effective or {}).items()):
        declared = {(e.name.lower(), e.wildcard): e for e in ctx.filter_list.entries}
        applied = {(e.name.lower(), e.wildcard): e for e in effective.entries}
        for k in sorted(declared.keys() - applied.keys()):
            e = declared[k]
            yield ctx.finding(DECLARED_VS_EFFECTIVE, f"{replica}:{e.name}",
                              f"`{e.name}` is declared but not applied on {replica} ({'replicate_wild_ignore_table' if e.wildcard else 'replicate_ignore_table'})",
                              entry=e)
        for k in sorted(applied.keys() - declared.keys()):
            e = applied[k]
            yield ctx.finding(DECLARED_VS_EFFECTIVE, f"{replica}:{e.name}",
                              f"`{e.name}` is applied on {replica} ({'replicate_wild_ignore_table' if e.wildcard else 'replicate_ignore_table'}) but not declared")


# ---- AUD111 ---------------------------------------------------------------------------------

NO_PRIMARY_KEY = Rule(
    "AUD111", "replicated-table-without-primary-key", Severity.ERROR,
    "Row-based replication scans the whole table for every changed row of a table without a primary key (lag, RPO), and chunked consistency checks cannot work.",
    "Add a primary key (an invisible/auto column if nothing else), or filter the table if it need not replicate.",
)


@rule(NO_PRIMARY_KEY)
def _no_primary_key(ctx: AuditContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if table.primary_key or table.is_sequence or not table.columns or ctx.index.is_filtered(table.key):
            continue
        usable = [u for u in table.unique_keys if all((c := table.column(n)) is not None and not c.nullable for n in u)]
        if usable:
            yield ctx.finding(NO_PRIMARY_KEY, table.full_name,
                              f"replicated table `{table.full_name}` has no primary key (unique NOT NULL key ({', '.join(usable[0])}) stands in)",
                              severity=Severity.WARNING, table=table)
        else:
            yield ctx.finding(NO_PRIMARY_KEY, table.full_name, f"replicated table `{table.full_name}` has no primary key and no unique NOT NULL key",
                              table=table)


# ---- AUD112 / AUD113: active-active ---------------------------------------------------------

UNIT_TABLE_WITHOUT_KEY = Rule(
    "AUD112", "unit-table-without-unit-key", Severity.ERROR,
    "In active-active both units write a two-way-replicated table; without the unit (sharding) key its rows cannot be routed "
    "to the unit that owns the user, so both units may write the same row and the write ban of a cut-over cannot hold it.",
    "Add the unit key column (e.g. user_id) and route writes by it; or declare the table central (only the central unit writes it); "
    "or filter it if each DC keeps its own rows.",
    needs="--mode active-active (central tables: --central-db/--central-table; unit key: --unit-key)",
)
CENTRAL_WRITTEN_FROM_UNIT = Rule(
    "AUD113", "central-table-written-from-unit", Severity.ERROR,
    "Global data is written only by the central unit and replicated one way; a write on a normal unit either never reaches the "
    "central unit or, replicated back, races the central unit's own writes (stock, prices, configuration).",
    "Send the write to the central unit (a central interface); filter the central tables on the link from the normal unit to the "
    "central one so nothing written there can come back.",
    needs="--mode active-active, central tables declared, and observed writes or the central DC's applied filters (live)",
)

NEEDS_ACTIVE_ACTIVE = "only for an active-active topology (--mode active-active)"


def _needs_active_active(ctx: AuditContext) -> str | None:
    return None if ctx.active_active is not None else NEEDS_ACTIVE_ACTIVE


def _no_central_declared(ctx: AuditContext) -> str | None:
    if ctx.active_active is None or ctx.active_active.central_declared:
        return None
    return "no central tables declared (--central-db NAME, --central-table DB.PATTERN): every replicated table was judged as a unit table"


def _unit_parents(ctx: AuditContext, table: Table, aa: ActiveActive) -> list[str]:
    """Unit tables (with the unit key) this table points at, by FOREIGN KEY or `<entity>_id`."""
    mine = f"{table.full_name}.".lower()
    out = []
    for parent, users in sorted(ctx.references.items()):
        p = ctx.table(parent)
        if p is None or p.key == table.key or aa.unit_key_of(p) is None or aa.is_central(p.key):
            continue
        cols = [u[len(mine):] for u in users if u.lower().startswith(mine)]
        if cols:
            out.append(f"`{p.full_name}` (through `{cols[0]}`)")
    return out


@rule(UNIT_TABLE_WITHOUT_KEY, missing=_needs_active_active, limited=_no_central_declared)
def _unit_table_without_key(ctx: AuditContext) -> Iterator[Finding]:
    aa = ctx.active_active
    if aa is None:
        return
    keys = ", ".join(f"`{k}`" for k in aa.unit_keys)
    for table in ctx.tables():
        if not table.columns or not ctx.is_unit_table(table.key) or aa.unit_key_of(table) is not None:
            continue
        found = [f"no column named {keys}" + ("" if aa.unit_keys_given else " (default names; give --unit-key COLUMN)")]
        parents = _unit_parents(ctx, table, aa)
        if parents:
            found.append("child of unit table " + ", ".join(parents[:3]) + ": routable only if every write carries the parent's unit key")
        writers = ctx.writers(table.key)
        if len(writers) > 1:
            found.append(f"observed written by {' and '.join(sorted(writers))}")
        if not parents:
            found.append(f"if it is global data, declare it central (--central-table {table.full_name}) so only {aa.central_dc} writes it")
        yield ctx.finding(UNIT_TABLE_WITHOUT_KEY, table.full_name,
                          f"`{table.full_name}` replicates both ways but has no unit key column: its rows cannot be routed to one unit",
                          evidence=found, table=table)


def _central_filters(ctx: AuditContext) -> FilterList | None:
    """The filters the central DC applies to what it receives from the normal unit (live only)."""
    aa = ctx.active_active
    return None if aa is None or ctx.effective is None else ctx.effective.get(aa.central_dc)


def _needs_central_and_writes(ctx: AuditContext) -> str | None:
    aa = ctx.active_active
    if aa is None:
        return NEEDS_ACTIVE_ACTIVE
    if not aa.central_declared:
        return "needs the central (global) tables: --central-db NAME or --central-table DB.PATTERN"
    if ctx.traffic is None and _central_filters(ctx) is None:
        return (NEEDS_TRAFFIC + f"; or live servers where the central DC `{aa.central_dc}` replicates from the normal unit "
                "(its applied filters)")
    return None


def _central_partly(ctx: AuditContext) -> str | None:
    aa = ctx.active_active
    if aa is None:
        return None
    why = []
    if ctx.traffic is None:
        why.append("no observed writes: judged only from the link into the central DC")
    elif not any(aa.central_dc in dcs for dcs in ctx.traffic.writes.values()):
        why.append(f"the observed writes name no write by the central DC `{aa.central_dc}` "
                   f"(writers: {', '.join(sorted(set().union(*ctx.traffic.writes.values()))) or 'none'}); "
                   "name the binlog's server ids with --server-id ID=DC if they are unnamed")
    if _central_filters(ctx) is None:
        why.append(f"the filters applied on the link into the central DC `{aa.central_dc}` were not read "
                   "(offline, or it is no replica): judged from observed writes only")
    return "; ".join(why) or None


@rule(CENTRAL_WRITTEN_FROM_UNIT, missing=_needs_central_and_writes, limited=_central_partly)
def _central_written_from_unit(ctx: AuditContext) -> Iterator[Finding]:
    aa = ctx.active_active
    if aa is None:
        return
    back = _central_filters(ctx)
    for table in ctx.tables():
        if not aa.is_central(table.key) or ctx.index.is_filtered(table.key):
            continue
        others = sorted(d for d in ctx.writers(table.key) if d != aa.central_dc)
        returns = back is not None and not back.is_filtered(table.key)
        if others:
            found = ["observed in " + ", ".join(ctx.traffic.sources or ["traffic"])]  # type: ignore[union-attr]
            if returns:
                found.append(f"and {aa.central_dc} does not filter it on the link from the normal unit: those writes come back")
            yield ctx.finding(CENTRAL_WRITTEN_FROM_UNIT, table.full_name,
                              f"central table `{table.full_name}` is written on {' and '.join(others)}, not only on the central unit {aa.central_dc}",
                              evidence=found, table=table)
        elif returns:
            yield ctx.finding(CENTRAL_WRITTEN_FROM_UNIT, table.full_name,
                              f"central table `{table.full_name}` replicates back into the central unit {aa.central_dc}: "
                              "a write on a normal unit would reach global data",
                              severity=Severity.WARNING, table=table,
                              evidence=[f"not in the filters {aa.central_dc} applies (replicate_ignore_table / replicate_wild_ignore_table)",
                                        "fine only if the link filters it another way (replicate_ignore_db, a channel of its own)"])


# ---- running ----------------------------------------------------------------------------------


def run_rules(ctx: AuditContext, only: set[str] | None = None) -> list[Finding]:
    """All findings, most severe first, stable order within a severity."""
    return evaluate(ctx, only)[0]


def evaluate(ctx: AuditContext, only: set[str] | None = None) -> tuple[list[Finding], list[Coverage]]:
    """The findings of every rule that can be evaluated, and the coverage of every rule
    (a rule that is not evaluated is not run, so it can never add a finding)."""
    cover = coverage(ctx, only)
    checks = {r.id: check for r, check in RULES}
    findings: list[Finding] = []
    for c in cover:
        if c.evaluated:
            findings.extend(checks[c.rule.id](ctx))
    findings.sort(key=lambda f: (-f.severity, f.rule.id, f.subject.lower()))
    return findings, cover
