"""The schema as the audit sees it: tables, columns, keys, AUTO_INCREMENT, comments, and
whatever rows and statements came with it.

One model for both sources (a mysqldump file read offline, or information_schema read
live) so every rule is written once. Names are kept as declared; lookups go through the
lower-cased `db.table` key because replication filters are matched that way on servers
with lower_case_table_names=1 and `drills.filter_list` does the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
COUNTER_TYPES = frozenset({"int", "integer", "bigint", "mediumint", "decimal", "numeric"})
TEXT_TYPES = frozenset({"char", "varchar", "text", "tinytext", "mediumtext", "longtext", "enum", "set"})


@dataclass
class Column:
    name: str
    type: str  # base type, lower case: bigint, varchar, ...
    type_args: str = ""  # what was in the parentheses: "12,2", "64"
    unsigned: bool = False
    nullable: bool = True
    default: str | None = None
    auto_increment: bool = False
    comment: str = ""

    def signature(self) -> tuple[str, ...]:
        """What must be equal on both sides for the column to be "the same" (comments and
        display widths of integers are cosmetic and ignored)."""
        args = "" if self.type in INTEGER_TYPES else self.type_args.replace(" ", "").lower()
        return (self.name.lower(), self.type, args, str(self.unsigned), str(self.nullable), str(self.auto_increment))


@dataclass
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str  # db.table (lower case)
    ref_columns: tuple[str, ...]


@dataclass
class Table:
    db: str
    name: str
    columns: dict[str, Column] = field(default_factory=dict)  # key: lower-case column name
    primary_key: tuple[str, ...] = ()
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    auto_increment: int | None = None  # the table option (next value), not the column flag
    comment: str = ""
    engine: str = ""
    is_sequence: bool = False  # MariaDB CREATE SEQUENCE
    source: str | None = None  # file (offline) or "dc1" (live)
    line: int | None = None  # line of the CREATE statement in `source`
    ddl_comments: list[str] = field(default_factory=list)  # `--` comments written above the CREATE
    row_columns: list[str] = field(default_factory=list)  # column order of `rows`
    rows: list[tuple[object, ...]] | None = None  # seed rows (dump INSERTs) or sampled rows (live)

    @property
    def key(self) -> str:
        return f"{self.db}.{self.name}".lower()

    @property
    def full_name(self) -> str:
        return f"{self.db}.{self.name}"

    def column(self, name: str) -> Column | None:
        return self.columns.get(name.lower())

    @property
    def auto_increment_column(self) -> Column | None:
        return next((c for c in self.columns.values() if c.auto_increment), None)

    def definition_signature(self) -> tuple[object, ...]:
        cols = tuple(c.signature() for c in self.columns.values())
        pk = tuple(c.lower() for c in self.primary_key)
        uniques = tuple(sorted(tuple(c.lower() for c in u) for u in self.unique_keys))
        return (cols, pk, uniques, self.is_sequence)

    def rows_as_dicts(self) -> list[dict[str, object]]:
        names = [c.lower() for c in (self.row_columns or list(self.columns))]
        return [dict(zip(names, row, strict=False)) for row in (self.rows or [])]


@dataclass
class Schema:
    """All tables of one side (dc1 or dc2), plus statements seen with them that show how a
    table is used (stored procedures, triggers, UPDATEs in the dump)."""

    tables: dict[str, Table] = field(default_factory=dict)  # key: db.table lower case
    databases: set[str] = field(default_factory=set)  # lower case
    statements: list[tuple[str, str | None, int | None]] = field(default_factory=list)  # (sql, file, line)
    sources: list[str] = field(default_factory=list)
    label: str = "dc1"
    defaulted_files: list[str] = field(default_factory=list)  # dumps whose unqualified names took the default database

    def add(self, table: Table) -> None:
        self.tables[table.key] = table
        self.databases.add(table.db.lower())

    def get(self, name: str) -> Table | None:
        return self.tables.get(name.lower())

    def __len__(self) -> int:
        return len(self.tables)

    def __iter__(self):  # noqa: ANN204 - iterator of tables
        return iter(self.tables.values())
