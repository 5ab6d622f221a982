"""Split brain: a data centre committing writes when the routing said another one was the writer.

The routing document's epoch is the fencing token: each epoch names one active DC. A write
is judged over its whole *commit window* — the span in which it may have committed — not at
the moment its client learnt the outcome:

- an acknowledged write committed somewhere between its invoke and its ack;
- an `info` write (outcome unknown: the client gave up) may commit at any moment from its
  invoke until the server can no longer commit it: until the DC was fenced read-only, or
  crashed. A hung server that resumes commits what it held, so the window of a write sent
  to it stays open until it is fenced — possibly long after the client timed out.

Whether it committed at all, and where, is the read-back's word (`settle`: the row with the
write's token and content, per DC).

For every write found committed on a DC X (acknowledged by X, or read back on X):

1. **wrong writer** — its epoch (the route in force when it was sent, if the client
   recorded none) named another DC, or two DCs took writes under one epoch; and the routing
   key itself must never name a second DC under an epoch it already gave (`epoch_reused`);
2. **after the handover** — the window reaches past the moment X stopped being the only
   writer (another DC promoted, or a route with a newer epoch naming another DC). Such a
   write is judged:
   - *proven before the switch* when the DC that took over holds it (same token and
     content): it can only have got there over the link, which stopped before the
     promotion — so it committed while X was still the writer;
   - *behind an edge fence* when X's service paths had been cut before the handover and it
     was never acknowledged: it may have committed on X, but no client could see it; it is
     a lost write for `rpo` to count, not a second writer;
   - otherwise **split brain**: listed with its window. An acknowledgement that arrives
     after X was fenced is listed too: it proves the fence did not hold.

Any violation → failed, with the ops and the route lines. No write committed anywhere →
unknown.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drills import events as ev
from drills.checks.history import History, Op, Route
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict, seconds

NAME = "split_brain"
OBJECTIVE = "one writer per epoch"
MAX_LISTED = 50


def check(hist: History) -> Verdict:
    accepted = [o for o in hist.writes if o.accepted]
    routes = [{"epoch": r.epoch, "active": r.active, "seq": r.seq} for r in hist.routes]
    if not accepted:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE,
                       "No write was found committed on either data centre, so there was nothing to judge.",
                       {"epochs_with_two_writers": [], "split_brain_writes": [], "routes": routes})

    shared = _two_writers_per_epoch(hist, accepted)
    reused = [p for p in hist.route_problems if p.get("kind") == "epoch_reused"]
    split, proven, behind_edge = [], [], []
    for o in accepted:
        judged = judge_write(hist, o)
        if judged is None:
            continue
        kind, entry = judged
        {"split": split, "proven": proven, "behind_edge": behind_edge}[kind].append(entry)

    measured = {"epochs_with_two_writers": len(shared), "split_brain_writes": len(split),
                "proven_before_switch": len(proven), "behind_edge_fence": len(behind_edge), "epochs_reused": len(reused)}
    evidence = {"epochs_with_two_writers": shared[:MAX_LISTED], "split_brain_writes": split[:MAX_LISTED],
                "proven_before_switch": proven[:MAX_LISTED], "behind_edge_fence": behind_edge[:MAX_LISTED],
                "epochs_reused": reused[:MAX_LISTED], "routes": routes}
    if shared or split or reused:
        parts = []
        if reused:
            r = reused[0]
            parts.append(f"the routing key named {r['first']['active']} (journal line {r['first']['seq']}) and then "
                         f"{r['then']['active']} (line {r['then']['seq']}) under the same epoch {r['epoch']}: the fencing "
                         "token no longer fenced (a client reading the key afresh follows the second)")
        if shared:
            s = shared[0]
            parts.append(f"under routing epoch {s['epoch']} (active {s['route_active']}) writes were committed by "
                         f"{' and '.join(s['dcs'])}")
        if split:
            ops = ", ".join(f"op {w['op']}" + (f" (ID {w['id']})" if w.get("id") is not None else "") for w in split[:5])
            more = f" and {len(split) - 5} more" if len(split) > 5 else ""
            parts.append(f"{len(split)} write(s) may have committed on a data centre after it had stopped being the "
                         f"writer: {ops}{more} — first: {split[0]['why']}")
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "Two data centres took writes: " + "; ".join(parts) + ".",
                       evidence)
    extra = []
    if proven:
        extra.append(f"{len(proven)} committed around a switch but were already on the data centre that took over")
    if behind_edge:
        extra.append(f"{len(behind_edge)} may have committed behind an edge fence, where no client could see them "
                     "(judged as loss by rpo)")
    tail = f" ({'; '.join(extra)})" if extra else ""
    return Verdict(NAME, PASSED, measured, OBJECTIVE,
                   f"All {len(accepted)} committed writes went to the single active data centre of their routing "
                   f"epoch{tail}.", evidence)


def _two_writers_per_epoch(hist: History, accepted: list[Op]) -> list[dict[str, Any]]:
    per_epoch: dict[int, dict[str, list[Op]]] = defaultdict(lambda: defaultdict(list))
    for o in accepted:
        epoch = hist.epoch_of(o)
        if epoch is not None and o.dc:
            per_epoch[epoch][o.dc].append(o)
    shared = []
    for epoch, dcs in sorted(per_epoch.items()):
        route = hist.route_of_epoch(epoch)
        wrong = [dc for dc in dcs if route is not None and dc != route.active]
        if len(dcs) > 1 or wrong:
            shared.append({"epoch": epoch, "route_active": route.active if route else None,
                           "route_seq": route.seq if route else None,
                           "dcs": {dc: {"writes": len(ops), "first": ops[0].ref()} for dc, ops in sorted(dcs.items())}})
    return shared


def handover(hist: History, o: Op) -> tuple[int, Route] | None:
    """When the write's DC stopped being the only writer: the first route with a newer epoch
    than the write's that names another DC — or, earlier, the promotion of that DC."""
    epoch = hist.epoch_of(o)
    for r in hist.routes:
        if r.mono_ns is None or (epoch is not None and r.epoch <= epoch) or r.active == o.dc:
            continue
        previous = hist.previous_route(r)
        since = previous.mono_ns if previous is not None else None
        promote = hist.first(ev.PROMOTE, after=since, before=r.mono_ns, where=lambda e, dc=r.active: e.get("dc") == dc)
        return (min(r.mono_ns, promote.mono_ns) if promote is not None else r.mono_ns), r
    return None


def commit_end(hist: History, o: Op) -> int | None:
    """The latest moment the write can have committed: its ack; for an outcome-unknown write
    the first read-only fence or crash of its DC after it was sent (None: nothing bounds it)."""
    if o.outcome == "ok":
        return o.complete_ns
    start = o.invoke_ns or 0
    bounds = [f.start_ns for f in hist.fences(o.dc or "") if f.method == "read_only" and f.start_ns >= start]
    crash = hist.first(ev.FAULT_INJECT, after=start,
                       where=lambda e: e.get("type") == "crash" and e.get("target") == o.dc)
    if crash is not None:
        bounds.append(crash.mono_ns)
    return min(bounds) if bounds else None


def judge_write(hist: History, o: Op) -> tuple[str, dict[str, Any]] | None:
    """None when the write's commit window lies inside its DC's tenure as the writer; else
    (split | proven | behind_edge, evidence entry)."""
    found = handover(hist, o)
    if found is None:
        return None
    at, route = found
    end = commit_end(hist, o)
    if end is not None and end <= at:
        return None
    window = {"invoke_s_before_handover": seconds(at - (o.invoke_ns or 0)),
              "window_end_s_after_handover": None if end is None else seconds(end - at),
              "handover": {"epoch": route.epoch, "active": route.active, "seq": route.seq}}
    entry = {**o.ref(), **window}
    if o.present_on(route.active) is True:
        return "proven", {**entry, "why": f"{route.active}, which took over, holds it: it committed before the switch"}
    if o.acknowledged:
        fence = hist.fence_at(o.dc or "", o.complete_ns or 0)
        if fence is not None:
            why = (f"acknowledged by {o.dc} {seconds((o.complete_ns or 0) - fence.start_ns):.3f} s after {o.dc} was "
                   f"fenced ({fence.method}, journal line {fence.seq}): the fence did not hold")
        else:
            why = (f"acknowledged by {o.dc} {seconds((o.complete_ns or 0) - at):.3f} s after epoch {route.epoch} "
                   f"made {route.active} the writer")
        return "split", {**entry, "why": why}
    edge = hist.fence_at(o.dc or "", at, method="edge")
    if edge is not None:
        return "behind_edge", {**entry, "fence_seq": edge.seq,
                               "why": f"{o.dc}'s service paths were cut before the switch (journal line {edge.seq})"}
    through = hist.fence_at(o.dc or "", o.invoke_ns or 0, method="read_only")
    if through is not None:
        why = (f"read back on {o.dc} although {o.dc} was fenced read-only when it was sent (journal line "
               f"{through.seq}): the fence did not hold")
    else:
        bound = "nothing fenced it afterwards" if end is None else \
            f"it could commit until {seconds(end - at):.3f} s after the switch, when {o.dc} was fenced or crashed"
        why = (f"outcome unknown to its client, read back on {o.dc} but not on {route.active}; {o.dc} was not "
               f"fenced before epoch {route.epoch} made {route.active} the writer, and {bound}")
    return "split", {**entry, "why": why}
