"""The client's view of the routing document, as the data-source SDK keeps it.

The view only moves forward: a route with an epoch older than the newest one seen is
ignored (a late watch event, a stale read after an etcd restart), so the client never
writes to a side the config centre has already superseded. Workers wait on the view, so a
retry delay ends as soon as a new route arrives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientRoute:
    active: str
    epoch: int
    retry_times: int = 3
    retry_delay: float = 5.0
    revision: int = 0

    @classmethod
    def from_document(cls, document: dict[str, Any], revision: int = 0, delay_override: float | None = None) -> ClientRoute:
        """The route a document gives, or ValueError saying why the client cannot follow it.
        The harness's own watch reads the key with this same function
        (`drills.observe.route_watch`), so its timeline is what the client followed."""
        active, epoch = document.get("active"), document.get("epoch")
        if not isinstance(active, str) or not active.strip():
            raise ValueError("no `active` data centre")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise ValueError("no `epoch`" if epoch is None else f"`epoch` is {_shown(epoch)}, not an integer")
        retry = document.get("retry") or {}
        if not isinstance(retry, dict):
            raise ValueError("`retry` is not an object")
        try:
            times = int(retry.get("times", 3))
            delay = float(retry.get("delay_ms", 5000)) / 1000.0
        except (TypeError, ValueError, OverflowError):
            raise ValueError("`retry.times`/`retry.delay_ms` are not numbers") from None
        if not (0 <= times <= 1000 and 0 <= delay <= 86_400):
            raise ValueError("`retry.times`/`retry.delay_ms` are out of range")
        return cls(active=active, epoch=epoch, retry_times=times,
                   retry_delay=delay if delay_override is None else float(delay_override), revision=revision)


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float) else f"a JSON {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


class RouteView:
    """The newest route this client has seen; thread-safe, monotonic in epoch."""

    def __init__(self, delay_override: float | None = None):
        self._cond = threading.Condition()
        self._route: ClientRoute | None = None
        self._closed = False
        self.delay_override = delay_override
        self.ignored: list[ClientRoute] = []  # stale routes seen and refused (kept for evidence)

    def offer(self, document: dict[str, Any] | None, revision: int = 0) -> bool:
        """Take `document` if it is newer than what we have; True when the route changed."""
        if not document:
            return False
        try:
            candidate = ClientRoute.from_document(document, revision, self.delay_override)
        except ValueError:
            return False  # a document it cannot follow is not a route (the harness's watch journals why)
        with self._cond:
            current = self._route
            if current is not None and candidate.epoch <= current.epoch:
                if candidate.epoch < current.epoch or candidate.active != current.active:
                    self.ignored.append(candidate)
                return False
            self._route = candidate
            self._cond.notify_all()
            return True

    @property
    def current(self) -> ClientRoute | None:
        with self._cond:
            return self._route

    def wait_for_change(self, epoch: int, timeout: float) -> ClientRoute | None:
        """Sleep up to `timeout`, waking early when a route newer than `epoch` arrives (or
        the view is closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._route is not None and self._route.epoch > epoch), timeout)
            return self._route

    def wait_for_route(self, timeout: float) -> ClientRoute | None:
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._route is not None, timeout)
            return self._route

    def close(self) -> None:
        """Wake every waiter: the client is shutting down."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
