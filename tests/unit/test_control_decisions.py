from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drills.config_center import successor_document
from drills.control.decisions import (
    GUARD_PROMOTE,
    GUARD_REFUSE,
    GUARD_WAIT,
    AntiFlapping,
    ProbeTracker,
    PromotionGuard,
    verdict,
)
from drills.scenario.model import ControllerSpec


def test_probe_tracker_declares_once_after_n_consecutive_failures() -> None:
    t = ProbeTracker(3)
    kinds = [[c.kind for c in t.observe("dc1", "refused")] for _ in range(5)]
    assert kinds == [["probe.fail"], [], ["dc.failed"], [], []]
    assert t.is_failed("dc1")
    assert [c.kind for c in t.observe("dc1", None)] == ["probe.ok"]
    assert not t.is_failed("dc1") and t.is_healthy("dc1")


def test_probe_tracker_reports_a_changed_error_and_no_ok_without_failure() -> None:
    t = ProbeTracker(3)
    assert t.observe("dc1", None) == []
    t.observe("dc1", "refused")
    changes = t.observe("dc1", "timed out")
    assert [(c.kind, c.error, c.consecutive) for c in changes] == [("probe.fail", "timed out", 2)]


def test_intermittent_failures_below_the_threshold_are_never_declared() -> None:
    t = ProbeTracker(3)
    for _ in range(10):
        t.observe("dc1", "refused")
        t.observe("dc1", "refused")
        t.observe("dc1", None)
    assert not t.is_failed("dc1")


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 5))
def test_declared_exactly_when_the_run_of_failures_reaches_n(outcomes: list[bool], n: int) -> None:
    t = ProbeTracker(n)
    run = 0
    for ok in outcomes:
        changes = t.observe("dc2", None if ok else "refused")
        run = 0 if ok else run + 1
        assert any(c.kind == "dc.failed" for c in changes) == (run == n)


def test_verdict_distinguishes_unreachable_from_dead() -> None:
    assert verdict(True) == "unreachable"
    assert verdict(False) == "dead"
    assert verdict(None) == "dead"


def test_anti_flapping_blocks_for_the_period_only() -> None:
    f = AntiFlapping(block_period_ns=30_000_000_000)
    assert f.blocked_until(0) is None
    f.record_recovery(1_000)
    assert f.blocked_until(2_000) == 30_000_001_000
    assert f.blocked_until(30_000_001_000) is None


def test_promotion_guard() -> None:
    g = PromotionGuard(max_lag=1.0, lag_wait=5.0)
    assert g.decide(0.5, 0.0, forced=False) == GUARD_PROMOTE
    assert g.decide(3.0, 1.0, forced=False) == GUARD_WAIT
    assert g.decide(3.0, 5.0, forced=False) == GUARD_REFUSE
    assert g.decide(None, 5.0, forced=False) == GUARD_REFUSE
    assert g.decide(None, 0.0, forced=True) == GUARD_PROMOTE


def test_successor_document_increments_epoch_and_keeps_the_rest() -> None:
    doc = {"active": "dc1", "epoch": 4, "algorithm": "single-read-write", "retry": {"times": 2, "delay_ms": 10}}
    new = successor_document(doc, "dc2")
    assert new["active"] == "dc2" and new["epoch"] == 5 and new["retry"] == {"times": 2, "delay_ms": 10}
    assert doc["epoch"] == 4  # the read document is not modified


def test_the_scenario_model_is_the_controllers_one_source_of_settings() -> None:
    """Issue 11: no second parser with its own defaults. The external command timeout a
    scenario sets is the one the controller uses (it was always 60 s)."""
    s = ControllerSpec.model_validate({"probe": {"interval": "100ms", "failures": 2}, "block_period": "3s"})
    assert s.probe.interval == 0.1 and s.probe.failures == 2 and s.probe.timeout == 0.2 and s.block_period == 3.0
    e = ControllerSpec.model_validate({"kind": "external", "failover": "./failover.sh", "command_timeout": "5s"})
    assert e.failover == "./failover.sh" and e.command_timeout == 5.0

    from drills.control.external import ExternalController

    assert ExternalController(e, None, None).settings.command_timeout == 5.0


def test_controller_events_keep_payload_keys_named_like_journal_parameters(tmp_path) -> None:  # noqa: ANN001
    """link.reversed has a `source` and switchover.start a `kind`: neither may be lost or
    collide with the journal's own source/kind."""
    from drills.control.reference import SOURCE
    from drills.journal import Journal, read

    j = Journal(tmp_path / "j.jsonl")
    j.record(SOURCE, "link.reversed", source="dc2", replica="dc1", filters={})
    j.record(SOURCE, "switchover.start", kind="failback", **{"from": "dc2", "to": "dc1"})
    j.close()
    lines = read(tmp_path / "j.jsonl")
    assert [(e["source"], e["kind"]) for e in lines] == [("controller", "link.reversed"), ("controller", "switchover.start")]
    first, second = lines[0]["payload"], lines[1]["payload"]
    assert first["source"] == "dc2"
    assert second["kind"] == "failback"
