"""What the CLI does differently when a person is looking: colour for verdicts and the
terminal's width.

Colour only on a terminal: never when the stream is a pipe or a file (a CI log, `> out.txt`,
the journal and every report are files), never when `NO_COLOR` is set to anything non-empty
(https://no-color.org) and never for `TERM=dumb`. Escape codes in a log make it unreadable
and break every grep of it, so the decision is made per stream at the moment of writing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import TextIO

RESET = "\033[0m"
_STYLES = {"passed": "\033[32m", "failed": "\033[1;31m", "inconclusive": "\033[33m"}
# the words a verdict is shown as, and the style each takes
VERDICT_STYLE = {"PASSED": "passed", "FAILED": "failed", "INCONCLUSIVE": "inconclusive", "ABORTED": "failed",
                 "ERROR": "failed", "ok": "passed", "FAIL": "failed", "??": "inconclusive"}


def is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, TypeError):  # a closed or replaced stream
        return False


def use_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour on `stream`? Only a terminal, and only when neither NO_COLOR nor TERM=dumb says no."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", ""):
        return False
    if env.get("TERM") == "dumb":
        return False
    return is_tty(stream)


def paint(text: str, verdict: str, colour: bool) -> str:
    """`text` in the colour of `verdict` (a key of VERDICT_STYLE or a style name) when `colour`."""
    style = _STYLES.get(VERDICT_STYLE.get(verdict, verdict))
    return f"{style}{text}{RESET}" if colour and style else text


def width(stream: TextIO) -> int | None:
    """Columns of the terminal `stream` is, or None when it is not one (no limit: a pipe keeps
    every character)."""
    if not is_tty(stream):
        return None
    return shutil.get_terminal_size((100, 24)).columns
