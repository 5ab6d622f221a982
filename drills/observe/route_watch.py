"""The routing key as the application saw it, whoever wrote it.

A drill cannot trust a controller's account of its own switch: orchestrator's hook, an
operator's `etcdctl put` or a home-grown script moves the routing key without telling us.
So the runner watches the key itself on the observer path for the whole run and journals
every value it takes — `route.changed` {active, epoch, revision} — from the route in force
at the start (`initial: true`) to the last one before judging. The checks build their route
timeline from these lines (and from the reference controller's `route.published`, which
only ever agrees with them), so the same drill under any controller is judged the same way.

A value that is not a routing document is journaled too (`problem`), because a controller
that corrupts the key is exactly what a drill is for; it never stops the watch. Losing etcd
is journaled once per outage (`route.watch` {ok: false}, then {ok: true}); the watch re-reads
the key when etcd answers again, so the value it took in between is seen. (A change and its
reversal both made while the watch was away would look like no change; the watch is on the
observer path, which no fault touches, so that takes etcd itself being down — when nobody
can write the key either.)
"""

from __future__ import annotations

import threading
from typing import Any

from drills import events as ev
from drills.config_center import ConfigCenterError, Route

SOURCE = "observer"
STOP_READ_TIMEOUT = 2.0


class RouteWatch:
    def __init__(self, topo: Any, journal: Any):
        self.topo = topo
        self.journal = journal
        self._lock = threading.Lock()
        self._last_revision = 0
        self._cancel: Any = None
        self._failing = False
        self._cc: Any = None

    def start(self) -> None:
        """Journal the route in force now, then every change until `stop()`. The first read is
        made here rather than left to the watch thread's own, so the route in force is in the
        journal before any controller or client starts (`_fresh` drops the thread's repeat)."""
        self._cc = self.topo.config_center(via="observer")
        try:
            current = self._cc.read()
        except ConfigCenterError as exc:
            self._lost(exc)
        else:
            if current is not None:
                self._deliver(current, initial=True)
        self._cancel = self._cc.watch(self._deliver, on_error=self._lost, on_malformed=self._malformed,
                                      on_recovered=self._found)

    def stop(self) -> None:
        """Stop watching, after one last read: a change made just before the stop is journaled
        even if its watch event had not arrived yet."""
        cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel()
        cc, self._cc = self._cc, None
        if cc is None:
            return
        try:  # a new client: the first one refuses every call once etcd has been lost, even after it is back
            last = self.topo.config_center(via="observer", timeout=STOP_READ_TIMEOUT)
            try:
                route = last.read()
            finally:
                last.close()
            if route is not None:
                self._deliver(route)
        except ConfigCenterError as exc:
            self._lost(exc)
        finally:
            cc.close()

    # ---- callbacks (the watch thread) --------------------------------------------------------------
    def _fresh(self, revision: int) -> bool:
        with self._lock:
            if revision <= self._last_revision:
                return False
            self._last_revision = revision
            return True

    def _deliver(self, route: Route, initial: bool = False) -> None:
        if not self._fresh(route.revision):
            return
        self._found()
        doc = route.document
        problem = document_problem(doc)
        if problem:  # kept small: the document is the controller's, not ours
            payload: dict[str, Any] = {"revision": route.revision, "problem": problem}
            if isinstance(doc.get("active"), str):
                payload["active"] = doc["active"][:64]
        else:
            payload = {"active": doc["active"], "epoch": doc["epoch"], "revision": route.revision}
        if initial:
            payload["initial"] = True
        self.journal.record(SOURCE, ev.ROUTE_CHANGED, **payload)

    def _malformed(self, revision: int, reason: str) -> None:
        if self._fresh(revision):
            self._found()
            self.journal.record(SOURCE, ev.ROUTE_CHANGED, revision=revision, problem=f"the key holds no routing document: {reason}")

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            if self._failing:
                return
            self._failing = True
        self.journal.record(SOURCE, ev.ROUTE_WATCH, ok=False, error=str(exc) or type(exc).__name__)

    def _found(self) -> None:
        with self._lock:
            was, self._failing = self._failing, False
        if was:
            self.journal.record(SOURCE, ev.ROUTE_WATCH, ok=True)


def document_problem(doc: dict[str, Any]) -> str | None:
    """Why the application's client would not follow this document (None when it would):
    the client's own reading, `ClientRoute.from_document`."""
    from drills.workload.routing import ClientRoute

    try:
        ClientRoute.from_document(doc)
    except ValueError as exc:
        return str(exc)
    return None
