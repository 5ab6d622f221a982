"""A drill's record — journal and ledger — as one typed history the checks can query.

Checks judge only from what was written down (DESIGN §3), so this is the single place
that reads `journal.jsonl` and `ledger.jsonl`: ledger lines are paired invoke → completion
(ok | fail | info) by `op`, with the `settle` read-back attached, and the routing changes
the journal records (`route.published` by the controller, `route.changed` seen by the
observer's watch) become one timeline with one entry per epoch.

A ledger line that cannot be parsed is kept as a problem, not raised: a run killed mid-write
leaves a torn last line, and a check must still judge everything before it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills import events as ev
from drills import journal as journal_mod
from drills.record import JOURNAL_FILE, LEDGER_FILE

WRITE_FUNCTIONS = ("write_order", "alloc_segment", "write_job_log")


@dataclass(frozen=True)
class Event:
    seq: int
    mono_ns: int
    source: str
    kind: str
    payload: dict[str, Any]
    wall: str = ""

    def get(self, key: str, default: Any = None) -> Any:
        return self.payload.get(key, default)


@dataclass
class Op:
    """One client operation, from its invoke to its completion (if any)."""

    op: int
    f: str = ""
    id: int | None = None
    dc: str | None = None
    epoch: int | None = None
    worker: Any = None
    token: str | None = None
    invoke_ns: int | None = None
    complete_ns: int | None = None
    outcome: str | None = None  # ok | fail | info | None (never completed: the run ended first)
    error: str | None = None
    error_code: int | None = None
    settle: dict[str, bool | None] | None = None  # read-back by token and content, per DC
    wall: str = ""

    @property
    def is_write(self) -> bool:
        return self.f in WRITE_FUNCTIONS

    @property
    def acknowledged(self) -> bool:
        return self.outcome == "ok"

    @property
    def wants_to_write(self) -> bool:
        """The application trying to write: an order sent, or the ID segment request an order
        waits on when it was refused or never answered (a client that a read-only primary
        refuses an ID never gets as far as sending the order). A segment granted is followed
        by its order, which is the demand itself."""
        return self.f == "write_order" or (self.f == "alloc_segment" and self.outcome != "ok")

    def present_on(self, dc: str | None) -> bool | None:
        """What the read-back found on `dc`: True when the row with this write's token and
        content is there, False when it is not, None when `dc` was never read for it."""
        if self.settle is None or dc is None:
            return None
        return self.settle.get(dc)

    def committed_on(self, dc: str) -> bool | None:
        """Whether this write is known to be on `dc` as its writer left it: an ack from that
        DC, or an `info` (or never completed) write whose read-back found it there.
        None = cannot tell."""
        if self.outcome == "ok":
            return self.dc == dc
        if self.outcome in ("info", None):
            if self.dc != dc:
                return False
            return self.present_on(dc)
        return False

    @property
    def accepted(self) -> bool:
        """Acknowledged, or read back as committed on the DC it was sent to."""
        return bool(self.dc) and bool(self.committed_on(self.dc or ""))

    @property
    def time_ns(self) -> int | None:
        """When the outcome was known (ack time), else when it was sent."""
        return self.complete_ns if self.complete_ns is not None else self.invoke_ns

    def ref(self) -> dict[str, Any]:
        """The compact form evidence lists use."""
        out: dict[str, Any] = {"op": self.op, "f": self.f, "id": self.id, "dc": self.dc, "epoch": self.epoch,
                               "outcome": self.outcome}
        if self.token is not None:
            out["token"] = self.token
        if self.error_code is not None:
            out["error_code"] = self.error_code
        if self.settle is not None:
            out["settle"] = self.settle
        return out


@dataclass(frozen=True)
class Fence:
    """A span in which `dc` was fenced: `read_only` (it cannot commit) or `edge` (its
    service paths are cut: it may still commit what it held, but no client reaches it)."""

    dc: str
    method: str
    start_ns: int
    end_ns: int | None  # lifted, or the DC promoted; None = still in force at the end
    seq: int


@dataclass(frozen=True)
class Route:
    """The routing document in force from `mono_ns` on (None for the route found in force
    at the start of the record)."""

    epoch: int
    active: str
    mono_ns: int | None
    seq: int | None  # journal line that first recorded it
    previous: str | None = None


@dataclass
class History:
    events: list[Event] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    ledger_problems: list[str] = field(default_factory=list)
    # what the routing key did that a timeline of one writer per epoch cannot hold: the same
    # epoch naming another DC later, a controller's claim the key contradicted
    route_problems: list[dict[str, Any]] = field(default_factory=list)
    observed_epochs: set[int] | None = None  # epochs the journal shows the key holding (None: no route record)
    ledger_records: list[dict[str, Any]] = field(default_factory=list, repr=False)  # raw lines (active-active checks)

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> History:
        """The record as judging sees it: everything up to `run.checks` (the moment judging
        started), so judging the run later — `drills judge` — reads exactly what the run
        itself judged, not the verdict lines and `run.end` appended after."""
        d = Path(run_dir)
        journal_path = d / JOURNAL_FILE
        records = journal_mod.read(journal_path) if journal_path.exists() else []
        cut = next((i for i, rec in enumerate(records) if rec.get("kind") == ev.RUN_CHECKS), None)
        if cut is not None:
            records = records[:cut]
        problems: list[str] = []
        ledger = journal_mod.read_tolerant(d / LEDGER_FILE, problems)
        hist = cls.build(records, ledger)
        hist.ledger_problems[:0] = problems
        return hist

    @classmethod
    def build(cls, journal_records: Iterable[dict[str, Any]], ledger: Iterable[dict[str, Any]]) -> History:
        """From journal records (as `journal.read` returns them) and ledger records (as
        `journal.read_tolerant` returns them)."""
        hist = cls()
        for rec in journal_records:
            payload = dict(rec.get("payload") or {})
            hist.events.append(Event(int(rec.get("seq", len(hist.events))), int(rec.get("mono_ns", 0)),
                                     str(rec.get("source", "")), str(rec.get("kind", "")),
                                     payload, str(rec.get("wall", ""))))
        hist.events.sort(key=lambda e: (e.mono_ns, e.seq))
        ledger = list(ledger)
        hist.ledger_records = [r for r in ledger if isinstance(r, dict)]
        hist.ops = _pair_ops(ledger, hist.ledger_problems)
        hist.routes = _route_timeline(hist.events, hist.ops, hist.route_problems)
        if any(e.kind in (ev.ROUTE_CHANGED, ev.ROUTE_PUBLISHED) for e in hist.events):
            hist.observed_epochs = {r.epoch for r in hist.routes}
            unseen = sorted({o.epoch for o in hist.ops if o.epoch is not None and o.epoch not in hist.observed_epochs})
            if unseen:
                hist.ledger_problems.append(
                    f"the client recorded epoch(s) {', '.join(map(str, unseen[:10]))} that the routing key was never "
                    "seen holding; those writes are judged by the route in force when they were sent")
        return hist

    def unseen_epoch_ops(self) -> list[Op]:
        """Ops carrying an epoch the observed route timeline never held."""
        if self.observed_epochs is None:
            return []
        return [o for o in self.ops if o.epoch is not None and o.epoch not in self.observed_epochs]

    def watch_gaps(self) -> list[tuple[int, int | None]]:
        """Spans in which the runner's watch of the routing key had lost etcd (`route.watch`
        ok false .. ok true; None = never regained)."""
        gaps: list[tuple[int, int | None]] = []
        start = None
        for e in self.of(ev.ROUTE_WATCH):
            if e.get("ok") is False and start is None:
                start = e.mono_ns
            elif e.get("ok") is True and start is not None:
                gaps.append((start, e.mono_ns))
                start = None
        if start is not None:
            gaps.append((start, None))
        return gaps

    # ---- queries ------------------------------------------------------------------------------
    def of(self, *kinds: str, after: int | None = None, before: int | None = None,
           where: Callable[[Event], bool] | None = None) -> list[Event]:
        """Events of these kinds with after <= mono_ns <= before, in time order."""
        return [e for e in self.events if e.kind in kinds
                and (after is None or e.mono_ns >= after) and (before is None or e.mono_ns <= before)
                and (where is None or where(e))]

    def first(self, *kinds: str, **kw: Any) -> Event | None:
        found = self.of(*kinds, **kw)
        return found[0] if found else None

    def last(self, *kinds: str, **kw: Any) -> Event | None:
        found = self.of(*kinds, **kw)
        return found[-1] if found else None

    @property
    def writes(self) -> list[Op]:
        return [o for o in self.ops if o.is_write]

    @property
    def initial_route(self) -> Route | None:
        return self.routes[0] if self.routes else None

    @property
    def changes(self) -> list[Route]:
        """Route changes: every route after the one in force at the start."""
        return self.routes[1:]

    def switches(self) -> list[tuple[Route, Route]]:
        """(previous, route) for every route change that moved the writer to another DC (a
        re-published route naming the same DC is not a switch)."""
        out = []
        for r in self.changes:
            prev = self.previous_route(r)
            if prev is not None and prev.active != r.active:
                out.append((prev, r))
        return out

    def caught_up(self, source: str, replica: str, *, after: int | None, before: int | None = None) -> Event | None:
        """The first record, in [after, before], that the `source`→`replica` link had applied
        everything its source had: the controller's GTID wait (planned switch, failback), the
        observer's link observation, or a canary wait that succeeded."""
        def same(e: Event) -> bool:
            if e.kind == ev.GTID_WAIT:
                return e.get("dc") == replica and e.get("source") in (None, source) and e.get("ok") is True
            return e.get("source") == source and e.get("replica") == replica and e.get("caught_up") is True

        return self.first(ev.GTID_WAIT, ev.OBSERVE_LINK, ev.CANARY_OBSERVED, after=after, before=before, where=same)

    def route_at(self, ns: int) -> Route | None:
        current = None
        for r in self.routes:
            if r.mono_ns is None or r.mono_ns <= ns:
                current = r
            else:
                break
        return current

    def previous_route(self, route: Route) -> Route | None:
        i = self.routes.index(route)
        return self.routes[i - 1] if i > 0 else None

    def epoch_of(self, o: Op) -> int | None:
        """The epoch a write followed: its own, or — for a client that recorded none, or one
        the routing key was never seen holding (a client writing the revision, say) — the
        route in force when it was sent (never skipped for lack of one)."""
        if o.epoch is not None and (self.observed_epochs is None or o.epoch in self.observed_epochs):
            return o.epoch
        route = self.route_at(o.invoke_ns if o.invoke_ns is not None else (o.time_ns or 0))
        return route.epoch if route is not None else None

    def route_of_epoch(self, epoch: int | None) -> Route | None:
        return next((r for r in self.routes if r.epoch == epoch), None)

    def fences(self, dc: str) -> list[Fence]:
        """The spans in which `dc` was fenced, from the journal: a successful `fence` (or a
        `write_ban`, which is a read-only fence) opens one; `fence.lifted` of that method, or
        a `promote` of `dc`, closes it."""
        spans: list[Fence] = []
        open_: dict[str, tuple[int, int]] = {}
        for e in self.events:
            if e.get("dc") != dc:
                continue
            if (e.kind == ev.FENCE and e.get("ok") is True) or e.kind == ev.WRITE_BAN:
                method = str(e.get("method") or "read_only")
                open_.setdefault(method, (e.mono_ns, e.seq))
            elif e.kind == ev.FENCE_LIFTED:
                method = str(e.get("method") or "read_only")
                if method in open_:
                    start, seq = open_.pop(method)
                    spans.append(Fence(dc, method, start, e.mono_ns, seq))
            elif e.kind == ev.PROMOTE:
                for method, (start, seq) in sorted(open_.items()):
                    spans.append(Fence(dc, method, start, e.mono_ns, seq))
                open_.clear()
        spans += [Fence(dc, method, start, None, seq) for method, (start, seq) in sorted(open_.items())]
        return sorted(spans, key=lambda f: f.start_ns)

    def fence_at(self, dc: str, ns: int, method: str | None = None) -> Fence | None:
        """The fence of `dc` in force at `ns` (started at or before it, not yet lifted)."""
        for f in self.fences(dc):
            if (method is None or f.method == method) and f.start_ns <= ns and (f.end_ns is None or ns < f.end_ns):
                return f
        return None

    @property
    def workload_stop_ns(self) -> int | None:
        """When the workload was told to stop (the last `workload.stop`): after it, nobody
        tried to write, so time after it is not unavailability."""
        stop = self.last(ev.WORKLOAD_STOP)
        return stop_requested_ns(stop) if stop is not None else None

    @property
    def end_ns(self) -> int:
        times = [e.mono_ns for e in self.events] + [t for o in self.ops for t in (o.invoke_ns, o.complete_ns) if t]
        return max(times) if times else 0


def stop_requested_ns(stop: Event) -> int:
    """When a `workload.stop` was asked for: the line itself is written once the workers
    have finished what they had in flight, which may be seconds later."""
    requested = stop.get("requested_mono_ns")
    if isinstance(requested, int) and not isinstance(requested, bool) and requested <= stop.mono_ns:
        return requested
    return stop.mono_ns


def _pair_ops(records: Iterable[dict[str, Any]], problems: list[str]) -> list[Op]:
    ops: dict[int, Op] = {}
    renumbered: dict[int, int] = {}  # a re-used op number -> the key its later lines belong to
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict) or "op" not in rec or rec.get("type") not in ev.LEDGER_TYPES:
            problems.append(f"ledger record {n}: expected an object with `op` and `type` in {ev.LEDGER_TYPES}; ignored")
            continue
        try:
            key = int(rec["op"])
        except (TypeError, ValueError):
            problems.append(f"ledger record {n}: `op` is not a number; ignored")
            continue
        kind = rec["type"]
        if kind == "invoke" and key in ops and ops[key].invoke_ns is not None:
            problems.append(f"ledger record {n}: op {key} is invoked a second time (a restarted client numbering "
                            "again?); the second one is judged apart, as op -{key}")
            key = -key if key > 0 else key - 1_000_000_000
            while key in ops:
                key -= 1_000_000_000
            renumbered[int(rec["op"])] = key
        elif int(rec["op"]) in renumbered:
            key = renumbered[int(rec["op"])]
        op = ops.setdefault(key, Op(key))
        for name in ("f", "dc", "worker", "token"):
            if rec.get(name) is not None and not getattr(op, name):
                setattr(op, name, rec[name] if name == "worker" else str(rec[name]))
        for name in ("id", "epoch"):
            if rec.get(name) is not None and getattr(op, name) is None:
                try:
                    setattr(op, name, int(rec[name]))
                except (TypeError, ValueError):
                    problems.append(f"ledger record {n}: `{name}` is not a number")
        mono = rec.get("mono_ns")
        if kind == "invoke":
            op.invoke_ns = int(mono) if mono is not None else None
            op.wall = str(rec.get("wall", ""))
        elif kind == "settle":
            present = rec.get("present")
            if isinstance(present, dict):
                op.settle = {str(k): (None if v is None else bool(v)) for k, v in present.items()}
        else:
            op.outcome = kind
            op.complete_ns = int(mono) if mono is not None else None
            op.error = rec.get("error")
            code = rec.get("error_code")
            op.error_code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    return sorted(ops.values(), key=lambda o: (o.invoke_ns if o.invoke_ns is not None else 0, o.op))


def _route_timeline(events: list[Event], ops: list[Op], problems: list[dict[str, Any]] | None = None) -> list[Route]:
    """One Route per epoch, at the earliest moment any record shows it (the controller's
    publish usually precedes the observer's watch by milliseconds), read the way the
    application's client reads the key: only a newer epoch moves it, so a document that
    re-uses or lowers an epoch, or that it cannot parse (`problem`), is not a route.

    The key's own value (`route.changed`, the runner's watch) is the truth: a controller's
    `route.published` that names another DC for the epoch is overruled by it, and a later
    value re-using an epoch for another DC is a problem (`epoch_reused`) — the fencing token
    named two writers, whatever the clients that already moved on did with it."""
    problems = problems if problems is not None else []
    seen: dict[int, Route] = {}
    watched: dict[int, Event] = {}
    newest = None
    for e in events:  # in (mono_ns, seq) order
        if e.kind not in (ev.ROUTE_PUBLISHED, ev.ROUTE_CHANGED) or e.get("problem"):
            continue
        try:
            epoch = int(e.get("epoch"))
        except (TypeError, ValueError):
            continue
        active = e.get("to") if e.kind == ev.ROUTE_PUBLISHED else e.get("active")
        if not active:
            continue
        active = str(active)
        prev = e.get("from") if e.kind == ev.ROUTE_PUBLISHED else None
        old = seen.get(epoch)
        if e.kind == ev.ROUTE_CHANGED:
            first = watched.setdefault(epoch, e)
            if first is not e and str(first.get("active")) != active:
                problems.append({"kind": "epoch_reused", "epoch": epoch, "first": {"active": first.get("active"), "seq": first.seq},
                                 "then": {"active": active, "seq": e.seq}})
                continue
            if old is not None and old.active != active:  # the key overrules a controller's claim
                problems.append({"kind": "claim_contradicted", "epoch": epoch, "claimed": {"active": old.active, "seq": old.seq},
                                 "key": {"active": active, "seq": e.seq}})
                seen[epoch] = Route(epoch, active, e.mono_ns, e.seq, old.previous)
                continue
        elif epoch in watched and str(watched[epoch].get("active")) != active:
            problems.append({"kind": "claim_contradicted", "epoch": epoch, "claimed": {"active": active, "seq": e.seq},
                             "key": {"active": watched[epoch].get("active"), "seq": watched[epoch].seq}})
            continue
        if old is None:
            if newest is not None and epoch < newest:
                continue  # the client never goes back
            newest = epoch
            seen[epoch] = Route(epoch, active, e.mono_ns, e.seq, prev)
        elif prev and old.previous is None:
            seen[epoch] = Route(old.epoch, old.active, old.mono_ns, old.seq, prev)
    routes = sorted(seen.values(), key=lambda r: r.epoch)
    # The route in force at the start: an observation before any client op, else inferred
    # from the first change's `from`, else from the earliest ops the ledger holds.
    first_op = min((o for o in ops if o.invoke_ns is not None and o.dc), key=lambda o: o.invoke_ns or 0, default=None)
    if routes and (first_op is None or routes[0].mono_ns is None or routes[0].mono_ns <= (first_op.invoke_ns or 0)) \
            and routes[0].previous is None:
        head = routes[0]
        routes[0] = Route(head.epoch, head.active, None, head.seq)
        return routes
    if routes and routes[0].previous:
        head = routes[0]
        return [Route(head.epoch - 1, head.previous, None, None)] + routes
    if first_op is not None:
        epoch = first_op.epoch if first_op.epoch is not None else (routes[0].epoch - 1 if routes else 1)
        start = [Route(epoch, first_op.dc or "dc1", None, None)]
        return start + [r for r in routes if r.epoch > epoch]
    return routes
