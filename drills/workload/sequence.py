"""The segment allocator of the source documents' global sequence.

The application takes `segment` IDs at a time from the sequence table with one atomic
statement and hands them out from memory. What it does after a route change is the whole
story of the incident: with `refetch_on_switch` it throws the cached segment away and takes
a fresh one from the new active side (the fix); without it, it keeps handing out the
cached segment and later fetches from whatever side it points at, which — when the
sequence table was filtered — is behind, so IDs already used in dc1 come back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

# one atomic statement: the new high-water mark is both stored and returned to this session
TAKE_SEGMENT_SQL = "UPDATE {table} SET next_val = LAST_INSERT_ID(next_val + %s) WHERE name = %s"
READ_SEGMENT_SQL = "SELECT LAST_INSERT_ID()"


@dataclass(frozen=True)
class Segment:
    low: int
    high: int  # inclusive
    dc: str
    epoch: int


class SegmentExhausted(Exception):
    pass


def segment_from_high_water(next_val: int, size: int, dc: str, epoch: int) -> Segment:
    """`next_val` after the update is the first ID of the *next* segment."""
    return Segment(next_val - size, next_val - 1, dc, epoch)


class SegmentAllocator:
    """Thread-safe: the workers of one application share one allocator, as they share one
    sequence client in the source documents. `fetch(dc, epoch)` takes a segment from `dc`
    (it may raise; the caller records the failure)."""

    def __init__(self, size: int, refetch_on_switch: bool):
        if size < 1:
            raise ValueError("segment size must be >= 1")
        self.size = size
        self.refetch_on_switch = refetch_on_switch
        self._lock = threading.Lock()
        self._segment: Segment | None = None
        self._next: int = 0
        self.segments: list[Segment] = []  # every segment taken, in order (evidence)
        self.abandoned: list[tuple[int, int]] = []  # [low, high] ranges thrown away unused

    def _usable(self, dc: str, epoch: int) -> bool:
        seg = self._segment
        if seg is None or self._next > seg.high:
            return False
        return not (self.refetch_on_switch and seg.epoch != epoch)

    def next_id(self, dc: str, epoch: int, fetch: Callable[[str, int], Segment]) -> int:
        with self._lock:
            if not self._usable(dc, epoch):
                seg = self._segment
                if seg is not None and self._next <= seg.high:
                    self.abandoned.append((self._next, seg.high))
                new = fetch(dc, epoch)
                self._segment = new
                self._next = new.low
                self.segments.append(new)
            value = self._next
            self._next += 1
            return value

    @property
    def segment(self) -> Segment | None:
        with self._lock:
            return self._segment
