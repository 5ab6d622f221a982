"""Looking for a secret where it must not be: whole, or any identifying piece of it, as a
reader of each file would see it (decoded where the format escapes what it holds)."""

from __future__ import annotations

import json
from pathlib import Path

from drills.masking import FRAGMENT, PLAIN_CHARS

PLAIN = PLAIN_CHARS


def identifying(secret: str) -> list[str]:
    """The pieces that must never appear: the whole value and every FRAGMENT-long run that
    could not be part of a hash, a token or a clock reading (those the record must keep)."""
    return [secret] + [secret[i:i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)
                       if not set(secret[i:i + FRAGMENT]) <= PLAIN]


def leaks(secret: str, text: str) -> list[str]:
    return [piece for piece in identifying(secret) if piece in text]


def file_leaks(secret: str, path: Path) -> list[str]:
    """Raw bytes, and — where the format escapes what it holds — the decoded strings: a
    backslash or quote in the secret is escaped in JSON and HTML, and must be looked for
    as the reader will see it."""
    import html

    text = path.read_bytes().decode("utf-8", errors="replace")
    found = leaks(secret, text) + leaks(secret, html.unescape(text))
    if path.suffix in (".json", ".jsonl"):
        for line in (text.splitlines() if path.suffix == ".jsonl" else [text]):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            found += leaks(secret, "\n".join(_strings(doc)))
    return found


def _strings(doc: object) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for k, v in doc.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return []


