"""The typed history the checks read, and `Drill`: the builder the check tests use to
write recorded histories by hand (journal + ledger on one millisecond clock)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drills import events as ev
from drills.checks.history import History
from drills.journal import GENESIS, line_hash, verify

MS = 1_000_000


class Drill:
    """A drill's record written by hand: `at(ms)` moves the clock, `event` journals,
    `write` puts an invoke and its completion in the ledger."""

    def __init__(self) -> None:
        self.now = 0
        self.journal: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.next_op = 1

    def at(self, ms: float) -> Drill:
        self.now = int(ms * MS)
        return self

    def event(self, kind: str, source: str = "runner", /, **payload: Any) -> int:
        seq = len(self.journal)
        self.journal.append({"seq": seq, "mono_ns": self.now, "wall": "", "source": source, "kind": kind, "payload": payload})
        self.now += 1  # strictly increasing, as a real clock read after each line
        return seq

    def write(self, id: int | None, dc: str, epoch: int | None, outcome: str | None = "ok", *, took_ms: float = 1.0,
              f: str = "write_order", worker: int = 0, error_code: int | None = None, invoke_ms: float | None = None,
              token: str | None = None) -> int:
        op = self.next_op
        self.next_op += 1
        start = int(invoke_ms * MS) if invoke_ms is not None else self.now
        base = {"op": op, "f": f, "id": id, "dc": dc, "worker": worker}
        if f == "write_order":
            base["token"] = token or f"tok-{op}"
        if epoch is not None:
            base["epoch"] = epoch
        self.ledger.append({**base, "type": "invoke", "mono_ns": start})
        if outcome is not None:
            done = {**base, "type": outcome, "mono_ns": start + int(took_ms * MS)}
            if error_code is not None:
                done.update(error_code=error_code, error=f"({error_code}) Duplicate entry '{id}' for key 'PRIMARY'")
            self.ledger.append(done)
        if invoke_ms is None:
            self.now = start + int(took_ms * MS) + 1
        return op

    def settle(self, op: int, **present: bool | None) -> None:
        self.ledger.append({"op": op, "type": "settle", "present": present, "mono_ns": self.now})

    def read_back(self, **where: Any) -> None:
        """The evidence collector's read-back: one settle line per order write not yet
        settled, present on each DC as `where[dc]` says (a bool, or a function of the invoke
        record)."""
        settled = {r["op"] for r in self.ledger if r["type"] == "settle"}
        for rec in [r for r in self.ledger if r["type"] == "invoke" and r.get("f") == "write_order"]:
            if rec["op"] in settled:
                continue
            self.settle(rec["op"], **{dc: (rule(rec) if callable(rule) else rule) for dc, rule in where.items()})

    def route(self, active: str, epoch: int, previous: str | None = None) -> int:
        if previous is not None:
            self.event(ev.ROUTE_PUBLISHED, "controller", **{"from": previous, "to": active, "epoch": epoch, "revision": epoch})
        return self.event(ev.ROUTE_CHANGED, "observer", active=active, epoch=epoch, revision=epoch)

    def history(self) -> History:
        return History.build(self.journal, self.ledger)

    def save(self, run_dir: Path) -> Path:
        """Write journal.jsonl (hash-chained, so it verifies) and ledger.jsonl."""
        run_dir.mkdir(parents=True, exist_ok=True)
        prev = GENESIS
        with open(run_dir / "journal.jsonl", "w", encoding="utf-8") as fh:
            for rec in self.journal:
                line = json.dumps({**rec, "prev": prev}, sort_keys=True)
                fh.write(line + "\n")
                prev = line_hash(line)
        with open(run_dir / "ledger.jsonl", "w", encoding="utf-8") as fh:
            for rec in self.ledger:
                fh.write(json.dumps(rec) + "\n")
        return run_dir


def failover_drill(*, lost: int = 0, refetch: bool = True) -> Drill:
    """dc1 fails (port change) at 100 ms, dc2 takes over as epoch 2 at 740 ms, writes resume
    at ~900 ms. `lost` of the last dc1 acks never reached dc2. With refetch off, dc2's
    sequence was behind and hands out IDs dc1 already used."""
    d = Drill()
    d.route("dc1", 1)
    d.event(ev.SEGMENT_FETCHED, "workload", dc="dc1", name="orders", low=1, high=10000)
    for i in range(1, 11):
        d.write(i, "dc1", 1)
    d.at(100).event(ev.FAULT_INJECT, "fault", name="dc1-port", type="port_change", target="app:dc1", params={})
    d.at(700).event(ev.DC_FAILED, "controller", dc="dc1", verdict="unreachable", consecutive=3)
    d.event(ev.FAILOVER_START, "controller", **{"from": "dc1", "to": "dc2", "mode": "auto"})
    d.at(720).event(ev.FENCE, "controller", dc="dc1", ok=False, error="unreachable")
    d.event(ev.REPLICATION_STOPPED, "controller", dc="dc2")
    d.at(730).event(ev.PROMOTE, "controller", dc="dc2")
    d.at(740).route("dc2", 2, previous="dc1")
    d.at(900).event(ev.WORKLOAD_ROUTE, "workload", worker=0, active="dc2", epoch=2)
    if refetch:
        d.event(ev.SEGMENT_FETCHED, "workload", dc="dc2", name="orders", low=10001, high=20000)
        new_ids = range(10001, 10006)
    else:
        d.event(ev.SEGMENT_FETCHED, "workload", dc="dc2", name="orders", low=1, high=10000)
        new_ids = range(11, 16)
    d.at(950)
    if not refetch:  # dc2's stale sequence first hands out IDs dc1 already used
        d.write(1, "dc2", 2, "fail", error_code=1062)
        d.write(2, "dc2", 2, "fail", error_code=1062)
    for i in new_ids:
        d.write(i, "dc2", 2)
    d.at(2000)
    survivor = [[1, 10 - lost]] if lost < 10 else []
    d.event(ev.OBSERVE_IDS, "observer", dc="dc2", table="app.orders", ranges=survivor + [[min(new_ids), max(new_ids)]], count=0)
    d.event(ev.OBSERVE_IDS, "observer", dc="dc1", table="app.orders", ranges=[[1, 10]], count=10)
    d.event(ev.OBSERVE_SEQUENCE, "observer", dc="dc2", name="orders", next_val=20001 if refetch else 10001)
    # read back by token: dc1 kept its own writes (not rejoined); dc2 has what replicated
    # before the switch (all but the last `lost`) and its own
    d.read_back(dc1=lambda w: w["dc"] == "dc1",
                dc2=lambda w: w["dc"] == "dc2" or (w["id"] or 0) <= 10 - lost)
    return d


def test_ops_pair_invoke_with_completion_and_settle() -> None:
    d = Drill()
    ok = d.write(1, "dc1", 1)
    info = d.write(2, "dc1", 1, "info")
    d.settle(info, dc1=True, dc2=False)
    pending = d.write(3, "dc1", 1, None)
    h = d.history()
    by_op = {o.op: o for o in h.ops}
    assert by_op[ok].acknowledged and by_op[ok].complete_ns > by_op[ok].invoke_ns
    assert by_op[info].committed_on("dc1") is True and by_op[info].committed_on("dc2") is False
    # never completed (the run ended first): as unknown as an `info`, until read back
    assert by_op[pending].outcome is None and by_op[pending].committed_on("dc1") is None


def test_unsettled_info_write_is_undecided() -> None:
    d = Drill()
    info = d.write(2, "dc1", 1, "info")
    op = d.history().ops[0]
    assert op.op == info and op.committed_on("dc1") is None and not op.accepted


def test_route_timeline_one_entry_per_epoch_at_its_earliest_record() -> None:
    h = failover_drill().history()
    assert [(r.epoch, r.active) for r in h.routes] == [(1, "dc1"), (2, "dc2")]
    assert h.routes[0].mono_ns is None  # in force from the start
    published = next(e for e in h.events if e.kind == ev.ROUTE_PUBLISHED)
    assert h.routes[1].mono_ns == published.mono_ns and h.routes[1].seq == published.seq
    assert h.route_at(0).active == "dc1" and h.route_at(published.mono_ns).active == "dc2"


def test_initial_route_inferred_from_first_change_or_first_op() -> None:
    d = Drill()
    d.write(1, "dc1", 1)
    d.at(50).event(ev.ROUTE_PUBLISHED, "controller", **{"from": "dc1", "to": "dc2", "epoch": 2})
    assert [(r.epoch, r.active) for r in d.history().routes] == [(1, "dc1"), (2, "dc2")]
    d2 = Drill()
    d2.write(1, "dc1", 7)
    assert [(r.epoch, r.active) for r in d2.history().routes] == [(7, "dc1")]


def test_torn_ledger_line_is_reported_not_raised(tmp_path: Path) -> None:
    d = failover_drill()
    d.save(tmp_path)
    with open(tmp_path / "ledger.jsonl", "a") as fh:
        fh.write('{"op": 99, "type": "inv')
    h = History.load(tmp_path)
    assert len(h.ops) == 15
    assert h.ledger_problems and "line 46" in h.ledger_problems[0]  # 30 invoke/ok lines, 15 read-backs
    assert verify(tmp_path / "journal.jsonl").ok
