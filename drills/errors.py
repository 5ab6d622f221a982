"""Errors a person can act on.

Anything raised as a `UserError` is printed by the CLI as one clear message (where and
what) with its exit code, never as a traceback: a broken scenario, an unknown table, an
unreachable server or a wrong password is the user's to fix, not a bug of ours.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_STOPPED = 4  # aborted by a stop condition of the environment (drills.runner.safety); 130 is a signal
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem with the input or the environment, reported without a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(UserError):
    """A file (topology, scenario, filter list) that does not validate; message carries file:line."""


class MissingBinaryError(UserError):
    """A program drills needs is not installed."""


class EnvironmentProblem(UserError):
    """A server unreachable, a port taken, a state directory in the wrong state."""
