"""Write availability: the longest time the application wanted to write and could not.

RTO times a recovery, so it needs a route change; an outage that no controller answered —
a port change the monitor (rightly or wrongly) did not fail over for, a config centre that
lost its key — has none, and would otherwise go unmeasured. This check needs nothing but the
client's ledger: while the workload ran, between one acknowledged order and the next no
write got through. The longest such stretch *of unmet demand* is measured:

- it closes at the next order acknowledged anywhere, on either data centre (or when the
  workload was asked to stop: an outage still open then is measured up to the stop — it is
  at least that long);
- it opens at the last order acknowledged before it, or — when no order was waiting then —
  at the first order sent after it that was still waiting: a load generator that sends one
  order every ten seconds, each acknowledged at once, was never unable to write; one that
  started late had no demand yet;
- every order the client tried counts as demand, including one that could not even connect
  (the reference workload ledgers those as failed attempts), and so does an ID segment
  request refused or unanswered (a client refused an ID by a read-only primary never gets as
  far as sending the order: `Op.wants_to_write`); only an acknowledged business write (`write_order`) closes a
  window — a segment allocation is not the application working;
- time outside the workload's running periods (`workload.start` .. the moment a stop was
  asked for) is not unavailability: nobody was writing.

Objective: `objectives.write_availability` (seconds) if the scenario sets one, else its
`rto` — a window longer than the RTO is a recovery that took longer than allowed whether or
not anything was switched. No objective: passed, with the figure. No order attempted at all:
unknown — there was no demand to measure against.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from drills import events as ev
from drills.checks.history import History, Op, stop_requested_ns
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict, seconds

NAME = "write_availability"
SHOWN_WINDOWS = 5


@dataclass
class Window:
    start_ns: int
    end_ns: int
    opened_by: Op | None  # the last ack before it, or the first order sent after it (None: the workload's start)
    closed_by: Op | None  # the next ack (None: the workload's stop — still open then)
    opened_at_ack: bool = True  # an order was already waiting at the last ack (else: opened by `opened_by`'s send)

    @property
    def length_ns(self) -> int:
        return self.end_ns - self.start_ns


def check(hist: History, *, objective: float | None = None, rto: float | None = None) -> Verdict:
    bound = objective if objective is not None else rto
    bound_name = "write_availability" if objective is not None else ("rto" if rto is not None else None)
    orders = [o for o in hist.writes if o.f == "write_order" and o.invoke_ns is not None]
    demand = [o for o in hist.writes if o.wants_to_write and o.invoke_ns is not None]
    periods = running_periods(hist, orders)
    attempted = [o for o in demand if any(a <= (o.invoke_ns or 0) <= b for a, b in periods)]
    if not attempted:
        return Verdict(NAME, UNKNOWN, None, bound,
                       "No order was attempted while the workload ran, so there is no write availability to measure.",
                       {"periods": len(periods)})
    windows = [w for a, b in periods for w in _windows(orders, demand, a, b)]
    worst = max(windows, key=lambda w: w.length_ns)
    measured = seconds(worst.length_ns)
    t_base = periods[0][0]
    evidence: dict[str, Any] = {
        "objective_name": bound_name,
        "orders_attempted": sum(1 for o in attempted if o.f == "write_order"),
        "orders_acknowledged": sum(1 for o in attempted if o.f == "write_order" and o.outcome == "ok"),
        "periods_s": [[seconds(a - t_base), seconds(b - t_base)] for a, b in periods],
        "longest": [_window_ref(hist, w, t_base) for w in sorted(windows, key=lambda w: -w.length_ns)[:SHOWN_WINDOWS]],
    }
    where = _describe(hist, worst, t_base)
    if bound is not None and measured is not None and measured > bound:
        return Verdict(NAME, FAILED, measured, bound,
                       f"The application could not write for {measured:.2f} s {where}, longer than the "
                       f"{bound:g} s allowed ({bound_name}).", evidence)
    tail = f" (objective {bound:g} s, {bound_name})" if bound is not None else " (no objective set)"
    return Verdict(NAME, PASSED, measured, bound, f"The longest time without an acknowledged write was {measured:.2f} s "
                   f"{where}{tail}.", evidence)


def running_periods(hist: History, orders: list[Op]) -> list[tuple[int, int]]:
    """The spans in which the workload ran: each `workload.start` to the next `workload.stop`
    (a workload never stopped runs to the end of the record); a ledger without start events
    (an external load generator) runs from its first order to its last outcome."""
    periods: list[tuple[int, int]] = []
    start = None
    for e in hist.of(ev.WORKLOAD_START, ev.WORKLOAD_STOP):
        if e.kind == ev.WORKLOAD_START and start is None:
            start = e.mono_ns
        elif e.kind == ev.WORKLOAD_STOP and start is not None:
            periods.append((start, max(start, stop_requested_ns(e))))
            start = None
    if start is not None:
        periods.append((start, hist.end_ns))
    if not periods and orders:
        first = min(o.invoke_ns or 0 for o in orders)
        last = max(o.time_ns or 0 for o in orders)
        periods.append((first, last))
    return periods


def _windows(orders: list[Op], demand: list[Op], start: int, stop: int) -> list[Window]:
    """The stretches between consecutive acks in [start, stop], each opened where unmet
    demand began: at the previous ack if an order sent before it was still waiting then,
    else at the first order sent after it (none sent: no window). One sweep, O(n log n)."""
    acks = sorted((o for o in orders if o.outcome == "ok" and o.complete_ns is not None and start <= o.complete_ns <= stop),
                  key=lambda o: o.complete_ns or 0)
    sent = sorted((o for o in demand if o.invoke_ns is not None and o.invoke_ns <= stop), key=lambda o: o.invoke_ns or 0)
    waiting: list[float] = []  # completion times of orders sent so far (inf: never completed)
    i = 0
    out: list[Window] = []
    prev_t, prev_op = start, None
    for end, closing in [((a.complete_ns or 0), a) for a in acks] + [(stop, None)]:
        while i < len(sent) and (sent[i].invoke_ns or 0) <= prev_t:
            heapq.heappush(waiting, math.inf if sent[i].complete_ns is None else sent[i].complete_ns)
            i += 1
        while waiting and waiting[0] <= prev_t:
            heapq.heappop(waiting)
        if waiting:
            out.append(Window(prev_t, end, prev_op, closing))
        elif i < len(sent) and (sent[i].invoke_ns or 0) <= end:
            out.append(Window(sent[i].invoke_ns or 0, end, sent[i], closing, opened_at_ack=False))
        if closing is not None:
            prev_t, prev_op = end, closing
    return out


def _window_ref(hist: History, w: Window, t_base: int) -> dict[str, Any]:
    """What the window holds: every write the client tried in it (orders and the segment
    allocations they wait on) by outcome, the errors it got, the routes and faults."""
    outcomes: dict[str, dict[str, int]] = {}
    errors: dict[str, int] = {}
    for o in hist.writes:
        if o.invoke_ns is None or not w.start_ns <= o.invoke_ns < w.end_ns or o is w.closed_by:
            continue
        by_f = outcomes.setdefault(o.f, {})
        key = o.outcome or "never_completed"
        by_f[key] = by_f.get(key, 0) + 1
        if o.outcome in ("fail", "info") and o.error_code is not None:
            errors[str(o.error_code)] = errors.get(str(o.error_code), 0) + 1
    routes = [{"epoch": r.epoch, "active": r.active, "seq": r.seq} for r in hist.routes
              if r.mono_ns is not None and w.start_ns <= r.mono_ns <= w.end_ns]
    faults = [{"name": e.get("name"), "type": e.get("type"), "target": e.get("target"), "seq": e.seq}
              for e in hist.of(ev.FAULT_INJECT, before=w.end_ns) if _in_force(hist, e.mono_ns, e.get("name"), w.start_ns)]
    return {"seconds": seconds(w.length_ns), "from_s": seconds(w.start_ns - t_base), "to_s": seconds(w.end_ns - t_base),
            "opened_by": ({"last_ack": w.opened_by.ref()} if w.opened_at_ack else {"first_order_sent": w.opened_by.ref()})
            if w.opened_by else "workload.start",
            "closed_by": w.closed_by.ref() if w.closed_by else "workload.stop",
            "attempts": outcomes, "error_codes": errors, "route_changes": routes, "faults_in_force": faults}


def _in_force(hist: History, injected: int, name: Any, at: int) -> bool:
    healed = hist.first(ev.FAULT_HEAL, after=injected, where=lambda h: h.get("name") == name)
    return healed is None or healed.mono_ns > at


def _describe(hist: History, w: Window, t_base: int) -> str:
    frm = seconds(w.start_ns - t_base)
    end = f"the next order acknowledged on {w.closed_by.dc}" if w.closed_by else "the workload's stop, still unable to write"
    start = ("the workload's start" if w.opened_by is None else
             f"the last order acknowledged on {w.opened_by.dc}" if w.opened_at_ack else
             f"the first {'order' if w.opened_by.f == 'write_order' else 'ID segment request'} sent to "
             f"{w.opened_by.dc} after the last acknowledged order")
    switched = [r for r in hist.routes if r.mono_ns is not None and w.start_ns <= r.mono_ns <= w.end_ns]
    route = f", across the switch to {switched[-1].active}" if switched else ", with no route change"
    return f"(from {start}, {frm:.2f} s into the workload, to {end}{route})"
