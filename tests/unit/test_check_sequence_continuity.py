from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_check_history import Drill, failover_drill

from drills import events as ev
from drills.checks import sequence_continuity as sequence


def test_clean_switch_with_refetch_passes() -> None:
    v = sequence.check(failover_drill().history(), sequence_name="orders")
    assert v.status == "passed", v.summary
    assert v.measured == {"committed_twice": 0, "duplicate_key_errors": 0, "overlapping_segments": 0,
                          "not_above_previous": 0, "standby_behind": 0, "skipped_ids": (10000 - 10) + (10000 - 5)}
    assert v.evidence["high_water_mark"] == {"active_dc": "dc2", "largest_id_in_use": 10005, "next_val": 20001,
                                             "name": "orders", "seq": v.evidence["high_water_mark"]["seq"], "ok": True}
    segs = v.evidence["skipped_ids"]["segments"]
    assert [(s["low"], s["used"]) for s in segs] == [(1, 10), (10001, 5)]


def incident() -> Drill:
    """The seed-002 incident: the sequence table is filtered, dc2's sequence still says 1,
    the application keeps no segment across the switch (refetch off, fetched on dc2)."""
    d = Drill()
    d.route("dc1", 1)
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc1", name="orders", low=1, high=10000)
    for i in range(1, 11):
        d.write(i, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="p", type="port_change", target="app:dc1")
    d.at(740).route("dc2", 2, previous="dc1")
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc2", name="orders", low=1, high=10000)
    d.at(900)
    d.write(1, "dc2", 2, "fail", error_code=1062)
    d.write(2, "dc2", 2, "fail", error_code=1062)
    d.at(2000).event(ev.OBSERVE_IDS, "observer", dc="dc2", table="app.orders", ranges=[[1, 10]])
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=10001)
    return d


def test_incident_collision_after_switch_fails_naming_both_ops() -> None:
    v = sequence.check(incident().history(), sequence_name="orders")
    assert v.status == "failed"
    dups = v.evidence["duplicate_key_errors"]
    assert [(e["op"], e["id"], e["dc"]) for e in dups] == [(11, 1, "dc2"), (12, 2, "dc2")]
    assert [c["op"] for c in dups[0]["conflicts_with"]] == [1]
    assert dups[0]["conflicts_with"][0]["dc"] == "dc1"
    regress = v.evidence["not_above_previous"]
    assert [r["id"] for r in regress] == [1, 2]
    assert regress[0]["highest_before_switch"]["id"] == 10
    assert "ID 1 in op 11, already used by op 1" in v.summary


def test_id_acknowledged_twice_names_both_ops() -> None:
    d = failover_drill(lost=2)
    d.at(3000).write(9, "dc2", 2)  # dc2 never got dc1's 9, so the insert succeeds a second time
    v = sequence.check(d.history())
    assert v.status == "failed"
    twice = v.evidence["committed_twice"]
    assert twice == [{"id": 9, "ops": [twice[0]["ops"][0], twice[0]["ops"][1]]}]
    assert [(o["op"], o["dc"]) for o in twice[0]["ops"]] == [(9, "dc1"), (16, "dc2")]


def test_keeping_the_old_segment_after_a_switch_is_caught_before_any_collision() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(10001, "dc1", 1, worker=1)
    d.write(5, "dc1", 1, worker=0)
    d.at(100).route("dc2", 2, previous="dc1")
    d.at(200).write(6, "dc2", 2, worker=0)  # worker 0 carries on with its pre-switch segment
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=20001)
    v = sequence.check(d.history())
    assert v.status == "failed"
    assert v.evidence["not_above_previous"][0]["id"] == 6
    assert v.evidence["not_above_previous"][0]["highest_before_switch"]["op"] == 1


def test_high_water_mark_below_ids_in_use_fails() -> None:
    d = failover_drill()
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=10002)
    v = sequence.check(d.history(), sequence_name="orders")
    assert v.status == "failed" and v.evidence["high_water_mark"]["ok"] is False
    assert "would hand out 10002 next, below ID 10005" in v.summary


def test_unknown_without_sequence_reading_or_without_orders() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    v = sequence.check(d.history())
    assert v.status == "unknown" and "never read" in v.summary
    empty = Drill()
    empty.route("dc1", 1)
    assert sequence.check(empty.history()).status == "unknown"


# ---- generated histories against a reference ---------------------------------------------------

op_spec = st.tuples(st.integers(1, 30), st.sampled_from(["dc1", "dc2"]), st.sampled_from(["ok", "ok", "fail", "info"]),
                    st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(op_spec, max_size=20), st.lists(op_spec, max_size=20), st.integers(0, 40))
def test_sequence_findings_match_reference(before: list, after: list, next_val: int) -> None:
    d = Drill()
    d.route("dc1", 1)
    rows = []
    for wid, _dc, outcome, dup in before:
        rows.append((d.write(wid, "dc1", 1, outcome, error_code=1062 if outcome == "fail" and dup else None), wid, 1,
                     outcome, dup))
    d.at(10_000).route("dc2", 2, previous="dc1")
    for wid, _dc, outcome, dup in after:
        rows.append((d.write(wid, "dc2", 2, outcome, error_code=1062 if outcome == "fail" and dup else None), wid, 2,
                     outcome, dup))
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=next_val)
    v = sequence.check(d.history())

    acked = [(op, wid, ep) for op, wid, ep, outcome, _ in rows if outcome == "ok"]
    twice_ref = sorted({wid for _, wid, _ in acked if sum(1 for _, w, _ in acked if w == wid) > 1})
    dups_ref = [op for op, _, _, outcome, dup in rows if outcome == "fail" and dup]
    top_before = max((wid for _, wid, ep in acked if ep == 1), default=None)
    regress_ref = [op for op, wid, ep, _, _ in rows if ep == 2 and top_before is not None and wid <= top_before]
    hwm_bad = bool(acked) and next_val < max(wid for _, wid, _ in acked)

    assert [t["id"] for t in v.evidence["committed_twice"]] == twice_ref
    assert [e["op"] for e in v.evidence["duplicate_key_errors"]] == dups_ref
    assert sorted(r["op"] for r in v.evidence["not_above_previous"]) == sorted(regress_ref)
    if twice_ref or dups_ref or regress_ref or hwm_bad:
        assert v.status == "failed"
    elif not acked:
        assert v.status == "unknown"
    else:
        assert v.status == "passed"


# ---- issue 10 --------------------------------------------------------------------------------------


def test_overlapping_segments_fail_before_any_id_is_used_twice() -> None:
    """Two allocations handed out the same range: a failure on its own, even though no order
    with an overlapping ID was acknowledged twice (yet)."""
    d = Drill()
    d.route("dc1", 1)
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc1", name="orders", low=1, high=100)
    for i in range(1, 6):
        d.write(i, "dc1", 1)
    d.at(100).route("dc2", 2, previous="dc1")
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc2", name="orders", low=51, high=150)
    d.write(120, "dc2", 2)
    d.at(500).event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=151)
    v = sequence.check(d.history(), sequence_name="orders")
    assert v.status == "failed" and v.measured["overlapping_segments"] == 1
    pair = v.evidence["overlapping_segments"][0]
    assert [(s["low"], s["high"], s["dc"]) for s in pair["segments"]] == [(1, 100, "dc1"), (51, 150, "dc2")]
    assert pair["ids"] == [51, 100]


def test_committed_but_unacknowledged_ids_count_as_used() -> None:
    """dc2 one allocation behind: the IDs of orders that committed on dc1 without their client
    knowing (read back by token) are handed out again after the switch."""
    from test_check_rpo import reused_ids_after_a_lost_allocation

    v = sequence.check(reused_ids_after_a_lost_allocation().history(), sequence_name="orders")
    assert v.status == "failed"
    assert v.measured["overlapping_segments"] == 1
    assert {r["id"] for r in v.evidence["not_above_previous"]} == {101, 102, 103}
    assert v.evidence["not_above_previous"][0]["highest_before_switch"]["outcome"] == "info"


def standby_reading(*, standby: int, active: int, caught_up: bool | None) -> Drill:
    d = failover_drill()
    d.at(50).event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=standby, role="standby",
                   source="dc1", source_next_val=active, caught_up=caught_up, when="baseline")
    return d


def test_a_standby_sequence_left_behind_is_the_latent_hazard() -> None:
    """Before any switch: dc1 hands out 10001+ and dc2, caught up, still says 1 — the sequence
    table is not replicated. That fails the check whatever happens after."""
    v = sequence.check(standby_reading(standby=1, active=10001, caught_up=True).history(), sequence_name="orders")
    assert v.status == "failed" and v.measured["standby_behind"] == 1
    assert "standby dc2's sequence 'orders' stood at 1 while the active dc1 was at 10001" in v.summary


def test_a_standby_reading_before_catch_up_proves_nothing() -> None:
    assert sequence.check(standby_reading(standby=1, active=10001, caught_up=False).history(),
                          sequence_name="orders").status == "passed"
    ok = sequence.check(standby_reading(standby=10001, active=10001, caught_up=True).history(), sequence_name="orders")
    assert ok.status == "passed" and "kept up with the active side" in ok.summary
