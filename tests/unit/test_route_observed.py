"""Issue 19 item 2: routes are judged from what the runner's own watch of the routing key
saw, whoever wrote it — never from a controller's account of what it did."""

from __future__ import annotations

from test_check_history import Drill

from drills import events as ev
from drills.checks import rpo, rto, sequence_continuity, split_brain


def external_failover(*, lost: int = 0) -> Drill:
    """orchestrator's hook moves the key; drills' watch sees it. No controller event at all."""
    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=1, revision=2, initial=True)
    d.event(ev.WORKLOAD_START, "workload", kind="orders")
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc1", name="orders", low=1, high=10000)
    for i in range(1, 11):
        d.write(i, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="dc1-crash", type="crash", target="dc1")
    d.at(2600).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=2, revision=7)
    d.at(3000).event(ev.SEGMENT_FETCHED, "workload", dc="dc2", name="orders", low=10001, high=20000)
    for i in range(10001, 10006):
        d.write(i, "dc2", 2)
    d.at(4000).event(ev.WORKLOAD_STOP, "workload")
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=20001)
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=lambda w: w["dc"] == "dc2" or (w["id"] or 0) <= 10 - lost)
    return d


def test_a_switch_nobody_journaled_but_the_watch_is_timed_and_judged() -> None:
    h = external_failover().history()
    assert [(r.epoch, r.active) for r in h.routes] == [(1, "dc1"), (2, "dc2")]
    v = rto.check(h, rto=5.0)
    assert v.status == "passed" and v.evidence["changes"][0]["fault"]["name"] == "dc1-crash"
    assert rpo.check(h, objective=0).status == "passed"
    assert split_brain.check(h).status == "passed"
    assert sequence_continuity.check(h).status == "passed"


def test_writes_an_external_failover_lost_fail_rpo_with_their_list() -> None:
    """Issue 19 item 3: the link-only cut that orchestrator answered by promoting dc2 —
    acknowledged dc1 writes that never reached dc2 are named, not `unknown`."""
    v = rpo.check(external_failover(lost=4).history(), objective=0)
    assert v.status == "failed"
    lost = v.evidence["changes"][0]["lost"]
    assert sorted(w["id"] for w in lost) == [7, 8, 9, 10]


def test_the_route_is_read_the_way_the_client_reads_it() -> None:
    """A document that lowers or re-uses an epoch, or that the client cannot parse, never
    moves the application — so it is not a route in the timeline either."""
    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=3, revision=2, initial=True)
    d.write(1, "dc1", 3)
    d.at(100).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=2, revision=3)  # lower epoch: ignored
    d.at(200).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=3, revision=4)  # same epoch: ignored
    d.at(300).event(ev.ROUTE_CHANGED, "observer", revision=5, problem="the key holds no routing document: not JSON")
    d.at(400).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch="x", revision=6, problem="`epoch` is 'x'")
    d.at(500).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=4, revision=7)
    h = d.history()
    assert [(r.epoch, r.active, r.seq) for r in h.routes] == [(3, "dc1", 0), (4, "dc2", 5)]
    assert [(p.active, r.active) for p, r in h.switches()] == [("dc1", "dc2")]


def test_a_controller_that_claims_a_switch_the_key_never_showed_is_still_a_route_claim_only() -> None:
    """The reference controller's `route.published` and the watch agree in every real run;
    the watch's line is what times the route (earliest record of the epoch wins)."""
    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=1, revision=2, initial=True)
    d.at(100).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=2, revision=3)
    d.at(150).event(ev.ROUTE_PUBLISHED, "controller", **{"from": "dc1", "to": "dc2", "epoch": 2, "revision": 3})
    r = d.history().routes[1]
    assert r.mono_ns == 100_000_000 and r.previous == "dc1"


def test_external_controller_phases_are_shown_in_rto_but_never_time_it() -> None:
    d = external_failover()
    base = 100_000_000
    for phase, ms in (("detected", 2400), ("promoted", 2500), ("published", 2590)):
        d.at(ms + 1000).event(ev.CONTROLLER_EVENT, "controller", phase=phase, dc="dc1", at_mono_ns=base + (ms - 100) * 1_000_000,
                              clock="controller")
    d.at(50).event(ev.CONTROLLER_EVENT, "controller", phase="published", at_mono_ns=50_000_000, clock="controller")
    h = d.history()
    change = rto.check(h, rto=5.0).evidence["changes"][0]
    names = [p["phase"] for p in change["phases"]]
    assert names.index("controller:detected") < names.index("controller:promoted") < names.index("controller:published")
    assert names.count("controller:published") == 1  # the claim from before the fault is not a phase of it
    plain = rto.check(external_failover().history(), rto=5.0).evidence["changes"][0]
    assert change["measured_s"] == plain["measured_s"]
