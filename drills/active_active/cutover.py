"""The reference cut-over controller: moving users between units ("切流"), step by step.

The protocol of the e-commerce multi-active write-up, section 4, each step journaled
(`aa.cutover`, with the step's name) only once it is done:

1. `ban_published` — the write-ban rule for the moving range, in the routing document both
   units' data-access layers follow (compare-and-swap on its revision);
2. `ban_effective` — every client has acknowledged the ban version (effect feedback);
3. `ban_point` — the ban's effective point on the sync link: the source unit's GTID position
   once no banned write can still run;
4. `caught_up` — the link confirms the other side applied everything up to it
   (MASTER_GTID_WAIT on the target unit);
5. `rules_published` — the new unit rules (unit_epoch + 1); right before, the observer
   snapshots the moving users' rows in the new unit (`aa.rows`, `when: publish`) so
   read-your-writes across the move is judged from the record, not from this controller's word;
6. `rules_effective` — every client applied the new rules;
7. `ban_lifted` and `lift_effective`; then `done` with the window.

Every etcd call is retried until `cutover_timeout`: a config-centre outage stalls the
cut-over where it is — the ban stays, the old rules stay — and it carries on once etcd is
back; past the timeout it stops (`stalled`, naming the step), never half-switched. Two
settings exist only to make the negative drills: `write_ban: false` skips steps 1-4,
`wait_catch_up: false` skips step 4.

A whole-DC failure moves every range the failed unit owns (`failover(source)`); its source
cannot give a ban point, so the catch-up is to what the target has *received*
(`caught_up` with `basis: received`) and the cut-over is marked `forced`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from drills import events
from drills.active_active import units
from drills.active_active.app import ack_key, client_name
from drills.config_center import ConfigCenter, ConfigCenterError
from drills.errors import EnvironmentProblem, UserError
from drills.mysql import admin
from drills.topology.state import DCS

SOURCE = "controller"
POLL_S = 0.01


class CutoverError(UserError):
    """The cut-over stopped (stalled past its timeout, or refused)."""

    def __init__(self, message: str, at: str = "start"):
        super().__init__(message)
        self.at = at


class CutoverController:
    """`controller: {kind: cutover}` in a scenario whose topology is active-active."""

    def __init__(self, spec: Any, topo: Any, journal: Any, *, users: int,
                 observe_rows: Callable[[str, units.Range, str], None] | None = None):
        self.spec = spec
        self.topo = topo
        self.journal = journal
        self.users = users
        self.observe_rows = observe_rows
        self._ids = itertools.count(1)
        self.cutovers: list[dict[str, Any]] = []

    # the runner's controller protocol ------------------------------------------------------------
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def switchover(self, to: str | None = None) -> None:
        raise CutoverError("active-active mode has no single writer to switch over: use a `cutover:` step")

    def failback(self, to: str | None = None) -> dict[str, Any]:
        """A failed unit is back: it takes its link again (filters included). Its users stay
        where the failover put them; moving them back is a `cutover:` step."""
        from drills.active_active.topology import rejoin

        dc = to or "dc1"
        settings = getattr(self.topo, "active_active", None)
        if settings is None:
            raise CutoverError("failback needs an active-active topology")
        out = rejoin(self.topo, settings, dc, self.journal)
        if not out["running"]:
            raise CutoverError(f"{dc}'s link from {self.topo.other(dc)} did not start")
        return {"ok": True, **out}

    def failover(self, to: str | None = None, force: bool = False) -> dict[str, Any]:
        """Whole-DC failover: every range of the other unit moves to `to`."""
        to = to or "dc2"
        source = self.topo.other(to)
        doc = self._read(time.monotonic() + float(self.spec.cutover_timeout), "failover")
        ranges = units.owned_by(doc, source)
        if not ranges:
            raise CutoverError(f"{source} owns no users; nothing to fail over")
        out = [self.cutover(r, to, forced=True) for r in ranges]
        return {"ok": True, "cutovers": out}

    # the protocol ---------------------------------------------------------------------------------
    def cutover(self, moving: units.Range, to: str, *, forced: bool = False) -> dict[str, Any]:
        moving = units.validate_range(moving, self.users, "cutover")
        cid = next(self._ids)
        deadline = time.monotonic() + float(self.spec.cutover_timeout)
        t0 = time.monotonic_ns()
        doc = self._read(deadline, "start")
        owners = {units.parse(doc).owner(u) for u in (moving[0], moving[1])} if units.parse(doc) else set()  # type: ignore[union-attr]
        source = self.topo.other(to)
        if owners != {source}:
            raise CutoverError(f"cutover: users {moving[0]}..{moving[1]} are not all owned by {source} "
                               f"(owners {sorted(o or '-' for o in owners)})")
        step = self._stepper(cid, moving, source, to, forced)
        step("start", write_ban=self.spec.write_ban, wait_catch_up=self.spec.wait_catch_up)
        try:
            return self._protocol(cid, moving, source, to, forced, step, deadline, t0)
        except CutoverError as exc:
            step("stalled", at=exc.at, error=str(exc))
            raise

    def _protocol(self, cid: int, moving: units.Range, source: str, to: str, forced: bool,
                  step: Callable[..., None], deadline: float, t0: int) -> dict[str, Any]:
        ban_point: str | None = None
        if self.spec.write_ban:
            version = self._publish(deadline, "ban_published", lambda d: units.with_ban(d, moving))
            step("ban_published", rules_version=version)
            acks = self._wait_acks(version, deadline, "ban_effective")
            step("ban_effective", rules_version=version, acks=acks)
            ban_point, basis = self._ban_point(source, to, deadline)
            step("ban_point", gtid=ban_point, basis=basis)
            if self.spec.wait_catch_up:
                waited = self._catch_up(to, ban_point, deadline)
                step("caught_up", gtid=ban_point, basis=basis, waited_ms=waited)
            else:
                step("catch_up_skipped", reason="wait_catch_up: false")
        else:
            step("ban_skipped", reason="write_ban: false")
        if self.observe_rows is not None:
            self.observe_rows(to, moving, f"cutover-{cid}")
        version = self._publish(deadline, "rules_published", lambda d: units.with_owner(d, moving, to))
        step("rules_published", rules_version=version)
        acks = self._wait_acks(version, deadline, "rules_effective")
        step("rules_effective", rules_version=version, acks=acks)
        if self.spec.write_ban:
            version = self._publish(deadline, "ban_lifted", units.without_ban)
            step("ban_lifted", rules_version=version)
            acks = self._wait_acks(version, deadline, "lift_effective")
            step("lift_effective", rules_version=version, acks=acks)
        window = (time.monotonic_ns() - t0) / 1e6
        step("done", duration_ms=round(window, 3))
        result = {"cutover": cid, "range": list(moving), "from": source, "to": to, "forced": forced,
                  "duration_ms": round(window, 3)}
        self.cutovers.append(result)
        return result

    def _stepper(self, cid: int, moving: units.Range, source: str, to: str, forced: bool) -> Callable[..., None]:
        def step(name: str, **extra: Any) -> None:
            self.journal.record(SOURCE, events.AA_CUTOVER_STEP, cutover=cid, step=name, range=list(moving),
                                source_dc=source, to=to, forced=forced, **extra)
        return step

    # etcd, retried until the deadline --------------------------------------------------------------
    def _retry(self, deadline: float, what: str, fn: Callable[[], Any]) -> Any:
        last = ""
        while True:
            try:
                return fn()
            except (ConfigCenterError, EnvironmentProblem) as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise CutoverError(f"cutover stalled at {what} for {self.spec.cutover_timeout}s ({last}); "
                                   "the ban and the old rules stay in force", at=what)
            time.sleep(0.05)

    def _cc(self, key: str | None = None) -> ConfigCenter:
        host, port = self.topo.etcd_address("observer")
        return ConfigCenter(host, port, key or self.topo.routing_key, timeout=1.0, options=self.topo.etcd_options)

    def _read(self, deadline: float, what: str) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            cc = self._cc()
            try:
                route = cc.read()
            finally:
                cc.close()
            if route is None:
                raise ConfigCenterError("the routing key is absent")
            return route.document
        return self._retry(deadline, what, read)

    def _publish(self, deadline: float, what: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
        def publish() -> int | None:
            cc = self._cc()
            try:
                route = cc.read()
                if route is None:
                    raise ConfigCenterError("the routing key is absent")
                doc = change(route.document)
                revision = cc.compare_and_swap(doc, route.revision)
            finally:
                cc.close()
            if revision is None:
                return None
            rules = units.parse(doc)
            assert rules is not None
            self.journal.record(SOURCE, events.AA_RULES, rules_version=rules.rules_version, unit_epoch=rules.unit_epoch,
                                units=doc["units"], ban=doc.get("ban"), revision=revision, by="cutover")
            return rules.rules_version

        while True:
            version = self._retry(deadline, what, publish)
            if version is not None:
                return int(version)

    def _wait_acks(self, version: int, deadline: float, what: str) -> dict[str, int]:
        clients = [client_name(dc) for dc in DCS]
        ccs = {c: self._cc(ack_key(self.topo.routing_key, c)) for c in clients}
        try:
            while True:
                seen: dict[str, int] = {}

                def read_all(seen: dict[str, int] = seen) -> None:
                    for c, cc in ccs.items():
                        route = cc.read()
                        seen[c] = int(route.document.get("rules_version", 0)) if route else 0
                self._retry(deadline, what, read_all)
                if all(v >= version for v in seen.values()):
                    return seen
                if time.monotonic() > deadline:
                    raise CutoverError(f"cutover stalled at {what}: clients did not apply rules version {version} "
                                       f"(acknowledged: {seen})", at=what)
                time.sleep(POLL_S)
        finally:
            for cc in ccs.values():
                cc.close()

    # the sync link ----------------------------------------------------------------------------------
    def _ban_point(self, source: str, to: str, deadline: float) -> tuple[str, str]:
        """The source unit's position once the ban is effective; a dead source gives none, and
        the point is then what the target has received from it (`basis: received`)."""
        try:
            conn = self.topo.connect(source, timeout=1.0, read_timeout=2.0)
            try:
                return admin.gtid_executed(conn), "source"
            finally:
                conn.close()
        except (EnvironmentProblem, OSError, Exception):  # noqa: BLE001 - any failure: the source is gone
            pass

        def received() -> str:
            conn = self.topo.connect(to, timeout=1.0, read_timeout=2.0)
            try:
                st = admin.replica_status(conn)
                return st.gtid_io_pos if st else ""
            finally:
                conn.close()
        return self._retry(deadline, "ban_point", received), "received"

    def _catch_up(self, to: str, gtid: str, deadline: float) -> float:
        t0 = time.monotonic()
        conn = self.topo.connect(to, timeout=2.0, read_timeout=max(1.0, deadline - time.monotonic()) + 2)
        try:
            if not admin.wait_for_gtid(conn, gtid, max(0.1, deadline - time.monotonic())):
                raise CutoverError(f"cutover stalled: {to} did not apply {gtid} in time; the ban stays in force",
                                   at="caught_up")
        finally:
            conn.close()
        return round((time.monotonic() - t0) * 1000, 3)
