"""The single-writer checks, judged the way an active-active run needs.

`judge_record` calls these instead of the single-writer ones when the record is of an
active-active run (`aa.topology`): there is no "active DC" whose change they could measure
from, so each asks its own question of the two writers:

* `rpo` — acknowledged orders absent, at the end, from the unit that owns their user then
  (where that user's reads go) — read back by token (`aa.rows`, `when: end`);
* `sequence_continuity` — across two writers: no order id acknowledged for two different
  writes, and no id holding different writes in the two units;
* `data_consistency` — the two units' order tables identical at the end, once both links
  caught up (`aa.settle`); a link that never caught up leaves it unknown, unless the rows
  already differ on a link that stopped on an error (that is divergence, not lag). Only
  `app.orders` is read back, and the verdict says so (evidence `tables`): a pass is no
  claim about the other tables;
* `split_brain` — per unit: no user owned by two units in any published rules version, and
  no user's writes acknowledged by both units in overlapping windows;
* `filter_tables` — the filter list in force on *both* links (read back at the end) holds
  every declared entry.
"""

from __future__ import annotations

from typing import Any

from drills import events as ev
from drills.checks.history import History
from drills.checks.rpo import parse_objective
from drills.checks.units_record import UnitsRecord
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict
from drills.scenario.model import RpoBound

COMPARED_TABLES = ("app.orders",)  # what `aa.rows` (when: end) reads back: collect_end's SELECT


def _end_rows(rec: UnitsRecord) -> dict[str, dict[str, Any]] | None:
    end = rec.rows("end")
    if set(end) != {"dc1", "dc2"} or any(e.get("error") for e in end.values()):
        return None
    return {dc: {str(r[1]): r for r in e.get("rows") or []} for dc, e in end.items()}


def rpo(hist: History, objective: int | RpoBound | None) -> Verdict:
    name = "rpo"
    target = parse_objective(objective)
    allowed = target.max_writes if target.max_writes is not None else 0
    rec = UnitsRecord.of(hist)
    rows = _end_rows(rec)
    acked = [w for w in rec.writes if w.outcome == "ok"]
    if rows is None or not rec.rules:
        return Verdict(name, UNKNOWN, None, allowed, "The units' orders were not both read back at the end (or no unit "
                       "rules are recorded), so lost writes cannot be counted.", {})
    if not acked:
        return Verdict(name, UNKNOWN, None, allowed, "No acknowledged order is in the ledger, so there is no write whose "
                       "loss could be counted.", {})
    untokened = [w.ref() for w in acked if not w.token]
    if untokened:  # found by token only: an order without one can be neither found nor counted lost
        return Verdict(name, UNKNOWN, None, allowed, f"{len(untokened)} acknowledged order(s) carry no token in the "
                       "ledger, so they cannot be looked for in the units.", {"untokened": untokened[:50]})
    final = rec.rules[-1]
    lost = []
    for w in acked:
        owner = final.owner(w.user or 0) or w.dc or "dc1"
        if w.token not in rows[owner]:
            lost.append({**w.ref(), "owner_at_end": owner})
    measured = {"lost_writes": len(lost), "acknowledged": len(acked)}
    if len(lost) > allowed:
        return Verdict(name, FAILED, measured, allowed, f"{len(lost)} acknowledged order(s) are missing from the unit "
                       f"that owns their user at the end (objective {allowed}).", {"lost": lost[:50]})
    return Verdict(name, PASSED, measured, allowed, f"{len(acked)} acknowledged orders checked; {len(lost)} missing from "
                   f"their user's unit (objective {allowed}).", {"lost": lost[:50]})


def sequence_continuity(hist: History) -> Verdict:
    name = "sequence_continuity"
    rec = UnitsRecord.of(hist)
    acked = [w for w in rec.writes if w.outcome == "ok" and w.id is not None]
    if not acked:
        return Verdict(name, UNKNOWN, None, None, "No acknowledged order with an id is in the record.", {})
    tokens: dict[int, set[str]] = {}
    for w in acked:
        tokens.setdefault(int(w.id or 0), set()).add(str(w.token))
    reissued = sorted(i for i, t in tokens.items() if len(t) > 1)
    rows = _end_rows(rec)
    if rows is not None:
        by_id = {dc: {r[0]: r[1] for r in rs.values()} for dc, rs in rows.items()}
        reissued = sorted(set(reissued) | {i for i in set(by_id["dc1"]) & set(by_id["dc2"]) if by_id["dc1"][i] != by_id["dc2"][i]})
    measured = {"ids": len(tokens), "reissued": len(reissued)}
    if reissued:
        return Verdict(name, FAILED, measured, None, f"{len(reissued)} order id(s) were handed out twice across the two "
                       f"writers (first {reissued[0]}).", {"reissued": reissued[:50]})
    return Verdict(name, PASSED, measured, None, f"{len(tokens)} ids acknowledged by the two units, each for one write.",
                   {})


def data_consistency(hist: History) -> Verdict:
    name = "data_consistency"
    rec = UnitsRecord.of(hist)
    rows = _end_rows(rec)
    settle = hist.last(ev.AA_SETTLE)
    if rows is None or settle is None:
        return Verdict(name, UNKNOWN, None, None, "The units' orders were not both read back at the end.", {})
    only1 = sorted(set(rows["dc1"]) - set(rows["dc2"]))
    only2 = sorted(set(rows["dc2"]) - set(rows["dc1"]))
    differ = [t for t in set(rows["dc1"]) & set(rows["dc2"]) if list(rows["dc1"][t]) != list(rows["dc2"][t])]
    measured = {"rows": {dc: len(r) for dc, r in rows.items()}, "only_dc1": len(only1), "only_dc2": len(only2),
                "different": len(differ)}
    evidence = {"only_dc1": only1[:20], "only_dc2": only2[:20], "different": differ[:20], "settle": settle.payload,
                "tables": list(COMPARED_TABLES)}
    if not (only1 or only2 or differ):
        if not settle.get("caught_up"):
            return Verdict(name, UNKNOWN, measured, None, "The rows match, but the links had not caught up when read.",
                           evidence)
        return Verdict(name, PASSED, measured, None, f"Both units hold the same {len(rows['dc1'])} orders "
                       f"({', '.join(COMPARED_TABLES)} only; no other table is compared).", evidence)
    if not settle.get("caught_up") and not settle.get("link_errors"):
        return Verdict(name, UNKNOWN, measured, None, "The units differ, but the links had not caught up when read "
                       "(lag, not divergence, cannot be ruled out).", evidence)
    return Verdict(name, FAILED, measured, None, f"The units diverged: {len(only1)} order(s) only in dc1, {len(only2)} only "
                   f"in dc2, {len(differ)} different.", evidence)


def split_brain(hist: History) -> Verdict:
    name = "split_brain"
    rec = UnitsRecord.of(hist)
    if not rec.rules:
        return Verdict(name, UNKNOWN, None, None, "No unit rules are in the record.", {})
    overlaps = []
    for r in rec.rules:
        spans = sorted(r.units)
        for i, (lo1, hi1, dc1) in enumerate(spans):  # every pair: a wide unit can overlap one that is not its neighbour
            for lo2, hi2, dc2 in spans[i + 1:]:
                if lo2 <= hi1 and dc1 != dc2:
                    overlaps.append({"rules_version": r.version, "users": [max(lo1, lo2), min(hi1, hi2)],
                                     "units": [dc1, dc2]})
    by_user: dict[int, list[Any]] = {}
    for w in rec.writes:
        if w.outcome == "ok" and w.user is not None and w.invoke_ns and w.complete_ns:
            by_user.setdefault(w.user, []).append(w)
    both = []
    for user, ws in by_user.items():
        if len({w.dc for w in ws}) < 2:
            continue
        for a in ws:
            for b in ws:
                if a.dc < b.dc and a.invoke_ns <= b.complete_ns and b.invoke_ns <= a.complete_ns:
                    both.append({"user": user, "writes": [a.ref(), b.ref()]})
    measured = {"overlapping_rules": len(overlaps), "users_written_by_both": len(both)}
    if overlaps or both:
        what = (f"user(s) owned by two units in {len(overlaps)} rules version(s)" if overlaps
                else f"{len(both)} user(s) written by both units at once (first user {both[0]['user']})")
        return Verdict(name, FAILED, measured, None, f"Split brain per unit: {what}.",
                       {"overlaps": overlaps[:20], "written_by_both": both[:20]})
    return Verdict(name, PASSED, measured, None, f"Every user had one owning unit in all {len(rec.rules)} rules "
                   "versions, and no user was written by both units at once.", {})


def filter_tables(hist: History) -> Verdict:
    name = "filter_tables"
    topo = hist.first(ev.AA_TOPOLOGY)
    links = hist.last(ev.AA_LINK, where=lambda e: e.get("when") == "end")
    if topo is None or links is None or not isinstance(topo.get("declared"), dict):
        return Verdict(name, UNKNOWN, None, None, "The declared filter list or the links' filters read back at the end "
                       "are not in the record.", {})
    declared = topo.get("declared")
    missing = {}
    for link, st in (links.get("links") or {}).items():
        eff = st.get("filters") or {}
        gone = [t for t in declared.get("ignore_tables", []) if t not in (eff.get("ignore_tables") or [])]
        gone += [p for p in declared.get("wild_ignore_tables", []) if p not in (eff.get("wild_ignore_tables") or [])]
        if gone:
            missing[link] = gone
    if missing:
        link, gone = next(iter(missing.items()))
        return Verdict(name, FAILED, {"links_missing_filters": len(missing)}, None, f"The filter list is not in force on "
                       f"link {link} (missing {', '.join(gone[:5])}): those tables replicate one way and the units diverge.",
                       {"missing": missing, "declared": declared})
    return Verdict(name, PASSED, {"links": len(links.get("links") or {})}, None, "The declared filter list is in force on "
                   "both links.", {"declared": declared})
