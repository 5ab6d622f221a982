"""What the audit knows of an active-active topology: units, the central unit, the unit key.

In active-active each data centre is a *unit* that owns a share of the users and takes
their writes; the unit databases replicate both ways. One unit is also the *central* unit:
it alone writes global data (stock, goods, configuration), which replicates one way to the
others (seeds 003/004: 中心单元 / 中心写单元读). The data-access layer routes every write
of a unit table by its sharding key (the buyer's or user's id) and refuses one whose user
belongs to the other unit; a table without that key cannot be routed, so both units may
write the same row.

None of this can be read from a schema dump, so the audit is told (options of
`drills audit`): `--mode active-active`, `--central-dc DC` (default dc1, as the topology's
`central: dc1`), `--central-db NAME` / `--central-table DB.PATTERN` for the global tables,
and `--unit-key COLUMN[,COLUMN]` (default: the usual names below). Without
`--mode active-active` the rules that need it are not evaluated, with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from drills.audit.schema import Column, Table
from drills.errors import UserError
from drills.filter_list import fold_table_name, like_match, name_problem

ACTIVE_ACTIVE = "active-active"
SINGLE_WRITER = "single-writer"
MODES = (SINGLE_WRITER, ACTIVE_ACTIVE)

# the sharding keys the source documents and common schemas use (buyerId in seed 004; litemall's user_id)
DEFAULT_UNIT_KEYS = ("user_id", "buyer_id", "uid", "member_id", "customer_id")
UNIT_DCS = ("dc1", "dc2")  # the units of a two-DC topology; --auto-increment may name more

_COLUMN = re.compile(r"[A-Za-z0-9_$]{1,64}")
_DC = re.compile(r"[\w-]{1,64}")


@dataclass(frozen=True)
class ActiveActive:
    """The active-active declaration an audit runs with (absent: single writer)."""

    central_dc: str = "dc1"
    central_dbs: tuple[str, ...] = ()  # lower case
    central_tables: tuple[str, ...] = ()  # db.table, or a LIKE pattern when it has `%` (then `_` is any character)
    unit_keys: tuple[str, ...] = DEFAULT_UNIT_KEYS  # lower case
    unit_keys_given: bool = False
    units: tuple[str, ...] = field(default=UNIT_DCS)

    @property
    def central_declared(self) -> bool:
        return bool(self.central_dbs or self.central_tables)

    def is_central(self, table_key: str) -> bool:
        db = table_key.split(".", 1)[0].lower()
        if db in self.central_dbs:
            return True
        return any(like_match(p, table_key) if "%" in p else fold_table_name(p) == fold_table_name(table_key)
                   for p in self.central_tables)

    def unit_key_of(self, table: Table) -> Column | None:
        """The table's first unit-key column, in the order the keys are declared; for the
        entity a key names (`user_id` -> a `..._user`/`users` table) its one-column primary
        key, since the user's own row is routed by its id."""
        found = next((c for k in self.unit_keys if (c := table.column(k)) is not None), None)
        if found is not None or len(table.primary_key) != 1:
            return found
        last = table.name.lower().rsplit("_", 1)[-1]
        if any(k.endswith("_id") and last in (k[:-3], k[:-3] + "s") for k in self.unit_keys):
            return table.column(table.primary_key[0])
        return None

    def describe(self) -> dict[str, object]:
        """For the report's `inputs` (what was audited)."""
        return {"central_dc": self.central_dc, "central_dbs": list(self.central_dbs), "central_tables": list(self.central_tables),
                "unit_keys": list(self.unit_keys), "unit_keys_from": "--unit-key" if self.unit_keys_given else "default",
                "units": list(self.units)}


def from_options(mode: str | None, central_dc: str | None, central_dbs: Iterable[str], central_tables: Iterable[str],
                 unit_keys: Iterable[str], extra_units: Iterable[str] = ()) -> ActiveActive | None:
    """The declaration from `drills audit`'s options, or None for a single-writer audit.
    Every value is checked here, so a typo is an error with the option and the value."""
    central_dbs, central_tables, unit_keys = list(central_dbs), list(central_tables), list(unit_keys)
    if mode not in (None, *MODES):
        raise UserError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode != ACTIVE_ACTIVE:
        given = [o for o, v in (("--central-dc", central_dc), ("--central-db", central_dbs), ("--central-table", central_tables),
                                ("--unit-key", unit_keys)) if v]
        if given:
            raise UserError(f"{given[0]} describes an active-active topology: give --mode active-active too")
        return None
    dc = (central_dc or "dc1").strip()
    if not _DC.fullmatch(dc):
        raise UserError(f"--central-dc {central_dc!r}: expected a data centre name such as dc1")
    dbs = []
    for name in central_dbs:
        if not _COLUMN.fullmatch(name.strip()):
            raise UserError(f"--central-db {name!r}: expected a database name (letters, digits, `_`, `$`)")
        dbs.append(name.strip().lower())
    tables = []
    for pattern in central_tables:
        p = pattern.strip()
        problem = name_problem(p, "%" in p)
        if problem:
            raise UserError(f"--central-table {pattern!r}: {problem}")
        tables.append(p)
    keys: list[str] = []
    for text in unit_keys:
        for part in text.split(","):
            col = part.strip()
            if not _COLUMN.fullmatch(col):
                raise UserError(f"--unit-key {text!r}: {col!r} is not a column name (letters, digits, `_`, `$`)")
            keys.append(col.lower())
    units = tuple(dict.fromkeys([*UNIT_DCS, *extra_units]))
    return ActiveActive(dc, tuple(dbs), tuple(tables), tuple(keys) or DEFAULT_UNIT_KEYS, bool(keys), units)
