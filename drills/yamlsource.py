"""YAML files -> validated pydantic models, with errors a person can act on.

Every configuration file of the harness (scenario, topology, controller and workload
sections) is read here so that they all fail the same way: one `ConfigError` whose
message names `file:line:column` and what was expected, with a did-you-mean for a
misspelled key. pydantic only knows the path inside the document (`stages.0.steps.2`),
so the YAML is composed into nodes first and every path is mapped back to the node
that produced it.

Durations are written the way operators write them (`2s`, `500ms`, `1.5m`) or as plain
numbers of seconds; `Duration` turns all of them into float seconds, at most one day.

Hostile or careless input must fail in bounded time with a located message, never a
traceback: characters YAML refuses and bytes that are not UTF-8 are located by line and
column (the YAML reader only knows a byte offset), values the YAML constructor cannot
build (a 5,000-digit number, 2024-02-30) are located at their node, nesting is capped,
and at most `MAX_REPORTED` problems are listed, the rest counted. Parsing uses libyaml
when PyYAML has it: pure-Python composing of a 10,000-stage file takes seconds.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError, WithJsonSchema

from drills.bulkload import gc_paused
from drills.durations import DURATION_PATTERN, MAX_DURATION_S, parse_duration, shown_value
from drills.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

Path_ = tuple[str | int, ...]

# ---- durations (the grammar is drills.durations'; this is the scenario model's type) -----------

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "a duration: 2s, 500ms, 1.5m, 1h, or a number of seconds; at most 24h",
        }
    ),
]


# ---- positions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document came from. The YAML nodes'
    own 0-based marks are kept as they are (building a Mark per node costs a third of the
    time of indexing a 10,000-stage file) and converted when a message asks."""

    source: str
    values: dict[Path_, yaml.Mark] = field(default_factory=dict)
    keys: dict[Path_, yaml.Mark] = field(default_factory=dict)
    visited: int = 0

    def mark(self, path: Path_, *, key: bool = False) -> Mark | None:
        """Line and column of the deepest known node on `path` (the key itself when `key`)."""
        if key and path:
            m = self.keys.get(path) or self.keys.get((*path[:-1], str(path[-1])))
            if m is not None:
                return _mark(m)
        for n in range(len(path), -1, -1):
            m = self.values.get(path[:n])
            if m is not None:
                return _mark(m)
        return None

    def where(self, path: Path_, *, key: bool = False) -> str:
        """`file:line:col` of the deepest known node on `path` (the key itself when `key`)."""
        m = self.mark(path, key=key) or Mark(1, 1)
        return f"{self.source}:{m.line}:{m.column}"


def _mark(mark: yaml.Mark) -> Mark:
    return Mark(mark.line + 1, mark.column + 1)


# YAML's line breaks (libyaml and PyYAML count lines by these, so positions computed here
# agree with the marks of their own errors)
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def position(text: str, index: int) -> Mark:
    """Line and column (1-based, in characters) of `text[index]`."""
    line, line_start = 1, 0
    for m in _BREAK.finditer(text, 0, index):
        line, line_start = line + 1, m.end()
    return Mark(line, index - line_start + 1)


def decode_utf8(raw: bytes, source: str) -> str:
    """Bytes of a file -> text; a byte that is not UTF-8 is a ConfigError at its line and
    column (Python only says "at byte 1141", which nobody can find in an editor)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8")  # valid up to the first bad byte
        at = position(before, len(before))
        raise ConfigError(
            f"{source}:{at.line}:{at.column}: not UTF-8 text: byte 0x{raw[exc.start]:02x} ({exc.reason})",
            hint="save the file as UTF-8",
        ) from None


# What the YAML spec allows in a stream (PyYAML's and libyaml's readers refuse the rest,
# but report only a character or byte offset).
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_C0_NAMES = ("NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF", "CR", "SO", "SI",
             "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US")


def _refuse_characters_yaml_cannot_hold(text: str, source: str) -> None:
    m = _NOT_YAML.search(text)
    if m is None:
        return
    code = ord(m.group())
    name = _C0_NAMES[code] if code < 32 else ("DEL" if code == 0x7F else "")
    kind = "control character" if code < 0xA0 else "character"
    at = position(text, m.start())
    raise ConfigError(
        f"{source}:{at.line}:{at.column}: {kind} U+{code:04X}{f' ({name})' if name else ''} is not allowed in YAML",
        hint=f"remove it; inside a double-quoted string it can be written as \\x{code:02x}" if code < 0x100
        else "remove it",
    )


# ---- reading YAML ---------------------------------------------------------------------------

MAX_DEPTH = 100  # deeper than any configuration needs; keeps every recursive walk bounded
_MAX_NODES = 200_000  # aliases can expand a small file exponentially ("billion laughs")


def _make_loader(base: type) -> type:
    """A SafeLoader (libyaml's when given) whose failures carry the position of the node."""

    class Loader(base):  # type: ignore[misc, valid-type]
        _depth = -1  # the root node is at depth 0, as in _index_nodes

        def compose_node(self, parent: Any, index: Any) -> Any:
            # only the pure-Python composer calls this (recursively, one frame per level);
            # libyaml stops at 1000 levels on its own, with a position
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise yaml.composer.ComposerError(
                        None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep=deep)
            except (ValueError, OverflowError) as exc:  # int('9' * 5000), 2024-02-30 ...
                raise yaml.constructor.ConstructorError(
                    None, None, _unconstructible(node, exc), node.start_mark) from None

    return Loader


def _unconstructible(node: yaml.Node, exc: Exception) -> str:
    text = node.value if isinstance(node, yaml.ScalarNode) else ""
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "int":
        return f"a number of {len(text):,} characters is too long to be read"
    return f"cannot read {shown_value(text)} as {kind}: {exc}"


_LOADER = _make_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _index_nodes(node: yaml.Node, path: Path_, smap: SourceMap, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        m = _mark(node.start_mark)
        raise ConfigError(f"{smap.source}:{m.line}:{m.column}: document nested deeper than {MAX_DEPTH} levels "
                          "(or a recursive alias)")
    smap.visited += 1
    if smap.visited > _MAX_NODES:
        m = _mark(node.start_mark)
        raise ConfigError(f"{smap.source}:{m.line}:{m.column}: document holds more than {_MAX_NODES:,} values "
                          "(or aliases expand to that many)")
    smap.values.setdefault(path, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys are positioned at the `<<` value; good enough for errors
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None:
                if key in seen:
                    at = _mark(key_node.start_mark)
                    raise ConfigError(
                        f"{smap.source}:{at.line}:{at.column}: key `{key_text(key)}` "
                        f"appears twice in the same mapping (first at line {seen[key].line + 1})"
                    )
                seen[key] = key_node.start_mark
                child = (*path, key)
                smap.keys.setdefault(child, key_node.start_mark)
                _index_nodes(value_node, child, smap, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_nodes(item, (*path, i), smap, depth + 1)


def parse(text: str, source: str = "<string>") -> tuple[Any, SourceMap]:
    """YAML text -> (plain Python document, source map). Any problem -> located ConfigError.

    The text is composed once into nodes (which carry positions); the document is then
    constructed from those same nodes, so positions and values cannot disagree."""
    _refuse_characters_yaml_cannot_hold(text, source)
    smap = SourceMap(source)
    loader = _LOADER(text)
    try:
        with gc_paused():
            node = loader.get_single_node()
            if node is None:
                return None, smap
            _index_nodes(node, (), smap)
            doc = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else f"{source}:1:1"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # unmarked (the characters that could cause it are refused above)
        raise ConfigError(f"{source}:1:1: not valid YAML: {exc}") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # a safety net: construction errors are located per node above and nesting is
        # capped, so the fuzz tests never reach this; a message beats a traceback
        raise ConfigError(f"{source}:1:1: not valid YAML: {shown_value(str(exc), 200)}") from None
    finally:
        loader.dispose()
    return doc, smap


# ---- validation errors -> located messages --------------------------------------------


def _doc_path(doc: Any, loc: tuple[Any, ...], *, missing: bool = False) -> Path_:
    """pydantic's loc also holds union tags and type names (`str`, `function-after[...]`);
    keep only the elements that walk the actual document (plus, for a `missing` error,
    the name of the missing key, so the message can say which one)."""
    path: list[str | int] = []
    cur = doc
    for i, elem in enumerate(loc):
        if isinstance(cur, Mapping) and _in(elem, cur) or isinstance(cur, list) and isinstance(elem, int) and 0 <= elem < len(cur):
            path.append(elem)
            cur = cur[elem]
        elif missing and i == len(loc) - 1 and isinstance(cur, Mapping):
            path.append(elem)
    return tuple(path)


def _in(key: Any, mapping: Mapping[Any, Any]) -> bool:
    try:
        return key in mapping
    except TypeError:  # an unhashable element of loc
        return False


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field_names(model: type[BaseModel]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    return names


def allowed_keys(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model(s) at `loc` accept, for did-you-mean on an unknown key.

    Walks the type annotations the way pydantic walks the data; an element that matches
    no candidate (a union tag) leaves the candidates as they are."""
    candidates: list[Any] = [model_cls]
    for elem in loc:
        nxt: list[Any] = []
        for tp in [t for c in candidates for t in _unwrap(c)]:
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if _is_model(tp) and isinstance(elem, str):
                for name, info in tp.model_fields.items():
                    if elem in (name, info.alias):
                        nxt.append(info.annotation)
                if elem == tp.__name__:
                    nxt.append(tp)
            elif origin in (list, tuple, set, frozenset) and isinstance(elem, int) and args:
                nxt.append(args[0])
            elif origin in (dict, Mapping) and len(args) == 2:
                nxt.append(args[1])
        if nxt:
            candidates = nxt
    keys: list[str] = []
    for tp in [t for c in candidates for t in _unwrap(c)]:
        if _is_model(tp):
            keys.extend(k for k in _field_names(tp) if k not in keys)
    return keys


def did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def key_text(key: Any, width: int = 60) -> str:
    """A mapping key as a message shows it between backticks: as written, cut to `width`,
    with line breaks escaped (a folded multi-line key must not split a message in two)."""
    if not isinstance(key, str):
        return shown_value(key, width)
    if not key.isprintable():
        key = repr(key)[1:-1]
    return key if len(key) <= width else key[: width - 3] + "..."


def _describe_input(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return shown_value(value)


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{key_text(p)}" if out else key_text(p))
    return out or "(top level)"


_PLAIN = {
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list (- item lines)",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
}


MAX_REPORTED = 50
"""Problems listed per file; the rest are counted. A file with 50,000 unknown keys needs
the first few and a count, not 8 MB of messages."""


def _is_type_mismatch(error_type: str) -> bool:
    return error_type.endswith("_type") or error_type in ("is_instance_of", "path_type")


def _relevant(doc: Any, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop a union member's "wrong type" complaint where another member said something
    about the same value or inside it: for `topology: {ports: {dc1: 99999}}` the user wants
    the port's range, not that a mapping is not a path. Without a union, a wrong type at a
    path leaves nothing validated at or below it, so only union noise is dropped."""
    if not any(_is_type_mismatch(err["type"]) for err in errors):
        return errors
    paths = [_doc_path(doc, tuple(err["loc"])) for err in errors]
    specific: set[Path_] = set()
    for path, err in zip(paths, errors, strict=True):
        if not _is_type_mismatch(err["type"]):
            specific.update(path[:n] for n in range(len(path) + 1))
    return [err for path, err in zip(paths, errors, strict=True)
            if not (_is_type_mismatch(err["type"]) and path in specific)]


def _message(path: Path_, err: dict[str, Any], smap: SourceMap, model_cls: type[BaseModel]) -> str:
    loc = tuple(err.get("loc", ()))
    etype = err.get("type", "")
    if etype == "extra_forbidden":
        key = loc[-1] if loc else "?"
        choices = allowed_keys(model_cls, loc[:-1])
        suggestion = did_you_mean(str(key), choices)
        hint = f"; did you mean `{suggestion}`?" if suggestion else ""
        expected = f" (expected one of: {', '.join(choices)})" if choices else ""
        return f"{smap.where(path, key=True)}: unknown key `{key_text(key)}` in {_dotted(path[:-1])}{hint}{expected}"
    if etype == "missing":
        name = loc[-1] if loc else "?"
        parent = path[:-1] if path and path[-1] == name else path
        return f"{smap.where(parent)}: {_dotted(parent)}: missing required key `{name}`"
    msg = _PLAIN.get(etype) or err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if any(isinstance(p, str) and _SECRET_KEY.search(p) for p in path):
        got = ""  # a value written where a secret belongs may be the secret: never echo it
    else:
        got = "" if "got " in msg else f" (got {_describe_input(err.get('input'))})"
    return f"{smap.where(path)}: {_dotted(path)}: {msg}{got}"


_SECRET_KEY = re.compile(r"pass(word|wd)?$|secret|token", re.IGNORECASE)


def format_errors(
    exc: ValidationError, doc: Any, smap: SourceMap, model_cls: type[BaseModel], *, limit: int = MAX_REPORTED,
) -> list[str]:
    """One located, human message per problem, at most `limit` of them; when there are
    more, a last line (located at the first one not listed) counts the rest."""
    return _format(exc, doc, smap, model_cls, limit)[0]


def _format(
    exc: ValidationError, doc: Any, smap: SourceMap, model_cls: type[BaseModel], limit: int,
) -> tuple[list[str], int]:
    """(messages, number of problems). Linear in the number of errors: only the messages
    listed are formatted and located (a did-you-mean costs a fuzzy match), duplicates are
    found with a dict."""
    distinct: dict[tuple[Any, ...], dict[str, Any]] = {}
    for err in _relevant(doc, exc.errors(include_url=False)):
        distinct.setdefault((tuple(err["loc"]), err["type"], err["msg"]), err)
    problems = list(distinct.values())

    def path_of(err: dict[str, Any]) -> Path_:
        return _doc_path(doc, tuple(err["loc"]), missing=err["type"] == "missing")

    # unions make pydantic report every member's opinion; one message per text is enough
    messages = list(dict.fromkeys(_message(path_of(err), err, smap, model_cls) for err in problems[:limit]))
    if len(problems) <= limit:
        return messages, len(messages)
    first_unlisted = problems[limit]
    where = smap.where(path_of(first_unlisted), key=first_unlisted["type"] == "extra_forbidden")
    more = len(problems) - limit
    return [*messages, more_problems(where, more, limit)], len(messages) + more


def more_problems(where: str, count: int, limit: int = MAX_REPORTED) -> str:
    """The last line of a capped list, located at the first problem not listed."""
    return f"{where}: ... and {count:,} more problems from here on (only the first {limit} are listed)"


def problems_error(source: str, messages: list[str], total: int | None = None) -> ConfigError:
    """One ConfigError for located messages: a single problem is the message itself;
    several get their count (`total`, when the list was capped) first."""
    if len(messages) == 1:
        return ConfigError(messages[0])
    total = len(messages) if total is None else total
    return ConfigError(f"{source}: {total:,} problems\n" + "\n".join(f"  {m}" for m in messages))


# ---- entry points ---------------------------------------------------------------------------


def validate_document(doc: Any, smap: SourceMap, model_cls: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Validate an already parsed document; errors are located through `smap`."""
    if doc is None:
        doc = {}
    try:
        with gc_paused():
            return model_cls.model_validate(doc, context=context)
    except ValidationError as exc:
        with gc_paused():
            messages, total = _format(exc, doc, smap, model_cls, MAX_REPORTED)
        raise problems_error(smap.source, messages, total) from None


def validation_problems(
    doc: Any, smap: SourceMap, model_cls: type[M], *, context: dict[str, Any] | None = None,
) -> tuple[M | None, list[str], int]:
    """(model or None, located messages (at most MAX_REPORTED, plus a line counting the
    rest), number of problems): for a caller that has more problems of its own to add."""
    try:
        with gc_paused():
            return model_cls.model_validate({} if doc is None else doc, context=context), [], 0
    except ValidationError as exc:
        with gc_paused():
            messages, total = _format(exc, {} if doc is None else doc, smap, model_cls, MAX_REPORTED)
        return None, messages, total


def problems_report(source: str, groups: list[tuple[list[str], int]]) -> ConfigError | None:
    """Several checks' located messages (each list as `validation_problems` gives them,
    with its count) merged into one ConfigError in file order, at most MAX_REPORTED listed
    and the rest counted; None when there are none."""
    total = sum(count for _, count in groups)
    if not total:
        return None
    listed = [m for messages, _ in groups for m in messages if not _is_more_line(m)]
    listed.sort(key=lambda m: _position_of(m, source))
    if total > len(listed) or len(listed) > MAX_REPORTED:
        more_at = listed[MAX_REPORTED].split(": ", 1)[0] if len(listed) > MAX_REPORTED else \
            next((m.split(": ", 1)[0] for messages, _ in groups for m in messages if _is_more_line(m)), source)
        listed = [*listed[:MAX_REPORTED], more_problems(more_at, total - min(len(listed), MAX_REPORTED))]
    return problems_error(source, listed, total)


def _is_more_line(message: str) -> bool:
    return " more problems from here on (only the first " in message


def _position_of(message: str, source: str) -> tuple[int, int]:
    """(line, column) of a message located as `source:line:col: ...`."""
    rest = message[len(source) + 1:] if message.startswith(source + ":") else ""
    line, _, rest = rest.partition(":")
    col, _, _ = rest.partition(":")
    return (int(line), int(col)) if line.isdigit() and col.isdigit() else (0, 0)


def load_text(text: str, model_cls: type[M], source: str = "<string>", *, context: dict[str, Any] | None = None) -> M:
    """Parse and validate YAML text (tests, inline documents)."""
    doc, smap = parse(text, source)
    return validate_document(doc, smap, model_cls, context=context)


def read_bytes(path: Path, what: str = "file") -> bytes:
    """A configuration file's bytes; missing or unreadable -> ConfigError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def read_text(path: Path) -> str:
    """A configuration file's text; unreadable or not UTF-8 -> ConfigError naming it."""
    return decode_utf8(read_bytes(path), str(path))


def load_model(path: str | Path, model_cls: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Read a YAML file into `model_cls`. Any problem -> ConfigError with file:line:column."""
    p = Path(path)
    return load_text(read_text(p), model_cls, str(p), context=context)
