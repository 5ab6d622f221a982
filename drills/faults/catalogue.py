"""The fault catalogue: which faults exist, what they act on, which parameters they take.

Pure (no topology needed) so that `drills validate` can reject a misspelled fault, a
wrong target or a negative latency before anything is started, with a message that
says what was expected. Each error carries the offending key so the scenario loader can
point at the line it came from.

Upper bounds are what the real components accept, cut to a drill's horizon: Toxiproxy
(v2.12) takes every time as an int64 of milliseconds and multiplies it into nanoseconds,
so 1e20 ms is an HTTP 400 and anything above ~2**63 ns silently wraps; MariaDB refuses a
MASTER_DELAY above 2**31-1 seconds (error 1729). A drill's waits and timeouts are at most
a day (`drills.yamlsource.MAX_DURATION_S`), so no fault parameter of time may exceed a
day either: a longer one could never be observed, and is a typo.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drills.durations import DURATION_PATTERN, seconds_of, shown_value
from drills.errors import ConfigError

PROXY_TARGETS = ("app:dc1", "app:dc2", "link:dc1->dc2", "link:dc2->dc1", "etcd")
PROCESS_TARGETS = ("dc1", "dc2", "etcd")
DATABASE_TARGETS = ("dc1", "dc2")
ETCD_TARGETS = ("etcd",)

STREAMS = ("downstream", "upstream", "both")
THREADS = ("both", "io", "sql")

DAY_MS = 86_400_000
DAY_S = 86_400
MAX_RATE_KBPS = 10_000_000  # ~10 GB/s: no limit at all on any path of a drill topology
MAX_PORT = 65_535

_REQUIRED = object()


class FaultSpecError(ConfigError):
    """A fault mapping that does not validate. `key` names the offending key of the mapping
    (None when the mapping itself is wrong) so the caller can add file:line."""

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.key = key


@dataclass(frozen=True)
class Param:
    """One parameter of a fault type. `kind` is "ms" (milliseconds; an integer or a duration
    string such as "250ms" or "2s"), "seconds" (same, in whole seconds), "int", "fraction"
    (0..1) or "choice"."""

    kind: str
    doc: str
    default: Any = _REQUIRED
    minimum: float = 0
    choices: tuple[str, ...] = ()
    maximum: int | None = None
    maximum_why: str = ""  # said in the message when `maximum` is exceeded

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class FaultType:
    name: str
    family: str  # network | process | database | config_centre
    doc: str
    targets: tuple[str, ...]
    params: dict[str, Param] = field(default_factory=dict)
    toxic: str | None = None  # the Toxiproxy toxic type, for toxic-based network faults
    lasting: bool = True  # False: inject does the whole thing (restart); nothing stays to heal


_STREAM = Param("choice", "which direction the toxic acts on", "downstream", choices=STREAMS)
_TOXICITY = Param("fraction", "share of connections affected (Toxiproxy toxicity)", 1.0)


def _ms(doc: str, default: Any = _REQUIRED) -> Param:
    """A Toxiproxy time attribute (int64 milliseconds), at most a day."""
    return Param("ms", doc, default, maximum=DAY_MS, maximum_why="a day")


def _toxic_params(**params: Param) -> dict[str, Param]:
    return {**params, "stream": _STREAM, "toxicity": _TOXICITY}


_LATENCY = _toxic_params(
    latency_ms=_ms("delay added to every packet", 1000),
    jitter_ms=_ms("random +/- variation of the delay", 0),
)

_TYPES = [
    FaultType("latency", "network", "add latency (and jitter) on a path", PROXY_TARGETS, _LATENCY, toxic="latency"),
    FaultType("bandwidth", "network", "limit a path's throughput", PROXY_TARGETS,
              _toxic_params(rate_kbps=Param("int", "throughput in KB/s (Toxiproxy's unit)", maximum=MAX_RATE_KBPS,
                                            maximum_why="about 10 GB/s, more than any path carries")),
              toxic="bandwidth"),
    FaultType("timeout", "network", "blackhole a path: data is dropped, the connection closed after timeout_ms "
              "(0 = never)", PROXY_TARGETS, _toxic_params(timeout_ms=_ms("close after this long; 0 = never", 0)),
              toxic="timeout"),
    FaultType("reset_peer", "network", "reset connections on a path (TCP RST)", PROXY_TARGETS,
              _toxic_params(timeout_ms=_ms("reset after this long; 0 = at once", 0)), toxic="reset_peer"),
    FaultType("slow_close", "network", "delay the closing of connections on a path", PROXY_TARGETS,
              _toxic_params(delay_ms=_ms("how long a close is delayed", 1000)), toxic="slow_close"),
    FaultType("down", "network", "disable a path: connections refused, open ones closed", PROXY_TARGETS),
    FaultType("port_change", "network", "the endpoint the clients know stops answering: the path's listen port "
              "moves elsewhere until healed", PROXY_TARGETS,
              {"port": Param("int", "the port to move to; 0 = any free port", 0, maximum=MAX_PORT,
                             maximum_why="the highest TCP port")}),
    FaultType("crash", "process", "SIGKILL a server or etcd; heal starts it again", PROCESS_TARGETS),
    FaultType("hang", "process", "SIGSTOP a server or etcd; heal sends SIGCONT", PROCESS_TARGETS),
    FaultType("restart", "process", "clean stop and start of a server or etcd (nothing left to heal)",
              PROCESS_TARGETS, lasting=False),
    FaultType("replication_stop", "database", "stop the replica's replication threads; heal starts them",
              DATABASE_TARGETS, {"thread": Param("choice", "which thread to stop", "both", choices=THREADS)}),
    FaultType("replication_delay", "database", "make the replica apply events `seconds` late (MASTER_DELAY)",
              DATABASE_TARGETS, {"seconds": Param("seconds", "the delay", minimum=1, maximum=DAY_S,
                                                  maximum_why="a day; MariaDB's own limit is 2147483647")}),
    FaultType("read_only", "database", "turn read_only on (application writes fail); heal restores it",
              DATABASE_TARGETS),
    FaultType("etcd_down", "config_centre", "clients lose etcd (its proxy is disabled); the observer still reads it",
              ETCD_TARGETS),
    FaultType("etcd_slow", "config_centre", "latency between clients and etcd", ETCD_TARGETS, _LATENCY,
              toxic="latency"),
]

FAULT_TYPES: dict[str, FaultType] = {t.name: t for t in _TYPES}

_COMMON_KEYS = ("type", "target", "name")


@dataclass(frozen=True)
class FaultSpec:
    """A validated fault mapping: defaults filled, durations in integers."""

    name: str
    type: str
    target: str
    params: dict[str, Any]

    @property
    def fault_type(self) -> FaultType:
        return FAULT_TYPES[self.type]


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def validate_spec(spec: Any, *, proxies: list[str] | tuple[str, ...] | None = None) -> FaultSpec:
    """Check a scenario step's `fault:` mapping. `proxies` (the running topology's proxy
    names) replaces the standard path names when given."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError(f"a fault must be a mapping with at least `type` and `target`, not {_shown(spec)}")
    ftype = _type_of(spec)
    for key in spec:
        if not isinstance(key, str):
            raise FaultSpecError(f"fault keys must be strings, not {_shown(key)}")
        if key not in _COMMON_KEYS and key not in ftype.params:
            known = list(_COMMON_KEYS) + list(ftype.params)
            raise FaultSpecError(
                f"fault {ftype.name!r} has no parameter {key!r}{did_you_mean(key, known)} "
                f"(it takes: {', '.join(known)})", key=key)
    target = _target_of(spec, ftype, proxies)
    params = {pname: _param_value(ftype, pname, p, spec.get(pname, p.default)) for pname, p in ftype.params.items()}
    name = spec.get("name", f"{ftype.name}@{target}")
    if not isinstance(name, str) or not name.strip():
        raise FaultSpecError(f"fault `name` must be a non-empty string, not {_shown(name)}", key="name")
    return FaultSpec(name=name.strip(), type=ftype.name, target=target, params=params)


def _type_of(spec: Mapping[str, Any]) -> FaultType:
    known = ", ".join(FAULT_TYPES)
    if "type" not in spec:
        raise FaultSpecError(f"fault without `type`; expected one of: {known}", key=None)
    t = spec["type"]
    if not isinstance(t, str) or t not in FAULT_TYPES:
        shown = t if isinstance(t, str) else ""
        raise FaultSpecError(f"unknown fault type {_shown(t)}{did_you_mean(shown, list(FAULT_TYPES))} "
                             f"(known: {known})", key="type")
    return FAULT_TYPES[t]


def _target_of(spec: Mapping[str, Any], ftype: FaultType, proxies: list[str] | tuple[str, ...] | None) -> str:
    allowed = tuple(proxies) if (proxies is not None and ftype.targets is PROXY_TARGETS) else ftype.targets
    if "target" not in spec:
        raise FaultSpecError(f"fault {ftype.name!r} needs a `target`: one of {', '.join(allowed)}", key=None)
    target = spec["target"]
    if isinstance(target, str) and target in allowed:
        return target
    hint = None
    if isinstance(target, str):
        suggestion = did_you_mean(target, allowed)
        if not suggestion and ftype.targets is PROXY_TARGETS and f"app:{target}" in allowed:
            suggestion = f"; did you mean 'app:{target}' (the application's path to {target})?"
        if ftype.family in ("process", "database") and target.startswith("app:") and target[4:] in allowed:
            suggestion = f"; did you mean {target[4:]!r}? ({ftype.name} acts on the component, not on a network path)"
        if ftype.name in ("replication_stop", "replication_delay"):
            hint = "target the replica side (dc2 while dc1 -> dc2 replicates)"
    else:
        suggestion = ""
    raise FaultSpecError(f"fault {ftype.name!r} cannot target {_shown(target)}{suggestion} "
                         f"({ftype.family} faults target: {', '.join(allowed)})", key="target", hint=hint)




def _param_value(ftype: FaultType, pname: str, p: Param, value: Any) -> Any:
    where = f"fault {ftype.name!r}: `{pname}`"
    if value is _REQUIRED:
        raise FaultSpecError(f"{where} is required ({p.doc})", key=None)
    if p.kind == "choice":
        if not isinstance(value, str) or value not in p.choices:
            suggestion = did_you_mean(value, p.choices) if isinstance(value, str) else ""
            raise FaultSpecError(f"{where} must be one of {', '.join(p.choices)}, not {_shown(value)}{suggestion}", key=pname)
        return value
    if p.kind == "fraction":
        if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value <= 1) or math.isnan(value):
            raise FaultSpecError(f"{where} must be a number from 0 to 1, not {_shown(value)}", key=pname)
        return float(value)
    if p.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FaultSpecError(f"{where} must be a whole number, not {_shown(value)}", key=pname)
        number = value
    else:  # "ms" or "seconds"
        number = _duration(value, p.kind)
        if number is None:
            unit = "milliseconds" if p.kind == "ms" else "seconds"
            raise FaultSpecError(f"{where} must be a whole number of {unit} or a duration such as "
                                 f"{'250ms' if p.kind == 'ms' else '5s'}, not {_shown(value)}", key=pname)
    if number < p.minimum:
        raise FaultSpecError(f"{where} must be at least {p.minimum:g}, not {_shown(number)}", key=pname)
    if p.maximum is not None and number > p.maximum:
        unit = {"ms": " ms", "seconds": " s"}.get(p.kind, "")
        raise FaultSpecError(f"{where} must be at most {p.maximum:,}{unit} ({p.maximum_why}), not {_shown(value)}",
                             key=pname)
    return number


def _duration(value: Any, kind: str) -> int | float | None:
    """Whole milliseconds (kind "ms") or seconds; None when the value is not one. Too
    large to be an int (1e400 is inf) comes back as inf for the maximum check to refuse."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value  # the minimum and maximum checks report what is out of range
    if isinstance(value, float):
        if math.isinf(value):
            return value
        return int(value) if value.is_integer() else None
    if not isinstance(value, str):
        return None
    seconds = seconds_of(value, default_unit="ms" if kind == "ms" else "s")
    if seconds is None:
        return None
    ms = seconds * 1000
    if math.isinf(ms):
        return ms
    if kind == "ms":
        return int(round(ms))
    seconds = ms / 1000
    return int(seconds) if float(seconds).is_integer() else None


def _shown(value: Any) -> str:
    return shown_value(value)


def fault_json_schema() -> dict[str, Any]:
    """JSON Schema of a `fault:` mapping (one branch per type), for `drills schema`."""
    branches = []
    for t in FAULT_TYPES.values():
        props: dict[str, Any] = {
            "type": {"const": t.name, "description": t.doc},
            "target": {"enum": list(t.targets)},
            "name": {"type": "string", "minLength": 1},
        }
        for pname, p in t.params.items():
            if p.kind == "choice":
                props[pname] = {"enum": list(p.choices), "description": p.doc}
            elif p.kind == "fraction":
                props[pname] = {"type": "number", "minimum": 0, "maximum": 1, "description": p.doc}
            elif p.kind == "int":
                props[pname] = {"type": "integer", "minimum": p.minimum, "description": p.doc}
            else:
                props[pname] = {"anyOf": [{"type": "integer", "minimum": p.minimum},
                                          {"type": "string", "pattern": DURATION_PATTERN}], "description": p.doc}
            if p.maximum is not None:
                bounded = props[pname]["anyOf"][0] if "anyOf" in props[pname] else props[pname]
                bounded["maximum"] = p.maximum
            if not p.required:
                props[pname]["default"] = p.default
        required = ["type", "target"] + [n for n, p in t.params.items() if p.required]
        branches.append({"type": "object", "properties": props, "required": required, "additionalProperties": False})
    return {"oneOf": branches}
