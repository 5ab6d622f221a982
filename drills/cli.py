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

COMMAND_MODULES = (
    "drills.topology.commands",  # env up|status|down
    "drills.scenario.commands",  # validate, schema, list
    "drills.runner.commands",  # run
    "drills.checks.commands",  # check consistency
    "drills.audit.commands",  # audit
    "drills.report.commands",  # report, verify, history
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drills",
        description="Disaster-recovery drills for two-data-centre MySQL applications.",
    )
    parser.add_argument("--version", action="version", version=f"drills {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # area not built (yet); its commands are simply absent
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"drills: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("drills: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
