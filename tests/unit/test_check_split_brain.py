from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_check_history import Drill, failover_drill

from drills import events as ev
from drills.checks import split_brain


def test_clean_failover_passes() -> None:
    v = split_brain.check(failover_drill().history())
    assert v.status == "passed" and v.measured["superseded_writes"] == 0
    assert "All 15 accepted writes" in v.summary


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
    stale = v.evidence["superseded_writes"]
    assert [(w["op"], w["dc"], w["epoch"]) for w in stale] == [(3, "dc1", 1)]
    assert stale[0]["route"]["epoch"] == 2 and stale[0]["acked_s_after_route"] > 0.1
    assert "op 3 on dc1" in v.summary


def test_in_flight_write_acked_late_is_tolerated_only_after_a_fence() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(100).event(ev.FENCE, "controller", dc="dc1", ok=True)
    d.at(120).route("dc2", 2, previous="dc1")
    d.write(5, "dc1", 1, invoke_ms=90, took_ms=40)  # sent before the fence, ack read after the publish
    v = split_brain.check(d.history())
    assert v.status == "passed" and len(v.evidence["late_acks_after_fence"]) == 1

    unfenced = Drill()
    unfenced.route("dc1", 1)
    unfenced.at(120).route("dc2", 2, previous="dc1")
    unfenced.write(5, "dc1", 1, invoke_ms=90, took_ms=40)
    assert split_brain.check(unfenced.history()).status == "failed"


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

    # reference: brute force over the route list
    by_epoch = {e: a for _, e, a in routes}
    shared_ref = sorted({ep for _, _, _, dc, ep, ok in ops if ok and by_epoch[ep] != dc}
                        | {ep for ep in by_epoch if len({dc for _, _, _, dc, e, ok in ops if ok and e == ep}) > 1})

    def fenced(dc: str, lo: int | None, hi: int) -> bool:
        return any((lo is None or lo <= f) and f <= hi for f in fences)

    stale_ref, tolerated_ref = [], []
    for op, start, ack, dc, ep, ok in ops:
        if not ok:
            continue
        moved = [(i, t, e, a) for i, (t, e, a) in enumerate(routes) if i > 0 and t <= ack and e > ep and a != dc]
        if not moved:
            continue
        i, t, _, _ = moved[0]
        prev_t = routes[i - 1][0] if i - 1 > 0 else None
        if start < t and fenced(dc, prev_t, t):
            tolerated_ref.append(op)
        else:
            stale_ref.append(op)

    assert sorted(s["epoch"] for s in v.evidence["epochs_with_two_writers"]) == shared_ref
    assert sorted(w["op"] for w in v.evidence["superseded_writes"]) == sorted(stale_ref)
    assert sorted(w["op"] for w in v.evidence["late_acks_after_fence"]) == sorted(tolerated_ref)
    if not any(ok for *_, ok in ops):
        assert v.status == "unknown"
    else:
        assert v.status == ("failed" if shared_ref or stale_ref else "passed")
