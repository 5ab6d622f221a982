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


def test_origin_is_the_last_injection_before_detection() -> None:
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
    assert "No write was acknowledged on dc2" in v.summary
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
