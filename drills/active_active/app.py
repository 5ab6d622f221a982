"""The reference application in active-active mode: orders routed by their buyer's user id.

Two data-access layers — one per DC, each the source documents' proxy in front of its unit's
database (`app-dc1`, `app-dc2`) — follow the unit rules in the routing document (watched
through the etcd proxy, as an application would). A request for user `u` goes to the unit
the gateway believes owns `u`; that unit's layer refuses the write when `u` is write-banned
or belongs to the other unit (ledgered as a refused write with the reason; nothing is sent).

Effect feedback: a layer applies a new rules version only once none of its writes is in
flight (they all ran under the old version), then acknowledges the version under
`<routing key>/acks/<client>` (retried until etcd takes it) and journals `aa.ack`. So when
every layer has acknowledged a ban, no write for a banned user can still be running.

IDs: the distributed scheme (unit number in the high bits, a per-unit counter below: unique
across units by construction), or `ids: auto-increment` — the server's AUTO_INCREMENT with the
same offset on both units, kept as the negative case (the two units hand out the same keys
and two-way replication collides on them).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pymysql

from drills import events
from drills.active_active import units
from drills.config_center import ConfigCenter, ConfigCenterError
from drills.errors import EnvironmentProblem
from drills.record import LEDGER_FILE
from drills.topology.state import DCS
from drills.workload.ledger import LedgerWriter
from drills.workload.orders import failure_outcome

SOURCE = "workload"
ID_SHIFT = 40
INSERT_SQL = ("INSERT INTO app.orders (id, buyer_id, amount, unit, unit_epoch, client_ts, token) "
              "VALUES (%s, %s, %s, %s, %s, %s, %s)")
INSERT_AUTO_SQL = ("INSERT INTO app.orders (buyer_id, amount, unit, unit_epoch, client_ts, token) "
                   "VALUES (%s, %s, %s, %s, %s, %s)")
JOB_LOG_SQL = "INSERT INTO app.job_log (dc, message) VALUES (%s, %s)"


def ack_key(routing_key: str, client: str) -> str:
    return f"{routing_key}/acks/{client}"


def client_name(dc: str) -> str:
    return f"app-{dc}"


def distributed_id(dc: str, n: int) -> int:
    """Unit number in the high bits: dc1's ids and dc2's can never meet."""
    return (int(dc[-1]) << ID_SHIFT) | n


class AccessLayer:
    """One DC's data-access layer: the rules it has applied, its writes in flight, its acks."""

    def __init__(self, dc: str, topo: Any, journal: Any):
        self.dc = dc
        self.name = client_name(dc)
        self.topo = topo
        self.journal = journal
        self.rules: units.Rules | None = None
        self._cond = threading.Condition()
        self._in_flight = 0
        self._applying = False
        self._pending_ack: dict[str, Any] | None = None
        self._ack_event = threading.Event()
        self._stop = threading.Event()
        self._cancel: Any = None
        self._ack_thread = threading.Thread(target=self._ack_loop, name=f"ack {self.name}", daemon=True)
        self._ids = itertools.count(1)

    def start(self) -> None:
        self._watch_cc = self.topo.config_center(via="service")
        self._cancel = self._watch_cc.watch(lambda route: self.offer(route.document))
        self._ack_thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._ack_event.set()
        if self._cancel is not None:
            self._cancel()
        self._watch_cc.close()
        self._ack_thread.join(timeout=3)

    def next_id(self) -> int:
        return distributed_id(self.dc, next(self._ids))

    # ---- rules ------------------------------------------------------------------------------------
    def offer(self, document: dict[str, Any]) -> None:
        new = units.parse(document)
        if new is None or (self.rules is not None and new.rules_version <= self.rules.rules_version):
            return
        with self._cond:
            self._applying = True  # no new write starts; the ones in flight finish first
            while self._in_flight:
                self._cond.wait()
            self.rules = new
            self._applying = False
            self._cond.notify_all()
        self._pending_ack = {"client": self.name, "dc": self.dc, "rules_version": new.rules_version,
                             "unit_epoch": new.unit_epoch, "ban": list(new.ban) if new.ban else None,
                             "ban_epoch": new.ban_epoch}
        self._ack_event.set()

    def _ack_loop(self) -> None:
        cc: ConfigCenter | None = None
        while not self._stop.is_set():
            self._ack_event.wait(0.5)
            self._ack_event.clear()
            ack = self._pending_ack
            while ack is not None and not self._stop.is_set():
                try:
                    if cc is None:
                        cc = ConfigCenter(*self.topo.etcd_address("service"), ack_key(self.topo.routing_key, self.name),
                                          timeout=1.0, options=self.topo.etcd_options)
                    cc.put({**ack, "applied_mono_ns": time.monotonic_ns()})
                    self.journal.record(SOURCE, events.AA_ACK, **ack)
                    break
                except ConfigCenterError:  # etcd away: keep the ack and try again
                    if cc is not None:
                        cc.close()
                    cc = None
                    self._stop.wait(0.1)
                    ack = self._pending_ack
        if cc is not None:
            cc.close()

    # ---- writes -----------------------------------------------------------------------------------
    def begin(self, user: int) -> tuple[units.Rules | None, str | None]:
        """Admit a write for `user` under the current rules: (the rules, None) with the write
        counted in flight, or (the rules, why refused)."""
        with self._cond:
            while self._applying:
                self._cond.wait()
            rules = self.rules
            if rules is None:
                return None, "no rules"
            why = rules.refusal(user, self.dc)
            if why is None:
                self._in_flight += 1
            return rules, why

    def end(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()


class UnitOrdersWorkload:
    """`workload: {kind: unit-orders}`: orders for random users at `rate`, routed by unit."""

    def __init__(self, settings: Any, topo: Any, journal: Any, run_dir: str | Path, *, users: int):
        self.settings = settings
        self.topo = topo
        self.journal = journal
        self.run_dir = Path(run_dir)
        self.users = users
        self.layers = {dc: AccessLayer(dc, topo, journal) for dc in DCS}
        self.ledger: LedgerWriter | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._result: dict[str, int] | None = None
        self.refused = 0

    def start(self) -> None:
        if self._threads:
            return
        self.ledger = LedgerWriter(self.run_dir / LEDGER_FILE)
        for layer in self.layers.values():
            layer.start()
        deadline = time.monotonic() + 5.0
        while any(layer.rules is None for layer in self.layers.values()):
            if time.monotonic() > deadline:
                self.stop()
                raise EnvironmentProblem("workload: the unit rules did not arrive from the config centre within 5s "
                                         f"(key {self.topo.routing_key})")
            time.sleep(0.01)
        s = self.settings
        self.journal.record(SOURCE, events.WORKLOAD_START, kind=s.kind, workers=s.workers, rate=s.rate, ids=s.ids,
                            clients=[layer.name for layer in self.layers.values()], users=self.users)
        for i in range(s.workers):
            t = threading.Thread(target=self._run_worker, args=(i,), name=f"unit-writer-{i}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self) -> dict[str, int]:
        if self._result is not None:
            return self._result
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.settings.query_timeout + self.settings.connect_timeout + 5)
        for layer in self.layers.values():
            layer.stop()
        counts = dict(self.ledger.counts) if self.ledger else {"ok": 0, "fail": 0, "info": 0}
        if self.ledger:
            self.ledger.close()
        self.journal.record(SOURCE, events.WORKLOAD_STOP, **counts, refused=self.refused)
        self._result = counts
        return counts

    def _gateway(self, user: int) -> str:
        """The access layer's routing: the unit the newest rules either layer holds name."""
        newest = max((layer.rules for layer in self.layers.values() if layer.rules is not None),
                     key=lambda r: r.rules_version)
        return newest.owner(user) or "dc1"

    def _run_worker(self, index: int) -> None:
        s = self.settings
        interval = s.workers / s.rate if s.rate > 0 else 0.0
        next_at = time.monotonic()
        conns: dict[str, Any] = {}
        written = 0
        while not self._stop.is_set():
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                if delay < -1.0:
                    next_at = time.monotonic()
            user = random.randrange(self.users)
            if self._write(index, user, conns):
                written += 1
                if s.job_log and written % s.job_log_every == 0:
                    self._job_log(index, conns)
        for conn in conns.values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection is best-effort
                pass

    def _conn(self, dc: str, conns: dict[str, Any]) -> Any:
        if conns.get(dc) is None:
            conns[dc] = self.topo.connect(dc, via="service", role="app", timeout=self.settings.connect_timeout,
                                          read_timeout=self.settings.query_timeout)
        return conns[dc]

    def _write(self, worker: int, user: int, conns: dict[str, Any]) -> bool:
        assert self.ledger is not None
        dc = self._gateway(user)
        layer = self.layers[dc]
        token = uuid.uuid4().hex
        amount = f"{random.uniform(1, 500):.2f}"
        rules, why = layer.begin(user)
        version = rules.rules_version if rules else 0
        auto = self.settings.ids == "auto-increment"
        order_id = None if (why or auto) else layer.next_id()
        # `epoch` keeps its single-writer meaning (the routing document's epoch, which unit
        # changes leave alone); the unit-rule version the layer applied is `rules_version`
        base = {"id": order_id, "dc": dc, "epoch": rules.epoch if rules else 0, "rules_version": version,
                "unit_epoch": rules.unit_epoch if rules else 0, "client": layer.name, "worker": worker,
                "buyer_id": user}
        op = self.ledger.invoke("write_order", **base, token=token, amount=amount)
        if why is not None:
            self.refused += 1
            self.ledger.complete(op, "fail", "write_order", **base, refused=why, error=f"refused: {why}")
            return False
        try:
            conn = self._conn(dc, conns)
            with conn.cursor() as cur:
                ts = time.monotonic_ns()
                if auto:
                    cur.execute(INSERT_AUTO_SQL, (user, amount, dc, version, ts, token))
                    order_id = int(cur.lastrowid)
                else:
                    cur.execute(INSERT_SQL, (order_id, user, amount, dc, version, ts, token))
        except (pymysql.err.MySQLError, EnvironmentProblem, OSError) as exc:
            conns[dc] = None
            kind, code, text = failure_outcome(exc)  # a connect failure (no code) is ledgered as 2003
            self.ledger.complete(op, kind, "write_order", **base, error=text,
                                 error_code=code if code is not None else 2003)
            return False
        else:
            # ledgered before the write leaves the in-flight count: the layer applies new rules
            # (and acknowledges them) only after that, so an ack always follows the acknowledged
            # writes it covers in the record — unit_isolation relies on it
            self.ledger.complete(op, "ok", "write_order", **{**base, "id": order_id})
            return True
        finally:
            layer.end()

    def _job_log(self, worker: int, conns: dict[str, Any]) -> None:
        dc = random.choice(DCS)
        assert self.ledger is not None
        op = self.ledger.invoke("write_job_log", dc=dc, epoch=1, worker=worker)
        try:
            with self._conn(dc, conns).cursor() as cur:
                cur.execute(JOB_LOG_SQL, (dc, "unit-writer"))
        except (pymysql.err.MySQLError, EnvironmentProblem, OSError) as exc:
            conns[dc] = None
            self.ledger.complete(op, "fail", "write_job_log", dc=dc, epoch=1, worker=worker, error=str(exc)[:300])
            return
        self.ledger.complete(op, "ok", "write_job_log", dc=dc, epoch=1, worker=worker)
