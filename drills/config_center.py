"""The routing document in etcd: what the application follows to find the active DC.

Mirrors the source documents' config centre: one key per application and monitor
(`/drills/<app>/<monitor>/router`) holding a JSON document with `active`, `epoch` and the
SDK's retry policy. Every change goes through compare-and-swap on the key's mod_revision,
so a stale controller (one that read an older route) cannot overwrite a newer one.

Client: `etcd-sdk-python` (import `pyetcd`), an API-compatible maintained fork of `etcd3`.
`etcd3` 0.12.0 (the design card's choice, last release 2020) fails at import with
protobuf >= 4 unless the slow pure-Python protobuf is forced; see the README's dependency
table. The client is kept behind this module so it can be swapped.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyetcd
from pyetcd import exceptions as etcd_exc

from drills import masking
from drills.errors import EnvironmentProblem

DEFAULT_TIMEOUT = 2.0


def routing_key(app: str, monitor: str) -> str:
    return f"/drills/{app}/{monitor}/router"


def default_document(active: str = "dc1", *, times: int = 3, delay_ms: int = 5000) -> dict[str, Any]:
    return {
        "active": active,
        "algorithm": "single-read-write",
        "epoch": 1,
        "nodes": {"dc1": {"master": "ds1"}, "dc2": {"master": "ds2"}},
        "retry": {"times": times, "delay_ms": delay_ms},
    }


def successor_document(document: dict[str, Any] | None, active: str) -> dict[str, Any]:
    """The routing document that makes `active` the writer: same shape, epoch + 1. Every
    route change — the reference controller's, an operator's `route:` step — is this
    document written by compare-and-swap on the revision it was computed from."""
    doc = copy.deepcopy(document) if document else {}
    doc.setdefault("algorithm", "single-read-write")
    doc.setdefault("nodes", {"dc1": {"master": "ds1"}, "dc2": {"master": "ds2"}})
    doc.setdefault("retry", {"times": 3, "delay_ms": 5000})
    doc["active"] = active
    doc["epoch"] = int(doc.get("epoch", 0)) + 1
    return doc


@dataclass(frozen=True)
class Route:
    document: dict[str, Any]
    revision: int  # etcd mod_revision of the key

    @property
    def active(self) -> str:
        return str(self.document.get("active"))

    @property
    def epoch(self) -> int:
        return int(self.document.get("epoch", 0))


class ConfigCenterError(EnvironmentProblem):
    """etcd unreachable or answered with an error."""


_ETCD_ERRORS: tuple[type[BaseException], ...] = (etcd_exc.Etcd3Exception, OSError)
try:  # grpc errors surface directly from some calls
    import grpc

    _ETCD_ERRORS = (*_ETCD_ERRORS, grpc.RpcError)
except ImportError:  # pragma: no cover - grpcio is a dependency of pyetcd
    pass


class ConfigCenter:
    def __init__(self, host: str, port: int, key: str, *, timeout: float = DEFAULT_TIMEOUT,
                 options: dict[str, Any] | None = None):
        """`options`: the client's TLS and authentication settings (ca_cert, cert_key,
        cert_cert, user, password) for an etcd someone else runs."""
        self.host, self.port, self.key, self.timeout = host, port, key, timeout
        self.options = dict(options or {})
        self._client = self._new_client()

    def _new_client(self) -> Any:
        """A client; with a user and password it authenticates here, so a wrong password is
        an error now — said in etcd's words, which never carry the password."""
        try:
            return pyetcd.client(host=self.host, port=self.port, timeout=self.timeout, **self.options)
        except _ETCD_ERRORS as exc:
            details = exc.details() if callable(getattr(exc, "details", None)) else ""
            raise ConfigCenterError(f"etcd at {self.host}:{self.port}: cannot connect "
                                    f"({masking.mask(str(details or type(exc).__name__))})") from None

    def _fail(self, what: str, exc: BaseException) -> ConfigCenterError:
        return ConfigCenterError(f"etcd at {self.host}:{self.port}: {what} failed ({type(exc).__name__})")

    def read(self) -> Route | None:
        try:
            value, meta = self._client.get(self.key)
        except _ETCD_ERRORS as exc:
            raise self._fail(f"get {self.key}", exc) from None
        if value is None:
            return None
        document, problem = parse_document(value)
        if document is None:
            raise ConfigCenterError(f"etcd at {self.host}:{self.port}: {self.key} holds no routing document ({problem})")
        return Route(document, int(meta.mod_revision))

    def create(self, document: dict[str, Any]) -> bool:
        """Write the document only if the key does not exist yet."""
        txn = self._client.transactions
        try:
            ok, _ = self._client.transaction(
                compare=[txn.version(self.key) == 0],
                success=[txn.put(self.key, json.dumps(document, sort_keys=True))],
                failure=[],
            )
        except _ETCD_ERRORS as exc:
            raise self._fail(f"create {self.key}", exc) from None
        return bool(ok)

    def put(self, document: dict[str, Any]) -> int:
        """Unconditional write (set-up and reset only; drills switch with compare_and_swap)."""
        try:
            self._client.put(self.key, json.dumps(document, sort_keys=True))
        except _ETCD_ERRORS as exc:
            raise self._fail(f"put {self.key}", exc) from None
        route = self.read()
        return route.revision if route else 0

    def compare_and_swap(self, document: dict[str, Any], expected_revision: int) -> int | None:
        """Publish `document` if the key is still at `expected_revision`; the new revision, or
        None when someone else changed the route first (the caller lost)."""
        txn = self._client.transactions
        try:
            ok, responses = self._client.transaction(
                compare=[txn.mod(self.key) == expected_revision],
                success=[txn.put(self.key, json.dumps(document, sort_keys=True))],
                failure=[],
            )
        except _ETCD_ERRORS as exc:
            raise self._fail(f"compare-and-swap {self.key}", exc) from None
        if not ok:
            return None
        try:
            return int(responses[0].response_put.header.revision)
        except (AttributeError, IndexError, TypeError):
            route = self.read()
            return route.revision if route else None

    # ---- one drill at a time: a lease-bound lock key ---------------------------------------------
    def acquire_lock(self, key: str, holder: dict[str, Any], ttl: float) -> tuple[Any | None, dict[str, Any] | None]:
        """Create `key` holding `holder`, bound to a new lease of `ttl` seconds, only if nobody
        holds it: (the lease, None) when taken, (None, the holder's record) when someone else
        has it. A holder that dies stops refreshing and its lease — and the key — expire."""
        txn = self._client.transactions
        try:
            lease = self._client.lease(max(2, int(round(ttl))))
            ok, responses = self._client.transaction(
                compare=[txn.create(key) == 0],
                success=[txn.put(key, json.dumps(holder, sort_keys=True), lease=lease)],
                failure=[txn.get(key)],
            )
        except _ETCD_ERRORS as exc:
            raise self._fail(f"lock {key}", exc) from None
        if ok:
            return lease, None
        try:
            lease.revoke()
        except _ETCD_ERRORS:
            pass
        try:
            value = responses[0][0][0] if responses and responses[0] else None
            other = json.loads(value) if value else {}
        except (TypeError, ValueError, IndexError):
            other = {}
        return None, other if isinstance(other, dict) else {}

    def release_lock(self, key: str, lease: Any, holder: dict[str, Any]) -> None:
        """Give the lock back — only if it is still ours (an expired lease may have let
        another run take it meanwhile)."""
        txn = self._client.transactions
        try:
            self._client.transaction(compare=[txn.value(key) == json.dumps(holder, sort_keys=True)],
                                     success=[txn.delete(key)], failure=[])
        except _ETCD_ERRORS as exc:
            raise self._fail(f"unlock {key}", exc) from None
        finally:
            try:
                lease.revoke()
            except _ETCD_ERRORS:
                pass

    def publish_successor(self, active: str) -> tuple[Route, dict[str, Any], int] | None:
        """Read the route and write its successor naming `active` by compare-and-swap on the
        revision read: (the route replaced, the document written, its revision), or None when
        someone changed the route in between (read again and decide again, never overwrite)."""
        current = self.read()
        if current is None:
            raise ConfigCenterError(f"routing key {self.key} is absent; nothing to switch")
        document = successor_document(current.document, active)
        revision = self.compare_and_swap(document, current.revision)
        return None if revision is None else (current, document, revision)

    def revision(self) -> int:
        """The cluster's current revision (status header)."""
        try:
            return int(self._client.status().raft_index)
        except _ETCD_ERRORS as exc:
            raise self._fail("status", exc) from None

    def watch(self, callback: Callable[[Route], None], *, on_error: Callable[[BaseException], None] | None = None,
              on_malformed: Callable[[int, str], None] | None = None,
              on_recovered: Callable[[], None] | None = None,
              retry_delay: float = 0.2) -> Callable[[], None]:
        """Call `callback` with every new Route. The watch is re-created after etcd restarts or
        the connection breaks, re-reading the key first so no change in between is missed.
        A value that is not a JSON object goes to `on_malformed(revision, reason)` once (any
        controller may write the key; a broken document is evidence, not a reason to stop
        watching). `on_recovered()` is called when the key can be read again after an error.
        Returns a cancel function."""
        stop = threading.Event()
        state: dict[str, Any] = {"cancel": None, "last_rev": 0, "failing": False,
                                 "client": self._new_client()}

        def deliver(value: bytes | None, revision: int) -> None:
            if value is None or revision <= state["last_rev"]:
                return
            state["last_rev"] = revision
            document, problem = parse_document(value)
            if document is not None:
                try:
                    callback(Route(document, revision))
                    return
                except Exception as exc:  # noqa: BLE001 - one value the callback chokes on never ends the watch
                    problem = f"could not be handled ({type(exc).__name__})"
            if on_malformed is not None:
                on_malformed(revision, problem)

        def loop() -> None:
            while not stop.is_set():
                watcher_client = state["client"]
                try:
                    value, meta = watcher_client.get(self.key)
                    if state["failing"]:
                        state["failing"] = False
                        if on_recovered is not None:
                            on_recovered()
                    revision = int(meta.mod_revision) if value is not None else 0
                    deliver(value, revision)
                    start = (revision + 1) if value is not None else None
                    kwargs = {"start_revision": start} if start else {}
                    events, cancel = watcher_client.watch(self.key, **kwargs)
                    state["cancel"] = cancel
                    if stop.is_set():
                        cancel()
                        return
                    for event in events:
                        if stop.is_set():
                            break
                        if isinstance(event, pyetcd.events.PutEvent):
                            deliver(event.value, int(event.mod_revision))
                except _ETCD_ERRORS as exc:
                    state["failing"] = True
                    if on_error is not None and not stop.is_set():
                        on_error(exc)
                    # The client marks its only node failed after a broken connection and then
                    # refuses every call ("Trying to use a failed node") even once etcd is back:
                    # a new client per attempt is what lets the watch survive an outage.
                    _close_quietly(watcher_client)
                    if not stop.is_set():
                        try:
                            state["client"] = self._new_client()
                        except ConfigCenterError as again:  # still away: the next round tries again
                            if on_error is not None:
                                on_error(again)
                if not stop.is_set():
                    stop.wait(retry_delay)

        thread = threading.Thread(target=loop, name=f"route-watch {self.key}", daemon=True)
        thread.start()

        def cancel() -> None:
            stop.set()
            if state["cancel"] is not None:
                try:
                    state["cancel"]()
                except Exception:  # noqa: BLE001 - cancel on a dead connection may raise anything grpc has
                    pass
            thread.join(timeout=2.0)
            _close_quietly(state["client"])

        return cancel

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing a broken channel is best-effort
            pass


def parse_document(value: bytes | str) -> tuple[dict[str, Any] | None, str]:
    """The routing document in a key's value, or (None, why not)."""
    try:
        document = json.loads(value)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"not JSON ({type(exc).__name__})"
    if not isinstance(document, dict):
        return None, f"a JSON {type(document).__name__}, not an object"
    return document, ""


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing a broken channel is best-effort
        pass


def wait_until_ready(host: str, port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        client = pyetcd.client(host=host, port=port, timeout=0.5)
        try:
            client.status()
            return
        except _ETCD_ERRORS as exc:
            last = exc
            time.sleep(0.05)
        finally:
            client.close()
    raise ConfigCenterError(f"etcd at {host}:{port} did not answer within {timeout:.0f}s ({type(last).__name__})")
