"""The reference failover controller ("monitor") of the source documents.

It probes both data centres on the service path, declares one failed after N consecutive
failed probes, and — when the failed one is the active writer — fences it if it can,
stops replication on the survivor, promotes the survivor once the promotion guard allows
it, and publishes the new route by compare-and-swap. It never fails back by itself;
failback and switchover are planned operations (write ban, wait for the link to apply
everything, reverse the link with the same filter list, promote, publish).

Every decision is a journal event (drills.events), so RTO phases are computed from the
journal and a reader can follow why the controller did what it did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from drills import events
from drills.config_center import successor_document
from drills.control.decisions import (
    GUARD_PROMOTE,
    GUARD_REFUSE,
    AntiFlapping,
    ProbeTracker,
    PromotionGuard,
    verdict,
)
from drills.control.plane import ControlPlane, RouteLike
from drills.errors import EXIT_FAILED, UserError
from drills.scenario.model import ControllerSpec

SOURCE = "controller"


class ControllerError(UserError):
    """A requested switch that did not happen (refused, or failed part-way and rolled back)."""

    exit_code = EXIT_FAILED


def _brief(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class ReferenceController:
    """Controller interface the runner calls: start/stop, switchover, failover, failback."""

    def __init__(
        self,
        settings: ControllerSpec,
        plane: ControlPlane,
        journal: Any,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.plane = plane
        self.journal = journal
        self.clock = clock
        self.sleep = sleep
        self.tracker = ProbeTracker(settings.probe.failures)
        self.flapping = AntiFlapping(int(settings.block_period * 1e9))
        self.guard = PromotionGuard(settings.max_lag, settings.lag_wait)
        self._decision_lock = threading.RLock()
        self._tracker_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._late_fence: set[str] = set()
        self._edge_fenced: set[str] = set()
        self._blocked_reported: set[str] = set()

    # ---- journal ---------------------------------------------------------------------------
    def _record(self, event: str, /, **payload: Any) -> None:
        self.journal.record(SOURCE, event, **payload)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Probe each DC in its own thread, so a slow probe of one never delays the other."""
        if self._threads:
            return
        self.fence_standbys()
        self._stop.clear()
        for dc in self.plane.dcs:
            t = threading.Thread(target=self._probe_loop, args=(dc,), name=f"probe-{dc}", daemon=True)
            self._threads.append(t)
            t.start()

    def fence_standbys(self) -> None:
        """A standby must refuse application writes: fence every side the route does not
        name as active, so a stale client cannot write there."""
        if not self.settings.fencing:
            return
        route = self._read_route_quietly()
        if route is None:
            return
        for dc in self.plane.dcs:
            if dc == route.document.get("active"):
                continue
            try:
                self.plane.set_read_only(dc, True)
                self._record(events.FENCE, dc=dc, ok=True, method="read_only", standby=True)
            except Exception as exc:
                self._late_fence.add(dc)
                self._record(events.FENCE, dc=dc, ok=False, method="read_only", standby=True, error=_brief(exc))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=max(5.0, self.settings.probe.timeout * 4))
        self._threads = []

    def _probe_loop(self, dc: str) -> None:
        interval = self.settings.probe.interval
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.probe_once(dc)
            except Exception as exc:  # a bug or a broken plane must not kill the monitor silently
                self._record(events.PROBE_FAIL, dc=dc, error=f"controller error: {_brief(exc)}", consecutive=-1)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:  # a probe overran: re-anchor instead of bursting to catch up
                next_at, delay = time.monotonic(), 0.0
            self._stop.wait(delay)

    # ---- probing -------------------------------------------------------------------------------
    def probe_once(self, dc: str) -> None:
        """One probe of `dc`, journaled on changes, acted on when it completes a failure."""
        error = self.plane.probe(dc, self.settings.probe.timeout)
        with self._tracker_lock:
            changes = self.tracker.observe(dc, error)
        for change in changes:
            if change.kind == events.PROBE_FAIL:
                self._record(events.PROBE_FAIL, dc=dc, error=change.error, consecutive=change.consecutive)
            elif change.kind == events.PROBE_OK:
                self._record(events.PROBE_OK, dc=dc)
                self._blocked_reported.discard(dc)
            elif change.kind == events.DC_FAILED:
                self._on_failed(dc, change.consecutive)
        if error is None:
            # Any successful probe, not only the fail->ok transition: a DC can go away and
            # come back between two probes, and must still be fenced before a stale client writes.
            self._maybe_late_fence(dc)
        if dc in self._edge_fenced:
            self._fence_behind_edge(dc)

    def _fence_behind_edge(self, dc: str) -> None:
        """A DC cut off at the edge is set read-only over the management path as soon as it
        answers there (a hung server that resumed, a crashed one restarted); only then are its
        service paths restored — it can no longer commit anything a client would see."""
        with self._decision_lock:
            if dc not in self._edge_fenced:
                return
            route = self._read_route_quietly()
            if route is None:
                return  # cannot tell whether it is still not the writer: keep it cut off
            if route.document.get("active") != dc:
                try:
                    self.plane.set_read_only(dc, True, via="management")
                except Exception:
                    return  # not answering yet; the next probe round tries again
                self._late_fence.discard(dc)
                self._record(events.FENCE, dc=dc, ok=True, method="read_only", late=True, via="management")
            try:
                self.plane.restore_edge(dc)
            except Exception as exc:
                self._record(events.PROBE_FAIL, dc=dc, error=f"restoring {dc}'s service paths failed: {_brief(exc)}",
                             consecutive=-1)
                return
            self._edge_fenced.discard(dc)
            self._record(events.FENCE_LIFTED, dc=dc, method="edge",
                         reason="fenced read-only" if route.document.get("active") != dc else f"{dc} is the writer again")

    def _maybe_late_fence(self, dc: str) -> None:
        """An old active that we could not fence during failover is fenced as soon as it is
        reachable again, before a stale client can write to it."""
        if dc not in self._late_fence or not self.settings.fencing:
            return
        with self._decision_lock:
            route = self._read_route_quietly()
            if route is not None and route.document.get("active") == dc:
                self._late_fence.discard(dc)
                return
            try:
                self.plane.set_read_only(dc, True)
                self._late_fence.discard(dc)
                self._record(events.FENCE, dc=dc, ok=True, method="read_only", late=True)
            except Exception as exc:
                self._record(events.FENCE, dc=dc, ok=False, method="read_only", late=True, error=_brief(exc))

    def _read_route_quietly(self) -> RouteLike | None:
        try:
            return self.plane.read_route()
        except Exception:
            return None

    def _on_failed(self, dc: str, consecutive: int) -> None:
        with self._decision_lock:
            other = self.plane.other(dc)
            try:
                alive = self.plane.peer_alive(dc, other)
            except Exception:
                alive = None
            self._record(events.DC_FAILED, dc=dc, verdict=verdict(alive), consecutive=consecutive)
            route = self._read_route_quietly()
            if route is None:
                self._record(events.FAILOVER_REFUSED, **{"from": dc, "to": other},
                             reason="config centre unreachable: cannot read the route")
                return
            if route.document.get("active") != dc:
                return  # the standby failed: nothing to switch, the detection is journaled
            if not self.settings.auto_failover:
                self._record(events.FAILOVER_REFUSED, **{"from": dc, "to": other},
                             reason="automatic failover is off")
                return
            until = self.flapping.blocked_until(self.clock())
            if until is not None:
                if dc not in self._blocked_reported:
                    self._blocked_reported.add(dc)
                    self._record(events.FAILOVER_BLOCKED, dc=dc, reason="anti-flapping", until_mono_ns=until)
                return
            reason = self._ineligible(other, dc)
            if reason:
                self._record(events.FAILOVER_REFUSED, **{"from": dc, "to": other}, reason=reason)
                return
            self._failover(route, dc, other, mode="auto", forced=False)

    def _ineligible(self, candidate: str, source: str) -> str | None:
        with self._tracker_lock:
            healthy = self.tracker.is_healthy(candidate)
        if not healthy:
            return f"candidate {candidate} is failing its probes too"
        try:
            if not self.plane.replicates_from(candidate, source):
                return (f"candidate {candidate} is not a replica of {source} "
                        "(promoting it would be an automatic failback of stale data)")
        except Exception as exc:
            return f"cannot read {candidate}'s replication state: {_brief(exc)}"
        return None

    # ---- unplanned failover --------------------------------------------------------------------
    def _failover(self, route: RouteLike, old: str, new: str, *, mode: str, forced: bool) -> bool:
        ends = {"from": old, "to": new}
        self._record(events.FAILOVER_START, **ends, mode=mode)
        fenced = edge = False
        if self.settings.fencing:
            try:
                self.plane.set_read_only(old, True)
                fenced = True
                self._record(events.FENCE, dc=old, ok=True, method="read_only")
            except Exception as exc:
                self._late_fence.add(old)
                self._record(events.FENCE, dc=old, ok=False, method="read_only", error=_brief(exc))
                edge = self._cut_edge(old)
        else:
            self._record(events.FENCE, dc=old, ok=False, skipped=True, error="fencing disabled by the scenario")

        started = self.clock()
        while True:
            try:
                lag = self.plane.replication_lag(new)
            except Exception:
                lag = None
            decision = self.guard.decide(lag, (self.clock() - started) / 1e9, forced)
            if decision == GUARD_PROMOTE:
                break
            if decision == GUARD_REFUSE:
                shown = "unknown" if lag is None else f"{lag:.3f}s"
                reason = f"promotion guard: {new} is behind by {shown} > max_lag {self.settings.max_lag}s after waiting {self.settings.lag_wait}s"
                self._record(events.FAILOVER_REFUSED, **ends, reason=reason)
                if fenced:  # do not leave the only writer fenced when nobody replaces it
                    try:
                        self.plane.set_read_only(old, False)
                        self._record(events.FENCE_LIFTED, dc=old, method="read_only", reason="failover refused")
                    except Exception:
                        pass
                if edge:
                    self._restore_edge(old, reason="failover refused")
                self._record(events.FAILOVER_END, **ends, ok=False, error=reason)
                return False
            self.sleep(0.05)

        try:
            self.plane.stop_replication(new)
            self._record(events.REPLICATION_STOPPED, dc=new)
            self.plane.set_read_only(new, False)
            self._record(events.PROMOTE, dc=new)
        except Exception as exc:
            self._record(events.FAILOVER_END, **ends, ok=False, error=_brief(exc))
            return False
        if not self._publish(route, old, new):
            self._record(events.FAILOVER_END, **ends, ok=False, error="route changed under us (compare-and-swap lost)")
            return False
        self.flapping.record_recovery(self.clock())
        self._record(events.FAILOVER_END, **ends, ok=True)
        return True

    def _cut_edge(self, dc: str) -> bool:
        """Fence a primary that cannot be told to stop (hung, unreachable, dead) at the network
        edge, before anyone else is promoted: its application and link service paths are cut,
        as a load balancer, VIP or security-group change would. Whatever it still holds may
        commit there, but no client will ever be acknowledged by it."""
        if not self.settings.edge_fencing:
            return False
        try:
            paths = self.plane.cut_edge(dc)
        except Exception as exc:
            self._record(events.FENCE, dc=dc, ok=False, method="edge", error=_brief(exc))
            return False
        self._edge_fenced.add(dc)
        self._record(events.FENCE, dc=dc, ok=True, method="edge", paths=paths)
        return True

    def _restore_edge(self, dc: str, *, reason: str) -> None:
        try:
            self.plane.restore_edge(dc)
        except Exception:
            return
        self._edge_fenced.discard(dc)
        self._record(events.FENCE_LIFTED, dc=dc, method="edge", reason=reason)

    def publish_route(self, route: RouteLike, to: str) -> int | None:
        """Publish `to` as active on top of the route we read, by compare-and-swap on its
        revision: a controller acting on a stale read loses instead of overwriting."""
        document = successor_document(route.document, to)
        revision = self.plane.publish_route(document, route.revision)
        if revision is None:
            current = self._read_route_quietly()
            self._record(events.ROUTE_CAS_LOST, expected_revision=route.revision,
                         actual_revision=None if current is None else current.revision)
            return None
        self._record(events.ROUTE_PUBLISHED, **{"from": route.document.get("active"), "to": to},
                     epoch=document["epoch"], revision=revision)
        return revision

    def _publish(self, route: RouteLike, old: str, new: str) -> bool:
        if self.publish_route(route, new) is not None:
            return True
        current = self._read_route_quietly()
        if current is None or current.document.get("active") != new:
            try:  # someone else decided otherwise: do not leave a second writer behind
                self.plane.set_read_only(new, True)
            except Exception:
                pass
        return False

    # ---- requests from the runner ------------------------------------------------------------
    def _current_route(self) -> RouteLike:
        route = self._read_route_quietly()
        if route is None:
            raise ControllerError("cannot read the routing document from the config centre")
        return route

    def failover(self, to: str | None = None, force: bool = False) -> None:
        """A requested (manual or forced) unplanned failover; not subject to anti-flapping."""
        with self._decision_lock:
            route = self._current_route()
            old = route.document.get("active")
            new = to or self.plane.other(old)
            if new == old:
                self._record(events.FAILOVER_REFUSED, **{"from": old, "to": new}, reason=f"{new} is already active")
                raise ControllerError(f"failover refused: {new} is already the active DC")
            if not force and not self.plane.replicates_from(new, old):
                reason = f"{new} is not a replica of {old}; use force to promote it anyway"
                self._record(events.FAILOVER_REFUSED, **{"from": old, "to": new}, reason=reason)
                raise ControllerError(f"failover refused: {reason}")
            if not self._failover(route, old, new, mode="forced" if force else "manual", forced=force):
                raise ControllerError(f"failover {old} -> {new} did not complete; see the journal")

    def switchover(self, to: str | None = None) -> None:
        self._planned("switchover", to)

    def failback(self, to: str | None = None) -> None:
        self._planned("failback", to)

    def _planned(self, kind: str, to: str | None) -> None:
        """Zero-loss switch: write ban, wait for the link to apply everything, reverse the
        link with the declared filter list, promote, publish. A switch to the DC that is
        already the writer is refused before anything is touched: a failback to the active
        side, or one after no failover at all, is an operator's mistake, not a no-op."""
        with self._decision_lock:
            route = self._current_route()
            old = route.document.get("active")
            new = to or self.plane.other(old)
            ends = {"from": old, "to": new}
            if new == old:
                reason = (f"{new} is already the active DC" +
                          ("; there is nothing to fail back (no failover moved the writer away from it)"
                           if kind == "failback" else ""))
                self._record(events.FAILOVER_REFUSED, **ends, kind=kind, reason=reason)
                raise ControllerError(f"{kind} to {new} refused: {reason}")
            self._record(events.SWITCHOVER_START, kind=kind, **ends)
            banned = reversed_link = False
            try:
                if not self.plane.replicates_from(new, old):
                    if kind != "failback":
                        raise ControllerError(f"{kind} refused: {new} is not a replica of {old}")
                    # after an unplanned failover the old side stands alone: make it a replica
                    # of the active one (same filter list) so it can catch up before the switch
                    self.plane.set_read_only(new, True)
                    filters = self.plane.reverse_link(source=old, replica=new)
                    self._record(events.LINK_REVERSED, source=old, replica=new, filters=filters)
                self.plane.set_read_only(old, True)
                banned = True
                self._record(events.WRITE_BAN, dc=old)
                position = self.plane.gtid_executed(old)
                t0 = time.monotonic()
                ok = self.plane.wait_for_gtid(new, position, self.settings.lag_wait)
                self._record(events.GTID_WAIT, dc=new, source=old, position=position, ok=ok,
                             waited_ms=round((time.monotonic() - t0) * 1000, 1))
                if not ok:
                    raise ControllerError(
                        f"{kind} aborted: {new} did not apply {old}'s position within {self.settings.lag_wait}s")
                self.plane.stop_replication(new)
                self._record(events.REPLICATION_STOPPED, dc=new)
                filters = self.plane.reverse_link(source=new, replica=old)
                reversed_link = True
                self._record(events.LINK_REVERSED, source=new, replica=old, filters=filters)
                self.plane.set_read_only(new, False)
                self._record(events.PROMOTE, dc=new)
                if not self._publish(route, old, new):
                    raise ControllerError(f"{kind} lost the route compare-and-swap: another writer changed it")
                self.flapping.record_recovery(self.clock())
                self._late_fence.discard(new)
                self._record(events.SWITCHOVER_END, kind=kind, **ends, ok=True)
            except Exception as exc:
                if banned and not reversed_link:  # nothing changed hands: lift the ban
                    try:
                        self.plane.set_read_only(old, False)
                        self._record(events.FENCE_LIFTED, dc=old, method="read_only", reason=f"{kind} aborted")
                    except Exception:
                        pass
                self._record(events.SWITCHOVER_END, kind=kind, **ends, ok=False, error=_brief(exc))
                if isinstance(exc, ControllerError):
                    raise
                raise ControllerError(f"{kind} {old} -> {new} failed: {_brief(exc)}") from exc
