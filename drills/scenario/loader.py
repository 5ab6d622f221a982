"""Scenario files -> `Scenario`, with parameters substituted and secrets kept apart.

Parameters (`${name}` anywhere outside `params:`) are substituted in the parsed document
*before* validation, so `wait: ${pause}` is checked as a duration with the value that
will actually run, and an error still points at the line that holds `${pause}`. A string
that is exactly `${name}` takes the parameter's value with its type (`rows: ${n}` stays a
number); inside a longer string the value is formatted in.

Secret parameters come only from the environment. Their values are returned to the
caller for registration with the Journal's secrets; nothing else keeps them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drills import masking
from drills.bulkload import gc_paused
from drills.errors import ConfigError, UserError
from drills.scenario.model import LOADER_CHECKS, ParamSpec, Scenario
from drills.scenario.semantics import scenario_problems
from drills.yamlsource import (
    SourceMap,
    decode_utf8,
    did_you_mean,
    parse,
    problems_report,
    read_bytes,
    validation_problems,
)

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_PLACEHOLDER = "<secret>"  # what `drills validate` substitutes for a secret it need not know


def load_scenario(
    path: str | Path,
    params: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_secrets: bool = False,
) -> Scenario:
    """Read, substitute and validate a scenario. `params` are `--param k=v` overrides;
    `require_secrets` makes a missing secret an error (running needs it, validating not)."""
    p = Path(path)
    raw = read_bytes(p, "scenario file")
    text = decode_utf8(raw, str(p))
    return load_scenario_text(
        text, str(p), params=params, environ=environ, require_secrets=require_secrets, base=p.resolve().parent,
        sha256=hashlib.sha256(raw).hexdigest(), path=p,
    )


def load_scenario_text(
    text: str,
    source: str = "<scenario>",
    *,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    require_secrets: bool = False,
    base: Path | None = None,
    sha256: str | None = None,
    path: Path | None = None,
) -> Scenario:
    with gc_paused():  # see gc_paused: most of the time of a large file goes to the cyclic GC otherwise
        return _load_scenario_text(text, source, params=params, environ=environ, require_secrets=require_secrets,
                                   base=base, sha256=sha256, path=path)


def _load_scenario_text(
    text: str, source: str, *, params: Mapping[str, str] | None, environ: Mapping[str, str] | None,
    require_secrets: bool, base: Path | None, sha256: str | None, path: Path | None,
) -> Scenario:
    environ = os.environ if environ is None else environ
    doc, smap = parse(text, source)
    if doc is None:
        doc = {}
    # Every problem of the file is collected before any is raised (`drills validate` lists
    # them in one pass): the params section, `${name}` references, the structure, then the
    # cross-part checks (drills.scenario.semantics) on whatever parts are sound.
    specs, broken = _param_specs(doc)
    values, secrets = resolve_params(specs, params or {}, environ, require_secrets=require_secrets, source=source)
    secret_values = [str(v) for v in secrets if v not in (None, "", SECRET_PLACEHOLDER)]
    ref_problems: list[str] = []
    unresolved: set[str] = set()  # where a reference stays as written: its structural error would be noise
    if isinstance(doc, dict):
        doc = {k: (v if k == "params" else _substitute(v, values, (k,), smap, broken, ref_problems, unresolved))
               for k, v in doc.items()}
    scenario, messages, total = validation_problems(doc, smap, Scenario, context={LOADER_CHECKS: True})
    if unresolved:
        kept = [m for m in messages if m.split(": ", 1)[0] not in unresolved]
        messages, total = kept, total - (len(messages) - len(kept))
    semantic = [f"{where}: {what}" for where, what in scenario_problems(doc, smap, scenario)]
    error = problems_report(source, [(ref_problems, len(ref_problems)), (messages, total), (semantic, len(semantic))])
    if error is not None:
        # the problems may quote a secret parameter's value: masked here, not registered for the
        # whole process (a file that does not load must not make ordinary text masked afterwards)
        raise ConfigError(masking.Masker(secret_values).text(str(error))) if secret_values else error
    assert scenario is not None
    masking.register(*secret_values)  # whatever prints later masks them
    scenario._source = path
    scenario._sha256 = sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    scenario._param_values = values
    scenario._secret_values = secret_values
    if base is not None and scenario.topology is not None:
        scenario.topology = resolve_topology_ref(scenario.topology, base)
    return scenario


def resolve_topology_ref(topology: Any, base: Path) -> Any:
    """A topology file path or inline settings, with relative paths taken from the scenario's folder."""
    if isinstance(topology, Path):
        return topology if topology.is_absolute() else (base / topology).resolve()
    # inline settings: only the paths the user wrote are relative; defaults are absolute already
    return topology.resolved(base)


def _param_specs(doc: Any) -> tuple[dict[str, ParamSpec], set[str]]:
    """(the sound parameter declarations, the names of the broken ones). A broken one is
    reported by the validation of the whole document; `${name}` references to it are
    left alone rather than reported a second time as naming no parameter."""
    if not isinstance(doc, dict) or not isinstance(doc.get("params"), dict):
        return {}, set()
    specs: dict[str, ParamSpec] = {}
    broken: set[str] = set()
    for name, raw in doc["params"].items():
        try:
            specs.update(Scenario.model_validate({"name": "x", "params": {name: raw}}).params)
        except ValidationError:
            broken.add(str(name))
    return specs, broken


def resolve_params(
    specs: Mapping[str, ParamSpec],
    overrides: Mapping[str, str],
    environ: Mapping[str, str],
    *,
    require_secrets: bool,
    source: str = "<scenario>",
) -> tuple[dict[str, Any], list[Any]]:
    """Values in force: --param over the environment variable over the default."""
    for name in overrides:
        if name not in specs:
            close = did_you_mean(name, list(specs))
            hint = f"did you mean `{close}`?" if close else (f"declared: {', '.join(specs)}" if specs else "the scenario declares no params")
            raise UserError(f"--param {name}: {source} has no parameter `{name}`", hint=hint)
    values: dict[str, Any] = {}
    secrets: list[Any] = []
    for name, spec in specs.items():
        if spec.secret:
            if name in overrides:
                raise UserError(
                    f"--param {name}: `{name}` is secret; pass it in the environment variable {spec.env}, "
                    "not on the command line (command lines are visible to every user)"
                )
            value = environ.get(spec.env or "")
            if value is None:
                if require_secrets:
                    raise UserError(f"{source}: secret parameter `{name}` needs the environment variable {spec.env}")
                value = SECRET_PLACEHOLDER
            values[name] = value
            secrets.append(value)
        elif name in overrides:
            values[name] = _typed(overrides[name], spec.default)
        elif spec.env and spec.env in environ:
            values[name] = _typed(environ[spec.env], spec.default)
        else:
            values[name] = spec.default
    return values, secrets


def _typed(text: str, default: Any) -> Any:
    """A --param string takes the type of the default it overrides (so `rows=5` stays a number)."""
    if isinstance(default, bool):
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        return text
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            return text
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def _substitute(value: Any, values: Mapping[str, Any], path: tuple[Any, ...], smap: SourceMap, broken: set[str],
                problems: list[str], unresolved: set[str]) -> Any:
    """`${name}` -> its value; every reference that cannot be substituted is added to
    `problems` (located) and left as written."""
    if isinstance(value, str):
        refs = _REF.findall(value)
        if not refs:
            return value
        unresolved_here = False
        for ref in refs:
            if ref in broken:
                unresolved_here = True
            elif ref not in values:
                close = did_you_mean(ref, list(values))
                hint = f"; did you mean `{close}`?" if close else ""
                names = [*values, *(f"{b} (itself invalid)" for b in sorted(broken))]
                declared = f" (declared: {', '.join(names)})" if names else " (the scenario declares no params)"
                problems.append(f"{smap.where(path)}: `${{{ref}}}` names no parameter{hint}{declared}")
                unresolved_here = True
            elif values[ref] is None:
                problems.append(f"{smap.where(path)}: parameter `{ref}` has no value; give a default or pass --param {ref}=...")
                unresolved_here = True
        if unresolved_here:
            unresolved.add(smap.where(path))
            return value
        whole = _REF.fullmatch(value)
        if whole:
            return values[whole.group(1)]
        return _REF.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: _substitute(v, values, (*path, k), smap, broken, problems, unresolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values, (*path, i), smap, broken, problems, unresolved) for i, v in enumerate(value)]
    return value


def scenario_dirs() -> list[Path]:
    """Where `drills list` and `drills run NAME` look: ./scenarios, then the repository's."""
    here = Path.cwd() / "scenarios"
    repo = Path(__file__).resolve().parents[2] / "scenarios"
    return [d for d in dict.fromkeys([here, repo]) if d.is_dir()]


def find_scenario(name_or_path: str) -> Path:
    """A path, or the name of a scenario in the library (`dc1-crash` -> scenarios/dc1-crash.yaml)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    if p.suffix not in (".yaml", ".yml") and len(p.parts) == 1:
        for d in scenario_dirs():
            for ext in (".yaml", ".yml"):
                candidate = d / f"{name_or_path}{ext}"
                if candidate.exists():
                    return candidate
        names = [f.stem for d in scenario_dirs() for f in sorted(d.glob("*.y*ml"))]
        close = did_you_mean(name_or_path, names)
        raise ConfigError(
            f"{name_or_path}: no such scenario file or library scenario",
            hint=f"did you mean `{close}`?" if close else "see `drills list`",
        )
    raise ConfigError(f"{p}: no such scenario file")
