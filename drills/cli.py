# PYTHON_ARGCOMPLETE_OK  (argcomplete: this entry point answers tab completion; see drills.completion)
"""The `drills` command. Thin: each area of the harness registers its own subcommands
(`register(subparsers)` in the modules listed in COMMAND_MODULES), so this file only
dispatches and turns user errors into a message and an exit code, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from drills import __version__
from drills.errors import EXIT_INTERRUPTED, UserError

COMMAND_MODULES = {
    "drills.topology.commands": ("env", "images"),
    "drills.scenario.commands": ("validate", "schema", "list"),
    "drills.runner.commands": ("run", "plan"),
    "drills.observe.commands": ("check",),
    "drills.checks.rejudge": ("judge",),
    "drills.audit.commands": ("audit",),
    "drills.report.commands": ("report", "verify", "history"),
    "drills.completion": ("completion",),
    "drills.explore.commands": ("explore",),
}


def _modules_for(argv: Sequence[str]) -> list[str]:
    """Only the area that owns the command is imported (a `drills check consistency` in a CI
    loop should not pay for importing the runner, the reports and the audit); help and
    unknown commands import them all."""
    first = next((a for a in argv if not a.startswith("-")), None)
    for module, commands in COMMAND_MODULES.items():
        if first in commands:
            return [module]
    return list(COMMAND_MODULES)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drills",
        description="Disaster-recovery drills for two-data-centre MySQL applications.",
    )
    parser.add_argument("--version", action="version", version=f"drills {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _modules_for(argv):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answer from the whole parser, exit
        import argcomplete

        argcomplete.autocomplete(build_parser(()))
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        from drills.masking import mask

        print(mask(f"drills: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("drills: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
