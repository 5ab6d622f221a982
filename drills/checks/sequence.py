"""Sequence continuity: IDs from the global sequence never repeat across a switch.

The incident this exists for (seed 002): the sequence table was filtered, dc2's sequence
stayed behind, and after the switch the application handed out IDs dc1 had already used —
primary-key conflicts on orders. Judged from the ledger (orders' ids) and the observer's
reading of the sequence table:

1. no ID acknowledged twice (two `ok` write_order ops with one id: a silent overwrite or
   a replica that lost the first row);
2. no duplicate-key error (`error_code` 1062) on any write — each listed with the earlier
   op that used the same id;
3. after every route change, every ID allocated under the new route (ops under its epoch,
   or sent after it when no epoch was recorded) is above every ID acknowledged before the
   change. This is the fix's invariant (re-fetch a segment after a switch), so a workload
   that keeps its old in-memory segment fails it even before a collision happens;
4. the sequence's high-water mark on the active DC (the last `observe.sequence` next_val)
   is at or above the largest ID in use (ledger acks and observed order rows);
5. IDs skipped (fetched in a `segment.fetched` segment but never sent) are reported, not
   judged: abandoning a segment is the price of re-fetching.

Failures in 1–4 fail the check; no acknowledged order → `unknown`; no reading of the
sequence on the active side → `unknown` unless something already failed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drills import events as ev
from drills.checks.history import History, Op
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "sequence_continuity"
DUPLICATE_KEY = 1062
MAX_LISTED = 50


def check(hist: History, *, sequence_name: str | None = None, table: str = "app.orders") -> Verdict:
    orders = [o for o in hist.writes if o.f == "write_order" and o.id is not None]
    acked = [o for o in orders if o.acknowledged]
    evidence: dict[str, Any] = {}
    findings: list[str] = []

    by_id: dict[int, list[Op]] = defaultdict(list)
    for o in acked:
        by_id[o.id or 0].append(o)
    twice = [{"id": i, "ops": [o.ref() for o in ops]} for i, ops in sorted(by_id.items()) if len(ops) > 1]
    evidence["acknowledged_twice"] = _cap(twice)
    if twice:
        findings.append(f"{len(twice)} ID(s) were acknowledged twice (first: {twice[0]['id']}, "
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

    regressions = []
    for route in hist.changes:
        prev = hist.previous_route(route)
        if prev is not None and prev.active == route.active:
            continue  # a re-published route on the same DC: the sequence did not change hands
        t = route.mono_ns or 0
        before = [o for o in acked if o.complete_ns is not None and o.complete_ns < t]
        if not before:
            continue
        top = max(before, key=lambda o: o.id or 0)
        nxt = next((r for r in hist.routes if r.epoch > route.epoch), None)
        for o in orders:
            under = (o.epoch == route.epoch) if o.epoch is not None else \
                (o.invoke_ns is not None and o.invoke_ns >= t and (nxt is None or o.invoke_ns < (nxt.mono_ns or 0)))
            if under and (o.id or 0) <= (top.id or 0):
                regressions.append({**o.ref(), "route_epoch": route.epoch, "route_seq": route.seq,
                                    "highest_before_switch": top.ref()})
    evidence["not_above_previous"] = _cap(regressions)
    if regressions:
        r = regressions[0]
        findings.append(f"{len(regressions)} ID(s) allocated after a switch were not above the IDs used before it "
                        f"(first: ID {r['id']} in op {r['op']} after the switch to epoch {r['route_epoch']}, while ID "
                        f"{r['highest_before_switch']['id']} had been acknowledged in op {r['highest_before_switch']['op']})")

    active = hist.routes[-1].active if hist.routes else None
    ids_obs = [hist.last(ev.OBSERVE_IDS, where=lambda e, dc=dc: e.get("dc") == dc and e.get("table", table) == table)
               for dc in ("dc1", "dc2")]
    observed_max = max((int(r[1]) for e in ids_obs if e is not None for r in (e.get("ranges") or [])), default=None)
    ledger_max = max((o.id or 0 for o in acked), default=None)
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

    measured = {"acknowledged_twice": len(twice), "duplicate_key_errors": len(dup_errors),
                "not_above_previous": len(regressions), "skipped_ids": skipped["total"]}
    if findings:
        return Verdict(NAME, FAILED, measured, "no ID reused", "IDs were reused: " + "; ".join(findings) + ".", evidence)
    if not acked:
        return Verdict(NAME, UNKNOWN, measured, "no ID reused", "No order was acknowledged, so there were no IDs to check.", evidence)
    if not hwm_known:
        return Verdict(NAME, UNKNOWN, measured, "no ID reused",
                       f"No ID was reused, but the sequence table on {active} was never read, so its high-water mark is unchecked.",
                       evidence)
    return Verdict(NAME, PASSED, measured, "no ID reused",
                   f"All {len(acked)} acknowledged orders had distinct IDs, every switch moved to higher IDs, and the "
                   f"sequence on {active} is ahead of them ({skipped['total']} IDs left unused in abandoned segments).",
                   evidence)


def _sequence_observation(hist: History, dc: str | None, name: str | None):  # -> Event | None
    found = hist.of(ev.OBSERVE_SEQUENCE, where=lambda e: e.get("dc") == dc and e.get("next_val") is not None)
    if name:
        named = [e for e in found if e.get("name") == name]
        if named:
            return named[-1]
    names = {e.get("name") for e in found}
    return found[-1] if len(names) == 1 else (max(found, key=lambda e: int(e.get("next_val"))) if found else None)


def _skipped(hist: History, orders: list[Op]) -> dict[str, Any]:
    ids = sorted({o.id for o in orders if o.id is not None})
    import bisect

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
