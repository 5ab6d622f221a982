from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.errors import ConfigError
from drills.scenario.model import WorkloadSpec
from drills.workload.ledger import LedgerWriter, outcome_counts, read_ledger
from drills.workload.routing import RouteView
from drills.workload.sequence import SegmentAllocator, segment_from_high_water


def doc(active: str, epoch: int, delay_ms: int = 5000) -> dict:
    return {"active": active, "epoch": epoch, "retry": {"times": 3, "delay_ms": delay_ms}}


def test_route_view_only_moves_forward() -> None:
    v = RouteView()
    assert v.offer(doc("dc1", 1), 5)
    assert v.offer(doc("dc2", 2), 7)
    assert not v.offer(doc("dc1", 1), 5)
    assert not v.offer(doc("dc1", 2), 9)  # same epoch, different active: refused and kept as evidence
    assert v.current.active == "dc2" and v.current.epoch == 2
    assert [r.epoch for r in v.ignored] == [1, 2]


@given(st.lists(st.tuples(st.sampled_from(["dc1", "dc2"]), st.integers(0, 20))))
def test_route_view_epoch_is_the_running_maximum(offers: list[tuple[str, int]]) -> None:
    v = RouteView()
    best = None
    for active, epoch in offers:
        v.offer(doc(active, epoch))
        best = epoch if best is None else max(best, epoch)
        assert v.current.epoch == best


def test_route_view_retry_delay_from_document_or_override() -> None:
    v = RouteView()
    v.offer(doc("dc1", 1, delay_ms=250))
    assert v.current.retry_delay == 0.25 and v.current.retry_times == 3
    o = RouteView(delay_override=0.05)
    o.offer(doc("dc1", 1))
    assert o.current.retry_delay == 0.05


def test_waiting_for_a_route_change_wakes_early() -> None:
    v = RouteView()
    v.offer(doc("dc1", 1))
    threading.Timer(0.05, lambda: v.offer(doc("dc2", 2))).start()
    route = v.wait_for_change(1, timeout=5.0)
    assert route.active == "dc2"


def test_segment_from_high_water() -> None:
    seg = segment_from_high_water(10001, 10000, "dc1", 1)
    assert (seg.low, seg.high) == (1, 10000)


def test_allocator_refetches_after_a_route_change_and_records_the_abandoned_range() -> None:
    high = {"dc1": 1, "dc2": 1}

    def fetch(dc: str, epoch: int):
        high[dc] += 10
        return segment_from_high_water(high[dc], 10, dc, epoch)

    a = SegmentAllocator(10, refetch_on_switch=True)
    assert [a.next_id("dc1", 1, fetch) for _ in range(3)] == [1, 2, 3]
    high["dc2"] = high["dc1"]  # replicated
    assert a.next_id("dc2", 2, fetch) == 11
    assert a.abandoned == [(4, 10)]


def test_allocator_without_refetch_keeps_its_segment_across_a_switch() -> None:
    calls = []

    def fetch(dc: str, epoch: int):
        calls.append(dc)
        return segment_from_high_water(11, 10, dc, epoch)

    a = SegmentAllocator(10, refetch_on_switch=False)
    a.next_id("dc1", 1, fetch)
    assert a.next_id("dc2", 2, fetch) == 2
    assert calls == ["dc1"]


def test_allocator_is_safe_under_threads() -> None:
    high = [1]
    lock = threading.Lock()

    def fetch(dc: str, epoch: int):
        with lock:
            high[0] += 7
            return segment_from_high_water(high[0], 7, dc, epoch)

    a = SegmentAllocator(7, refetch_on_switch=True)
    out: list[int] = []

    def work() -> None:
        for _ in range(500):
            out.append(a.next_id("dc1", 1, fetch))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == len(set(out)) == 2000


def test_ledger_writer_lines_round_trip(tmp_path: Path) -> None:
    w = LedgerWriter(tmp_path / "ledger.jsonl")
    op = w.invoke("write_order", id=5, dc="dc1", epoch=1, worker=0, token="a" * 32)
    w.complete(op, "ok", "write_order", id=5, dc="dc1", epoch=1, worker=0)
    op2 = w.invoke("write_order", id=6, dc="dc1", epoch=1, worker=0, token="b" * 32)
    w.complete(op2, "fail", "write_order", id=6, dc="dc1", epoch=1, worker=0, error="dup", error_code=1062)
    w.close()
    recs = read_ledger(tmp_path / "ledger.jsonl")
    assert [(r["op"], r["type"]) for r in recs] == [(0, "invoke"), (0, "ok"), (1, "invoke"), (1, "fail")]
    assert outcome_counts(recs) == {"ok": 1, "fail": 1, "info": 0} == w.counts
    assert recs[0]["mono_ns"] <= recs[1]["mono_ns"]


def test_ledger_outcome_must_be_known(tmp_path: Path) -> None:
    w = LedgerWriter(tmp_path / "l.jsonl")
    with pytest.raises(ValueError):
        w.complete(0, "maybe", "write_order")
    w.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", r"l.jsonl:1: expected one JSON object per line"),
        ('{"op": 1, "type": "invoke", "mono_ns": 5, "f": "write_order", "dc": "dc1", "epoch": 1}',
         r"l.jsonl:1: missing field\(s\) id, token"),
        ('{"op": 1, "type": "done", "mono_ns": 5}', r"l.jsonl:1: type must be one of"),
        ('{"op": 1, "type": "ok", "mono_ns": 5, "f": "pay"}', r"l.jsonl:1: f must be one of"),
        ("[1, 2]", r"l.jsonl:1: expected a JSON object"),
    ],
)
def test_ledger_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    p = tmp_path / "l.jsonl"
    p.write_text(line + "\n" + json.dumps({"op": 2, "type": "ok", "mono_ns": 6}) + "\n")
    with pytest.raises(ConfigError, match=message):
        read_ledger(p)


def test_torn_last_ledger_line_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / "l.jsonl"
    p.write_text(json.dumps({"op": 0, "type": "ok", "mono_ns": 1}) + '\n{"op": 1, "ty')
    assert len(read_ledger(p)) == 1


def test_the_scenario_model_is_the_workloads_one_source_of_settings() -> None:
    """Issue 11: the workload reads the scenario's model — no second parser, no second set of
    defaults. What used to be caught by that parser is caught by the model, located."""
    from drills.scenario import load_scenario_text

    s = WorkloadSpec.model_validate({"rate": "500/s", "sequence": {"segment": 50, "refetch_on_switch": False},
                                     "retry_delay": "200ms"})
    assert s.kind == "orders" and s.rate == 500 and s.workers == 4
    assert s.sequence.table == "app.id_sequence" and s.sequence.name == "orders"
    assert s.sequence.segment == 50 and s.sequence.refetch_on_switch is False and s.retry_delay == 0.2
    for bad, message in [("{kind: jepsen}", "workload.kind"), ("{workers: 0}", "workers"),
                         ("{sequence: {segment: lots}}", "segment"), ("{sequence: {table: 'x; DROP TABLE y'}}", "table"),
                         ("{rate: -1}", "rate"), ("{kind: external}", "command")]:
        with pytest.raises(ConfigError, match=message):
            load_scenario_text(f"name: x\nworkload: {bad}\n", "x.yaml")


def test_make_workload_and_controller_pick_the_kind_without_touching_a_topology(tmp_path: Path) -> None:
    from drills.control import make_controller
    from drills.control.external import ExternalController
    from drills.scenario.model import ControllerSpec
    from drills.workload import make_workload
    from drills.workload.external import ExternalWorkload, NoWorkload

    assert isinstance(make_workload(WorkloadSpec(kind="none"), None, None, tmp_path), NoWorkload)
    assert make_workload(WorkloadSpec(kind="none"), None, None, tmp_path).stop() == {"ok": 0, "fail": 0, "info": 0}
    assert isinstance(make_workload(WorkloadSpec(kind="external", command="true"), None, None, tmp_path), ExternalWorkload)
    assert isinstance(make_controller(ControllerSpec(kind="external", failover="x"), None, None), ExternalController)
