"""write_availability: the longest stretch of a running workload without an acknowledged
order — measured with or without a route change, never from anything but the ledger."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_check_history import Drill, failover_drill

from drills import events as ev
from drills.checks import write_availability as wa


def steady(d: Drill, dc: str, epoch: int, start_ms: float, end_ms: float, every_ms: float = 5.0) -> None:
    t = start_ms
    while t < end_ms:
        d.at(t).write(None, dc, epoch)
        t += every_ms


def test_an_outage_without_any_route_change_is_measured_and_fails() -> None:
    """Issue 19 item 4: a port change the monitor did not answer — no switch, so rto has
    nothing to time, but the application could not write for 10 s."""
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 1, 1000)
    last_ack = d.ledger[-1]["mono_ns"]
    d.at(1000).event(ev.FAULT_INJECT, "fault", name="dc1-port", type="port_change", target="app:dc1")
    for t in range(1001, 11200, 500):  # every attempt refused while the path is broken
        d.at(t).write(None, "dc1", 1, "fail", error_code=2003)
    d.at(11200).event(ev.FAULT_HEAL, "fault", name="dc1-port")
    steady(d, "dc1", 1, 11250, 12000)
    d.at(12000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "failed"
    longest = v.evidence["longest"][0]
    assert v.measured == longest["seconds"] and 10.2 < v.measured < 10.3
    assert longest["route_changes"] == [] and longest["faults_in_force"][0]["name"] == "dc1-port"
    assert longest["attempts"]["write_order"]["fail"] == 21 and longest["error_codes"] == {"2003": 21}
    assert longest["opened_by"]["dc"] == "dc1" and longest["closed_by"]["dc"] == "dc1"
    assert "no route change" in v.summary and "longer than the 5 s allowed (write_availability)" in v.summary
    assert abs(longest["from_s"] * 1e9 - last_ack) < 2e6


def test_the_same_record_passes_when_writes_resume_in_time() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 1, 1000)
    d.at(1000).write(None, "dc1", 1, "fail", error_code=2003)
    steady(d, "dc1", 1, 2000, 3000)
    d.at(3000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "passed" and 0.99 < v.measured < 1.01


def test_the_rto_is_the_objective_when_none_is_set_and_a_failover_is_timed_like_rto() -> None:
    v = wa.check(failover_drill().history(), rto=0.5)
    assert v.status == "failed" and v.objective == 0.5 and v.evidence["objective_name"] == "rto"
    assert "across the switch to dc2" in v.summary
    assert wa.check(failover_drill().history(), rto=5.0).status == "passed"
    free = wa.check(failover_drill().history())
    assert free.status == "passed" and free.objective is None and "no objective set" in free.summary


def test_an_outage_still_open_when_the_workload_stops_counts_up_to_the_stop() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 1, 500)
    d.at(600).write(None, "dc1", 1, "info", took_ms=5000)  # hung, then lost
    d.at(8000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "failed" and v.evidence["longest"][0]["closed_by"] == "workload.stop"
    assert 7.4 < v.measured < 7.6 and "still unable to write" in v.summary


def test_the_stop_is_when_it_was_asked_for_not_when_the_workers_finished() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 1, 1000)
    asked = 1001 * 1_000_000
    d.at(9000).event(ev.WORKLOAD_STOP, "workload", requested_mono_ns=asked)  # a worker took 8 s to notice
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "passed" and v.measured < 0.01


def test_a_workload_that_never_got_one_write_through_fails() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    for t in range(10, 6000, 100):
        d.at(t).write(None, "dc1", 1, "fail", error_code=1290)
    d.at(6000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "failed" and v.evidence["longest"][0]["opened_by"] == "workload.start"
    assert v.evidence["orders_acknowledged"] == 0


def test_a_segment_allocation_is_not_the_application_writing() -> None:
    """Acks of anything but orders (sequence segments, job logs) never close a window."""
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    d.at(1).write(1, "dc1", 1)
    for t in range(100, 7000, 200):
        d.at(t).write(None, "dc1", 1, f="alloc_segment")
        d.at(t + 50).write(None, "dc1", 1, "fail", error_code=1290)
    d.at(7000).write(2, "dc1", 1)
    d.at(7100).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "failed" and 6.9 < v.measured < 7.0
    assert v.evidence["longest"][0]["attempts"]["alloc_segment"] == {"ok": 35}


def test_time_the_workload_was_stopped_is_not_unavailability() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 1, 500)
    d.at(500).event(ev.WORKLOAD_STOP, "workload")
    d.at(60_000).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 60_001, 60_500)
    d.at(60_500).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=1.0)
    assert v.status == "passed" and v.measured < 0.01 and len(v.evidence["periods_s"]) == 2


def test_no_order_attempted_is_unknown_not_passed() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    d.at(10).write(None, "dc1", 1, f="alloc_segment")
    d.at(5000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=1.0)
    assert v.status == "unknown" and "No order was attempted" in v.summary


def test_an_external_ledger_without_workload_events_runs_from_first_order_to_last_outcome() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(100).write(None, "dc1", 1)
    d.at(200).write(None, "dc1", 1, "fail", error_code=2013)
    d.at(6300).write(None, "dc1", 1)
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "failed" and 6.1 < v.measured < 6.3


@settings(max_examples=200, deadline=None)
@given(acks=st.lists(st.integers(min_value=1, max_value=99_999), max_size=40, unique=True),
       stop=st.integers(min_value=100_000, max_value=200_000))
def test_the_measure_is_the_largest_gap_between_acks_in_the_running_period(acks: list[int], stop: int) -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    for t in sorted(acks):
        d.write(None, "dc1", 1, took_ms=0.001, invoke_ms=t)
    d.write(None, "dc1", 1, "fail", invoke_ms=1, error_code=2013)  # at least one attempt
    d.at(stop).event(ev.WORKLOAD_STOP, "workload")
    points = [0.0] + [t + 0.001 for t in sorted(acks)] + [float(stop)]
    expected = max(b - a for a, b in zip(points, points[1:], strict=False))
    v = wa.check(d.history())
    assert abs(v.measured - expected / 1000) <= 0.002
