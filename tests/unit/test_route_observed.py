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


def two_writers_under_unseen_epochs(*, watch_lost: bool) -> Drill:
    """A load generator that records the etcd revision as its epoch (5 on dc1, 9 on dc2):
    epochs the key never held. dc1 keeps acknowledging while dc2 does too."""
    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=1, revision=2, initial=True)
    if watch_lost:
        d.at(500).event(ev.ROUTE_WATCH, "observer", ok=False, error="etcd unreachable")
    for t in range(0, 3000, 100):
        d.at(t).write(None, "dc1", 5, invoke_ms=t)
        if t >= 1000:
            d.write(None, "dc2", 9, invoke_ms=t + 50)
    if not watch_lost:
        d.at(1000).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=2, revision=8)
    d.at(3500).read_back(dc1=lambda w: w["dc"] == "dc1", dc2=lambda w: w["dc"] == "dc2")
    return d


def test_writes_under_epochs_the_key_never_held_are_judged_by_the_route_of_their_time() -> None:
    h = two_writers_under_unseen_epochs(watch_lost=False).history()
    v = split_brain.check(h)
    assert v.status == "failed" and v.measured["split_brain_writes"] + v.measured["epochs_with_two_writers"] > 0
    assert any("never seen holding" in p for p in h.ledger_problems)


def test_a_pass_across_a_hole_in_the_watch_is_not_a_pass(tmp_path) -> None:  # noqa: ANN001
    """The watch lost etcd and never saw it again while the client wrote under epochs it
    never saw: nothing that judges writes against the route may pass."""
    from drills.checks.judge import ROUTE_CHECKS, judge_record
    from drills.scenario.model import Scenario

    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=1, revision=2, initial=True)
    d.event(ev.WORKLOAD_START, "workload", kind="orders")
    for i in range(1, 6):
        d.write(i, "dc1", 1)
    d.at(500).event(ev.ROUTE_WATCH, "observer", ok=False, error="etcd unreachable")
    for i in range(10001, 10006):
        d.at(1000 + i - 10001).write(i, "dc2", 2)
    d.at(2000).event(ev.WORKLOAD_STOP, "workload")
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=True)
    verdicts = {v["name"]: v for v in judge_record(d.save(tmp_path / "run"), Scenario(name="x"))}
    for name in ROUTE_CHECKS:
        assert verdicts[name]["status"] != "passed", (name, verdicts[name]["summary"])
    assert "hole" in verdicts["split_brain"]["summary"] or verdicts["split_brain"]["status"] == "failed"


def test_the_key_overrules_a_controllers_claim_about_an_epoch() -> None:
    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=1, revision=2, initial=True)
    d.at(100).event(ev.ROUTE_PUBLISHED, "controller", **{"from": "dc1", "to": "dc2", "epoch": 2, "revision": 3})
    d.at(110).event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=2, revision=3)
    d.at(200).write(1, "dc1", 2)
    d.read_back(dc1=True, dc2=False)
    h = d.history()
    assert [(r.epoch, r.active) for r in h.routes] == [(1, "dc1"), (2, "dc1")]
    assert h.route_problems[0]["kind"] == "claim_contradicted" and h.route_problems[0]["key"]["active"] == "dc1"
    assert split_brain.check(h).status == "passed"  # dc1 wrote under the epoch the key gave it


def test_an_epoch_reused_for_another_data_centre_fails_split_brain() -> None:
    d = Drill()
    d.event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=1, revision=2, initial=True)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.ROUTE_CHANGED, "observer", active="dc2", epoch=2, revision=3)
    d.at(200).write(2, "dc2", 2)
    seq = d.at(300).event(ev.ROUTE_CHANGED, "observer", active="dc1", epoch=2, revision=4)
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=True)
    v = split_brain.check(d.history())
    assert v.status == "failed" and v.evidence["epochs_reused"][0]["then"] == {"active": "dc1", "seq": seq}
    assert "under the same epoch 2" in v.summary


def test_the_watch_reads_a_document_exactly_as_the_client_does() -> None:
    from drills.observe.route_watch import document_problem
    from drills.workload.routing import RouteView

    docs = [{"active": "dc2", "epoch": 2}, {"active": "dc2", "epoch": 2, "retry": {"times": "three"}},
            {"active": "dc2"}, {"active": 2, "epoch": 2}, {"active": "dc2", "epoch": "2"},
            {"active": "dc2", "epoch": True}, {"active": "", "epoch": 3}, {"active": "dc2", "epoch": 2, "retry": []},
            {"active": "dc2", "epoch": 2, "retry": {"delay_ms": 1e308}}, {"active": "dc2", "epoch": [[[2]]]}]
    for doc in docs:
        view = RouteView()
        followed = view.offer(doc, 1)  # never raises: a document it cannot follow is ignored
        assert followed == (document_problem(doc) is None), doc
