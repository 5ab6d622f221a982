"""RPO: committed writes the surviving DC does not have, counted and listed, not guessed.

For every route change old → new:

- the writes *committed* by the old side during its tenure: ledger `write_order` ops sent
  to it under an epoch that named it (the route in force when sent, for a client that
  recorded no epoch) that were acknowledged (`ok`), or whose read-back found them on the
  old side (an `info` write that did commit is lost exactly like an acknowledged one);
- where each of them is on the survivor: the read-back (`settle`) by the write's own token
  and content. Never by order ID: a stale sequence on the survivor hands the same IDs out
  again, and a row with the right ID and someone else's data is not the lost write;
- lost = committed on the old side, absent from the survivor. Reported with op numbers,
  ids, tokens, the time span they cover (first to last) and how long before the switch the
  first of them was acknowledged;
- where the old primary came back (an `observe.gtid` of it after the change), the
  transactions it executed that the survivor never received: GTID set difference
  (MySQL `uuid[:tag]:1-5:7` sets; MariaDB `domain-server-seq` lists, read as "everything
  that server logged in that domain up to seq" — an upper bound, since MariaDB shares one
  sequence per domain between servers). Reported, never judged: writes to filtered tables
  (job log) are transactions the survivor rightly never received.

Objective (scenario `rpo`): an int = lost writes allowed; `{max_writes, max_span}` bounds
the count and/or the span. Planned switches default to 0 (zero loss is their promise);
unplanned ones without an objective are measured only. A write that could not be read back
(on the survivor, or — outcome unknown — on the old side) makes an otherwise passing change
`unknown`: it might be the lost write. No switch, or nothing committed on the old side →
`unknown`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drills import events as ev
from drills.checks.history import Event, History, Op, Route
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Status, Verdict, combine, seconds
from drills.scenario.model import RpoBound

NAME = "rpo"
ORDERS_TABLE = "app.orders"
MAX_LISTED = 200


@dataclass(frozen=True)
class RpoObjective:
    max_writes: int | None = None
    max_span_s: float | None = None

    @property
    def bounded(self) -> bool:
        return self.max_writes is not None or self.max_span_s is not None

    def as_dict(self) -> dict[str, Any] | None:
        if not self.bounded:
            return None
        return {"max_writes": self.max_writes, "max_span_s": self.max_span_s}


def parse_objective(value: int | RpoBound | None) -> RpoObjective:
    """`rpo: 0`, `rpo: 3` or `rpo: {max_writes: 3, max_span: 2s}` (the scenario model's)."""
    if value is None:
        return RpoObjective()
    if isinstance(value, int):
        return RpoObjective(max_writes=value)
    return RpoObjective(value.max_writes, value.max_span)


def check(hist: History, *, objective: int | RpoBound | None = None, table: str = ORDERS_TABLE) -> Verdict:
    target = parse_objective(objective)
    changes = [r for _prev, r in hist.switches()]
    if not changes:
        return Verdict(NAME, UNKNOWN, None, target.as_dict(),
                       "The active data centre never changed, so no data could have been lost in a switch.", {})
    results = [_measure(hist, r, target, table) for r in changes]
    status = combine([r["status"] for r in results])
    lost = sum(int(r.get("lost_count", 0)) for r in results)
    spans = [r["span_s"] for r in results if r.get("span_s") is not None]
    gtid = [r["gtid_missing"]["count"] for r in results if r.get("gtid_missing")]
    measured = {"lost_writes": lost, "span_s": max(spans) if spans else None,
                "gtid_transactions_missing": sum(gtid) if gtid else None}
    pick = next((r for r in results if r["status"] == status), results[0])
    objective_shown = target.as_dict() or pick.get("objective")
    return Verdict(NAME, status, measured, objective_shown, pick["summary"], {"changes": results})


def _measure(hist: History, route: Route, target: RpoObjective, table: str) -> dict[str, Any]:
    prev = hist.previous_route(route)
    old, new = (prev.active if prev else None), route.active
    change_ns = route.mono_ns or 0
    planned = hist.last(ev.SWITCHOVER_START, after=prev.mono_ns if prev else None, before=change_ns,
                        where=lambda e: e.get("to") in (None, new)) is not None
    bound = target if target.bounded else (RpoObjective(max_writes=0) if planned else RpoObjective())
    out: dict[str, Any] = {"from": old, "to": new, "epoch": route.epoch, "route_seq": route.seq,
                           "kind": "planned" if planned else "unplanned", "objective": bound.as_dict()}
    tenure_routes = _tenure(hist, route)
    tenure = [o for o in hist.writes if o.f == "write_order" and o.dc == old and _in_tenure(hist, o, tenure_routes, route)]
    # committed on the old side: acknowledged by it, or read back there (an `info` write that
    # did commit is lost exactly like an acknowledged one when the survivor lacks it)
    accepted = [o for o in tenure if o.committed_on(old or "") is True]
    unsettled = [o for o in tenure if o.committed_on(old or "") is None]
    out["accepted_writes"] = len(accepted)
    out["unsettled"] = [o.ref() for o in unsettled[:MAX_LISTED]]
    gtid = _gtid_gap(hist, old, new, change_ns)
    if gtid is not None:
        out["gtid_missing"] = gtid
    # where each accepted write is now on the survivor: the read-back by token and content
    unread = [o for o in accepted if o.present_on(new) is None]
    lost = sorted((o for o in accepted if o.present_on(new) is False), key=lambda o: (o.time_ns or 0, o.op))
    out["lost"] = [{**o.ref(), "acked_s_before_switch": seconds(change_ns - (o.time_ns or 0))} for o in lost[:MAX_LISTED]]
    out["lost_count"] = len(lost)
    if unread:
        out["not_read_back"] = [o.ref() for o in unread[:MAX_LISTED]]
    span = seconds((lost[-1].time_ns or 0) - (lost[0].time_ns or 0)) if lost else 0.0
    out["span_s"] = span
    if lost:
        out["first_lost_acked_s_before_switch"] = seconds(change_ns - (lost[0].time_ns or 0))
    over = (bound.max_writes is not None and len(lost) > bound.max_writes) or \
           (bound.max_span_s is not None and lost and (span or 0) > bound.max_span_s)
    allowed = _describe(bound)
    status: Status
    if over:
        status = FAILED
        ids = ", ".join(str(o.id) for o in lost[:8]) + (" …" if len(lost) > 8 else "")
        summary = (f"{len(lost)} write(s) committed on {old} are missing on {new} after the switch "
                   f"(IDs {ids}; covering {span:.2f} s), more than the {allowed} allowed.")
    elif unread:
        status = UNKNOWN
        summary = (f"{len(unread)} write(s) committed on {old} were never read back on {new}, so the loss cannot "
                   "be counted.")
    elif unsettled:
        status = UNKNOWN
        summary = (f"{len(lost)} write(s) are missing on {new}, but {len(unsettled)} write(s) with an unknown "
                   f"outcome could not be read back on {old}, so the loss cannot be bounded.")
    elif not accepted:
        status = UNKNOWN
        summary = f"No write was committed on {old} before the switch to {new}, so there was nothing that could be lost."
    else:
        status = PASSED
        summary = (f"Every one of the {len(accepted)} write(s) committed on {old} is present on {new}."
                   if not lost else
                   f"{len(lost)} write(s) committed on {old} are missing on {new} (covering {span:.2f} s), "
                   f"within the {allowed} allowed." if bound.bounded else
                   f"{len(lost)} write(s) committed on {old} are missing on {new} (covering {span:.2f} s); "
                   "the scenario sets no bound.")
    out.update(status=status, summary=summary)
    return out


def _tenure(hist: History, route: Route) -> list[Route]:
    """The routes, just before `route`, under which the old side was continuously active
    (a re-published route with a new epoch but the same active DC does not end a tenure)."""
    i = hist.routes.index(route)
    prev = hist.routes[i - 1] if i > 0 else None
    out: list[Route] = []
    j = i - 1
    while prev is not None and j >= 0 and hist.routes[j].active == prev.active:
        out.insert(0, hist.routes[j])
        j -= 1
    return out


def _in_tenure(hist: History, o: Op, tenure: list[Route], route: Route) -> bool:
    if not tenure:
        return (o.invoke_ns or 0) < (route.mono_ns or 0)
    epoch = hist.epoch_of(o)
    if epoch is not None:
        return any(epoch == r.epoch for r in tenure)
    t = o.invoke_ns or 0
    start = tenure[0].mono_ns
    return (start is None or t >= start) and t < (route.mono_ns or 0)


def _describe(bound: RpoObjective) -> str:
    parts = []
    if bound.max_writes is not None:
        parts.append(f"{bound.max_writes} lost write(s)")
    if bound.max_span_s is not None:
        parts.append(f"{bound.max_span_s:g} s of writes")
    return " and ".join(parts) or "no bound"


def _gtid_gap(hist: History, old: str | None, new: str, after: int) -> dict[str, Any] | None:
    def latest(dc: str | None) -> Event | None:
        return hist.last(ev.OBSERVE_GTID, after=after, where=lambda e: e.get("dc") == dc)

    old_obs, new_obs = latest(old), latest(new)
    if old_obs is None or new_obs is None:
        return None
    a = GtidSet.parse(_gtid_text(old_obs))
    b = GtidSet.parse(_gtid_text(new_obs))
    missing = a - b
    return {"set": str(missing), "count": missing.count(), "old_seq": old_obs.seq, "survivor_seq": new_obs.seq,
            "note": "transactions the old primary executed that the survivor never received (includes filtered tables)"}


def _gtid_text(e: Event) -> str:
    # MariaDB: the binlog *state* (one entry per domain-server) is precise where the
    # position (one per domain) is not; the collector records both.
    return str(e.get("gtid_binlog_state") or e.get("gtid_executed") or "")


# ---- GTID sets ----------------------------------------------------------------------------

_MARIADB = re.compile(r"^\s*(\d+)-(\d+)-(\d+)\s*$")
_INTERVAL = re.compile(r"^\s*(\d+)(?:-(\d+))?\s*$")


class GtidSet:
    """A GTID set as {source: [inclusive intervals]}, for both flavours.

    MySQL: `3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18,uuid2:1-3` (8.4 tags:
    `uuid:tag:1-5`); the source key is `uuid` or `uuid:tag`. MariaDB: `0-1-105,1-2-7`
    (domain-server-seq), read as server `1` having logged 1..105 in domain `0`; key
    `0-1`. Both become interval sets, so the difference is one operation.
    """

    def __init__(self, intervals: dict[str, list[tuple[int, int]]] | None = None, flavor: str = "mysql"):
        self.flavor = flavor
        self.intervals = {k: _merge(v) for k, v in (intervals or {}).items() if v}

    @classmethod
    def parse(cls, text: str) -> GtidSet:
        text = (text or "").replace("\n", "").strip()
        if not text:
            return cls()
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if all(_MARIADB.match(p) for p in parts):
            out: dict[str, list[tuple[int, int]]] = {}
            for p in parts:
                m = _MARIADB.match(p)
                assert m is not None
                domain, server, seq = (int(g) for g in m.groups())
                out.setdefault(f"{domain}-{server}", []).append((1, seq))
            return cls(out, "mariadb")
        out = {}
        for p in parts:
            fields = p.split(":")
            if len(fields) < 2:
                raise ValueError(f"not a GTID set entry: {p!r} (expected uuid:1-5 or domain-server-seq)")
            key = fields[0].strip().lower()
            current = key
            for fld in fields[1:]:
                m = _INTERVAL.match(fld)
                if m is None:
                    current = f"{key}:{fld.strip().lower()}"  # a tag (MySQL 8.4)
                    continue
                lo = int(m.group(1))
                hi = int(m.group(2)) if m.group(2) else lo
                out.setdefault(current, []).append((lo, hi))
        return cls(out, "mysql")

    def __sub__(self, other: GtidSet) -> GtidSet:
        result: dict[str, list[tuple[int, int]]] = {}
        for key, mine in self.intervals.items():
            rest = mine
            for lo, hi in other.intervals.get(key, []):
                rest = [piece for a, b in rest for piece in _cut(a, b, lo, hi)]
            if rest:
                result[key] = rest
        return GtidSet(result, self.flavor)

    def count(self) -> int:
        return sum(hi - lo + 1 for v in self.intervals.values() for lo, hi in v)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __str__(self) -> str:
        if self.flavor == "mariadb":
            return ",".join(f"{k}-{lo}" if lo == hi else f"{k}-{lo}..{hi}"
                            for k, v in sorted(self.intervals.items()) for lo, hi in v)
        return ",".join(k + "".join(f":{lo}" if lo == hi else f":{lo}-{hi}" for lo, hi in v)
                        for k, v in sorted(self.intervals.items()))


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _cut(a: int, b: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """[a, b] minus [lo, hi]."""
    if hi < a or lo > b:
        return [(a, b)]
    pieces = []
    if lo > a:
        pieces.append((a, lo - 1))
    if hi < b:
        pieces.append((hi + 1, b))
    return pieces
