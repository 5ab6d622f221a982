"""Split brain: two data centres accepting writes when the routing said only one may.

The routing document's epoch is the fencing token: each epoch names one active DC. From
the ledger (writes accepted: acknowledged, or `info` settled as committed on the DC they
were sent to) and the route timeline (`route.published` / `route.changed`):

1. **same epoch, two DCs** — writes stamped with one epoch were accepted by more than one
   DC, or by a DC that epoch did not make active;
2. **superseded writes** — a DC acknowledged a write after a route with a higher epoch
   than the write's own had already moved the active role away from it. A write sent
   before the move and acknowledged just after it is tolerated only when the old side
   was fenced (`fence` ok) before the move: read_only stops commits, so such a write
   committed before the fence and only its acknowledgement was late. Without a fence the
   late acknowledgement is listed, because nothing stopped the old side from committing
   after the new one was promoted (a hung server that resumes, a partition).

Any violation → failed, with the ops and the route lines listed. No accepted write →
unknown.
"""

from __future__ import annotations

from collections import defaultdict

from drills import events as ev
from drills.checks.history import History, Op, Route
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "split_brain"
MAX_LISTED = 50


def check(hist: History) -> Verdict:
    accepted = [o for o in hist.writes if o.accepted]
    if not accepted:
        return Verdict(NAME, UNKNOWN, None, "one writer per epoch",
                       "No write was accepted by either data centre, so there was nothing to judge.",
                       {"epochs_with_two_writers": [], "superseded_writes": [], "late_acks_after_fence": [],
                        "routes": [{"epoch": r.epoch, "active": r.active, "seq": r.seq} for r in hist.routes]})
    by_epoch = {r.epoch: r for r in hist.routes}

    per_epoch: dict[int, dict[str, list[Op]]] = defaultdict(lambda: defaultdict(list))
    for o in accepted:
        if o.epoch is not None and o.dc:
            per_epoch[o.epoch][o.dc].append(o)
    shared = []
    for epoch, dcs in sorted(per_epoch.items()):
        route = by_epoch.get(epoch)
        wrong = [dc for dc in dcs if route is not None and dc != route.active]
        if len(dcs) > 1 or wrong:
            shared.append({"epoch": epoch, "route_active": route.active if route else None,
                           "route_seq": route.seq if route else None,
                           "dcs": {dc: {"writes": len(ops), "first": ops[0].ref()} for dc, ops in sorted(dcs.items())}})

    superseded, tolerated = [], []
    for o in accepted:
        late = superseding_route(hist, o)
        if late is None:
            continue
        entry = {**o.ref(), "acked_s_after_route": round(((o.time_ns or 0) - (late.mono_ns or 0)) / 1e9, 3),
                 "route": {"epoch": late.epoch, "active": late.active, "seq": late.seq}}
        if in_flight_and_fenced(hist, o, late):
            tolerated.append(entry)
        else:
            superseded.append(entry)

    measured = {"epochs_with_two_writers": len(shared), "superseded_writes": len(superseded),
                "late_acks_after_fence": len(tolerated)}
    evidence = {"epochs_with_two_writers": shared[:MAX_LISTED], "superseded_writes": superseded[:MAX_LISTED],
                "late_acks_after_fence": tolerated[:MAX_LISTED],
                "routes": [{"epoch": r.epoch, "active": r.active, "seq": r.seq} for r in hist.routes]}
    if shared or superseded:
        parts = []
        if shared:
            s = shared[0]
            parts.append(f"under routing epoch {s['epoch']} writes were accepted by {' and '.join(s['dcs'])}")
        if superseded:
            w = superseded[0]
            parts.append(f"{len(superseded)} write(s) were accepted by a data centre after the route had moved away "
                         f"from it (first: op {w['op']} on {w['dc']}, {w['acked_s_after_route']:.2f} s after epoch "
                         f"{w['route']['epoch']} made {w['route']['active']} active)")
        return Verdict(NAME, FAILED, measured, "one writer per epoch",
                       "Both data centres took writes: " + "; ".join(parts) + ".", evidence)
    return Verdict(NAME, PASSED, measured, "one writer per epoch",
                   f"All {len(accepted)} accepted writes went to the single active data centre of their routing epoch.",
                   evidence)


def superseding_route(hist: History, o: Op) -> Route | None:
    """The first route with an epoch above the write's own that moved the active role
    away from the writer's DC before the write was acknowledged; None if there is none."""
    t = o.time_ns
    if t is None:
        return None
    own = o.epoch
    if own is None:
        at_invoke = hist.route_at(o.invoke_ns or t)
        own = at_invoke.epoch if at_invoke else None
    for r in hist.routes:
        if r.mono_ns is None or r.mono_ns > t:
            continue
        if (own is None or r.epoch > own) and r.active != o.dc:
            # even if a later route moved the role back, the write still carried an epoch
            # that had been superseded when it was accepted
            return r
    return None


def in_flight_and_fenced(hist: History, o: Op, late: Route) -> bool:
    if o.invoke_ns is None or late.mono_ns is None or o.invoke_ns >= late.mono_ns:
        return False
    prev = hist.previous_route(late)
    since = prev.mono_ns if prev is not None else None
    fence = hist.last(ev.FENCE, after=since, before=late.mono_ns, where=lambda e: e.get("dc") == o.dc and e.get("ok", True))
    return fence is not None
