from __future__ import annotations

from test_check_history import Drill, failover_drill

from drills import events as ev
from drills.checks import rto


def test_failover_within_objective_passes_with_phases_in_order() -> None:
    v = rto.check(failover_drill().history(), rto=5.0)
    assert v.status == "passed"
    assert v.measured == 0.851  # fault at 100 ms -> first ack on dc2 completed at 951 ms
    assert v.objective == 5.0
    change = v.evidence["changes"][0]
    assert change["origin"] == "fault.inject" and change["fault"]["type"] == "port_change"
    names = [p["phase"] for p in change["phases"]]
    assert names == ["fault.inject", "detected", "failover_start", "fenced", "replication_stopped", "promoted",
                     "route_published", "route_observed", "first_client_on_new_route", "first_ack"]
    assert [p["at_s"] for p in change["phases"]] == sorted(p["at_s"] for p in change["phases"])
    assert change["first_ack"]["dc"] == "dc2" and change["first_ack"]["id"] == 10001
    assert "dc2" in v.summary and "0.85 s" in v.summary


def test_failover_beyond_objective_fails_for_that_reason() -> None:
    v = rto.check(failover_drill().history(), rto=0.5)
    assert v.status == "failed"
    assert v.measured == 0.851
    assert "longer than the 0.5 s" in v.summary


def test_origin_is_the_fault_on_the_old_writer_still_in_force_at_detection() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(10).event(ev.FAULT_INJECT, "fault", name="first", type="latency", target="app:dc1")
    d.at(20).event(ev.FAULT_HEAL, "fault", name="first")
    d.at(300).event(ev.FAULT_INJECT, "fault", name="second", type="down", target="app:dc1")
    d.at(600).event(ev.DC_FAILED, "controller", dc="dc1")
    d.at(900).event(ev.FAULT_INJECT, "fault", name="after-detection", type="latency", target="link:dc1->dc2")
    d.at(1000).route("dc2", 2, previous="dc1")
    d.at(1300).write(2, "dc2", 2)
    change = rto.check(d.history(), rto=5).evidence["changes"][0]
    assert change["fault"]["name"] == "second"
    assert change["measured_s"] == 1.001


def test_planned_switchover_measures_the_write_unavailable_window() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(500).event(ev.SWITCHOVER_START, "controller", kind="switchover", **{"from": "dc1", "to": "dc2"})
    d.at(510).event(ev.WRITE_BAN, "controller", dc="dc1")
    d.at(600).event(ev.GTID_WAIT, "controller", dc="dc2", position="0-1-1", ok=True, waited_ms=90)
    d.at(620).event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters={})
    d.at(630).event(ev.PROMOTE, "controller", dc="dc2")
    d.at(640).route("dc2", 2, previous="dc1")
    d.at(810).write(2, "dc2", 2)
    v = rto.check(d.history(), rto=5.0, switchover_window=0.2)
    change = v.evidence["changes"][0]
    assert change["kind"] == "switchover" and change["origin"] == "write_ban"
    assert change["objective_name"] == "switchover_window"
    assert change["last_ack_old"]["op"] == 1
    assert v.measured == 0.301 and v.status == "failed" and v.objective == 0.2
    assert rto.check(d.history(), switchover_window=1.0).status == "passed"


def test_no_route_change_is_unknown() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(5).event(ev.FAULT_INJECT, "fault", name="x", type="latency", target="app:dc1")
    d.write(1, "dc1", 1)
    v = rto.check(d.history(), rto=1)
    assert v.status == "unknown" and "never changed" in v.summary


def test_writes_never_resumed_fails_once_the_record_outlasts_the_objective() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(400).route("dc2", 2, previous="dc1")
    d.at(3000).write(2, "dc2", 2, "fail")
    v = rto.check(d.history(), rto=2.0)
    assert v.status == "failed" and v.evidence["changes"][0]["at_least_s"] >= 2.9
    assert "No order was acknowledged on dc2 for at least 2.90 s" in v.summary
    short = rto.check(d.history(), rto=10.0)
    assert short.status == "unknown"


def test_without_objective_a_recovery_is_reported_and_passes() -> None:
    v = rto.check(failover_drill().history())
    assert v.status == "passed" and v.objective is None and "no objective set" in v.summary


def test_stale_epoch_ack_on_new_dc_does_not_count_as_recovery() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="f", type="down", target="app:dc1")
    d.at(200).route("dc2", 2, previous="dc1")
    d.at(250).write(5, "dc2", 1)  # a client still on epoch 1 cannot be the recovery
    d.at(600).write(6, "dc2", 2)
    change = rto.check(d.history(), rto=5).evidence["changes"][0]
    assert change["first_ack"]["op"] == 2


# ---- issue 10 --------------------------------------------------------------------------------------


def crash_then_unrelated_latency(*, latency: bool) -> Drill:
    """dc1 crashes at 100 ms (its in-flight order fails then); the monitor detects it at
    700 ms; orders resume on dc2 at 750 ms. With `latency`, a fault on dc2's application path
    is injected at 400 ms — between the crash and the detection."""
    d = Drill()
    d.route("dc1", 1)
    for i in range(1, 6):
        d.write(i, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="dc1-crash", type="crash", target="dc1")
    d.write(6, "dc1", 1, "info", invoke_ms=98, took_ms=2000)
    if latency:
        d.at(400).event(ev.FAULT_INJECT, "fault", name="slow-dc2", type="latency", target="app:dc2")
    d.at(700).event(ev.DC_FAILED, "controller", dc="dc1", verdict="dead", consecutive=3)
    d.at(720).route("dc2", 2, previous="dc1")
    d.at(749).write(10001, "dc2", 2)
    return d


def test_an_unrelated_fault_does_not_move_the_start() -> None:
    plain = rto.check(crash_then_unrelated_latency(latency=False).history(), rto=0.5)
    noisy = rto.check(crash_then_unrelated_latency(latency=True).history(), rto=0.5)
    assert plain.measured == noisy.measured == 0.65
    assert plain.status == noisy.status == "failed"
    assert noisy.evidence["changes"][0]["fault"]["name"] == "dc1-crash"


def test_the_outage_starts_at_the_first_failed_write_after_the_drilled_fault() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="slow", type="latency", target="app:dc1")
    d.at(300).write(2, "dc1", 1)  # still acknowledged through the latency
    d.at(500).write(3, "dc1", 1, "info", took_ms=1000)  # the first order that did not complete
    d.at(1500).event(ev.DC_FAILED, "controller", dc="dc1", verdict="unreachable", consecutive=3)
    d.at(1600).route("dc2", 2, previous="dc1")
    d.at(1800).write(10001, "dc2", 2)
    change = rto.check(d.history(), rto=5).evidence["changes"][0]
    assert change["measured_s"] == 1.301  # 500 ms -> 1801 ms, not from the injection at 100 ms


def test_a_path_broken_before_a_planned_switch_is_part_of_its_outage() -> None:
    """dc1's application path breaks at 0.1 s, the switchover is asked for at 3 s: the
    application could not write for 3.2 s, not for the 0.19 s since the write ban."""
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="cut", type="down", target="app:dc1")
    for t in range(100, 3000, 500):
        d.write(None, "dc1", 1, "fail", invoke_ms=t, took_ms=5, error_code=2003)
    d.at(3000).event(ev.SWITCHOVER_START, "controller", kind="switchover", **{"from": "dc1", "to": "dc2"})
    d.at(3010).event(ev.WRITE_BAN, "controller", dc="dc1")
    d.at(3150).route("dc2", 2, previous="dc1")
    d.at(3299).write(2, "dc2", 2)
    v = rto.check(d.history(), switchover_window=1.0)
    change = v.evidence["changes"][0]
    assert change["origin"] == "first_failed_write" and v.measured == 3.2 and v.status == "failed"


def test_writes_resume_with_an_order_not_a_segment_allocation() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(400).route("dc2", 2, previous="dc1")
    d.at(450).write(None, "dc2", 2, f="alloc_segment")
    d.at(450).write(None, "dc2", 2, f="write_job_log")
    d.at(900).write(10001, "dc2", 2)
    change = rto.check(d.history(), rto=5).evidence["changes"][0]
    assert change["first_ack"]["f"] == "write_order" and change["measured_s"] == 0.801


def test_time_after_the_workload_stopped_is_not_unavailability() -> None:
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="crash", type="crash", target="dc1")
    d.at(400).route("dc2", 2, previous="dc1")
    d.at(500).event(ev.WORKLOAD_STOP, "workload", ok=1, fail=0, info=0)
    d.at(30_000).event(ev.OBSERVE_IDS, "observer", dc="dc2", table="app.orders", ranges=[])  # evidence collection
    v = rto.check(d.history(), rto=2.0)
    assert v.status == "unknown" and "No order was attempted after the switch" in v.summary


def test_a_fault_that_left_the_old_writer_taking_orders_is_timed_from_its_last_ack() -> None:
    """Issue 19: a cut link made an external controller promote dc2 while dc1 kept taking
    orders; writes were never down, so the recovery is not three seconds long (the loss is
    rpo's to count)."""
    d = Drill()
    d.route("dc1", 1)
    d.write(1, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="cut", type="down", target="link:dc1->dc2")
    for t in range(200, 3000, 100):
        d.at(t).write(None, "dc1", 1)
    d.at(3000).route("dc2", 2)
    d.at(3050).write(None, "dc2", 2)
    change = rto.check(d.history(), rto=1.0).evidence["changes"][0]
    assert change["status"] == "passed" and change["origin"] == "last_ack_on_old_writer"
    assert 0.14 < change["measured_s"] < 0.16  # from dc1's last ack at ~2901 ms to dc2's at ~3051 ms
    assert "(link:dc1->dc2)" not in change["summary"] and "last order acknowledged by dc1" in change["summary"]


def test_clients_that_cannot_get_an_id_from_a_read_only_new_primary_are_demand() -> None:
    """From a real run (home-grown monitor publishing before it promotes): after the crash
    every worker asked the read-only dc2 for an ID segment, got 1290 and retried 5 s later,
    so no order was ever sent after the switch. The clients were trying to write for 8 s:
    a failed recovery, not one that "cannot be measured"."""
    d = Drill()
    d.route("dc1", 1)
    d.event(ev.WORKLOAD_START, "workload", kind="orders")
    d.at(1340).write(254, "dc1", 1)
    for worker in range(4):
        d.write(255 + worker, "dc1", 1, "info", invoke_ms=1352, took_ms=3, worker=worker, error_code=2013)
    d.at(1360).event(ev.FAULT_INJECT, "fault", name="dc1-crash", type="crash", target="dc1")
    d.at(2065).route("dc2", 2)
    for retry_ms in (2150, 7150):
        for worker in range(4):
            d.write(None, "dc2", 2, "fail", f="alloc_segment", invoke_ms=retry_ms + worker, worker=worker, error_code=1290)
    d.at(9340).event(ev.WORKLOAD_STOP, "workload", ok=255, fail=8, info=4)
    v = rto.check(d.history(), rto=3.0)
    change = v.evidence["changes"][0]
    assert v.status == "failed", v.summary
    assert change["orders_attempted_after_switch"] == 0
    assert change["segment_allocations_after_switch"] == {"refused_or_unanswered": 8, "error_codes": [1290]}
    assert change["at_least_s"] >= 7.9 and "8 refused ID segment requests" in v.summary
    # the same record with a longer objective cannot decide yet — never a pass
    assert rto.check(d.history(), rto=30.0).status == "unknown"
