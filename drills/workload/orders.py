"""The reference application: an order writer behind an etcd-routed client.

Like the data-source SDK of the source documents, it follows the routing document (watched
through the etcd proxy, as an application would), writes only to the active DC, retries
`retry.times` with `retry.delay` on connection errors — waking at once when a new route
arrives — and reconnects whenever the route changes. Order IDs come from the segment
allocator; every operation is a ledger line (invoke -> ok | fail | info).
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from drills import events
from drills.errors import EnvironmentProblem
from drills.record import LEDGER_FILE
from drills.scenario.model import WorkloadSpec
from drills.workload.ledger import LedgerWriter
from drills.workload.routing import ClientRoute, RouteView
from drills.workload.sequence import (
    READ_SEGMENT_SQL,
    TAKE_SEGMENT_SQL,
    Segment,
    SegmentAllocator,
    segment_from_high_water,
)

SOURCE = "workload"
INSERT_ORDER_SQL = ("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts, token) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)")
INSERT_JOB_LOG_SQL = "INSERT INTO app.job_log (dc, job_name, message) VALUES (%s, %s, %s)"

# outcome unknown: the statement may have reached the server before the connection broke
_UNKNOWN_CODES = {2006, 2013, 2055}
# the side refuses writes (fenced or write-banned): retry like a connection error
_READ_ONLY_CODES = {1290, 1836}


class NotConnected(Exception):
    """The worker has no connection to the routed DC (connect failed)."""


def _code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _text(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) > 1:
        return str(exc.args[1])[:300]
    return (str(exc) or type(exc).__name__)[:300]


def failure_outcome(exc: BaseException) -> tuple[str, int | None, str]:
    """How a failed write is ledgered: `info` when it may still have committed (the connection
    died under it: lost, gone, timed out), else `fail`; with the server's error code and text.
    One classification for every application drills runs (rpo counts an `info` as possibly
    committed, never as failed)."""
    code = _code(exc)
    unknown = code in _UNKNOWN_CODES or isinstance(exc, (socket.timeout, TimeoutError, ConnectionError))
    return ("info" if unknown else "fail"), code, _text(exc)


class Router:
    """Keeps a RouteView current from the config centre on the service path."""

    def __init__(self, topo: Any, view: RouteView, journal: Any):
        self.topo = topo
        self.view = view
        self.journal = journal
        self._cc: Any = None
        self._cancel: Any = None

    def start(self, timeout: float = 5.0) -> ClientRoute:
        self._cc = self.topo.config_center(via="service")
        self._cancel = self._cc.watch(lambda route: self.view.offer(route.document, route.revision))
        route = self.view.wait_for_route(timeout)
        if route is None:
            self.stop()
            raise EnvironmentProblem("workload: no routing document arrived from the config centre "
                                     f"within {timeout:.0f}s (key {self.topo.routing_key})")
        return route

    def stop(self) -> None:
        cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel()
        cc, self._cc = self._cc, None
        if cc is not None:
            cc.close()


@dataclass
class _Worker:
    index: int
    conn: Any = None
    route: ClientRoute | None = None  # the route `conn` was opened for
    announced_epoch: int = -1
    orders: int = 0


class OrdersWorkload:
    def __init__(self, settings: WorkloadSpec, topo: Any, journal: Any, run_dir: str | Path):
        self.settings = settings
        self.topo = topo
        self.journal = journal
        self.run_dir = Path(run_dir)
        self.view = RouteView(delay_override=settings.retry_delay)
        self.router = Router(topo, self.view, journal)
        self.allocator = SegmentAllocator(settings.sequence.segment, settings.sequence.refetch_on_switch)
        self.ledger: LedgerWriter | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._result: dict[str, int] | None = None
        self.connect_failures = 0  # order attempts that never reached a server (ledgered as failed, nothing sent)
        self._take_sql = TAKE_SEGMENT_SQL.format(table=settings.sequence.table)

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        self.ledger = LedgerWriter(self.run_dir / LEDGER_FILE)
        self.router.start()
        s = self.settings
        self.journal.record(SOURCE, events.WORKLOAD_START, kind=s.kind, workers=s.workers, rate=s.rate,
                            refetch_on_switch=s.sequence.refetch_on_switch, segment=s.sequence.segment)
        for i in range(s.workers):
            t = threading.Thread(target=self._run_worker, args=(_Worker(i),), name=f"order-writer-{i}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self) -> dict[str, int]:
        if self._result is not None:
            return self._result
        requested = time.monotonic_ns()
        self._stop.set()
        self.view.close()
        for t in self._threads:
            t.join(timeout=self.settings.query_timeout + self.settings.connect_timeout + 5)
        self.router.stop()
        counts = dict(self.ledger.counts) if self.ledger else {"ok": 0, "fail": 0, "info": 0}
        if self.ledger:
            self.ledger.close()
        self.journal.record(SOURCE, events.WORKLOAD_STOP, **counts, connect_failures=self.connect_failures,
                            abandoned=[list(r) for r in self.allocator.abandoned], requested_mono_ns=requested)
        self._result = counts
        return counts

    # ---- one worker ------------------------------------------------------------------------------
    def _run_worker(self, w: _Worker) -> None:
        s = self.settings
        interval = s.workers / s.rate if s.rate > 0 else 0.0
        next_at = time.monotonic()
        tries = 0
        while not self._stop.is_set():
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    if self._stop.wait(delay):
                        break
                elif delay < -1.0:  # far behind (an outage): do not burst to catch up
                    next_at = time.monotonic()
            route = self.view.current
            if route is None:
                self._stop.wait(0.05)
                continue
            outcome = self._write_order(w, route)
            if outcome == "ok" or outcome == "final":
                tries = 0
                continue
            # retryable: a connection error or a side that refuses writes
            tries += 1
            if tries > route.retry_times:
                tries = 0  # give up on this order; the next one starts a fresh retry budget
            changed = self.view.wait_for_change(route.epoch, route.retry_delay)
            if self._stop.is_set():
                break
            if changed is not None and changed.epoch != route.epoch:
                tries = 0
        self._disconnect(w)

    def _disconnect(self, w: _Worker) -> None:
        conn, w.conn = w.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _connection(self, w: _Worker, route: ClientRoute) -> Any:
        if w.route is None or w.route.epoch != route.epoch or w.route.active != route.active:
            self._disconnect(w)  # never keep writing to a side the newest route left
            w.route = route
        if w.conn is None:
            try:
                w.conn = self.topo.connect(route.active, via="service", role="app",
                                           timeout=self.settings.connect_timeout,
                                           read_timeout=self.settings.query_timeout)
            except (EnvironmentProblem, pymysql.err.MySQLError, OSError) as exc:
                raise NotConnected(str(exc)) from None
        return w.conn

    def _announce(self, w: _Worker, route: ClientRoute) -> None:
        if w.announced_epoch != route.epoch:
            w.announced_epoch = route.epoch
            self.journal.record(SOURCE, events.WORKLOAD_ROUTE, worker=w.index, active=route.active, epoch=route.epoch)

    def _fetch_segment(self, w: _Worker, dc: str, epoch: int) -> Segment:
        ledger = self.ledger
        seq = self.settings.sequence
        base = {"dc": dc, "epoch": epoch, "worker": w.index, "name": seq.name}
        op = ledger.invoke("alloc_segment", **base)
        try:
            conn = self._connection(w, w.route)
            with conn.cursor() as cur:
                if cur.execute(self._take_sql, (seq.segment, seq.name)) != 1:
                    raise pymysql.err.ProgrammingError(0, f"no row {seq.name!r} in {seq.table}")
                cur.execute(READ_SEGMENT_SQL)
                (high_water,) = cur.fetchone()
        except BaseException as exc:
            self._record_failure(w, op, "alloc_segment", base, exc)
            raise
        segment = segment_from_high_water(int(high_water), seq.segment, dc, epoch)
        ledger.complete(op, "ok", "alloc_segment", **base, low=segment.low, high=segment.high)
        self.journal.record(SOURCE, events.SEGMENT_FETCHED, dc=dc, name=seq.name, low=segment.low, high=segment.high)
        return segment

    def _record_failure(self, w: _Worker, op: int, f: str, base: dict[str, Any], exc: BaseException) -> str:
        """Ledger the failure; returns `retry` for connection-type errors, `final` otherwise."""
        if isinstance(exc, NotConnected):
            self.ledger.complete(op, "fail", f, **base, error=f"connect: {exc}", error_code=2003)
            return "retry"
        kind, code, text = failure_outcome(exc)
        self.ledger.complete(op, kind, f, **base, error=text, error_code=code)
        if kind == "info":
            self._disconnect(w)
            return "retry"
        if code in _READ_ONLY_CODES:
            return "retry"
        if code is None or code >= 2000:  # client-side trouble: start from a fresh connection
            self._disconnect(w)
            return "retry"
        return "final"

    def _write_order(self, w: _Worker, route: ClientRoute) -> str:
        try:
            self._connection(w, route)
            order_id = self.allocator.next_id(route.active, route.epoch,
                                              lambda dc, epoch: self._fetch_segment(w, dc, epoch))
        except NotConnected as exc:
            # The application wanted to write an order and could not reach a server: that is
            # demand the ledger must show (write_availability), as an attempt that certainly
            # never committed — nothing was sent.
            self.connect_failures += 1
            base = {"id": None, "dc": route.active, "epoch": route.epoch, "worker": w.index}
            op = self.ledger.invoke("write_order", **base, token=uuid.uuid4().hex)
            self.ledger.complete(op, "fail", "write_order", **base, error=f"connect: {exc}", error_code=2003)
            return "retry"
        except Exception:
            return "retry"  # already in the ledger as a failed alloc_segment
        ledger = self.ledger
        client_ts = time.monotonic_ns()
        # The token is unique to this write and the content is recorded with it: a read-back
        # matches by both, so an ID reissued by a stale sequence can never pass for this row.
        token = uuid.uuid4().hex
        buyer_id = random.randint(1, 100_000)
        amount = f"{random.uniform(1, 500):.2f}"
        base = {"id": order_id, "dc": route.active, "epoch": route.epoch, "worker": w.index}
        self._announce(w, route)
        op = ledger.invoke("write_order", **base, token=token, buyer_id=buyer_id, amount=amount)
        try:
            conn = self._connection(w, route)
            with conn.cursor() as cur:
                cur.execute(INSERT_ORDER_SQL, (order_id, buyer_id, amount, route.active, route.epoch, client_ts, token))
        except Exception as exc:
            return self._record_failure(w, op, "write_order", base, exc)
        ledger.complete(op, "ok", "write_order", **base)
        w.orders += 1
        if self.settings.job_log and w.orders % self.settings.job_log_every == 0:
            self._write_job_log(w, route, order_id)
        return "ok"

    def _write_job_log(self, w: _Worker, route: ClientRoute, order_id: int) -> None:
        base = {"dc": route.active, "epoch": route.epoch, "worker": w.index}
        op = self.ledger.invoke("write_job_log", **base)
        try:
            with w.conn.cursor() as cur:
                cur.execute(INSERT_JOB_LOG_SQL, (route.active, "order-writer", f"order {order_id} accepted"))
        except Exception as exc:
            self._record_failure(w, op, "write_job_log", base, exc)
            return
        self.ledger.complete(op, "ok", "write_job_log", **base)
