from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_check_history import Drill, failover_drill

from drills import events as ev
from drills.checks import rpo
from drills.checks.rpo import GtidSet
from drills.scenario.model import RpoBound


def test_no_loss_passes_against_zero() -> None:
    v = rpo.check(failover_drill().history(), objective=0)
    assert v.status == "passed"
    assert v.measured["lost_writes"] == 0
    assert "Every one of the 10 write(s)" in v.summary


def test_lost_writes_are_listed_with_ids_and_ops_and_fail_a_zero_objective() -> None:
    v = rpo.check(failover_drill(lost=3).history(), objective=0)
    assert v.status == "failed"
    assert v.measured["lost_writes"] == 3
    lost = v.evidence["changes"][0]["lost"]
    assert [w["id"] for w in lost] == [8, 9, 10] and [w["op"] for w in lost] == [8, 9, 10]
    assert all(w["dc"] == "dc1" and w["outcome"] == "ok" for w in lost)
    assert v.measured["span_s"] == pytest.approx(0.004, abs=0.002)
    assert "3 write(s) committed on dc1" in v.summary and "more than the 0 lost write(s)" in v.summary
    assert "IDs 8, 9, 10" in v.summary


def test_a_bound_on_count_and_span() -> None:
    h = failover_drill(lost=3).history()
    assert rpo.check(h, objective=3).status == "passed"
    assert rpo.check(h, objective=RpoBound(max_writes=2)).status == "failed"
    assert rpo.check(h, objective=RpoBound.model_validate({"max_span": "1s"})).status == "passed"
    assert rpo.check(h, objective=RpoBound(max_span=0.001)).status == "failed"


def test_unplanned_without_objective_is_measured_only() -> None:
    v = rpo.check(failover_drill(lost=2).history())
    assert v.status == "passed" and v.measured["lost_writes"] == 2 and "sets no bound" in v.summary


def _switch(*, planned: bool) -> Drill:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.write(2, "dc1", 1)
    if planned:
        d.at(100).event(ev.SWITCHOVER_START, "controller", kind="switchover", **{"from": "dc1", "to": "dc2"})
        d.event(ev.WRITE_BAN, "controller", dc="dc1")
    else:
        d.at(100).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(200).route("dc2", 2, previous="dc1")
    d.at(300).write(10001, "dc2", 2)
    return d


def test_planned_switch_defaults_to_zero_loss() -> None:
    d = _switch(planned=True)
    d.at(1000).read_back(dc1=lambda w: w["dc"] == "dc1", dc2=lambda w: w["id"] in (1, 10001))
    v = rpo.check(d.history())
    assert v.status == "failed" and v.evidence["changes"][0]["kind"] == "planned"
    assert [w["id"] for w in v.evidence["changes"][0]["lost"]] == [2]


def test_info_writes_count_only_when_settled_present_on_the_old_side() -> None:
    d = _switch(planned=False)
    d.at(150)
    committed = d.write(3, "dc1", 1, "info", invoke_ms=150, took_ms=20)
    rolled_back = d.write(4, "dc1", 1, "info", invoke_ms=151, took_ms=20)
    d.at(1000)
    d.settle(committed, dc1=True, dc2=False)
    d.settle(rolled_back, dc1=False, dc2=False)
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=True)
    v = rpo.check(d.history(), objective=0)
    assert v.status == "failed"
    assert [(w["id"], w["outcome"]) for w in v.evidence["changes"][0]["lost"]] == [(3, "info")]


def test_info_write_on_a_side_that_could_not_be_read_leaves_it_unknown() -> None:
    d = _switch(planned=False)
    op = d.write(3, "dc1", 1, "info", invoke_ms=150, took_ms=20)
    d.at(1000)
    d.settle(op, dc1=None, dc2=False)  # dc1 was down when the writes were read back
    d.read_back(dc1=True, dc2=True)
    v = rpo.check(d.history(), objective=0)
    assert v.status == "unknown" and "could not be read back on dc1" in v.summary
    assert v.evidence["changes"][0]["unsettled"][0]["id"] == 3


def test_unknown_without_read_back_or_without_switch() -> None:
    v = rpo.check(_switch(planned=False).history(), objective=0)
    assert v.status == "unknown" and "never read back on dc2" in v.summary
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    assert rpo.check(d.history(), objective=0).status == "unknown"


def test_gtid_gap_when_the_old_primary_comes_back() -> None:
    d = failover_drill(lost=2)
    d.event(ev.OBSERVE_GTID, "observer", dc="dc1", gtid_executed="0-1-105", gtid_binlog_state="0-1-105")
    d.event(ev.OBSERVE_GTID, "observer", dc="dc2", gtid_executed="0-2-103", gtid_binlog_state="0-1-100,0-2-103")
    v = rpo.check(d.history(), objective=0)
    gap = v.evidence["changes"][0]["gtid_missing"]
    assert gap["set"] == "0-1-101..105" and gap["count"] == 5
    assert v.measured["gtid_transactions_missing"] == 5


# ---- GTID sets ---------------------------------------------------------------------------------

U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
U2 = "4f22ab58-82db-22f2-af44-d91bba53a673"


def test_mysql_gtid_set_difference() -> None:
    a = GtidSet.parse(f"{U1.upper()}:1-10:15-20,\n{U2}:1-3")
    b = GtidSet.parse(f"{U1}:1-5:17,{U2}:1-3")
    diff = a - b
    assert str(diff) == f"{U1}:6-10:15-16:18-20"
    assert diff.count() == 10
    assert (b - a).count() == 0 and not (b - a)


def test_mysql_tagged_gtids() -> None:
    a = GtidSet.parse(f"{U1}:1-5:batch:1-2")
    b = GtidSet.parse(f"{U1}:1-5")
    assert str(a - b) == f"{U1}:batch:1-2"


def test_mariadb_gtid_positions() -> None:
    a = GtidSet.parse("0-1-105,1-1-7")
    b = GtidSet.parse("0-1-100,0-2-103")
    assert str(a - b) == "0-1-101..105,1-1-1..7"
    assert GtidSet.parse("").count() == 0


def test_malformed_gtid_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a GTID set entry"):
        GtidSet.parse("nonsense")


@given(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 8)), max_size=6),
       st.lists(st.tuples(st.integers(1, 60), st.integers(0, 8)), max_size=6))
def test_gtid_difference_matches_a_set_model(a_runs: list[tuple[int, int]], b_runs: list[tuple[int, int]]) -> None:
    def text(runs: list[tuple[int, int]]) -> str:
        return f"{U1}:" + ":".join(f"{lo}-{lo + n}" for lo, n in runs) if runs else ""

    def members(runs: list[tuple[int, int]]) -> set[int]:
        return {i for lo, n in runs for i in range(lo, lo + n + 1)}

    diff = GtidSet.parse(text(a_runs)) - GtidSet.parse(text(b_runs))
    expected = members(a_runs) - members(b_runs)
    got = {i for lo, hi in diff.intervals.get(U1, []) for i in range(lo, hi + 1)}
    assert got == expected and diff.count() == len(expected)


# ---- generated histories against a reference ---------------------------------------------------

write_spec = st.tuples(st.integers(1, 40), st.sampled_from(["ok", "fail", "info"]), st.sampled_from([None, True, False]))


@settings(max_examples=150, deadline=None)
@given(st.lists(write_spec, max_size=25), st.sets(st.integers(1, 40), max_size=40), st.integers(0, 5))
def test_lost_writes_match_reference(writes: list[tuple[int, str, bool | None]], survivor: set[int], bound: int) -> None:
    """`survivor` holds the ops whose token dc2 has: IDs are drawn with repeats on purpose,
    so a reused ID can never stand in for a lost write."""
    d = Drill()
    d.route("dc1", 1)
    settled_present: dict[int, bool] = {}
    for i, (wid, outcome, present) in enumerate(writes):
        op = d.write(wid, "dc1", 1, outcome)
        if outcome == "info":
            d.settle(op, dc1=present, dc2=op in survivor)
            if present is not None:
                settled_present[i] = present
    d.at(10_000).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(10_100).route("dc2", 2, previous="dc1")
    d.at(20_000).read_back(dc1=True, dc2=lambda w: w["op"] in survivor)
    v = rpo.check(d.history(), objective=bound)

    # reference: a committed write is an ack, or an info read back on dc1
    accepted = [(i + 1, wid) for i, (wid, outcome, _) in enumerate(writes)
                if outcome == "ok" or (outcome == "info" and settled_present.get(i))]
    unsettled = any(outcome == "info" and i not in settled_present for i, (_, outcome, _) in enumerate(writes))
    lost_ref = sorted(op for op, _wid in accepted if op not in survivor)
    lost = sorted(w["op"] for w in v.evidence["changes"][0].get("lost", []))
    assert lost == lost_ref
    if len(lost_ref) > bound:
        assert v.status == "failed"
    elif unsettled or not accepted:
        assert v.status == "unknown"
    else:
        assert v.status == "passed"


def test_a_republished_route_does_not_end_the_old_sides_tenure() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(50).route("dc1", 2, previous="dc1")  # same active, new epoch (e.g. a retry setting changed)
    d.write(2, "dc1", 2)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(200).route("dc2", 3, previous="dc1")
    d.at(1000).read_back(dc1=True, dc2=lambda w: w["id"] == 2)
    v = rpo.check(d.history(), objective=0)
    assert [w["id"] for w in v.evidence["changes"][0]["lost"]] == [1]
    assert v.evidence["changes"][0]["accepted_writes"] == 2


# ---- issue 10: read-backs match by token and content, never by ID alone -------------------------


def reused_ids_after_a_lost_allocation() -> Drill:
    """dc2's sequence one allocation behind dc1: three orders (IDs 101-103) committed on dc1
    whose clients timed out are lost at the crash, and dc2 hands out 101-200 again. Every ID
    is present on dc2 — with other writes' tokens."""
    d = Drill()
    d.route("dc1", 1)
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc1", name="orders", low=1, high=100)
    for i in range(1, 101):
        d.write(i, "dc1", 1)
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc1", name="orders", low=101, high=200)
    lost = [d.write(i, "dc1", 1, "info", invoke_ms=2990 + i - 100, took_ms=2000) for i in (101, 102, 103)]
    d.at(3000).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(3500).event(ev.DC_FAILED, "controller", dc="dc1", verdict="dead", consecutive=3)
    d.at(3600).route("dc2", 2, previous="dc1")
    d.at(3700).event(ev.SEGMENT_FETCHED, "workload", dc="dc2", name="orders", low=101, high=200)
    for i in range(101, 111):
        d.write(i, "dc2", 2)
    d.at(9000)
    for op in lost:
        d.settle(op, dc1=True, dc2=False)  # on dc1 (restarted), not on dc2: dc2's 101-103 carry other tokens
    d.read_back(dc1=lambda w: w["dc"] == "dc1", dc2=True)
    d.event(ev.OBSERVE_IDS, "observer", dc="dc2", table="app.orders", ranges=[[1, 110]], count=110)
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=201)
    return d


def test_an_id_reissued_by_the_survivor_does_not_hide_a_lost_write() -> None:
    v = rpo.check(reused_ids_after_a_lost_allocation().history(), objective=0)
    assert v.status == "failed" and v.measured["lost_writes"] == 3
    assert [(w["id"], w["outcome"]) for w in v.evidence["changes"][0]["lost"]] == [(101, "info"), (102, "info"), (103, "info")]


def test_a_row_with_the_right_token_but_altered_content_is_not_the_write() -> None:
    d = _switch(planned=False)
    d.at(1000)
    # the read-back found write 2's token on dc2 with other content: `present` is False
    d.read_back(dc1=True, dc2=lambda w: w["id"] != 2)
    v = rpo.check(d.history(), objective=0)
    assert v.status == "failed" and [w["id"] for w in v.evidence["changes"][0]["lost"]] == [2]
