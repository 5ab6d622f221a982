"""Durations as people write them — `2s`, `500ms`, `1.5m`, `1h`, or a number of seconds — in
one grammar for everything that reads one: scenario files, fault parameters, reports.

Bounded: nothing a drill does lasts more than a day (`wait: 1.0e+300` would wait until
interrupted; `time.sleep` refuses values near 2**63 ns anyway), and negative or non-finite
values have no meaning.
"""

from __future__ import annotations

import math
import re
from typing import Any

UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
DURATION_PATTERN = r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|sec|m|min|h)?\s*$"
_DURATION = re.compile(DURATION_PATTERN)

MAX_DURATION_S = 86_400.0
"""The longest duration anything may give (one day)."""


def seconds_of(text: str, *, default_unit: str = "s") -> float | None:
    """The grammar alone: seconds of `text`, or None when it is not a duration (no bounds:
    500 digits give inf, for the caller's own limit to refuse)."""
    m = _DURATION.match(text)
    return None if m is None else float(m.group(1)) * UNITS[m.group(2) or default_unit]


def parse_duration(value: Any, *, default_unit: str = "s") -> float:
    """"2s", "500ms", "1.5m", "1h", 3, 0.5 -> seconds (a bare number is in `default_unit`).
    Negative, non-finite or longer than a day is refused with a ValueError saying why."""
    expected = "expected a duration like 2s, 500ms, 1.5m or a number of seconds"
    scale = UNITS[default_unit]
    if isinstance(value, bool):
        raise ValueError(f"{expected}, got a boolean")
    if isinstance(value, int):  # compared as an int: float(10**400) would overflow
        if value < 0:
            raise ValueError(f"expected a non-negative duration, got {shown_value(value)}")
        if value > MAX_DURATION_S / scale:  # compared before multiplying: 10**400 * 0.001 overflows
            raise ValueError(f"expected a duration of at most 24h (one day), got {shown_value(value)}")
        seconds = value * scale
    elif isinstance(value, float):
        seconds = value * scale
    elif isinstance(value, str):
        parsed = seconds_of(value, default_unit=default_unit)
        if parsed is None:
            raise ValueError(f"{expected}, got {shown_value(value)}")
        seconds = parsed
    else:
        raise ValueError(f"{expected}, got {type(value).__name__}")
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"expected a non-negative duration, got {shown_value(value)}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"expected a duration of at most 24h (one day), got {shown_value(value)}")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """Inverse of parse_duration for messages and reports (0.5 -> "500ms", 90 -> "90s")."""
    def plain(x: float, places: int) -> str:
        return f"{x:.{places}f}".rstrip("0").rstrip(".") or "0"

    if 0 < seconds < 1:
        return f"{plain(seconds * 1000, 3)}ms"
    return f"{plain(seconds, 6)}s"


def shown_value(value: Any, width: int = 60) -> str:
    """A value as a message may quote it: short, and safe for any value (the repr of a
    10,000-digit integer raises, a 10 MB string would flood the terminal)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        magnitude = abs(value)
        digits = int((magnitude.bit_length() - 1) * math.log10(2)) + 1  # the digits of 2**(bits-1): one short at most
        digits += magnitude >= 10**digits
        return f"a number of {digits:,} digits"
    if isinstance(value, str) and len(value) > width:
        value = value[:width]
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


