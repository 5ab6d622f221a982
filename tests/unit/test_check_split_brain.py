from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_check_history import Drill, failover_drill

from drills import events as ev
from drills.checks import split_brain


def test_clean_failover_passes() -> None:
    v = split_brain.check(failover_drill().history())
    assert v.status == "passed" and v.measured["split_brain_writes"] == 0
    assert "All 15 committed writes" in v.summary


def no_fencing() -> Drill:
    """Fencing disabled, dc1 only partitioned from the controller: a client that never saw
    epoch 2 keeps writing to dc1 after dc2 was promoted."""
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1, worker=0)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="part", type="down", target="etcd")
    d.at(500).route("dc2", 2, previous="dc1")
    d.at(600).write(10001, "dc2", 2, worker=1)
    d.at(650).write(2, "dc1", 1, worker=0)
    return d


def test_writes_accepted_by_the_old_side_after_the_route_moved_fail() -> None:
    v = split_brain.check(no_fencing().history())
    assert v.status == "failed"
    split = v.evidence["split_brain_writes"]
    assert [(w["op"], w["dc"], w["epoch"]) for w in split] == [(3, "dc1", 1)]
    assert split[0]["handover"]["epoch"] == 2 and split[0]["window_end_s_after_handover"] > 0.1
    assert "op 3 (ID 2)" in v.summary


def test_a_late_ack_after_a_fence_proves_the_fence_did_not_hold() -> None:
    """Issue 10: an acknowledgement that arrives after the DC was fenced is not tolerated."""
    d = Drill()
    d.route("dc1", 1)
    d.at(100).event(ev.FENCE, "controller", dc="dc1", ok=True, method="read_only")
    d.at(120).route("dc2", 2, previous="dc1")
    d.write(5, "dc1", 1, invoke_ms=90, took_ms=40)  # sent before the fence, acked after the publish
    v = split_brain.check(d.history())
    assert v.status == "failed"
    assert "the fence did not hold" in v.evidence["split_brain_writes"][0]["why"]

    unfenced = Drill()
    unfenced.route("dc1", 1)
    unfenced.at(120).route("dc2", 2, previous="dc1")
    unfenced.write(5, "dc1", 1, invoke_ms=90, took_ms=40)
    assert split_brain.check(unfenced.history()).status == "failed"


def test_a_late_ack_the_survivor_already_holds_committed_before_the_switch() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(100).event(ev.WRITE_BAN, "controller", dc="dc1")
    d.at(120).route("dc2", 2, previous="dc1")
    op = d.write(5, "dc1", 1, invoke_ms=90, took_ms=40)
    d.at(500).settle(op, dc1=True, dc2=True)  # dc2 applied it before it was promoted
    v = split_brain.check(d.history())
    assert v.status == "passed" and [w["op"] for w in v.evidence["proven_before_switch"]] == [op]


def hung_primary(*, edge_fence: bool) -> Drill:
    """A real dc1-hang, cut down: orders sent 2-3 ms after SIGSTOP took effect time out
    (info) — their clients give up *before* the switch — then epoch 2 makes dc2 active;
    SIGCONT resumes dc1, which commits what it held; it is fenced read-only only afterwards.
    The read-back finds the orders on dc1, not on dc2."""
    d = Drill()
    d.route("dc1", 1)
    for i in range(1, 6):
        d.write(i, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="dc1-hang", type="hang", target="dc1")
    held = [d.write(i, "dc1", 1, "info", invoke_ms=102 + i, took_ms=1000) for i in (6, 7, 8, 9)]
    d.at(800).event(ev.DC_FAILED, "controller", dc="dc1", verdict="unreachable", consecutive=3)
    d.event(ev.FAILOVER_START, "controller", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    d.at(1400).event(ev.FENCE, "controller", dc="dc1", ok=False, method="read_only", error="timed out")
    if edge_fence:
        d.event(ev.FENCE, "controller", dc="dc1", ok=True, method="edge", paths=["app:dc1", "link:dc1->dc2"])
    d.event(ev.PROMOTE, "controller", dc="dc2")
    d.at(1410).route("dc2", 2, previous="dc1")
    d.at(1500).write(10001, "dc2", 2)
    d.at(3000).event(ev.FAULT_HEAL, "fault", name="dc1-hang", type="hang", target="dc1", by="step", ok=True)
    d.at(3200).event(ev.FENCE, "controller", dc="dc1", ok=True, method="read_only", late=True)
    d.at(5000)
    for op in held:
        d.settle(op, dc1=True, dc2=False)
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=True)
    return d


def test_an_outcome_unknown_write_is_judged_over_its_whole_commit_window() -> None:
    """Issue 10 (split_brain 1): the 4 held orders may have committed after SIGCONT, while
    dc2 was the writer — unfenced, that is split brain, named op by op."""
    v = split_brain.check(hung_primary(edge_fence=False).history())
    assert v.status == "failed"
    assert [w["id"] for w in v.evidence["split_brain_writes"]] == [6, 7, 8, 9]
    assert "not fenced before epoch 2" in v.evidence["split_brain_writes"][0]["why"]


def test_held_writes_behind_an_edge_fence_are_loss_not_split_brain() -> None:
    v = split_brain.check(hung_primary(edge_fence=True).history())
    assert v.status == "passed" and [w["id"] for w in v.evidence["behind_edge_fence"]] == [6, 7, 8, 9]


def test_an_ack_after_an_edge_fence_fails() -> None:
    d = hung_primary(edge_fence=True)
    d.write(20, "dc1", 1, invoke_ms=1405, took_ms=100)  # acknowledged through the cut edge
    v = split_brain.check(d.history())
    assert v.status == "failed" and [w["id"] for w in v.evidence["split_brain_writes"]] == [20]


def test_a_write_that_committed_before_a_crash_is_not_split_brain() -> None:
    """The reverse false alarm: sent just before the crash, timed out after the failover,
    found on the restarted dc1 — it committed before the crash (rpo's business, not this)."""
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    held = d.write(2, "dc1", 1, "info", invoke_ms=99, took_ms=2000)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="dc1-crash", type="crash", target="dc1")
    d.at(700).event(ev.FENCE, "controller", dc="dc1", ok=False, method="read_only", error="refused")
    d.event(ev.PROMOTE, "controller", dc="dc2")
    d.at(710).route("dc2", 2, previous="dc1")
    d.at(800).write(10001, "dc2", 2)
    d.at(5000).settle(held, dc1=True, dc2=False)
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=lambda w: w["dc"] == "dc2")
    v = split_brain.check(d.history())
    assert v.status == "passed", v.summary


def test_a_ledger_line_without_an_epoch_is_judged_by_the_route_at_that_moment() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", None)
    d.at(100).route("dc2", 2, previous="dc1")
    d.at(200).write(2, "dc2", None)
    d.at(300).write(3, "dc1", None)  # the route named dc2 when it was sent
    v = split_brain.check(d.history())
    assert v.status == "failed"
    shared = v.evidence["epochs_with_two_writers"]
    assert [s["epoch"] for s in shared] == [2] and sorted(shared[0]["dcs"]) == ["dc1", "dc2"]


def test_two_dcs_under_one_epoch_fail() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.write(2, "dc2", 1)
    v = split_brain.check(d.history())
    assert v.status == "failed"
    shared = v.evidence["epochs_with_two_writers"][0]
    assert shared["epoch"] == 1 and sorted(shared["dcs"]) == ["dc1", "dc2"]
    assert shared["dcs"]["dc2"]["first"]["op"] == 2


def test_info_write_counts_as_accepted_only_when_settled_on_its_dc() -> None:
    d = no_fencing()
    d.ledger = [rec for rec in d.ledger if rec["op"] != 3]
    op = d.at(650).write(2, "dc1", 1, "info")
    d.settle(op, dc1=False, dc2=False)
    assert split_brain.check(d.history()).status == "passed"
    d.ledger = [rec for rec in d.ledger if not (rec["op"] == op and rec["type"] == "settle")]
    d.settle(op, dc1=True, dc2=False)
    assert split_brain.check(d.history()).status == "failed"


def test_no_accepted_write_is_unknown() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1, "fail")
    assert split_brain.check(d.history()).status == "unknown"


# ---- generated histories against a reference ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["dc1", "dc2"]), min_size=0, max_size=4),  # successive actives after the start
    st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 60), st.sampled_from(["dc1", "dc2"]), st.integers(1, 5),
                       st.booleans()), max_size=25),
    st.lists(st.integers(0, 1000), max_size=3),  # fence times (dc1 and dc2 alike)
)
def test_split_brain_matches_reference(actives: list[str], writes: list, fences: list[int]) -> None:
    """Acknowledged writes only: one is split brain exactly when its ack came after the first
    route of a newer epoch named another DC — a fence in between changes nothing (an ack
    after it proves it did not hold)."""
    d = Drill()
    d.route("dc1", 1)
    routes = [(0, 1, "dc1")]  # (time ms, epoch, active); the first is in force from the start
    prev = "dc1"
    for i, active in enumerate(actives):
        t = 200 * (i + 1)
        d.at(t).route(active, i + 2, previous=prev)
        routes.append((t, i + 2, active))
        prev = active
    for t in fences:
        d.at(t).event(ev.FENCE, "controller", dc="dc1", ok=True)
        d.at(t).event(ev.FENCE, "controller", dc="dc2", ok=True)
    ops = []
    for start, took, dc, epoch, ok in writes:
        epoch = min(epoch, len(routes))
        op = d.write(start, dc, epoch, "ok" if ok else "fail", invoke_ms=start, took_ms=took)
        ops.append((op, start, start + took, dc, epoch, ok))
    v = split_brain.check(d.history())

    by_epoch = {e: a for _, e, a in routes}
    shared_ref = sorted({ep for _, _, _, dc, ep, ok in ops if ok and by_epoch[ep] != dc}
                        | {ep for ep in by_epoch if len({dc for _, _, _, dc, e, ok in ops if ok and e == ep}) > 1})
    split_ref = []
    for op, _start, ack, dc, ep, ok in ops:
        if not ok:
            continue
        moved = [t for i, (t, e, a) in enumerate(routes) if i > 0 and e > ep and a != dc]
        if moved and ack > moved[0]:
            split_ref.append(op)

    assert sorted(s["epoch"] for s in v.evidence["epochs_with_two_writers"]) == shared_ref
    assert sorted(w["op"] for w in v.evidence["split_brain_writes"]) == sorted(split_ref)
    if not any(ok for *_, ok in ops):
        assert v.status == "unknown"
    else:
        assert v.status == ("failed" if shared_ref or split_ref else "passed")
