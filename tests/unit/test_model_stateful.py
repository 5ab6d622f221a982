"""Stateful properties of the controller, the client router and the segment allocator,
driven against an in-memory model of two data centres (no processes: the very decision
code of the reference controller acts on the model through the ControlPlane interface)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from drills.control.reference import ControllerError, ReferenceController
from drills.scenario.model import ControllerSpec
from drills.workload.routing import RouteView
from drills.workload.sequence import Segment, SegmentAllocator, segment_from_high_water

DCS = ("dc1", "dc2")


class ListJournal:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, source: str, kind: str, /, **payload: Any) -> dict[str, Any]:
        rec = {"source": source, "kind": kind, "payload": payload}
        self.events.append(rec)
        return rec

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events]


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@dataclass
class StoredRoute:
    document: dict[str, Any]
    revision: int


@dataclass
class ModelDC:
    name: str
    reachable: bool = True  # service path (the app and the controller)
    alive: bool = True  # the process
    read_only: bool = False
    source: str | None = None  # replicates from
    executed: list[int] = field(default_factory=list)  # transaction ids, in order
    apply_delayed: bool = False  # a slow applier: received transactions wait
    edge_cut: bool = False  # the controller cut its service paths (edge fence)

    @property
    def serving(self) -> bool:
        """Clients (and the controller's probes) reach it on the service path."""
        return self.reachable and self.alive and not self.edge_cut


class ModelPlane:
    """Two DCs, a replication link, a routing key with revisions."""

    dcs = DCS

    def __init__(self) -> None:
        self.dc = {n: ModelDC(n) for n in DCS}
        self.dc["dc2"].read_only = True
        self.dc["dc2"].source = "dc1"
        self.route = StoredRoute(
            {"active": "dc1", "epoch": 1, "algorithm": "single-read-write", "retry": {"times": 3, "delay_ms": 50}},
            1,
        )
        self.history: list[StoredRoute] = [copy.deepcopy(self.route)]
        self.next_txn = 1

    def other(self, dc: str) -> str:
        return "dc2" if dc == "dc1" else "dc1"

    # --- replication -------------------------------------------------------------------
    def pending(self, replica: str) -> list[int]:
        r = self.dc[replica]
        if r.source is None:
            return []
        src = self.dc[r.source]
        return [t for t in src.executed if t not in set(r.executed)]

    def apply(self) -> None:
        for r in self.dc.values():
            if r.source and r.alive and not r.apply_delayed and self.dc[r.source].alive:
                r.executed.extend(self.pending(r.name))

    def write(self, dc: str) -> int:
        txn = self.next_txn
        self.next_txn += 1
        self.dc[dc].executed.append(txn)
        return txn

    # --- ControlPlane ----------------------------------------------------------------------
    def _reach(self, dc: str) -> ModelDC:
        d = self.dc[dc]
        if not d.serving:
            raise ConnectionError(f"{dc} unreachable")
        return d

    def probe(self, dc: str, timeout: float) -> str | None:
        return None if self.dc[dc].serving else "connection refused"

    def peer_alive(self, dc: str, witness: str) -> bool | None:
        w = self.dc[witness]
        return w.source == dc and self.dc[dc].alive and w.alive

    def set_read_only(self, dc: str, on: bool, via: str = "service") -> None:
        if via == "management":  # around the service paths: only a dead process refuses it
            if not self.dc[dc].alive:
                raise ConnectionError(f"{dc} is down")
            self.dc[dc].read_only = on
            return
        self._reach(dc).read_only = on

    def cut_edge(self, dc: str) -> list[str]:
        self.dc[dc].edge_cut = True
        return [f"app:{dc}"]

    def restore_edge(self, dc: str) -> None:
        self.dc[dc].edge_cut = False

    def replication_lag(self, dc: str) -> float | None:
        self._reach(dc)
        return float(len(self.pending(dc)))

    def replicates_from(self, replica: str, source: str) -> bool:
        return self._reach(replica).source == source

    def stop_replication(self, dc: str) -> None:
        self._reach(dc).source = None

    def gtid_executed(self, dc: str) -> str:
        return ",".join(map(str, self._reach(dc).executed))

    def wait_for_gtid(self, dc: str, gtid: str, timeout: float) -> bool:
        self.apply()
        want = {int(t) for t in gtid.split(",") if t}
        return want <= set(self._reach(dc).executed)

    def reverse_link(self, source: str, replica: str) -> dict[str, list[str]]:
        self._reach(replica).source = source
        self.apply()
        return {"ignore_tables": ["app.job_log"], "wild_ignore_tables": []}

    def read_route(self) -> StoredRoute:
        return copy.deepcopy(self.route)

    def publish_route(self, document: dict[str, Any], expected_revision: int) -> int | None:
        if expected_revision != self.route.revision:
            return None
        self.route = StoredRoute(copy.deepcopy(document), self.route.revision + 1)
        self.history.append(copy.deepcopy(self.route))
        return self.route.revision


def make_controller(plane: ModelPlane, clock: FakeClock, **overrides: Any) -> tuple[ReferenceController, ListJournal]:
    spec = {"probe": {"interval": 0.2, "timeout": 0.2, "failures": 3}, "max_lag": 1.0, "lag_wait": 0.5,
            "block_period": 30.0, "fencing": True}
    spec.update(overrides)
    journal = ListJournal()
    ctl = ReferenceController(ControllerSpec.model_validate(spec), plane, journal, clock=clock, sleep=clock.advance)
    return ctl, journal


class ControllerMachine(RuleBasedStateMachine):
    """Faults, probes, requests and clients interleaved arbitrarily."""

    clients = Bundle("clients")

    @initialize()
    def setup(self) -> None:
        self.plane = ModelPlane()
        self.clock = FakeClock()
        self.ctl, self.journal = make_controller(self.plane, self.clock)
        self.accepted: dict[int, set[str]] = {}  # epoch -> DCs that accepted writes under it
        self.views: list[RouteView] = []
        self.probed_since_heal = {dc: True for dc in DCS}

    @rule(target=clients)
    def new_client(self) -> int:
        view = RouteView()
        view.offer(self.plane.route.document, self.plane.route.revision)
        self.views.append(view)
        return len(self.views) - 1

    @rule(client=clients)
    def deliver_latest_route(self, client: int) -> None:
        self.views[client].offer(self.plane.route.document, self.plane.route.revision)

    @rule(client=clients, data=st.data())
    def deliver_stale_route(self, client: int, data: st.DataObject) -> None:
        old = data.draw(st.sampled_from(self.plane.history))
        before = self.views[client].current
        self.views[client].offer(old.document, old.revision)
        after = self.views[client].current
        assert after.epoch >= before.epoch, "a client went back to an older epoch"

    @rule(client=clients)
    def client_write(self, client: int) -> None:
        route = self.views[client].current
        d = self.plane.dc[route.active]
        if d.serving and not d.read_only:
            self.plane.write(route.active)
            self.accepted.setdefault(route.epoch, set()).add(route.active)

    @rule(dc=st.sampled_from(DCS), how=st.sampled_from(["port_change", "crash"]))
    def fault(self, dc: str, how: str) -> None:
        d = self.plane.dc[dc]
        d.reachable = False
        if how == "crash":
            d.alive = False

    @rule(dc=st.sampled_from(DCS))
    def heal(self, dc: str) -> None:
        d = self.plane.dc[dc]
        if not (d.reachable and d.alive):
            d.reachable = d.alive = True
            self.probed_since_heal[dc] = False

    @rule(dc=st.sampled_from(DCS), on=st.booleans())
    def slow_applier(self, dc: str, on: bool) -> None:
        self.plane.dc[dc].apply_delayed = on

    @rule()
    def replicate(self) -> None:
        self.plane.apply()

    @rule(rounds=st.integers(1, 4))
    def probe_rounds(self, rounds: int) -> None:
        for _ in range(rounds):
            for dc in DCS:
                self.ctl.probe_once(dc)
                if self.plane.dc[dc].reachable and self.plane.dc[dc].alive:
                    self.probed_since_heal[dc] = True
            self.clock.advance(0.2)

    @rule(seconds=st.sampled_from([1.0, 10.0, 31.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(kind=st.sampled_from(["switchover", "failback", "failover", "forced"]))
    def operator_request(self, kind: str) -> None:
        try:
            if kind == "switchover":
                self.ctl.switchover(None)
            elif kind == "failback":
                self.ctl.failback()
            else:
                self.ctl.failover(None, force=kind == "forced")
        except (ControllerError, ConnectionError):
            pass

    @rule()
    def stale_controller_publishes(self) -> None:
        """A second controller acting on a route read before the newest change."""
        if len(self.plane.history) < 2:
            return
        stale = copy.deepcopy(self.plane.history[-2])
        other, journal = make_controller(self.plane, self.clock)
        before = copy.deepcopy(self.plane.route)
        assert other.publish_route(stale, stale.document["active"]) is None
        assert self.plane.route == before
        assert journal.kinds() == ["route.cas_lost"]

    # --- properties ----------------------------------------------------------------------------
    @invariant()
    def at_most_one_writable_dc_per_epoch(self) -> None:
        for epoch, dcs in self.accepted.items():
            assert len(dcs) <= 1, f"epoch {epoch} accepted writes on {sorted(dcs)}"

    @invariant()
    def epochs_only_increase(self) -> None:
        epochs = [r.document["epoch"] for r in self.plane.history]
        assert epochs == sorted(set(epochs)), f"published epochs {epochs}"
        revisions = [r.revision for r in self.plane.history]
        assert revisions == sorted(set(revisions))

    @invariant()
    def reachable_standby_is_fenced(self) -> None:
        """Once the controller has probed it, a reachable DC that is not the routed writer
        refuses writes (fenced during failover, or late-fenced when it came back)."""
        active = self.plane.route.document["active"]
        for dc in DCS:
            d = self.plane.dc[dc]
            if dc != active and d.serving and self.probed_since_heal[dc]:
                assert d.read_only, f"{dc} is reachable, not routed, and writable"

    @invariant()
    def an_edge_is_restored_only_once_the_dc_is_fenced(self) -> None:
        """Edge fencing: the controller gives a cut-off DC its service paths back only after it
        is read-only (or the writer again) — never a writable stale primary in clients' reach."""
        active = self.plane.route.document["active"]
        for dc in DCS:
            d = self.plane.dc[dc]
            if dc != active and not d.edge_cut and dc in self.ctl._edge_fenced:
                raise AssertionError(f"{dc} marked edge-fenced but its paths are open")
            if any(e["kind"] == "fence.lifted" and e["payload"].get("dc") == dc and e["payload"].get("method") == "edge"
                   for e in self.journal.events[-1:]) and dc != active:
                assert d.read_only, f"{dc}'s edge was restored while it was writable"

    @invariant()
    def never_automatic_failback(self) -> None:
        """An automatic failover only ever promotes a replica of the failed writer."""
        for e in self.journal.events:
            if e["kind"] == "failover.start" and e["payload"]["mode"] == "auto":
                assert e["payload"]["to"] != e["payload"]["from"]


TestControllerModel = ControllerMachine.TestCase
TestControllerModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])


# ---- sequence allocation -----------------------------------------------------------------------


class SequenceModel:
    """The sequence table on both sides; updates on the active side replicate to the other
    (asynchronously: pending until applied) unless the table is on the filter list."""

    def __init__(self, replicated: bool, size: int):
        self.replicated = replicated
        self.size = size
        self.next_val = {"dc1": 1, "dc2": 1}
        self.pending: list[tuple[str, int]] = []  # (replica, value) not yet applied
        self.active = "dc1"
        self.epoch = 1

    def fetch(self, dc: str, epoch: int) -> Segment:
        assert dc == self.active, "the allocator fetched from a side that is not active"
        self.next_val[dc] += self.size
        if self.replicated:
            self.pending.append((self.other(dc), self.next_val[dc]))
        return segment_from_high_water(self.next_val[dc], self.size, dc, epoch)

    def other(self, dc: str) -> str:
        return "dc2" if dc == "dc1" else "dc1"

    def apply_one(self) -> None:
        if self.pending:
            replica, value = self.pending.pop(0)
            self.next_val[replica] = value

    def switch(self) -> None:
        """A planned switch (or a failover whose promotion guard waited for the applier):
        everything received is applied before the new side takes writes."""
        while self.pending:
            self.apply_one()
        self.active = self.other(self.active)
        self.epoch += 1


class SequenceMachine(RuleBasedStateMachine):
    replicated = True
    refetch = True

    @initialize(size=st.integers(1, 5))
    def setup(self, size: int) -> None:
        self.model = SequenceModel(self.replicated, size)
        self.apps = [SegmentAllocator(size, self.refetch) for _ in range(2)]
        self.handed_out: dict[int, str] = {}

    @rule(app=st.integers(0, 1), n=st.integers(1, 4))
    def allocate(self, app: int, n: int) -> None:
        for _ in range(n):
            value = self.apps[app].next_id(self.model.active, self.model.epoch, self.model.fetch)
            where = f"app{app} on {self.model.active} epoch {self.model.epoch}"
            assert value not in self.handed_out, f"ID {value} handed out twice ({self.handed_out[value]}; {where})"
            self.handed_out[value] = where

    @rule()
    def replicate(self) -> None:
        self.model.apply_one()

    @rule()
    def switch(self) -> None:
        self.model.switch()


class ReplicatedSequence(SequenceMachine):
    replicated, refetch = True, True


class ReplicatedSequenceNoRefetch(SequenceMachine):
    replicated, refetch = True, False


class FilteredSequenceNoRefetch(SequenceMachine):
    replicated, refetch = False, False


_seq_settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestReplicatedSequence = ReplicatedSequence.TestCase
TestReplicatedSequence.settings = _seq_settings
TestReplicatedSequenceNoRefetch = ReplicatedSequenceNoRefetch.TestCase
TestReplicatedSequenceNoRefetch.settings = _seq_settings


def test_filtered_sequence_without_refetch_hands_out_duplicates() -> None:
    """The incident of the source documents: the model must find the duplicate IDs."""
    with pytest.raises(AssertionError, match="handed out twice"):
        run_state_machine_as_test(FilteredSequenceNoRefetch, settings=settings(
            max_examples=300, stateful_step_count=30, deadline=None, database=None, print_blob=False))


class UnfencedControllerMachine(ControllerMachine):
    """The negative of `reachable_standby_is_fenced`: with fencing off, an old writer that
    comes back after a failover stays writable (the split-brain window)."""

    @initialize()
    def setup(self) -> None:
        super().setup()
        self.ctl, self.journal = make_controller(self.plane, self.clock, fencing=False)


def test_without_fencing_the_old_writer_stays_writable() -> None:
    with pytest.raises(AssertionError, match="reachable, not routed, and writable"):
        run_state_machine_as_test(UnfencedControllerMachine, settings=settings(
            max_examples=500, stateful_step_count=40, deadline=None, database=None, print_blob=False))


# ---- refused switches (issue 18: a failback to the active side switched traffic away) ----------------


@pytest.mark.parametrize(("kind", "to"), [("failback", "dc1"), ("switchover", "dc1")])
def test_a_switch_to_the_dc_already_active_is_refused_before_anything_changes(kind: str, to: str) -> None:
    plane = ModelPlane()
    ctl, journal = make_controller(plane, FakeClock())
    before = copy.deepcopy(plane.route)
    with pytest.raises(ControllerError, match=f"{kind} to dc1 refused: dc1 is already the active DC"):
        getattr(ctl, kind)(to)
    assert plane.route == before and not plane.dc["dc1"].read_only and plane.dc["dc2"].read_only
    assert journal.kinds() == ["failover.refused"]


def test_a_failback_with_no_target_goes_back_to_the_other_dc() -> None:
    plane = ModelPlane()
    ctl, journal = make_controller(plane, FakeClock())
    ctl.failback(None)
    assert plane.route.document["active"] == "dc2" and "switchover.start" in journal.kinds()
