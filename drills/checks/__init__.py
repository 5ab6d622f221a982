"""Judging a drill: each check reads the recorded journal and ledger and returns a verdict.

The judging itself lives in `drills.checks.judge` (`evaluate`, `CHECKS`); this package
resolves those names lazily, so `drills check consistency` — a command run in CI loops —
does not pay for importing every other check.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"CHECKS", "Verdict", "evaluate", "judge_record"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from drills.checks import judge

        return getattr(judge, name)
    raise AttributeError(f"module 'drills.checks' has no attribute {name!r}")


__all__ = sorted(_LAZY)
