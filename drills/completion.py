"""`drills completion bash|zsh`: the script a shell sources for tab completion of every
command and option.

Completion is argcomplete's: the CLI is argparse, and argcomplete completes from the same
parser the command runs with, so a new option completes without anything written here. The
shell calls `drills` itself with `_ARGCOMPLETE` set; `drills.cli.main` then builds the full
parser (every command module, which a normal run does not import) and answers.
"""

from __future__ import annotations

import argparse
import sys

from drills.errors import EXIT_OK

SHELLS = ("bash", "zsh")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("completion", help="print the shell completion script (bash or zsh) to source",
                              description="bash: eval \"$(drills completion bash)\" in ~/.bashrc; "
                              "zsh: eval \"$(drills completion zsh)\" in ~/.zshrc (after compinit).")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=cmd_completion)


def script(shell: str, program: str = "drills") -> str:
    """argcomplete's shell code for `program` in `shell`."""
    import argcomplete

    return argcomplete.shellcode([program], shell=shell)


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return EXIT_OK
