"""`drills validate`, `drills schema`, `drills list`: scenario files without running them."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from drills import terminal
from drills.errors import EXIT_OK, EXIT_USAGE, ConfigError, UserError
from drills.masking import mask
from drills.scenario.loader import find_scenario, load_scenario, scenario_dirs
from drills.scenario.model import json_schema


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("validate", help="check scenario files without running them")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files (or library names)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="parameter values to validate with")
    p.add_argument("--json", action="store_true",
                   help="machine-readable: one object per file with `valid` and its located `problems`")
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = subparsers.add_parser("list", help="list the scenarios in scenarios/ with their descriptions")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output (valid as a boolean, stages and steps as numbers)")
    p.set_defaults(func=cmd_list)


def parse_param_args(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param {item!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    """Every file, every problem of each (one pass); exit 2 when any file has one."""
    params = parse_param_args(args.param)
    failed = 0
    results: list[dict[str, Any]] = []
    for name in args.files:
        try:
            path = find_scenario(name)
            scenario = load_scenario(path, params)
        except UserError as exc:
            failed += 1
            results.append({"file": name, "valid": False, "problems": located_problems(exc)})
            if not args.json:
                print(mask(f"{exc}"), file=sys.stderr)  # a value from a secret parameter may be quoted
            continue
        steps = len(scenario.steps())
        results.append({"file": str(path), "valid": True, "name": scenario.name, "stages": len(scenario.stages),
                        "steps": steps, "problems": []})
        if not args.json:
            print(f"ok {path}: {scenario.name} ({len(scenario.stages)} stages, {steps} steps)")
    if args.json:
        print(json.dumps(results, indent=2))
    return EXIT_USAGE if failed else EXIT_OK


_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


def located_problems(exc: UserError) -> list[dict[str, Any]]:
    """A validation error's text -> one object per problem, `file`/`line`/`column` as their
    own fields (numbers) where the message is located; a hint goes with the problem above it."""
    lines = mask(str(exc)).splitlines()  # masked before it is escaped into JSON
    if len(lines) > 1 and lines[0].endswith(" problems") and lines[1].startswith("  "):
        lines = lines[1:]  # the `FILE: N problems` heading; the count is len(problems) or in the last line
    out: list[dict[str, Any]] = []
    for raw in lines:
        text = raw.strip()
        if text.startswith("hint: ") and out:
            out[-1]["hint"] = text.removeprefix("hint: ")
            continue
        m = _LOCATED.match(text)
        if m:
            out.append({"file": m["file"], "line": int(m["line"]), "column": int(m["column"]), "message": m["message"]})
        else:
            out.append({"message": text})
    return out


def cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
    if args.out:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{args.out}: cannot write: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return EXIT_OK


def library() -> list[dict[str, Any]]:
    """Every scenario file in the library folders, valid or not (an invalid one says why)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for d in scenario_dirs():
        for f in sorted([*d.glob("*.yaml"), *d.glob("*.yml")]):
            if f.stem in seen:
                continue
            seen.add(f.stem)
            try:
                s = load_scenario(f)
                desc = " ".join(s.description.split())
                rows.append({"name": f.stem, "file": str(f), "description": desc, "valid": True,
                             "stages": len(s.stages), "steps": len(s.steps())})
            except ConfigError as exc:
                first = str(exc).splitlines()[0]
                rows.append({"name": f.stem, "file": str(f), "description": f"(invalid: {first})", "valid": False})
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    rows = library()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no scenarios found (looked in ./scenarios and the repository's scenarios/)")
        return EXIT_OK
    width = max(len(r["name"]) for r in rows)
    columns = terminal.width(sys.stdout)  # None when piped: a script or grep gets every word
    for r in rows:
        desc = r["description"]
        room = None if columns is None else max(20, columns - width - 2)
        if room is not None and len(desc) > room:
            desc = desc[: room - 3] + "..."
        print(f"{r['name']:<{width}}  {desc}")
    return EXIT_OK
