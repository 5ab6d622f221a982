"""Secrets never leave in the clear: one masker for every path a string leaves by.

The terminal, the journal, the ledger, result.json, every report, Allure attachments and the
names of toxics all pass their strings through a `Masker` before they are serialised — on
the value, not on a serialised line, where a `"` or `\\` in the secret is already escaped and
no longer matches.

A secret leaks in pieces too: a server quotes the part of a statement it choked on
(`near '-SECRET-ü-42'`), a message is cut at a column. So beyond the whole value, every run
of `FRAGMENT` or more characters of a secret is masked wherever it appears. Runs made only of
hex digits and clock punctuation are the exception: they cannot be told from part of a hash,
a token or a timestamp, which the record must keep intact (masking them would break the hash
chain); such a run is masked only as part of the whole value.

Secrets are registered once per process (`register`), by whoever learns them — the scenario
loader's secret parameters, the topology's generated passwords — so a code path that was
never handed the run's masker (an error printed by the CLI) still masks them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
FRAGMENT = 6  # characters of a secret that identify it
PLAIN_CHARS = frozenset("0123456789abcdefABCDEF:.TZ+- ")  # what hashes, tokens and timestamps are made of
DSN_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?P<tail>@)", re.IGNORECASE)
_PASSWORD_FLAG = re.compile(r"(?P<head>(?:\s|^)(?:-p|--password=))(?P<pw>[^\s'\"]+)")


class Masker:
    """Replaces every known secret value and every identifying fragment of one, and
    passwords in DSNs and `-pPASSWORD` flags."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so that a secret containing another is masked whole
        self.secrets = sorted({s for s in secrets if isinstance(s, str) and s and s != MASK}, key=len, reverse=True)
        self._fragments = {s[i:i + FRAGMENT] for s in self.secrets if len(s) >= FRAGMENT
                           for i in range(len(s) - FRAGMENT + 1)
                           if not set(s[i:i + FRAGMENT]) <= PLAIN_CHARS}

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def exact(self, value: str) -> str:
        """The whole values only (safe on a rendered file, markup included)."""
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        return value

    def text(self, value: str) -> str:
        if not isinstance(value, str):
            return value
        if self.secrets:
            value = self._fragment_free(self.exact(value))
        if "://" in value:
            value = DSN_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", value)
        if "-p" in value:
            value = _PASSWORD_FLAG.sub(lambda m: f"{m['head']}{MASK}", value)
        return value

    def _fragment_free(self, value: str) -> str:
        if not self._fragments or len(value) < FRAGMENT:
            return value
        hidden: list[tuple[int, int]] = []
        for i in range(len(value) - FRAGMENT + 1):
            if value[i:i + FRAGMENT] in self._fragments:
                if hidden and i <= hidden[-1][1]:
                    hidden[-1] = (hidden[-1][0], i + FRAGMENT)
                else:
                    hidden.append((i, i + FRAGMENT))
        if not hidden:
            return value
        out, at = [], 0
        for lo, hi in hidden:
            out += [value[at:lo], MASK]
            at = hi
        out.append(value[at:])
        return "".join(out)

    def value(self, obj: Any) -> Any:
        """Deep copy of a JSON-like value with every string masked (keys too)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self.text(k) if isinstance(k, str) else k: self.value(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        return obj

    def html_variants(self) -> list[str]:
        """The secrets as they would look after HTML/XML escaping, for a last pass on output."""
        from html import escape

        return [escape(s, quote=True) for s in self.secrets] + [escape(s, quote=False) for s in self.secrets]


_lock = threading.Lock()
_registered: set[str] = set()
_current = Masker()


def register(*values: Any) -> None:
    """Secrets this process now knows (a run's secret parameters, a topology's passwords)."""
    global _current
    fresh = {str(v) for v in values if v not in (None, "") and str(v) != MASK} - _registered
    if not fresh:
        return
    with _lock:
        _registered.update(fresh)
        _current = Masker(_registered)


def masker(extra: Iterable[str] = ()) -> Masker:
    """The process's masker, with `extra` secrets besides the registered ones."""
    extra = [s for s in extra if s]
    return Masker([*_registered, *extra]) if extra else _current


def mask(text: str) -> str:
    """`text` with every registered secret masked: for anything about to be printed."""
    return _current.text(text)
