"""RTO: how long the application could not write, measured from the record alone.

For every route change in the history, the outage runs from the moment writes became
unavailable to the first *order* acknowledged on the new active DC (a business write from a
client under the new epoch; a segment allocation or a probe is not the application working):

- **Unplanned failover** — the drilled event is the first `fault.inject` after the previous
  switch that acts on the old writer (its process or its application path; any fault before
  the detection if none does). A fault elsewhere — latency on the standby's path — never
  moves the start. The outage starts at the first evidence that writes stopped because of
  it: the first order to the old side that failed or never completed after its last
  acknowledged one, bounded below by the drilled event. When none failed — the old side kept
  taking orders until the clients followed the new route (a cut link, not a dead writer) —
  it starts at the last order the old side acknowledged. A forced failover with no fault
  starts at its `failover.start`.
- **Planned switchover / failback** (`switchover.start` towards the new DC) — the
  write-unavailable window: from the write ban on the old side, or from the first refused
  or failed order after the old side's last acknowledged one if that came earlier (a path
  already broken before the switch is part of its outage), to the first ack on the new side.

Phases are offsets from that start of the journal events in between (detected, fenced,
promoted, route published, route observed by the runner's own watch, first client on the
new route, first ack), one clock (`mono_ns`), never sleeps added up; an external
controller's own phases (`controller.event`) are shown as `controller:<phase>`. Objective: `switchover_window` for planned switches
when the scenario sets one, else `rto`, in seconds.

Per change: within the objective → passed; beyond → failed. No order acknowledged on the
new side: failed if the application tried to write (an order, or an ID segment request that
was refused) for longer than the objective; unknown if it did not try after the switch
(time after the workload stopped is not unavailability). No
objective set → passed once orders resumed (the figure is reported). No route change at all
→ unknown: there was no recovery to time.
"""

from __future__ import annotations

from typing import Any

from drills import events as ev
from drills.checks.history import Event, History, Op, Route
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Status, Verdict, combine, seconds

NAME = "rto"


def check(hist: History, *, rto: float | None = None, switchover_window: float | None = None) -> Verdict:
    changes = [r for _prev, r in hist.switches()]
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
    trigger: Event | None
    if planned:
        assert switch is not None
        ban = hist.first(ev.WRITE_BAN, after=switch.mono_ns, before=change_ns, where=lambda e: e.get("dc") in (None, old))
        trigger = ban or switch
        out["origin"] = "write_ban" if ban else "switchover.start"
        objective = window if window is not None else rto
        out["objective_name"] = "switchover_window" if window is not None else "rto"
    else:
        detected = hist.last(ev.DC_FAILED, after=since, before=change_ns, where=lambda e: e.get("dc") in (None, old))
        cutoff = detected.mono_ns if detected else change_ns
        trigger = _drilled_fault(hist, old, since, cutoff)
        out["origin"] = "fault.inject"
        if trigger is None:
            trigger = hist.last(ev.FAILOVER_START, after=since, before=change_ns, where=lambda e: e.get("to") in (None, new))
            out["origin"] = "failover.start"
        if trigger is None and detected is not None:
            trigger, out["origin"] = detected, "dc.failed"
        objective = rto
        out["objective_name"] = "rto"
    out["objective_s"] = objective
    if trigger is None:
        out.update(status=UNKNOWN, measured_s=None, phases=[],
                   summary=f"The switch from {old} to {new} has no recorded fault or switchover request to time it from.")
        return out
    # When writes actually stopped: the first business write to the old side that failed or
    # never completed after its last acknowledged one — bounded below by the drilled fault
    # (an unrelated earlier failure is not this outage), and for a planned switch no later
    # than the write ban (a path broken before the switch is part of its outage).
    last_ok = _last_ack(hist, old, before=trigger.mono_ns if planned else cutoff)
    lower = trigger.mono_ns if not planned else (since if since is not None else 0)
    if last_ok is not None and (last_ok.complete_ns or 0) > lower:
        lower = last_ok.complete_ns or 0
    failed = _first_unavailable(hist, old, after=lower, before=change_ns)
    if planned:
        t0 = min(trigger.mono_ns, failed) if failed is not None else trigger.mono_ns
        out["origin"] = "first_failed_write" if failed is not None and failed < trigger.mono_ns else out["origin"]
    else:
        if failed is not None:
            t0 = max(trigger.mono_ns, failed)
        else:
            # no order to the old side failed: it kept taking writes after the fault (a cut that
            # left the application's path alone) — writes stopped when the clients left it
            t0 = lower
            if lower > trigger.mono_ns:
                out["origin"] = "last_ack_on_old_writer"
        if failed is not None and failed > trigger.mono_ns:
            out["first_failed_write_s_after_fault"] = seconds(failed - trigger.mono_ns)
    out["origin_seq"] = trigger.seq
    out["start_s_from_origin_event"] = seconds(t0 - trigger.mono_ns)
    if trigger.kind == ev.FAULT_INJECT:
        out["fault"] = {"name": trigger.get("name"), "type": trigger.get("type"), "target": trigger.get("target")}

    def phase(label: str, kind: str, **match: Any) -> None:
        e = hist.first(kind, after=min(t0, trigger.mono_ns), before=until,
                       where=lambda e: all(e.get(k) in (None, v) for k, v in match.items()))
        if e is not None:
            phases.append({"phase": label, "seq": e.seq, "at_s": seconds(e.mono_ns - t0)})

    phases.append({"phase": trigger.kind, "seq": trigger.seq, "at_s": seconds(trigger.mono_ns - t0)})
    if t0 != trigger.mono_ns:
        phases.append({"phase": "writes_unavailable", "at_s": 0.0})
    if planned:
        if trigger.kind != ev.WRITE_BAN:
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
    # An external controller's own account of its phases ($DRILLS_EVENTS), on its own clock:
    # shown beside ours, never used to start or stop the measurement.
    for e in hist.of(ev.CONTROLLER_EVENT):
        at = e.get("at_mono_ns")
        if isinstance(at, int) and min(t0, trigger.mono_ns) <= at and (until is None or at < until):
            phases.append({"phase": f"controller:{e.get('phase')}", "seq": e.seq, "at_s": seconds(at - t0),
                           **({"dc": e.get("dc")} if e.get("dc") else {}), "clock": e.get("clock")})
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
    target = f" ({out['fault']['target']})" if trigger.kind == ev.FAULT_INJECT and out["fault"]["target"] != old else ""
    start_words = ("the first write refused on" if out["origin"] == "first_failed_write" else "the write ban on") if planned \
        else ("the last order acknowledged by" if out["origin"] == "last_ack_on_old_writer" else
              f"the first failed write after the fault{target} on" if t0 != trigger.mono_ns else
              f"the fault{target} on" if trigger.kind == ev.FAULT_INJECT else "the failover request for")
    if ack is not None:
        measured = seconds((ack.complete_ns or 0) - t0)
        out["measured_s"] = measured
        out["first_ack"] = ack.ref()
        bound = f" (objective {objective:g} s)" if objective is not None else " (no objective set)"
        if objective is not None and measured is not None and measured > objective:
            out["status"] = FAILED
            out["summary"] = (f"Orders were acknowledged again on {new} {measured:.2f} s after {start_words} {old}, "
                              f"longer than the {objective:g} s allowed for the {what}.")
        else:
            out["status"] = PASSED
            out["summary"] = f"Orders were acknowledged again on {new} {measured:.2f} s after {start_words} {old}{bound}."
        return out
    # No order acknowledged on the new side. Time after the workload stopped is not
    # unavailability: nobody was writing.
    stop = hist.workload_stop_ns
    ends = [t for t in (until, stop) if t is not None] or [hist.end_ns]
    end = min(ends)
    # Demand after the switch (`Op.wants_to_write`): an order sent, or an ID segment request
    # refused or unanswered — a client a read-only new primary refuses an ID never gets as far
    # as sending the order, yet it is the application trying to write.
    after = [o for o in hist.writes if o.wants_to_write and o.invoke_ns is not None
             and (route.mono_ns or 0) <= o.invoke_ns <= end]
    attempted = [o for o in after if o.f == "write_order"]
    allocations = [o for o in after if o.f == "alloc_segment"]
    at_least = seconds(max(0, end - t0))
    out["measured_s"] = None
    out["at_least_s"] = at_least
    out["orders_attempted_after_switch"] = len(attempted)
    if allocations:
        out["segment_allocations_after_switch"] = {
            "refused_or_unanswered": len(allocations),
            "error_codes": sorted({o.error_code for o in allocations if o.error_code is not None})}
    tried = (f"{len(attempted)} orders and {len(allocations)} refused ID segment requests" if allocations
             else f"{len(attempted)}")
    if not after:
        out["status"] = UNKNOWN
        out["summary"] = (f"No order was attempted after the switch to {new} (the workload had stopped or was not "
                          f"running), so the {what} cannot be measured.")
    elif objective is not None and at_least is not None and at_least > objective:
        out["status"] = FAILED
        out["summary"] = (f"No order was acknowledged on {new} for at least {at_least:.2f} s after {start_words} "
                          f"{old}, beyond the {objective:g} s allowed ({tried} attempted after the switch).")
    else:
        out["status"] = UNKNOWN
        out["summary"] = (f"No order was acknowledged on {new} after the switch ({tried} attempted before the "
                          f"workload stopped), so the {what} cannot be measured.")
    return out


def _drilled_fault(hist: History, old: str | None, since: int | None, cutoff: int) -> Event | None:
    """The fault the failover answered: the first one after the previous switch that acts on
    the old writer (its process, or its application path) and was still in force at the
    detection; failing that, the last fault before the detection. A fault elsewhere (latency
    on the standby's path) or a blip already healed never moves it."""
    def in_force(e: Event) -> bool:
        healed = hist.first(ev.FAULT_HEAL, after=e.mono_ns, before=cutoff, where=lambda h: h.get("name") == e.get("name"))
        return healed is None

    mine = hist.first(ev.FAULT_INJECT, after=since, before=cutoff,
                      where=lambda e: e.get("target") in (old, f"app:{old}") and in_force(e))
    return mine or hist.last(ev.FAULT_INJECT, after=since, before=cutoff)


# errors that say the data was wrong, not that the database was unavailable
_DATA_ERRORS = {1062, 1048, 1364, 1366, 1406, 1264, 1452, 1451, 1054, 1146}


def _first_unavailable(hist: History, dc: str | None, *, after: int, before: int) -> int | None:
    """The earliest moment >= `after` at which a business write to `dc` was in a failed or
    never-completed attempt: max(its invoke, `after`)."""
    best: int | None = None
    for o in hist.writes:
        if o.f != "write_order" or o.dc != dc or o.invoke_ns is None or o.invoke_ns > before:
            continue
        if o.outcome == "ok" or (o.outcome == "fail" and o.error_code in _DATA_ERRORS):
            continue
        if o.complete_ns is not None and o.complete_ns < after:
            continue
        t = max(o.invoke_ns, after)
        if best is None or t < best:
            best = t
    return best


def _first_ack(hist: History, dc: str, epoch: int, *, after: int, before: int | None) -> Op | None:
    best = None
    for o in hist.writes:
        if o.f != "write_order" or o.outcome != "ok" or o.dc != dc or o.complete_ns is None or o.complete_ns < after:
            continue
        if before is not None and o.complete_ns > before:
            continue
        if o.epoch is not None and o.epoch < epoch:
            continue
        if best is None or o.complete_ns < (best.complete_ns or 0):
            best = o
    return best


def _last_ack(hist: History, dc: str | None, *, before: int) -> Op | None:
    acks = [o for o in hist.writes if o.f == "write_order" and o.outcome == "ok" and o.dc == dc
            and o.complete_ns is not None and o.complete_ns <= before]
    return max(acks, key=lambda o: o.complete_ns or 0, default=None)


def _route_ref(r: Route) -> dict[str, Any]:
    return {"epoch": r.epoch, "active": r.active, "seq": r.seq}
