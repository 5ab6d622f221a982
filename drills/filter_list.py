"""The replication filter list: tables deliberately not replicated, each with a reason.

Two kinds of entry, as MySQL/MariaDB replicas know them: exact tables
(`replicate_ignore_table`, `db.table`) and wildcard patterns
(`replicate_wild_ignore_table`, LIKE syntax: `%` any run, `_` any one character, `\\_`
and `\\%` a literal underscore or percent sign). An exact entry must be declared as
`table:` because `_` in a table name would be a wildcard if it were given as a pattern.

Accepted files (UTF-8):
- YAML (the project's format)::

    filter_list:
      - table: app.app_config
        reason: environment-specific hosts and keys differ between DCs
        owner: platform
      - pattern: app.tmp\\_%
        reason: DBA temporary backup tables

- a plain text list, one `db.table` per line (`#` comments); a line containing `%` or
  `\\` is a pattern, anything else an exact table.

Matching means what the server means, because a filter list is only as good as the
replica's reading of it. Measured on MariaDB 10.11 with lower_case_table_names=0 (the
differential test tests/integration/test_audit_filter_differential.py re-measures it on
every run): both kinds compare case-insensitively whatever lower_case_table_names says;
patterns are compared in utf8mb3_general_ci, so accents are ignored too (`tmpé` matches
`tmpe`); exact entries are accent-sensitive. `%` may match across the dot: the server
matches the pattern against the whole `db.table` text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from drills.bulkload import gc_paused
from drills.errors import ConfigError

MAX_NAME_CHARS = 300  # 64 + 1 + 64 characters of a name, with room for escapes
MAX_YAML_DEPTH = 32  # a filter list is three levels deep; deeper is a broken or hostile file
SHOWN_CHARS = 60  # of a value quoted in a message

# ---- comparing names the way the server does ----------------------------------------------------

# MariaDB's Unicode case tables (and so utf8mb3_general_ci) only fold characters on these
# 256-character pages; every other character compares as itself.
_FOLDED_PAGES = frozenset({0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x1E, 0x1F, 0x21, 0x24, 0xFF})
# utf8mb3_general_ci weights that differ from "base letter, upper case" (read from the server
# with WEIGHT_STRING over every folded page; the integration test re-reads them).
_GENERAL_CI_KEEP = frozenset(
    "\u0180\u019a\u019e\u023c\u023f\u0240\u0242\u0247\u0249\u024b\u024d\u024f\u0250\u0251\u0252\u025c\u0261"
    "\u0265\u0266\u026a\u026b\u026c\u0271\u027d\u0282\u0287\u0289\u028c\u029d\u029e\u0340\u0341\u0343\u0344"
    "\u0371\u0373\u0374\u0377\u037b\u037c\u037d\u037e\u0385\u0387\u03d7\u03d9\u03f3\u03f5\u03f8\u03fb\u0419"
    "\u048b\u04c6\u04ca\u04ce\u04cf\u04f7\u04fb\u04fd\u04ff\u0501\u0503\u0505\u0507\u0509\u050b\u050d\u050f"
    "\u0511\u0513\u0515\u0517\u0519\u051b\u051d\u051f\u0521\u0523\u0525\u0527\u0529\u052b\u052d\u052f\u1efb"
    "\u1efd\u1eff\u1fbb\u1fc1\u1fc9\u1fcb\u1fcd\u1fce\u1fcf\u1fd3\u1fdb\u1fdd\u1fde\u1fdf\u1fe3\u1feb\u1fed"
    "\u1fee\u1fef\u1ff9\u1ffb\u1ffd\u2126\u212a\u212b\u214e\u2184\u219a\u219b\u21ae\u21cd\u21ce\u21cf"
)
_GENERAL_CI_MAP = {"\u00df": "S", "\u03f2": "\u03a3", "\u0439": "\u0419", "\u1f71": "\u1fbb", "\u1f73": "\u1fc9",
                   "\u1f75": "\u1fcb", "\u1f77": "\u1fdb", "\u1f79": "\u1ff9", "\u1f7b": "\u1feb", "\u1f7d": "\u1ffb"}


@cache  # bounded: one entry per distinct character seen
def _general_ci_char(c: str) -> str:
    cp = ord(c)
    if cp > 0xFFFF:
        return "\ufffd"  # utf8mb3 has no such character; the server sees a replacement
    if cp >> 8 not in _FOLDED_PAGES or c in _GENERAL_CI_KEEP:
        return c
    if c in _GENERAL_CI_MAP:
        return _GENERAL_CI_MAP[c]
    base = unicodedata.normalize("NFD", c)[0]
    upper = base.upper()
    return upper if len(upper) == 1 else base


@cache
def _case_char(c: str) -> str:
    if ord(c) >> 8 not in _FOLDED_PAGES:
        return c
    upper = c.upper()
    return upper if len(upper) == 1 else c


def fold_pattern_text(text: str) -> str:
    """`text` as replicate_wild_ignore_table compares it (utf8mb3_general_ci: case and
    accents ignored). One character in, one out, so positions are kept."""
    if text.isascii():
        return text.upper()
    return "".join(map(_general_ci_char, text))


def fold_table_name(text: str) -> str:
    """`text` as replicate_ignore_table compares it: case-insensitive, accent-sensitive."""
    if text.isascii():
        return text.upper()
    return "".join(map(_case_char, text))


@dataclass(frozen=True)
class _Segment:
    """The text between two runs of `%`: a fixed number of characters, each a literal (already
    folded) or `_`. A literal-only segment is matched with str methods, one with `_` by a
    regex without quantifiers; either way in time linear in the value per segment."""

    literal: str | None  # the folded text when the segment has no `_`
    regex: re.Pattern[str] | None
    length: int

    def match_at(self, value: str, pos: int) -> bool:
        if self.literal is not None:
            return value.startswith(self.literal, pos)
        return self.regex.match(value, pos) is not None  # type: ignore[union-attr]

    def find(self, value: str, pos: int, end: int) -> int:
        if self.literal is not None:
            return value.find(self.literal, pos, end)
        m = self.regex.search(value, pos, end)  # type: ignore[union-attr]
        return m.start() if m else -1


@dataclass(frozen=True)
class WildPattern:
    """A compiled LIKE pattern. Matching never backtracks: the first segment is anchored at
    the start, the last at the end, and each one between takes its leftmost place (which
    leaves the most room for the rest, so it is also the right place). O(len(value) x
    len(pattern)) at worst, whatever the number of `%`."""

    text: str
    segments: tuple[_Segment, ...]
    floating: bool  # has a `%`
    prefix: str  # the folded literal text before the first wildcard, for index lookups

    def matches(self, value: str) -> bool:
        return self.matches_folded(fold_pattern_text(value))

    def matches_folded(self, value: str) -> bool:
        segs = self.segments
        first, last = segs[0], segs[-1]
        if not self.floating:
            return len(value) == first.length and first.match_at(value, 0)
        end = len(value) - last.length
        if first.length > end or not first.match_at(value, 0) or not last.match_at(value, end):
            return False
        pos = first.length
        for seg in segs[1:-1]:
            if not seg.length:
                continue
            at = seg.find(value, pos, end)
            if at < 0:
                return False
            pos = at + seg.length
        return True


ANY_RUN = "\x00%"  # stands for an unescaped `%` among the atoms (never equal to one character)


def pattern_atoms(pattern: str) -> list[str | None]:
    """The pattern as the server reads it: a literal character, `None` for `_`, or `ANY_RUN`
    for `%`. `\\` makes the next character literal; a trailing `\\` is itself literal."""
    atoms: list[str | None] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            atoms.append(pattern[i + 1])
            i += 2
            continue
        atoms.append(None if c == "_" else ANY_RUN if c == "%" else c)
        i += 1
    return atoms


@lru_cache(maxsize=8192)
def compile_pattern(pattern: str) -> WildPattern:
    """`pattern` (replicate_wild_ignore_table syntax) -> a matcher."""
    groups: list[list[str | None]] = [[]]
    for atom in pattern_atoms(pattern):
        if atom == ANY_RUN:
            groups.append([])
        else:
            groups[-1].append(atom)
    segments = []
    for group in groups:
        if None in group:
            rx = "".join("." if a is None else re.escape(fold_pattern_text(a)) for a in group)
            segments.append(_Segment(None, re.compile(rx, re.DOTALL), len(group)))
        else:
            segments.append(_Segment(fold_pattern_text("".join(group)), None, len(group)))  # type: ignore[arg-type]
    first = groups[0]
    cut = first.index(None) if None in first else len(first)
    prefix = fold_pattern_text("".join(first[:cut]))  # type: ignore[arg-type]
    return WildPattern(pattern, tuple(segments), len(groups) > 1, prefix)


def like_match(pattern: str, value: str) -> bool:
    """True when a replica with `pattern` in replicate_wild_ignore_table would filter the
    table `value` (`db.table`): LIKE semantics with `\\` escapes, compared in
    utf8mb3_general_ci as MariaDB does (case- and accent-insensitive)."""
    return compile_pattern(pattern).matches(value)


def literal_prefix(pattern: str) -> str:
    """The text every match starts with (escapes resolved, case kept): `app.tmp\\_%` -> `app.tmp_`."""
    out = []
    for atom in pattern_atoms(pattern):
        if atom is None or atom == ANY_RUN:
            break
        out.append(atom)
    return "".join(out)


# ---- the list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterEntry:
    name: str  # db.table or db.pattern
    wildcard: bool
    reason: str = ""
    owner: str = ""
    line: int | None = None  # where it was declared, for findings and errors

    def matches(self, table: str) -> bool:
        if not self.wildcard:
            return fold_table_name(table) == fold_table_name(self.name)
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


def normalise_filters(ignore: str | Iterable[str] | None, wild: str | Iterable[str] | None) -> dict[str, list[str]]:
    """Server values (comma-separated strings) or lists -> sorted lists, for comparison."""

    def split(v: str | Iterable[str] | None) -> list[str]:
        if v is None:
            return []
        items = v.split(",") if isinstance(v, str) else list(v)
        return sorted({i.strip() for i in items if i and i.strip()})

    return {"ignore_tables": split(ignore), "wild_ignore_tables": split(wild)}


# ---- reading files --------------------------------------------------------------------------------


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """A value for a message: quoted, control characters escaped, cut at `limit` characters
    (an alias bomb or a 10 MB line must not become a 10 MB message)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def decode_utf8(data: bytes, source: str, what: str) -> str:
    """Bytes -> text, or a ConfigError naming the line and column of the first invalid byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        raise ConfigError(f"{source}:{line}:{column}: {what} is not UTF-8 (byte 0x{data[exc.start]:02x}); "
                          "save it as UTF-8") from None


def load(path: str | Path) -> FilterList:
    """Load a filter list file (YAML or plain). Errors carry file and line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read filter list: {exc.strerror}") from None
    text = decode_utf8(data, str(p), "the filter list")
    with gc_paused():
        if p.suffix.lower() in (".yaml", ".yml") or text.lstrip().startswith("filter_list:"):
            return _load_yaml(p, text)
        return _load_plain(p, text)


def _load_plain(p: Path, text: str) -> FilterList:
    entries = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.split("\n"), start=1):  # not splitlines(): \x0c or \x85 do not end a line for an editor
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        wildcard = "%" in line or "\\" in line
        problem = name_problem(line, wildcard)
        if problem:
            raise ConfigError(f"{p}:{n}: {problem}")
        key = fold_table_name(line)
        if key in seen:
            raise ConfigError(f"{p}:{n}: {shown(line)} is declared twice (first at line {seen[key]})")
        seen[key] = n
        entries.append(FilterEntry(line, wildcard, line=n))
    return FilterList(entries, str(p))


_BAD_CHAR = re.compile(r"[\s,'\"`\x00-\x1f\x7f]")


def name_problem(name: str, wildcard: bool, *, double_quoted: bool = False) -> str | None:
    """Why `name` cannot be a filter entry, or None. The server splits its list at commas,
    strips nothing but leading spaces and compares the text as is, so quotes, spaces and
    commas would silently never match."""
    kind = "pattern" if wildcard else "table"
    if not name:
        return f"the {kind} name is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"{shown(name)} is too long for a `db.{kind}` name (at most {MAX_NAME_CHARS} characters)"
    bad = _BAD_CHAR.search(name)
    if bad:
        c = bad.group(0)
        if c == "\xa0" and double_quoted:
            return (f"{shown(name)} contains a no-break space: in double quotes YAML reads `\\_` as one; "
                    "write the pattern unquoted or in single quotes")
        if c == ",":
            return f"{shown(name)} contains `,`, which the server reads as the separator between entries"
        if c in "'\"`":
            return f"{shown(name)} contains a quote or backtick; write the name unquoted (the server compares it as is)"
        return f"{shown(name)} contains a space or control character ({c!r} at column {bad.start() + 1})"
    db, dot, rest = name.partition(".")
    if not dot or not db or not rest:
        return f"expected `db.{kind}`, got {shown(name)}"
    if not wildcard and "%" in name:
        return f"{shown(name)} contains `%`; declare it as `pattern:`"
    if not wildcard and "\\" in name:
        return f"{shown(name)} contains `\\`; escapes only mean something in a `pattern:`"
    return None


# ---- YAML as a tree of nodes with positions ---------------------------------------------------


class YamlNode:
    """A YAML node with where it starts. Built from parser events (libyaml when present), so
    deep nesting is refused before anything recurses, duplicate keys are an error, and an
    alias is the anchored node itself, never a copy (an alias bomb stays small)."""

    __slots__ = ("kind", "value", "line", "column", "style", "keys")

    def __init__(self, kind: str, value: Any, line: int, column: int, style: str | None = None):
        self.kind = kind  # scalar | seq | map
        self.value = value  # str | list[YamlNode] | list[tuple[YamlNode, YamlNode]]
        self.line = line
        self.column = column
        self.style = style  # scalar style: None (plain), "'", '"', "|", ">"
        self.keys: dict[str, YamlNode] | None = {} if kind == "map" else None

    def text(self) -> str | None:
        """The scalar's text ('' for an empty or null scalar); None for a list or mapping."""
        if self.kind != "scalar":
            return None
        if self.style is None and self.value in ("~", "null", "Null", "NULL"):
            return ""
        return self.value

    def describe(self) -> str:
        return {"scalar": "a text value", "seq": "a list", "map": "a mapping"}[self.kind]


_EVENT_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ODD_LINE_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")


def read_yaml(text: str, source: str) -> YamlNode | None:
    """Parse one YAML document into `YamlNode`s; errors are ConfigErrors with file:line:col."""
    root: YamlNode | None = None
    stack: list[YamlNode] = []
    pending_key: list[YamlNode | None] = []  # per open mapping: its key waiting for a value
    anchors: dict[str, YamlNode] = {}
    documents = 0

    odd_break = _ODD_LINE_BREAK.search(text)
    if odd_break:  # YAML counts these as line breaks, editors and `grep -n` do not: every line number after would be off
        pos = odd_break.start()
        line, column = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
        raise ConfigError(f"{source}:{line}:{column}: a line break other than \\n or \\r\\n ({odd_break.group()!r}); "
                          "save the file with Unix or Windows line endings")
    last_line = text.count("\n") + 1

    def where(mark: Any) -> str:
        if mark.line + 1 > last_line:  # libyaml puts the end of a file without a final newline on a line after it
            return f"{source}:{last_line}:{len(text) - text.rfind(chr(10))}"
        return f"{source}:{mark.line + 1}:{mark.column + 1}"

    def attach(node: YamlNode, event: Any) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if parent.kind == "seq":
            parent.value.append(node)
            return
        key = pending_key[-1]
        if key is None:
            if node.kind != "scalar":
                raise ConfigError(f"{where(event.start_mark)}: a mapping key must be a plain name, not {node.describe()}")
            pending_key[-1] = node
            return
        pending_key[-1] = None
        first = parent.keys.get(key.value)  # type: ignore[union-attr]
        if first is not None:
            raise ConfigError(f"{source}:{key.line}:{key.column}: key {shown(key.value)} appears twice in the same "
                              f"mapping (first at line {first.line})")
        parent.keys[key.value] = key  # type: ignore[index]
        parent.value.append((key, node))

    try:
        for event in yaml.parse(text, Loader=_EVENT_LOADER):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise ConfigError(f"{where(event.start_mark)}: a second YAML document (`---`); give one document")
            elif isinstance(event, yaml.AliasEvent):
                target = anchors.get(event.anchor)
                if target is None:
                    raise ConfigError(f"{where(event.start_mark)}: alias *{shown(event.anchor or '')} has no anchor above it")
                attach(target, event)
            elif isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                line, column = event.start_mark.line + 1, event.start_mark.column + 1
                if isinstance(event, yaml.ScalarEvent):
                    node = YamlNode("scalar", event.value, line, column, event.style)
                else:
                    node = YamlNode("seq" if isinstance(event, yaml.SequenceStartEvent) else "map", [], line, column)
                if event.anchor:
                    anchors[event.anchor] = node
                attach(node, event)
                if node.kind != "scalar":
                    stack.append(node)
                    pending_key.append(None)
                    if len(stack) > MAX_YAML_DEPTH:
                        raise ConfigError(f"{where(event.start_mark)}: nested deeper than {MAX_YAML_DEPTH} levels")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                stack.pop()
                pending_key.pop()
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; it knows only the offset
        pos = int(exc.position)
        if _EVENT_LOADER is not yaml.SafeLoader:  # libyaml counts bytes of UTF-8
            pos = len(text.encode("utf-8")[:pos].decode("utf-8", errors="ignore"))
        pos = max(0, min(pos, len(text)))
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character or 0)
        raise ConfigError(f"{source}:{line}:{column}: not valid YAML: character {char!r} is not allowed") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = where(mark) if mark else f"{source}:1:1"
        raise ConfigError(f"{loc}: not valid YAML: {exc.problem or exc.context or 'syntax error'}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}:1:1: not valid YAML: {shown(str(exc), 200)}") from None
    return root


def _load_yaml(p: Path, text: str) -> FilterList:
    root = read_yaml(text, str(p))
    if root is None or root.kind != "map" or "filter_list" not in root.keys:  # type: ignore[operator]
        line = root.line if root is not None else 1
        raise ConfigError(f"{p}:{line}: expected a mapping with a `filter_list:` key")
    items = next(v for k, v in root.value if k.value == "filter_list")
    if items.kind == "scalar" and items.text() == "":
        return FilterList([], str(p))
    if items.kind != "seq":
        raise ConfigError(f"{p}:{items.line}: `filter_list` must be a list of entries, got {items.describe()}")
    entries = []
    seen: dict[str, int] = {}
    for item in items.value:
        e = _entry(item, str(p))
        key = fold_table_name(e.name)
        if key in seen:
            raise ConfigError(f"{p}:{e.line}: {shown(e.name)} is declared twice (first at line {seen[key]})")
        seen[key] = item.line
        entries.append(e)
    return FilterList(entries, str(p))


_FIELDS = ("table", "pattern", "reason", "owner")


def _entry(item: YamlNode, source: str) -> FilterEntry:
    where = f"{source}:{item.line}"
    if item.kind == "scalar":
        name = item.text() or ""
        wildcard = "%" in name or "\\" in name
        problem = name_problem(name, wildcard, double_quoted=item.style == '"')
        if problem:
            raise ConfigError(f"{where}: {problem}")
        return FilterEntry(name, wildcard, line=item.line)
    if item.kind != "map":
        raise ConfigError(f"{where}: an entry must be a mapping with `table:` or `pattern:`, got {item.describe()}")
    fields: dict[str, tuple[YamlNode, YamlNode]] = {}  # located at the key: an aliased value sits where it was anchored
    for key, value in item.value:
        if key.value not in _FIELDS:
            raise ConfigError(f"{source}:{key.line}: unknown field {shown(key.value)}; expected table|pattern, reason, owner")
        fields[key.value] = (key, value)
    if ("table" in fields) == ("pattern" in fields):
        raise ConfigError(f"{where}: give exactly one of `table:` (exact) or `pattern:` (wildcard)")
    texts: dict[str, str] = {}
    for name, (key, value) in fields.items():
        text = value.text()
        if text is None:
            what = "a `db.table` name" if name in ("table", "pattern") else "text"
            raise ConfigError(f"{source}:{key.line}: `{name}:` must be {what}, got {value.describe()}")
        texts[name] = text
    wildcard = "pattern" in fields
    kind = "pattern" if wildcard else "table"
    key, value = fields[kind]
    problem = name_problem(texts[kind], wildcard, double_quoted=value.style == '"')
    if problem:
        raise ConfigError(f"{source}:{key.line}: {problem}")
    return FilterEntry(texts[kind], wildcard, texts.get("reason", ""), texts.get("owner", ""), item.line)
