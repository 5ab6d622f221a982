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
    assert longest["opened_by"]["first_order_sent"]["outcome"] == "fail" and longest["closed_by"]["dc"] == "dc1"
    assert "no route change" in v.summary and "longer than the 5 s allowed (write_availability)" in v.summary
    assert last_ack < longest["from_s"] * 1e9 < last_ack + 10e6  # the first refused order, just after the last ack


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


def retrying_failover() -> Drill:
    """failover_drill, with the client retrying dc1 through the outage (as a real one does)."""
    d = failover_drill()
    for t in range(110, 900, 100):
        d.write(None, "dc1", 1, "fail", invoke_ms=t, error_code=2003)
    return d


def test_the_rto_is_the_objective_when_none_is_set_and_a_failover_is_timed_like_rto() -> None:
    v = wa.check(retrying_failover().history(), rto=0.5)
    assert v.status == "failed" and v.objective == 0.5 and v.evidence["objective_name"] == "rto"
    assert "across the switch to dc2" in v.summary and 0.84 < v.measured < 0.85  # 110 ms -> the ack at ~951 ms
    assert wa.check(retrying_failover().history(), rto=5.0).status == "passed"
    free = wa.check(retrying_failover().history())
    assert free.status == "passed" and free.objective is None and "no objective set" in free.summary


def test_a_pause_nobody_wanted_to_write_in_is_not_an_outage() -> None:
    """A load generator that sends one order every ten seconds, each acknowledged at once,
    was never unable to write; nor was one that started late."""
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="external")
    for t in range(6000, 60_000, 10_000):
        d.at(t).write(None, "dc1", 1)
    d.at(60_000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), rto=5.0)
    assert v.status == "passed" and v.measured < 0.01


def test_an_outage_still_open_when_the_workload_stops_counts_up_to_the_stop() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    steady(d, "dc1", 1, 1, 500)
    d.at(600).write(None, "dc1", 1, "info", took_ms=5000)  # hung, then lost
    d.at(8000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=5.0)
    assert v.status == "failed" and v.evidence["longest"][0]["closed_by"] == "workload.stop"
    assert 7.39 < v.measured < 7.41 and "still unable to write" in v.summary  # from the hung order's send


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
    assert v.status == "failed" and v.evidence["longest"][0]["opened_by"]["first_order_sent"]["op"] == 1
    assert v.evidence["orders_acknowledged"] == 0 and v.measured == 5.99  # from the first order sent at 10 ms


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
    assert v.status == "failed" and 6.84 < v.measured < 6.86  # from the first refused order at 150 ms
    assert v.evidence["longest"][0]["attempts"]["alloc_segment"] == {"ok": 34}


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
       failure=st.integers(min_value=1, max_value=99_999), stop=st.integers(min_value=100_000, max_value=200_000))
def test_the_measure_is_bounded_by_the_demand_and_the_acks_around_it(acks: list[int], failure: int, stop: int) -> None:
    """Orders acknowledged at once never make an outage, however sparse; one refused order
    opens a window lasting at least until the next ack (or the stop); no window is longer
    than the gap between the acks around it."""
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    for t in sorted(acks):
        d.write(None, "dc1", 1, took_ms=0.001, invoke_ms=t)
    quiet = wa.check(_stopped(d, stop).history())
    if acks:
        assert quiet.measured <= 0.002
    else:
        assert quiet.status == "unknown"
    d.write(None, "dc1", 1, "fail", invoke_ms=failure, error_code=2013)
    v = wa.check(_stopped(d, stop).history())
    ends = [t + 0.001 for t in sorted(acks)] + [float(stop)]
    next_end = min(t for t in ends if t > failure)
    gaps = [b - a for a, b in zip([0.0, *ends[:-1]], ends, strict=True)]
    assert v.measured * 1000 >= next_end - failure - 0.002
    assert v.measured * 1000 <= max(gaps) + 0.002


def _stopped(d: Drill, stop: int) -> Drill:
    c = Drill()
    c.journal, c.ledger, c.next_op = list(d.journal), list(d.ledger), d.next_op
    c.at(stop).event(ev.WORKLOAD_STOP, "workload")
    return c


def test_a_restarted_client_numbering_its_ops_again_is_not_merged_into_the_first_run() -> None:
    """A second invoke of an op number is a different operation: merging it would let a
    segment allocation's ack stand in for an order's and close a window that never closed."""
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="external")
    d.at(100).write(None, "dc1", 1)  # op 1
    d.at(200).write(None, "dc1", 1, "fail", error_code=2003)  # op 2
    d.next_op = 2  # the generator restarts and numbers from 2 again
    d.at(5000).write(None, "dc1", 1, f="alloc_segment")  # op 2 again: not an order
    d.next_op = 3
    d.at(10_300).write(None, "dc1", 1)
    d.at(10_400).event(ev.WORKLOAD_STOP, "workload")
    h = d.history()
    assert any("invoked a second time" in p for p in h.ledger_problems)
    v = wa.check(h, objective=6.0)
    assert v.status == "failed" and 10.0 < v.measured < 10.2


def test_clients_refused_an_id_are_the_application_trying_to_write() -> None:
    """From a real run: after the route moved to a dc2 that was still read-only, every worker
    asked it for an ID segment, got 1290, and waited 5 s to retry — no order was sent. The
    demand was there all along; a window that waited for an order would never open."""
    d = Drill()
    d.route("dc1", 1)
    d.at(0).event(ev.WORKLOAD_START, "workload", kind="orders")
    d.at(1).write(1, "dc1", 1)
    d.at(700).route("dc2", 2)
    for retry_ms in (800, 5800):
        for worker in range(4):
            d.write(None, "dc2", 2, "fail", f="alloc_segment", invoke_ms=retry_ms + worker, worker=worker, error_code=1290)
    d.at(9000).event(ev.WORKLOAD_STOP, "workload")
    v = wa.check(d.history(), objective=3.0)
    assert v.status == "failed", v.summary
    assert 8.19 < v.measured < 8.21  # from the first refused request at 800 ms to the stop
    assert "first ID segment request sent to dc2" in v.summary
    assert v.evidence["longest"][0]["attempts"]["alloc_segment"] == {"fail": 8}
    assert v.evidence["orders_attempted"] == 1
