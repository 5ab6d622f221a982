"""YAML files -> validated pydantic models, with errors a person can act on.

Every configuration file of the harness (scenario, topology, controller and workload
sections) is read here so that they all fail the same way: one `ConfigError` whose
message names `file:line:column` and what was expected, with a did-you-mean for a
misspelled key. pydantic only knows the path inside the document (`stages.0.steps.2`),
so the YAML is composed into nodes first and every path is mapped back to the node
that produced it.

Durations are written the way operators write them (`2s`, `500ms`, `1.5m`) or as plain
numbers of seconds; `Duration` turns all of them into float seconds.
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

from drills.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

Path_ = tuple[str | int, ...]

# ---- durations --------------------------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|sec|m|min|h)?\s*$")


def parse_duration(value: Any) -> float:
    """"2s", "500ms", "1.5m", "1h", 3, 0.5 -> seconds. Negative or non-finite values are refused
    because a timeout or an RTO objective of -1s has no meaning."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 2s, 500ms, 1.5m or a number of seconds, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"expected a duration like 2s, 500ms, 1.5m or a number of seconds, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration like 2s, 500ms, 1.5m or a number of seconds, got {type(value).__name__}")
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        raise ValueError(f"expected a non-negative, finite duration, got {value!r}")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*(ms|s|sec|m|min|h)?\s*$"},
            ],
            "description": "a duration: 2s, 500ms, 1.5m, 1h, or a number of seconds",
        }
    ),
]


def format_duration(seconds: float) -> str:
    """Inverse of parse_duration for messages and reports (0.5 -> "500ms", 90 -> "90s")."""
    def plain(x: float, places: int) -> str:
        return f"{x:.{places}f}".rstrip("0").rstrip(".") or "0"

    if 0 < seconds < 1:
        return f"{plain(seconds * 1000, 3)}ms"
    return f"{plain(seconds, 6)}s"


# ---- positions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document came from."""

    source: str
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    visited: int = 0

    def where(self, path: Path_, *, key: bool = False) -> str:
        """`file:line:col` of the deepest known node on `path` (the key itself when `key`)."""
        if key and path:
            m = self.keys.get(path) or self.keys.get((*path[:-1], str(path[-1])))
            if m is not None:
                return f"{self.source}:{m.line}:{m.column}"
        for n in range(len(path), -1, -1):
            m = self.values.get(path[:n])
            if m is not None:
                return f"{self.source}:{m.line}:{m.column}"
        return f"{self.source}:1:1"


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


_MAX_NODES = 200_000  # aliases can expand a small file exponentially ("billion laughs")


def _index_nodes(node: yaml.Node, path: Path_, smap: SourceMap, depth: int = 0) -> None:
    if depth > 100:
        raise ConfigError(f"{smap.where(path)}: document nested deeper than 100 levels (recursive alias?)")
    smap.visited += 1
    if smap.visited > _MAX_NODES:
        raise ConfigError(f"{smap.where(path)}: document expands to more than {_MAX_NODES} values (aliases?)")
    smap.values.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys are positioned at the `<<` value; good enough for errors
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None:
                if key in seen:
                    first = seen[key]
                    raise ConfigError(
                        f"{smap.source}:{_mark(key_node).line}:{_mark(key_node).column}: key `{key}` "
                        f"appears twice in the same mapping (first at line {first.line})"
                    )
                seen[key] = _mark(key_node)
                child = (*path, key)
                smap.keys.setdefault(child, _mark(key_node))
                _index_nodes(value_node, child, smap, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_nodes(item, (*path, i), smap, depth + 1)


def parse(text: str, source: str = "<string>") -> tuple[Any, SourceMap]:
    """YAML text -> (plain Python document, source map). Syntax errors become ConfigError."""
    smap = SourceMap(source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _index_nodes(node, (), smap)
        doc = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else f"{source}:1:1"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}:1:1: not valid YAML: {exc}") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # e.g. a float that does not fit, or a key that cannot be hashed
        raise ConfigError(f"{source}:1:1: not valid YAML: {exc}") from None
    return doc, smap


# ---- validation errors -> located messages --------------------------------------------


def _doc_path(doc: Any, loc: tuple[Any, ...]) -> Path_:
    """pydantic's loc also holds union tags and type names (`str`, `function-after[...]`);
    keep only the elements that walk the actual document."""
    path: list[str | int] = []
    cur = doc
    for i, elem in enumerate(loc):
        if isinstance(cur, Mapping) and elem in cur or isinstance(cur, list) and isinstance(elem, int) and 0 <= elem < len(cur):
            path.append(elem)
            cur = cur[elem]
        elif i == len(loc) - 1 and isinstance(cur, Mapping):
            # a missing field: keep its name so the message can say which one
            path.append(elem)
    return tuple(path)


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


def _describe_input(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
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


def format_errors(exc: ValidationError, doc: Any, smap: SourceMap, model_cls: type[BaseModel]) -> list[str]:
    """One located, human message per pydantic error."""
    messages: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        etype = err.get("type", "")
        path = _doc_path(doc, loc)
        if etype == "extra_forbidden":
            key = loc[-1] if loc else "?"
            choices = allowed_keys(model_cls, loc[:-1])
            suggestion = did_you_mean(str(key), choices)
            hint = f"; did you mean `{suggestion}`?" if suggestion else ""
            expected = f" (expected one of: {', '.join(choices)})" if choices else ""
            where = smap.where(path, key=True)
            messages.append(f"{where}: unknown key `{key}` in {_dotted(path[:-1])}{hint}{expected}")
        elif etype == "missing":
            name = loc[-1] if loc else "?"
            where = smap.where(path[:-1] if path and path[-1] == name else path)
            messages.append(f"{where}: {_dotted(path[:-1] if path and path[-1] == name else path)}: missing required key `{name}`")
        else:
            msg = _PLAIN.get(etype) or err.get("msg", "invalid value")
            msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            where = smap.where(path)
            got = "" if "got " in msg else f" (got {_describe_input(err.get('input'))})"
            messages.append(f"{where}: {_dotted(path)}: {msg}{got}")
    # one error per location is enough; unions make pydantic report every member's opinion
    unique: list[str] = []
    for m in messages:
        if m not in unique:
            unique.append(m)
    return unique


# ---- entry points ---------------------------------------------------------------------------


def validate_document(doc: Any, smap: SourceMap, model_cls: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Validate an already parsed document; errors are located through `smap`."""
    if doc is None:
        doc = {}
    try:
        return model_cls.model_validate(doc, context=context)
    except ValidationError as exc:
        messages = format_errors(exc, doc, smap, model_cls)
        head = messages[0] if len(messages) == 1 else f"{smap.source}: {len(messages)} problems"
        body = "" if len(messages) == 1 else "\n" + "\n".join(f"  {m}" for m in messages)
        raise ConfigError(head + body) from None


def load_text(text: str, model_cls: type[M], source: str = "<string>", *, context: dict[str, Any] | None = None) -> M:
    """Parse and validate YAML text (tests, inline documents)."""
    doc, smap = parse(text, source)
    return validate_document(doc, smap, model_cls, context=context)


def load_model(path: str | Path, model_cls: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Read a YAML file into `model_cls`. Any problem -> ConfigError with file:line:column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return load_text(text, model_cls, str(p), context=context)
