"""Read a schema offline from mysqldump-style `.sql` files, without a server.

DBAs audit a filter list before an exercise from the dumps they already have, often on a
laptop with no database, so the parser is ours: a regex lexer that splits statements the
way the mysql client does (quotes, backticks, `--`/`#`/`/* */` comments, `DELIMITER`),
then small recursive-descent readers for the statements the audit needs:
CREATE TABLE / CREATE SEQUENCE (structure), INSERT / REPLACE (seed rows, which show
environment-specific values and sequence counters), USE / CREATE DATABASE (which
database an unqualified name belongs to), and any statement mentioning LAST_INSERT_ID or
`SET col = col + n` (how a table is used). Everything else a dump holds (SET, LOCK,
DROP, ALTER ... DISABLE KEYS) is skipped. A statement we need but cannot read is an
error with file and line, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from drills.audit.schema import Column, ForeignKey, Schema, Table
from drills.errors import ConfigError

MAX_ROWS_PER_TABLE = 20_000  # seed rows kept per table; env/sequence evidence needs few


MAX_MESSAGE_CHARS = 600
MAX_IDENTIFIER_CHARS = 64  # MySQL and MariaDB refuse longer database, table and column names


class SchemaParseError(ConfigError):
    """A dump the audit cannot read; the message carries file:line and what was expected.
    Cut to MAX_MESSAGE_CHARS: a name quoted from a hostile dump may be megabytes long."""

    def __init__(self, message: str, *, hint: str | None = None):
        if len(message) > MAX_MESSAGE_CHARS:
            message = f"{message[:MAX_MESSAGE_CHARS]}... ({len(message):,} characters)"
        super().__init__(message, hint=hint)


class NoDatabaseError(SchemaParseError):
    """A table or INSERT with no database: no USE, no `Database:` header, no default given."""


@dataclass
class _Scope:
    """The database unqualified names of one file belong to: the file's own (USE, a
    `Database:` header, or --database) else the caller's default, remembering whether the
    default was used (the report says so: it is an assumption)."""

    current: str | None
    default: str | None = None
    defaulted: bool = False

    def resolve(self, db: str | None) -> str | None:
        if db:
            return db
        if self.current:
            return self.current
        if self.default:
            self.defaulted = True
        return self.default



@lru_cache(maxsize=8)
def _statement_lexer(delimiter: str) -> re.Pattern[str]:
    first = re.escape(delimiter[0])
    return re.compile(
        r"""
        (?P<sq>'(?:[^'\\]|\\.)*')
       |(?P<dq>"(?:[^"\\]|\\.)*")
       |(?P<bq>`[^`]*`)
       |(?P<open>['"`])
       |(?P<xc>/\*!\d*(?P<xbody>.*?)(?:\*/|\Z))
       |(?P<bc>/\*.*?(?:\*/|\Z))
       |(?P<lc>(?:--(?=[ \t\r\n]|\Z)|\#)[^\n]*)
       |(?P<end>"""
        + re.escape(delimiter)
        + r""")
       |(?P<code>[^'"`/\-\#"""
        + first
        + r"""]+|.)
        """,
        re.S | re.X,
    )


_DELIMITER_LINE = re.compile(r"^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*\r?$", re.M | re.I)


class Statement:
    __slots__ = ("text", "line", "comments")

    def __init__(self, text: str, line: int, comments: list[str]):
        self.text = text
        self.line = line
        self.comments = comments


def split_statements(text: str, file: str) -> list[Statement]:
    """Statements with the line they start on and the comments written just above them."""
    statements: list[Statement] = []
    regions: list[tuple[str, int, int]] = []  # (delimiter, start, end)
    delimiter, start = ";", 0
    for m in _DELIMITER_LINE.finditer(text):
        regions.append((delimiter, start, m.start()))
        delimiter, start = m.group(1), m.end()
    regions.append((delimiter, start, len(text)))

    line_at_lo, counted_to = 1, 0  # counted incrementally: a dump with many routines has many DELIMITER regions
    for delim, lo, hi in regions:
        line_at_lo += text.count("\n", counted_to, lo)
        counted_to = lo
        line = line_at_lo
        lexer = _statement_lexer(delim)
        parts: list[str] = []
        comments: list[str] = []
        has_code = False
        stmt_line = line
        for m in lexer.finditer(text, lo, hi):
            kind = m.lastgroup
            tok = m.group(0)
            if kind == "open":
                what = "identifier" if tok == "`" else "string"
                raise SchemaParseError(f"{file}:{line}: unterminated {what} (expected a closing {tok} before the end of the file)")
            if kind == "end":
                if has_code:
                    statements.append(Statement("".join(parts).strip(), stmt_line, comments))
                    comments = []
                parts, has_code = [], False
            elif kind == "lc" or kind == "bc":
                if not has_code:
                    comments.append(tok[2:-2].strip() if kind == "bc" else tok.lstrip("-#").strip())
                parts.append(" ")
            else:
                body = (" " + (m.group("xbody") or "") + " ") if kind == "xc" else tok
                if not has_code and body.strip():
                    has_code = True
                    lead = len(tok) - len(tok.lstrip()) if kind == "code" else 0
                    stmt_line = line + tok.count("\n", 0, lead)
                parts.append(body)
            line += tok.count("\n")
        if has_code:
            statements.append(Statement("".join(parts).strip(), stmt_line, comments))
    return statements


# ---- tokens inside one statement ------------------------------------------------------------

# One capturing group: `findall` then builds the token list in C, which is most of the
# parse time on a 10,000-table dump. Kinds are read off the first character.
_TOKEN = re.compile(
    r"""\s*(
        `(?:[^`]|``)*`
       |'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"
       |[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_$])
       |[A-Za-z0-9_$@][\w$@]*
       |[(),=.;]
       |\S
    )""",
    re.X | re.S,
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_KIND_BY_FIRST = {"`": "bq", "'": "str", '"': "str", "(": "punct", ")": "punct", ",": "punct", "=": "punct", ".": "punct",
                  ";": "punct", "_": "word", "$": "word", "@": "word"}
_KIND_BY_FIRST.update({c: "word" for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def _kind(value: str) -> str:
    kind = _KIND_BY_FIRST.get(value[0])
    if kind is not None:
        return kind
    if _NUMBER.fullmatch(value):
        return "num"
    return "word" if value[0].isalnum() else "op"


_GROUP_SPACING = re.compile(r"\s*([(),])\s*")
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def _unquote(tok: str) -> str:
    q = tok[0]
    body = tok[1:-1]
    if q == "`":
        return body.replace("``", "`")
    body = body.replace(q + q, q)
    if "\\" in body:
        body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)
    return body


class _Tokens:
    """A cursor over the tokens of one statement, with error messages pointing at lines."""

    def __init__(self, stmt: Statement, file: str):
        self.stmt = stmt
        self.file = file
        values: list[str] = _TOKEN.findall(stmt.text)
        self.items: list[tuple[str, str]] = [(_kind(v), v) for v in values]
        self.n = len(self.items)
        self.i = 0

    def _position(self, index: int) -> int:
        """Offset of token `index` in the statement (only needed for error messages)."""
        for j, m in enumerate(_TOKEN.finditer(self.stmt.text)):
            if j == index:
                return m.start(1)
        return len(self.stmt.text)

    def error(self, expected: str) -> SchemaParseError:
        if self.i < self.n:
            value = self.items[self.i][1]
            pos = self._position(self.i)
            got = f"`{value[:40]}`"
        else:
            pos, got = len(self.stmt.text), "the end of the statement"
        line = self.stmt.line + self.stmt.text.count("\n", 0, pos)
        return SchemaParseError(f"{self.file}:{line}: expected {expected}, got {got}")

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        if j < self.n:
            return self.items[j]
        return "eof", ""

    def at_word(self, *words: str) -> bool:
        kind, value = self.peek()
        return kind == "word" and value.upper() in words

    def at(self, punct: str) -> bool:
        kind, value = self.peek()
        return kind in ("punct", "op") and value == punct

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def accept_words(self, *words: str) -> bool:
        """Consume a fixed sequence of keywords if it is next."""
        for k, w in enumerate(words):
            kind, value = self.peek(k)
            if kind != "word" or value.upper() != w:
                return False
        self.i += len(words)
        return True

    def expect(self, punct: str, what: str) -> None:
        if not self.at(punct):
            raise self.error(what)
        self.i += 1

    def identifier(self, what: str = "a name") -> str:
        kind, value = self.peek()
        if kind == "bq" or kind == "str" and value[0] == '"':
            name = _unquote(value)
        elif kind == "word":
            name = value
        else:
            raise self.error(what)
        if len(name) > MAX_IDENTIFIER_CHARS:
            raise self.error(f"{what} of at most {MAX_IDENTIFIER_CHARS} characters")
        self.i += 1
        return name

    def qualified_name(self, what: str) -> tuple[str | None, str]:
        first = self.identifier(what)
        if self.at("."):
            self.i += 1
            return first, self.identifier(f"a table name after `{first}.`")
        return None, first

    def skip_group(self) -> str:
        """Skip a parenthesised group (cursor on `(`), returning its raw text."""
        start = self.i + 1
        depth = 0
        while self.i < self.n:
            kind, value = self.items[self.i]
            self.i += 1
            if kind == "punct" and value == "(":
                depth += 1
            elif kind == "punct" and value == ")":
                depth -= 1
                if depth == 0:
                    return _GROUP_SPACING.sub(r"\1", " ".join(v for _k, v in self.items[start : self.i - 1]))
        raise self.error("a closing `)`")

    def name_list(self) -> tuple[str, ...]:
        """`(a, b(10) DESC, ...)` -> ("a", "b")."""
        self.expect("(", "`(` and a list of columns")
        names: list[str] = []
        expecting_name = True
        depth = 1
        while True:
            kind, value = self.peek()
            if kind == "eof":
                raise self.error("a closing `)`")
            if kind == "punct" and value == "(":
                depth += 1
            elif kind == "punct" and value == ")":
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return tuple(names)
            elif kind == "punct" and value == "," and depth == 1:
                expecting_name = True
            elif expecting_name and depth == 1 and kind in ("bq", "word"):
                names.append(_unquote(value) if kind == "bq" else value)
                expecting_name = False
            self.i += 1


# ---- statements -----------------------------------------------------------------------------

_HEADER_DB = re.compile(r"^Host:.*\bDatabase:\s*(\S+)", re.I)
_HEAD = re.compile(r"\s*(\w+)(?:\s+(\w+))?(?:\s+(\w+))?(?:\s+(\w+))?")
_USE_SIGNAL = re.compile(r"last_insert_id\s*\(|\bset\s+[`\w]+\s*=\s*[`\w]+\s*\+", re.I)


def parse_dumps(paths: Iterable[str | Path], *, database: str | None = None, label: str = "dc1",
                default_database: str | None = None) -> Schema:
    """One side's schema from its dump files (e.g. `table.sql` then `data.sql`).

    `database` is the database of unqualified names until a USE (as --database: it wins over
    a `Database:` header); `default_database` is used only where the file says nothing (no
    USE, no header), and each file that needed it is listed in `schema.defaulted_files`."""
    schema = Schema(label=label)
    pending_rows: list[tuple[str, list[str] | None, list[tuple[object, ...]], str, int]] = []
    for path in paths:
        p = Path(path)
        try:
            # bytes, not read_text(): universal newlines would count a lone \r as a line and shift every line number;
            # not strict UTF-8: binary columns in a dump without --hex-blob are raw bytes
            text = p.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise SchemaParseError(f"{p}: cannot read schema dump: {exc.strerror}") from None
        schema.sources.append(str(p))
        if not _parse_text(text, str(p), schema, database, pending_rows, default_database):
            raise SchemaParseError(f"{p}:1: no table found: no CREATE TABLE, CREATE SEQUENCE or INSERT statement; "
                                   "expected a dump written by mysqldump or mariadb-dump")
    for key, columns, rows, _file, _line in pending_rows:
        table = schema.get(key)
        if table is None:
            continue
        if table.rows is None:
            table.rows = []
            table.row_columns = columns or [c.name for c in table.columns.values()]
        elif columns and [c.lower() for c in columns] != [c.lower() for c in table.row_columns]:
            rows = _reorder(rows, columns, table.row_columns)
        room = MAX_ROWS_PER_TABLE - len(table.rows)
        table.rows.extend(rows[: max(room, 0)])
    return schema


def parse_sql(text: str, *, file: str = "<sql>", database: str | None = None, label: str = "dc1") -> Schema:
    """Same as `parse_dumps` for SQL held in memory (tests, generated schemas)."""
    schema = Schema(label=label, sources=[file])
    pending: list[tuple[str, list[str] | None, list[tuple[object, ...]], str, int]] = []
    _parse_text(text, file, schema, database, pending)
    for key, columns, rows, _f, _l in pending:
        table = schema.get(key)
        if table is not None:
            if table.rows is None:
                table.rows, table.row_columns = [], columns or [c.name for c in table.columns.values()]
            table.rows.extend(rows)
    return schema


def _reorder(rows: list[tuple[object, ...]], columns: list[str], order: list[str]) -> list[tuple[object, ...]]:
    index = {c.lower(): i for i, c in enumerate(columns)}
    return [tuple(r[index[c.lower()]] if c.lower() in index and index[c.lower()] < len(r) else None for c in order) for r in rows]


_CREATE_VIEW = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?(?:DEFINER\s*=\s*(?:`[^`]*`|'[^']*'|[^\s@]+)"
    r"(?:\s*@\s*(?:`[^`]*`|'[^']*'|\S+))?\s+)?(?:SQL\s+SECURITY\s+\w+\s+)?VIEW\s",
    re.I,
)


def _parse_text(text: str, file: str, schema: Schema, database: str | None, pending_rows: list,
                default_database: str | None = None) -> int:
    """Read one file into `schema`; returns how many table definitions and INSERTs it held."""
    scope = _Scope(database, default_database)
    found = 0
    for stmt in split_statements(text, file):
        for comment in stmt.comments:
            m = _HEADER_DB.match(comment)
            if m and scope.current is None:
                scope.current = m.group(1).strip("`")
        head = _HEAD.match(stmt.text)
        words = [w.upper() for w in head.groups() if w] if head else []
        if not words:
            continue
        verb = words[0]
        if verb == "USE":
            tokens = _Tokens(stmt, file)
            tokens.next()
            scope.current = tokens.identifier("a database name after USE")
        elif verb == "CREATE" and _is_create(words, ("DATABASE", "SCHEMA")):
            tokens = _Tokens(stmt, file)
            _skip_create_prefix(tokens)
            tokens.next()
            tokens.accept_words("IF", "NOT", "EXISTS")
            schema.databases.add(tokens.identifier("a database name").lower())
        elif verb == "CREATE" and _is_create(words, ("TABLE",)):
            table = _create_table(stmt, file, scope, schema)
            if table is not None:
                schema.add(table)
                found += 1
        elif verb == "CREATE" and _is_create(words, ("SEQUENCE",)):
            schema.add(_create_sequence(stmt, file, scope))
            found += 1
        elif verb == "CREATE" and _CREATE_VIEW.match(stmt.text):
            _drop_view_placeholder(stmt, file, scope, schema)
        elif verb in ("INSERT", "REPLACE"):
            parsed = _insert(stmt, file, scope)
            if parsed is not None:
                pending_rows.append(parsed)
                found += 1
            if "ON DUPLICATE" in stmt.text.upper() and _USE_SIGNAL.search(stmt.text.upper().split("ON DUPLICATE", 1)[1]):
                schema.statements.append((stmt.text, file, stmt.line))
            continue
        if verb != "INSERT" and ("+" in stmt.text or "LAST_INSERT_ID" in stmt.text.upper()) and _USE_SIGNAL.search(stmt.text):
            schema.statements.append((stmt.text, file, stmt.line))
    if scope.defaulted:
        schema.defaulted_files.append(file)
    return found


def _drop_view_placeholder(stmt: Statement, file: str, scope: _Scope, schema: Schema) -> None:
    """mysqldump writes a stand-in table for each view (so views on views load), then the
    view itself: the stand-in is not a table of the application."""
    tokens = _Tokens(stmt, file)
    while tokens.i < tokens.n and not tokens.at_word("VIEW"):
        tokens.i += 1
    tokens.i += 1
    db, name = tokens.qualified_name("a view name after CREATE VIEW")
    key = f"{scope.resolve(db)}.{name}".lower()
    schema.tables.pop(key, None)


def _is_create(words: list[str], kinds: tuple[str, ...]) -> bool:
    rest = [w for w in words[1:] if w not in ("OR", "REPLACE", "TEMPORARY")]
    return bool(rest) and rest[0] in kinds


def _skip_create_prefix(tokens: _Tokens) -> None:
    tokens.next()  # CREATE
    tokens.accept_words("OR", "REPLACE")
    tokens.accept_words("TEMPORARY")


def _resolve_db(db: str | None, scope: _Scope, name: str, tokens: _Tokens) -> str:
    resolved = scope.resolve(db)
    if resolved:
        return resolved
    line = tokens.stmt.line
    raise NoDatabaseError(
        f"{tokens.file}:{line}: table `{name}` has no database: the dump has no USE statement or "
        "`Database:` header before it",
        hint="give the database with --database NAME",
    )


def _create_table(stmt: Statement, file: str, scope: _Scope, schema: Schema) -> Table | None:
    tokens = _Tokens(stmt, file)
    _skip_create_prefix(tokens)
    tokens.next()  # TABLE
    tokens.accept_words("IF", "NOT", "EXISTS")
    db, name = tokens.qualified_name("a table name after CREATE TABLE")
    db = _resolve_db(db, scope, name, tokens)
    table = Table(db=db, name=name, source=file, line=stmt.line, ddl_comments=list(stmt.comments))
    if tokens.at_word("LIKE") or (tokens.at("(") and tokens.peek(1) == ("word", "LIKE")):
        paren = tokens.at("(")
        tokens.i += 1 + paren
        src_db, src = tokens.qualified_name("a table name after LIKE")
        original = schema.get(f"{src_db or db}.{src}")
        if original is None:
            raise SchemaParseError(f"{file}:{stmt.line}: CREATE TABLE `{name}` LIKE `{src}`: `{src}` is not defined above it")
        table.columns = dict(original.columns)
        table.primary_key = original.primary_key
        table.unique_keys = list(original.unique_keys)
        table.indexes = list(original.indexes)
        return table
    if not tokens.at("("):
        if tokens.at_word("AS", "SELECT", "IGNORE", "REPLACE"):
            return table  # CREATE TABLE ... AS SELECT: structure unknown offline, keep the name
        raise tokens.error(f"`(` and the column definitions of table `{name}`")
    tokens.i += 1
    while True:
        _create_element(tokens, table)
        if tokens.at(","):
            tokens.i += 1
            continue
        if tokens.at(")"):
            tokens.i += 1
            break
        raise tokens.error(f"`,` or `)` after a definition in table `{name}`")
    _table_options(tokens, table)
    if not table.columns:
        raise SchemaParseError(f"{file}:{stmt.line}: table `{name}` declares no columns")
    return table


_INDEX_WORDS = ("PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "CONSTRAINT", "FOREIGN", "CHECK", "PERIOD")


def _create_element(tokens: _Tokens, table: Table) -> None:
    kind, value = tokens.peek()
    if kind == "word" and value.upper() in _INDEX_WORDS and not (
        tokens.peek(1)[0] == "word" and value.upper() in ("KEY", "INDEX", "CHECK", "PERIOD") and _looks_like_column(tokens)
    ):
        _index(tokens, table)
        return
    _column(tokens, table)


def _looks_like_column(tokens: _Tokens) -> bool:
    """`key varchar(63)` is a column named key (litemall_storage has one); `KEY name (cols)` is an index."""
    kind1, v1 = tokens.peek(1)
    kind2, v2 = tokens.peek(2)
    return kind1 == "word" and v1.lower() in _KNOWN_TYPES and not (kind2 == "punct" and v2 == "(" and tokens.peek(3)[0] in ("bq", "word") and tokens.peek(4)[1] in (",", ")", "("))


_KNOWN_TYPES = frozenset(
    {
        "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float",
        "double", "real", "bit", "bool", "boolean", "serial", "date", "datetime", "timestamp", "time",
        "year", "char", "varchar", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
        "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json", "geometry", "point",
        "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
        "uuid", "inet4", "inet6", "nchar", "nvarchar", "long"
    }
)


def _index(tokens: _Tokens, table: Table) -> None:
    if tokens.accept_words("CONSTRAINT") and not tokens.at_word("PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
        tokens.identifier("a constraint name")
    kind, value = tokens.next()
    word = value.upper()
    if word == "PRIMARY":
        if not tokens.accept_words("KEY"):
            raise tokens.error("KEY after PRIMARY")
        _skip_using(tokens)
        table.primary_key = tokens.name_list()
    elif word == "UNIQUE":
        tokens.accept_words("KEY") or tokens.accept_words("INDEX")
        if not tokens.at("("):
            tokens.identifier("an index name")
        _skip_using(tokens)
        table.unique_keys.append(tokens.name_list())
    elif word in ("KEY", "INDEX", "FULLTEXT", "SPATIAL"):
        if word in ("FULLTEXT", "SPATIAL"):
            tokens.accept_words("KEY") or tokens.accept_words("INDEX")
        if not tokens.at("("):
            tokens.identifier("an index name")
        _skip_using(tokens)
        table.indexes.append(tokens.name_list())
    elif word == "FOREIGN":
        if not tokens.accept_words("KEY"):
            raise tokens.error("KEY after FOREIGN")
        if not tokens.at("("):
            tokens.identifier("a foreign key name")
        columns = tokens.name_list()
        if not tokens.accept_words("REFERENCES"):
            raise tokens.error("REFERENCES in a FOREIGN KEY")
        ref_db, ref = tokens.qualified_name("the referenced table")
        ref_columns = tokens.name_list() if tokens.at("(") else ()
        table.foreign_keys.append(ForeignKey(columns, f"{ref_db or table.db}.{ref}".lower(), ref_columns))
    elif word in ("CHECK", "PERIOD"):
        pass
    else:  # pragma: no cover - guarded by _INDEX_WORDS
        raise tokens.error("an index definition")
    _skip_to_element_end(tokens)


def _skip_using(tokens: _Tokens) -> None:
    if tokens.accept_words("USING"):
        tokens.next()


def _skip_to_element_end(tokens: _Tokens) -> None:
    while True:
        kind, value = tokens.peek()
        if kind == "eof" or (kind == "punct" and value in (",", ")")):
            return
        if kind == "punct" and value == "(":
            tokens.skip_group()
        else:
            tokens.i += 1


def _column(tokens: _Tokens, table: Table) -> None:
    name = tokens.identifier(f"a column or index definition in table `{table.name}`")
    kind, value = tokens.peek()
    if kind != "word":
        raise tokens.error(f"a type for column `{name}`")
    tokens.i += 1
    col = Column(name=name, type=value.lower())
    if col.type in ("double",) and tokens.at_word("PRECISION"):
        tokens.i += 1
    if col.type in ("national", "long") and tokens.peek()[0] == "word":
        col.type = tokens.next()[1].lower()
    if tokens.at("("):
        col.type_args = tokens.skip_group().strip()
    if col.type == "serial":
        col.type, col.unsigned, col.nullable, col.auto_increment = "bigint", True, False, True
        table.unique_keys.append((name,))
    while True:
        kind, value = tokens.peek()
        if kind == "eof" or (kind == "punct" and value in (",", ")")):
            break
        word = value.upper() if kind == "word" else ""
        if word == "UNSIGNED":
            col.unsigned = True
            tokens.i += 1
        elif word == "NOT" and tokens.peek(1)[1].upper() == "NULL":
            col.nullable = False
            tokens.i += 2
        elif word == "NULL":
            tokens.i += 1
        elif word == "DEFAULT":
            tokens.i += 1
            col.default = _default_value(tokens)
        elif word == "AUTO_INCREMENT":
            col.auto_increment = True
            tokens.i += 1
        elif word == "PRIMARY" or (word == "KEY" and tokens.peek(1)[1].upper() != "BLOCK_SIZE"):
            tokens.accept_words("PRIMARY")
            tokens.accept_words("KEY")
            table.primary_key = (name,)
            col.nullable = False
        elif word == "UNIQUE":
            tokens.i += 1
            tokens.accept_words("KEY")
            table.unique_keys.append((name,))
        elif word == "COMMENT":
            tokens.i += 1
            k, v = tokens.next()
            if k != "str":
                tokens.i -= 1
                raise tokens.error(f"a quoted comment for column `{name}`")
            col.comment = _unquote(v)
        elif word == "REFERENCES":
            tokens.i += 1
            ref_db, ref = tokens.qualified_name("the referenced table")
            ref_columns = tokens.name_list() if tokens.at("(") else ()
            table.foreign_keys.append(ForeignKey((name,), f"{ref_db or table.db}.{ref}".lower(), ref_columns))
        elif kind == "punct" and value == "(":
            tokens.skip_group()
        else:
            tokens.i += 1
    table.columns[name.lower()] = col


def _default_value(tokens: _Tokens) -> str | None:
    kind, value = tokens.next()
    if kind == "str":
        return _unquote(value)
    if kind == "punct" and value == "(":
        tokens.i -= 1
        return tokens.skip_group()
    if kind == "word" and value.upper() == "NULL":
        return None
    if kind == "op" and value in "+-" and tokens.peek()[0] == "num":
        return value + tokens.next()[1]
    if kind == "word" and tokens.peek()[0] == "str" and (value[0] == "_" or value in ("b", "B", "x", "X", "n", "N")):
        quoted = tokens.next()[1]  # _utf8mb4'x', N'x' (the string) or b'1', x'00' (the literal as written)
        return _unquote(quoted) if value[0] == "_" or value in "nN" else value.lower() + quoted
    if kind == "word" and tokens.at("("):
        tokens.skip_group()
    return value


def _table_options(tokens: _Tokens, table: Table) -> None:
    while True:
        kind, value = tokens.peek()
        if kind == "eof":
            return
        word = value.upper() if kind == "word" else ""
        if word in ("PARTITION",):
            return
        if word in ("ENGINE", "TYPE", "AUTO_INCREMENT", "COMMENT"):
            tokens.i += 1
            if tokens.at("="):
                tokens.i += 1
            k, v = tokens.next()
            if word in ("ENGINE", "TYPE"):
                table.engine = _unquote(v) if k in ("str", "bq") else v
            elif word == "AUTO_INCREMENT":
                if k != "num" or not v.isdigit() or len(v) > 20:
                    tokens.i -= 1
                    raise tokens.error("a whole number of at most 20 digits after AUTO_INCREMENT=")
                table.auto_increment = int(v)
            elif word == "COMMENT":
                if k != "str":
                    tokens.i -= 1
                    raise tokens.error("a quoted table comment")
                table.comment = _unquote(v)
        else:
            tokens.i += 1


_SEQUENCE_COLUMNS = (
    ("next_not_cached_value", "bigint"),
    ("minimum_value", "bigint"),
    ("maximum_value", "bigint"),
    ("start_value", "bigint"),
    ("increment", "bigint"),
    ("cache_size", "bigint"),
    ("cycle_option", "tinyint"),
    ("cycle_count", "bigint"),
)


def _create_sequence(stmt: Statement, file: str, scope: _Scope) -> Table:
    tokens = _Tokens(stmt, file)
    _skip_create_prefix(tokens)
    tokens.next()  # SEQUENCE
    tokens.accept_words("IF", "NOT", "EXISTS")
    db, name = tokens.qualified_name("a sequence name after CREATE SEQUENCE")
    db = _resolve_db(db, scope, name, tokens)
    table = Table(db=db, name=name, source=file, line=stmt.line, ddl_comments=list(stmt.comments), is_sequence=True)
    for col, typ in _SEQUENCE_COLUMNS:
        table.columns[col] = Column(col, typ, nullable=False)
    return table


# ---- INSERT rows ----------------------------------------------------------------------------

# Every literal form mysqldump and mariadb-dump write into VALUES lists: quoted strings (with
# backslash escapes, doubled quotes and adjacent-string concatenation), hex (0x.., X'..'),
# bit (b'..', 0b..), numbers (signed, decimals, exponents), NULL, charset introducers
# (_binary '..', _utf8mb4'..', _latin1 0x..) with an optional COLLATE. Anything else (a
# function call, an expression) is kept as its text.
_STR_BODY = r"'(?:[^'\\]|\\.|'')*'"
_LITERAL = re.compile(
    r"""\s*(?:
        (?P<str>""" + _STR_BODY + r"""(?:\s*""" + _STR_BODY + r""")*)
       |(?P<hex>0x[0-9a-fA-F]+(?![\w$])|[xX]'[0-9a-fA-F]*')
       |(?P<bit>0b[01]+(?![\w$])|[bB]'[01]*')
       |(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w$]))
       |(?P<null>(?i:NULL)(?![\w$]))
       |(?P<dq>"(?:[^"\\]|\\.|"")*")
       |(?P<nstr>[nN]""" + _STR_BODY + r""")
       |(?P<intro>_[A-Za-z0-9]+)\s*(?=['"]|0x|0b|[xXbB]')
    )""",
    re.X | re.S,
)
_COLLATE = re.compile(r"\s+COLLATE\s+(?:`[^`]*`|[\w$]+)", re.I)
_EXPR_TOKEN = re.compile(r"""\s*(?:'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`|[(),]|[-+*/%^&|~<>=!]+"""
                         r"""|[^-+*/%^&|~<>=!'"`(),\s]+)""", re.S)
_INSERT_HEAD = re.compile(
    r"\s*(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?"
    r"(?:`(?P<q1>(?:[^`]|``)+)`|(?P<p1>[\w$]+))(?:\s*\.\s*(?:`(?P<q2>(?:[^`]|``)+)`|(?P<p2>[\w$]+)))?"
    r"\s*(?P<cols>\((?:`(?:[^`]|``)*`|[^)`])*\))?\s*VALUES?\s*",
    re.I | re.S,
)
_COLUMN_NAME = re.compile(r"`((?:[^`]|``)*)`|([^\s,`()]+)")
MAX_NUMBER_CHARS = 100  # a dump writes at most 65 digits (DECIMAL) or a short float


def _insert(stmt: Statement, file: str, scope: _Scope) -> tuple[str, list[str] | None, list[tuple[object, ...]], str, int] | None:
    text = stmt.text
    m = _INSERT_HEAD.match(text)
    if not m:
        return None  # INSERT ... SELECT / SET: no literal rows to read
    first = m.group("q1").replace("``", "`") if m.group("q1") is not None else m.group("p1")
    second = m.group("q2").replace("``", "`") if m.group("q2") is not None else m.group("p2")
    db, name = (first, second) if second is not None else (None, first)
    if max(len(db or ""), len(name)) > MAX_IDENTIFIER_CHARS:
        raise SchemaParseError(f"{file}:{stmt.line}: expected a table name of at most {MAX_IDENTIFIER_CHARS} characters after INSERT INTO")
    resolved = scope.resolve(db)
    if resolved is None:
        raise NoDatabaseError(
            f"{file}:{stmt.line}: INSERT into `{name}` has no database: the dump has no USE statement or `Database:` header",
            hint="give the database with --database NAME",
        )
    columns = None
    if m.group("cols"):
        columns = [q.replace("``", "`") if q else bare for q, bare in _COLUMN_NAME.findall(m.group("cols")[1:-1])]
    rows: list[tuple[object, ...]] = []
    pos = m.end()
    n = len(text)

    def fail(expected: str, at: int) -> SchemaParseError:
        line = stmt.line + text.count("\n", 0, at)
        got = text[at:at + 30] or "the end of the statement"
        return SchemaParseError(f"{file}:{line}: expected {expected} in the VALUES list of `{name}`, got `{got}`")

    while pos < n:
        if text[pos] != "(":
            break
        pos += 1
        row: list[object] = []
        while True:
            value, pos = _row_value(text, pos, fail)
            row.append(value)
            if pos < n and text[pos] == ",":
                pos += 1
                continue
            if pos < n and text[pos] == ")":
                pos += 1
                break
            raise fail("`,` or `)`", pos)
        if len(rows) < MAX_ROWS_PER_TABLE:
            rows.append(tuple(row))
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos < n and text[pos] == ",":
            pos += 1
            while pos < n and text[pos] in " \t\r\n":
                pos += 1
            continue
        break
    return (f"{resolved}.{name}".lower(), columns, rows, file, stmt.line)


def _row_value(text: str, pos: int, fail: Callable[[str, int], SchemaParseError]) -> tuple[object, int]:
    """One value of a VALUES row starting at `pos` -> (value, position after it and its spaces)."""
    start = pos
    m = _LITERAL.match(text, pos)
    if m is not None:
        kind = m.lastgroup
        if kind == "intro":  # _binary '..', _utf8mb4 0x..: the literal that follows, in that character set
            m = _LITERAL.match(text, m.end())
            kind = m.lastgroup if m is not None else None
        if m is not None and kind != "intro":
            if kind == "num" and len(m.group(kind)) > MAX_NUMBER_CHARS:
                raise fail(f"a number of at most {MAX_NUMBER_CHARS} characters (no column type holds "
                           f"{len(m.group(kind)):,})", m.start(kind))
            end = m.end()
            collate = _COLLATE.match(text, end)
            if collate is not None:
                end = collate.end()
            while end < len(text) and text[end] in " \t\r\n":
                end += 1
            if end >= len(text) or text[end] in ",)":
                return _literal_value(kind, m.group(kind)), end  # type: ignore[arg-type]
    return _expression(text, start, fail)


_OPERATOR = re.compile(r"[-+*/%^&|~<>=!]+")
_OPERATOR_WORDS = frozenset({"DIV", "MOD", "AND", "OR", "XOR", "IS", "NOT", "LIKE", "COLLATE", "IN", "BETWEEN", "REGEXP"})
_UNARY = frozenset({"+", "-", "!", "~", "NOT"})


def _expression(text: str, start: int, fail: Callable[[str, int], SchemaParseError]) -> tuple[str, int]:
    """A value that is not a plain literal (`NOW()`, `ST_GeomFromText('POINT(1 1)')`, `1+2`),
    kept as its text: operands (literals, names, calls, parenthesised groups) separated by
    operators, parentheses balanced. Two operands in a row (`1 2`) are an error."""
    pos, depth, expect_operand, prev_word = start, 0, True, False
    while True:
        t = _EXPR_TOKEN.match(text, pos)
        if t is None:
            raise fail("a value" if expect_operand else "`,` or `)`", pos)
        tok = t.group().lstrip()
        at = t.end() - len(tok)
        pos = t.end()
        if depth:
            depth += 1 if tok == "(" else -1 if tok == ")" else 0
            continue
        if tok in (",", ")"):
            if expect_operand:
                raise fail("a value", at)
            return " ".join(text[start:at].split()), at
        if tok == "(":
            if not (expect_operand or prev_word):
                raise fail("`,` or `)`", at)
            depth, expect_operand, prev_word = 1, False, False
            continue
        word = tok.upper()
        if _OPERATOR.fullmatch(tok) or word in _OPERATOR_WORDS:
            if expect_operand and word not in _UNARY:
                raise fail("a value", at)
            expect_operand, prev_word = True, False
            continue
        if not expect_operand:
            raise fail("`,` or `)`", at)
        expect_operand, prev_word = False, tok[0] not in "'\"`" and not tok[0].isdigit()


def _literal_value(kind: str, raw: str) -> object:
    if kind in ("str", "dq", "nstr"):
        body = raw[1:] if kind == "nstr" else raw
        if kind == "str" and "'" in body[1:-1]:  # adjacent strings: 'a' 'b' is 'ab'
            return "".join(_unquote(part) for part in re.findall(_STR_BODY, body))
        return _unquote(body)
    if kind == "num":
        digits = raw.lstrip("+-")
        return int(raw) if digits.isdigit() and len(digits) <= 20 else raw
    if kind == "null":
        return None
    if kind == "hex":
        digits = raw[2:] if raw[:2] in ("0x",) else raw[2:-1]
        data = bytes.fromhex(digits.rjust(len(digits) + len(digits) % 2, "0"))
        return data.decode("utf-8", errors="replace")  # binary columns compare as text, as in a plain dump
    if kind == "bit":
        bits = raw[2:] if raw[:2] == "0b" else raw[2:-1]
        return int(bits or "0", 2)
    return raw
