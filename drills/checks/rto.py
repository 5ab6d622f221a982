"""RTO: how long the application could not write, measured from the record alone.

For every route change in the history:

- **Unplanned failover** — origin is the fault that triggered it: the last `fault.inject`
  after the previous route change and before the detection (`dc.failed` of the old active
  DC; without a detection, before the route change). A forced failover with no fault
  starts at its `failover.start`. The end is the first acknowledged write on the new
  active DC (ledger `ok`, from a client under the new epoch or one that did not record
  its epoch).
- **Planned switchover / failback** (`switchover.start` towards the new DC after the
  previous change) — the write-unavailable window: from the write ban on the old side
  (`write_ban`; `switchover.start` if the ban was not journaled) to the first ack on the
  new side. The last ack on the old side is reported beside it.

Phases are offsets from the origin of the journal events in between (detected, fenced,
promoted, route published, first client on the new route, first ack), one clock
(`mono_ns`), never sleeps added up. Objective: `switchover_window` for planned switches
when the scenario sets one, else `rto`, in seconds.

Per change: within the objective → passed; beyond → failed; writes never acknowledged on
the new side → failed if the time the record still covers already exceeds the objective,
else unknown. No objective set → passed once writes resumed (the figure is reported, the
drill just did not bound it). No route change at all → unknown: there was no recovery to
time.
"""

from __future__ import annotations

from typing import Any

from drills import events as ev
from drills.checks.history import Event, History, Op, Route
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Status, Verdict, combine, seconds

NAME = "rto"


def check(hist: History, *, rto: float | None = None, switchover_window: float | None = None) -> Verdict:
    changes = [r for r in hist.changes if (prev := hist.previous_route(r)) is None or prev.active != r.active]
    if not changes:
        return Verdict(NAME, UNKNOWN, None, rto, "The active data centre never changed, so there was no recovery time to measure.",
                       {"routes": [_route_ref(r) for r in hist.routes]})
    results = []
    for i, route in enumerate(changes):
        until = changes[i + 1].mono_ns if i + 1 < len(changes) else None
        results.append(_measure(hist, route, until, rto, switchover_window))
    statuses: list[Status] = [r["status"] for r in results]
    status = combine(statuses)
    timed = [r for r in results if r["measured_s"] is not None]
    worst = max(timed, key=lambda r: r["measured_s"]) if timed else results[0]
    if status == FAILED:
        bad = next(r for r in results if r["status"] == FAILED)
        summary = bad["summary"]
    elif status == UNKNOWN:
        summary = next(r for r in results if r["status"] == UNKNOWN)["summary"]
    else:
        summary = worst["summary"]
    return Verdict(NAME, status, worst["measured_s"], worst["objective_s"], summary,
                   {"changes": results, "routes": [_route_ref(r) for r in hist.routes]})


def _measure(hist: History, route: Route, until: int | None, rto: float | None, window: float | None) -> dict[str, Any]:
    prev = hist.previous_route(route)
    old = prev.active if prev else None
    new = route.active
    since = prev.mono_ns if prev and prev.mono_ns is not None else None
    change_ns = route.mono_ns or 0
    switch = hist.last(ev.SWITCHOVER_START, after=since, before=change_ns, where=lambda e: e.get("to") in (None, new))
    planned = switch is not None
    out: dict[str, Any] = {"from": old, "to": new, "epoch": route.epoch, "route_seq": route.seq,
                           "kind": (switch.get("kind") or "switchover") if switch else "failover"}
    phases: list[dict[str, Any]] = []
    origin: Event | None
    if planned:
        assert switch is not None
        ban = hist.first(ev.WRITE_BAN, after=switch.mono_ns, before=change_ns, where=lambda e: e.get("dc") in (None, old))
        origin = ban or switch
        out["origin"] = "write_ban" if ban else "switchover.start"
        objective = window if window is not None else rto
        out["objective_name"] = "switchover_window" if window is not None else "rto"
    else:
        detected = hist.last(ev.DC_FAILED, after=since, before=change_ns, where=lambda e: e.get("dc") in (None, old))
        cutoff = detected.mono_ns if detected else change_ns
        origin = hist.last(ev.FAULT_INJECT, after=since, before=cutoff)
        out["origin"] = "fault.inject"
        if origin is None:
            origin = hist.last(ev.FAILOVER_START, after=since, before=change_ns, where=lambda e: e.get("to") in (None, new))
            out["origin"] = "failover.start"
        if origin is None and detected is not None:
            origin, out["origin"] = detected, "dc.failed"
        objective = rto
        out["objective_name"] = "rto"
    out["objective_s"] = objective
    if origin is None:
        out.update(status=UNKNOWN, measured_s=None, phases=[],
                   summary=f"The switch from {old} to {new} has no recorded fault or switchover request to time it from.")
        return out
    t0 = origin.mono_ns
    out["origin_seq"] = origin.seq
    if origin.kind == ev.FAULT_INJECT:
        out["fault"] = {"name": origin.get("name"), "type": origin.get("type"), "target": origin.get("target")}

    def phase(label: str, kind: str, **match: Any) -> None:
        e = hist.first(kind, after=t0, before=until, where=lambda e: all(e.get(k) in (None, v) for k, v in match.items()))
        if e is not None:
            phases.append({"phase": label, "seq": e.seq, "at_s": seconds(e.mono_ns - t0)})

    phases.append({"phase": origin.kind, "seq": origin.seq, "at_s": 0.0})
    if planned:
        if origin.kind != ev.WRITE_BAN:
            phase("write_ban", ev.WRITE_BAN, dc=old)
        last_old = _last_ack(hist, old, before=change_ns)
        if last_old is not None:
            out["last_ack_old"] = {**last_old.ref(), "at_s": seconds((last_old.complete_ns or 0) - t0)}
        phase("replica_caught_up", ev.GTID_WAIT)
        phase("link_reversed", ev.LINK_REVERSED)
    else:
        phase("detected", ev.DC_FAILED, dc=old)
        phase("failover_start", ev.FAILOVER_START, to=new)
        phase("fenced", ev.FENCE, dc=old)
        phase("replication_stopped", ev.REPLICATION_STOPPED, dc=new)
    phase("promoted", ev.PROMOTE, dc=new)
    phase("route_published", ev.ROUTE_PUBLISHED, to=new, epoch=route.epoch)
    phase("route_observed", ev.ROUTE_CHANGED, active=new, epoch=route.epoch)
    client = hist.first(ev.WORKLOAD_ROUTE, after=t0, before=until,
                        where=lambda e: e.get("active") == new and (e.get("epoch") is None or int(e.get("epoch")) >= route.epoch))
    if client is not None:
        phases.append({"phase": "first_client_on_new_route", "seq": client.seq, "at_s": seconds(client.mono_ns - t0)})
    ack = _first_ack(hist, new, route.epoch, after=t0, before=until)
    if ack is not None:
        phases.append({"phase": "first_ack", "op": ack.op, "id": ack.id, "at_s": seconds((ack.complete_ns or 0) - t0)})
    phases.sort(key=lambda p: p["at_s"])
    out["phases"] = phases
    what = "write-unavailable window" if planned else "recovery"
    start_words = "the write ban" if planned else ("the fault" if origin.kind == ev.FAULT_INJECT else "the failover request")
    if ack is not None:
        measured = seconds((ack.complete_ns or 0) - t0)
        out["measured_s"] = measured
        out["first_ack"] = ack.ref()
        bound = f" (objective {objective:g} s)" if objective is not None else " (no objective set)"
        if objective is not None and measured is not None and measured > objective:
            out["status"] = FAILED
            out["summary"] = (f"Writes resumed on {new} {measured:.2f} s after {start_words} on {old}, "
                              f"longer than the {objective:g} s allowed for the {what}.")
        else:
            out["status"] = PASSED
            out["summary"] = f"Writes resumed on {new} {measured:.2f} s after {start_words} on {old}{bound}."
        return out
    end = until if until is not None else hist.end_ns
    at_least = seconds(max(0, end - t0))
    out["measured_s"] = None
    out["at_least_s"] = at_least
    if objective is not None and at_least is not None and at_least > objective:
        out["status"] = FAILED
        out["summary"] = (f"No write was acknowledged on {new} for at least {at_least:.2f} s after {start_words} "
                          f"on {old}, beyond the {objective:g} s allowed.")
    else:
        out["status"] = UNKNOWN
        out["summary"] = f"No write was acknowledged on {new} after the switch, so the {what} cannot be measured."
    return out


def _first_ack(hist: History, dc: str, epoch: int, *, after: int, before: int | None) -> Op | None:
    best = None
    for o in hist.writes:
        if o.outcome != "ok" or o.dc != dc or o.complete_ns is None or o.complete_ns < after:
            continue
        if before is not None and o.complete_ns > before:
            continue
        if o.epoch is not None and o.epoch < epoch:
            continue
        if best is None or o.complete_ns < (best.complete_ns or 0):
            best = o
    return best


def _last_ack(hist: History, dc: str | None, *, before: int) -> Op | None:
    acks = [o for o in hist.writes if o.outcome == "ok" and o.dc == dc and o.complete_ns is not None and o.complete_ns <= before]
    return max(acks, key=lambda o: o.complete_ns or 0, default=None)


def _route_ref(r: Route) -> dict[str, Any]:
    return {"epoch": r.epoch, "active": r.active, "seq": r.seq}
