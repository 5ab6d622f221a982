"""Sequence continuity: IDs from the global sequence never repeat across a switch.

The incident this exists for (seed 002): the sequence table was filtered, dc2's sequence
stayed behind, and after the switch the application handed out IDs dc1 had already used —
primary-key conflicts on orders. Judged from the ledger (orders' ids, and which writes
committed where, by the read-back), the workload's `segment.fetched` events and the
observer's readings of the sequence table:

1. no ID committed twice (two writes with one ID both committed — acknowledged or read
   back: a silent overwrite, or a replica that lost the first row);
2. no duplicate-key error (`error_code` 1062) on any write — each listed with the earlier
   op that used the same id;
3. no two segments overlap (`segment.fetched` ranges, from either DC): two allocations
   that handed out the same range are a failure before any of its IDs is used;
4. after every route change, every ID allocated under the new route is above every ID
   committed before the change (acknowledged, or read back — a write whose client timed out
   but which did commit used its ID too). This is the fix's invariant (re-fetch a segment
   after a switch);
5. the standby's high-water mark: an `observe.sequence` of the standby taken once the link
   had caught up with the active side (`caught_up` true) must be at or above the active
   side's value read just before. A standby at 1 while the active hands out 10001+ is the
   latent hazard of the incident, there before any switch;
6. the sequence's high-water mark on the active DC (the last `observe.sequence` next_val)
   is at or above the largest ID in use (ledger and observed order rows);
7. IDs skipped (fetched in a segment but never sent) are reported, not judged: abandoning
   a segment is the price of re-fetching.

Failures in 1–6 fail the check; no order committed → `unknown`; no reading of the
sequence on the active side → `unknown` unless something already failed.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from drills import events as ev
from drills.checks.history import Event, History, Op
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "sequence_continuity"
OBJECTIVE = "no ID reused"
DUPLICATE_KEY = 1062
MAX_LISTED = 50


def check(hist: History, *, sequence_name: str | None = None, table: str = "app.orders") -> Verdict:
    orders = [o for o in hist.writes if o.f == "write_order" and o.id is not None]
    committed = [o for o in orders if o.accepted]
    evidence: dict[str, Any] = {}
    findings: list[str] = []

    by_id: dict[int, list[Op]] = defaultdict(list)
    for o in committed:
        by_id[o.id or 0].append(o)
    twice = [{"id": i, "ops": [o.ref() for o in ops]} for i, ops in sorted(by_id.items()) if len(ops) > 1]
    evidence["committed_twice"] = _cap(twice)
    if twice:
        findings.append(f"{len(twice)} ID(s) were committed twice (first: {twice[0]['id']}, "
                        f"ops {', '.join(str(r['op']) for r in twice[0]['ops'])})")

    used_by: dict[int, list[Op]] = defaultdict(list)
    for o in sorted(orders, key=lambda o: (o.invoke_ns or 0, o.op)):
        used_by[o.id or 0].append(o)
    dup_errors = []
    for o in hist.writes:
        if o.error_code == DUPLICATE_KEY:
            earlier = [p for p in used_by.get(o.id or -1, []) if p.op != o.op and p.accepted]
            dup_errors.append({**o.ref(), "error": o.error, "conflicts_with": [p.ref() for p in earlier]})
    evidence["duplicate_key_errors"] = _cap(dup_errors)
    if dup_errors:
        first = dup_errors[0]
        other = first["conflicts_with"][0]["op"] if first["conflicts_with"] else None
        findings.append(f"{len(dup_errors)} write(s) hit a duplicate-key error (first: ID {first['id']} in op "
                        f"{first['op']}" + (f", already used by op {other}" if other is not None else "") + ")")

    overlaps = _overlapping_segments(hist)
    evidence["overlapping_segments"] = _cap(overlaps)
    if overlaps:
        a, b = overlaps[0]["segments"]
        findings.append(f"{len(overlaps)} pair(s) of allocated segments overlap (first: {a['low']}-{a['high']} from "
                        f"{a['dc']} and {b['low']}-{b['high']} from {b['dc']}, journal lines {a['seq']} and {b['seq']})")

    regressions = _not_above_previous(hist, orders, committed)
    evidence["not_above_previous"] = _cap(regressions)
    if regressions:
        r = regressions[0]
        findings.append(f"{len(regressions)} ID(s) allocated after a switch were not above the IDs used before it "
                        f"(first: ID {r['id']} in op {r['op']} after the switch to epoch {r['route_epoch']}, while ID "
                        f"{r['highest_before_switch']['id']} had been committed in op {r['highest_before_switch']['op']})")

    standby = _standby_high_water(hist, sequence_name)
    evidence["standby_high_water_mark"] = standby
    behind = [s for s in standby if s.get("ok") is False]
    if behind:
        s = behind[0]
        findings.append(f"the standby {s['dc']}'s sequence {s['name']!r} stood at {s['next_val']} while the active "
                        f"{s['source']} was at {s['source_next_val']} and the link had caught up (journal line "
                        f"{s['seq']}): the sequence is not being replicated, so a switch would hand out used IDs")

    active = hist.routes[-1].active if hist.routes else None
    ids_obs = [hist.last(ev.OBSERVE_IDS, where=lambda e, dc=dc: e.get("dc") == dc and e.get("table", table) == table)
               for dc in ("dc1", "dc2")]
    observed_max = max((int(r[1]) for e in ids_obs if e is not None for r in (e.get("ranges") or [])), default=None)
    ledger_max = max((o.id or 0 for o in committed), default=None)
    in_use = max((v for v in (observed_max, ledger_max) if v is not None), default=None)
    seq_obs = _sequence_observation(hist, active, sequence_name)
    hwm: dict[str, Any] = {"active_dc": active, "largest_id_in_use": in_use}
    hwm_known = seq_obs is not None
    if seq_obs is not None:
        next_val = int(seq_obs.get("next_val"))
        hwm.update(next_val=next_val, name=seq_obs.get("name"), seq=seq_obs.seq)
        if in_use is not None and next_val < in_use:
            findings.append(f"the sequence on {active} would hand out {next_val} next, below ID {in_use} already in use")
            hwm["ok"] = False
        else:
            hwm["ok"] = True
    evidence["high_water_mark"] = hwm

    skipped = _skipped(hist, orders)
    evidence["skipped_ids"] = skipped

    measured = {"committed_twice": len(twice), "duplicate_key_errors": len(dup_errors),
                "overlapping_segments": len(overlaps), "not_above_previous": len(regressions),
                "standby_behind": len(behind), "skipped_ids": skipped["total"]}
    if findings:
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "IDs were reused: " + "; ".join(findings) + ".", evidence)
    if not committed:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, "No order was committed, so there were no IDs to check.",
                       evidence)
    if not hwm_known:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE,
                       f"No ID was reused, but the sequence table on {active} was never read, so its high-water mark "
                       "is unchecked.", evidence)
    standby_note = ""
    judged = [s for s in standby if s.get("ok") is True]
    if judged:
        standby_note = f"; the standby's sequence kept up with the active side ({len(judged)} reading(s))"
    return Verdict(NAME, PASSED, measured, OBJECTIVE,
                   f"All {len(committed)} committed orders had distinct IDs, no two segments overlapped, every switch "
                   f"moved to higher IDs, and the sequence on {active} is ahead of them{standby_note} "
                   f"({skipped['total']} IDs left unused in abandoned segments).", evidence)


def _overlapping_segments(hist: History) -> list[dict[str, Any]]:
    segments = []
    for e in hist.of(ev.SEGMENT_FETCHED):
        try:
            segments.append({"low": int(e.get("low")), "high": int(e.get("high")), "dc": e.get("dc"),
                             "name": e.get("name"), "seq": e.seq})
        except (TypeError, ValueError):
            continue
    out = []
    by_name: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for s in segments:
        by_name[s["name"]].append(s)
    for group in by_name.values():
        group.sort(key=lambda s: (s["low"], s["seq"]))
        widest: dict[str, Any] | None = None  # the earlier segment reaching furthest up
        for s in group:
            if widest is not None and s["low"] <= widest["high"]:
                out.append({"segments": [widest, s],
                            "ids": [s["low"], min(s["high"], widest["high"])]})
            if widest is None or s["high"] > widest["high"]:
                widest = s
    return sorted(out, key=lambda o: max(x["seq"] for x in o["segments"]))


def _not_above_previous(hist: History, orders: list[Op], committed: list[Op]) -> list[dict[str, Any]]:
    regressions = []
    for _prev, route in hist.switches():  # a route re-published on the same DC does not hand the sequence over
        t = route.mono_ns or 0
        before = [o for o in committed if (o.complete_ns if o.acknowledged else o.invoke_ns) is not None
                  and (o.complete_ns if o.acknowledged else o.invoke_ns) < t]
        if not before:
            continue
        top = max(before, key=lambda o: o.id or 0)
        nxt = next((r for r in hist.routes if r.epoch > route.epoch), None)
        for o in orders:
            epoch = hist.epoch_of(o)
            under = (epoch == route.epoch) if epoch is not None else \
                (o.invoke_ns is not None and o.invoke_ns >= t and (nxt is None or o.invoke_ns < (nxt.mono_ns or 0)))
            if under and o.op != top.op and (o.id or 0) <= (top.id or 0):
                regressions.append({**o.ref(), "route_epoch": route.epoch, "route_seq": route.seq,
                                    "highest_before_switch": top.ref()})
    return regressions


def _standby_high_water(hist: History, name: str | None) -> list[dict[str, Any]]:
    """Readings of the standby's sequence taken after its link caught up with the active
    side (the collector reads the active side first, waits for the link, then the standby)."""
    out = []
    for e in hist.of(ev.OBSERVE_SEQUENCE, where=lambda e: e.get("role") == "standby"):
        if name and e.get("name") != name:
            continue
        entry = {"dc": e.get("dc"), "name": e.get("name"), "next_val": e.get("next_val"), "source": e.get("source"),
                 "source_next_val": e.get("source_next_val"), "caught_up": e.get("caught_up"), "seq": e.seq,
                 "when": e.get("when")}
        if e.get("caught_up") is True and e.get("source_next_val") is not None and e.get("next_val") is not None:
            entry["ok"] = int(e.get("next_val")) >= int(e.get("source_next_val"))
        else:
            entry["ok"] = None  # the link had not caught up: the reading proves nothing either way
        out.append(entry)
    return out


def _sequence_observation(hist: History, dc: str | None, name: str | None) -> Event | None:
    found = hist.of(ev.OBSERVE_SEQUENCE, where=lambda e: e.get("dc") == dc and e.get("next_val") is not None
                    and e.get("role") != "standby")
    if name:
        named = [e for e in found if e.get("name") == name]
        if named:
            return named[-1]
    names = {e.get("name") for e in found}
    return found[-1] if len(names) == 1 else (max(found, key=lambda e: int(e.get("next_val"))) if found else None)


def _skipped(hist: History, orders: list[Op]) -> dict[str, Any]:
    ids = sorted({o.id for o in orders if o.id is not None})
    segments = []
    total = 0
    for e in hist.of(ev.SEGMENT_FETCHED):
        try:
            lo, hi = int(e.get("low")), int(e.get("high"))
        except (TypeError, ValueError):
            continue
        used = bisect.bisect_right(ids, hi) - bisect.bisect_left(ids, lo)
        size = hi - lo + 1
        if size - used > 0:
            total += size - used
            segments.append({"seq": e.seq, "dc": e.get("dc"), "low": lo, "high": hi, "used": used, "skipped": size - used})
    return {"total": total, "segments": _cap(segments)}


def _cap(items: list[Any]) -> list[Any]:
    """Evidence stays readable: the first MAX_LISTED items (`measured` holds the counts)."""
    return items[:MAX_LISTED]
