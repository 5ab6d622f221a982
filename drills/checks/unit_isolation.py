"""unit_isolation: every acknowledged write landed in the unit that owned its user, and no
write for a banned user was acknowledged during its ban.

Ownership is the unit rules *as published* (`aa.rules`) at the write's invoke and at its
acknowledgement, and the version the client itself says it applied (the ledger's
`rules_version`): all must name the DC that took it (units only change while the moving
users are banned, so a correct cut-over never leaves a write straddling a change).

The ban runs from the earliest evidence of its publication (its `aa.rules` line or any
client's acknowledgement of it — a controller that journals late cannot shrink it) to that
of its lift. A write for a banned user acknowledged in that span is a violation when

* its client acknowledged the ban and the write was sent after that acknowledgement *or
  was still in flight at it* (a client acknowledges only once its writes in flight have
  finished: one that finishes later was not covered by the ban point);
* its client never acknowledged the ban and the write was sent after the ban was published
  — a missing acknowledgement never excuses a write;
* the rules version the client applied to it bans its user, whatever the timing.

A write under a rules version older than one its client had already acknowledged when it
sent the write fails too: the client's acknowledgements, which the cut-over relies on,
were not true.

No rules or no acknowledged order in the record → unknown.
"""

from __future__ import annotations

from drills.checks.history import History
from drills.checks.units_record import Ban, UnitsRecord
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "unit_isolation"
OBJECTIVE = "each acked write in its user's unit; none for a banned user during the ban"


def bans(rec: UnitsRecord) -> list[Ban]:
    """Each ban with its lift, timed by the earliest evidence (`UnitsRecord.bans`)."""
    return rec.bans()


def check(hist: History) -> Verdict:
    rec = UnitsRecord.of(hist)
    if not rec.active_active or not rec.rules:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "The record holds no unit rules (not an active-active run, "
                       "or the rules were never journaled), so no write can be placed in a unit.", {})
    ok = [w for w in rec.writes if w.outcome == "ok"]
    if not ok:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "No order was acknowledged, so there is nothing to place.", {})
    # an acknowledged order the ledger does not place (no user, DC or times) is not skipped: it
    # could be the one that broke the rule, so it keeps the verdict from passing
    acked = [w for w in ok if w.user is not None and w.dc and w.invoke_ns and w.complete_ns]
    wrong_unit, during_ban, stale = [], [], []
    unplaced = [w.ref() for w in ok if w not in acked]
    for w in acked:
        at_invoke, at_ack = rec.rules_at(w.invoke_ns or 0), rec.rules_at(w.complete_ns or 0)
        own = rec.version(w.rules_version) if w.rules_version is not None else None
        if at_invoke is None or at_ack is None:
            unplaced.append(w.ref())
            continue
        owners = {at_invoke.owner(w.user or 0), at_ack.owner(w.user or 0)} | ({own.owner(w.user or 0)} if own else set())
        if owners != {w.dc}:
            wrong_unit.append({**w.ref(), "owner_at_invoke": at_invoke.owner(w.user or 0),
                               "owner_at_ack": at_ack.owner(w.user or 0),
                               "owner_by_its_rules": own.owner(w.user or 0) if own else None})
        if w.rules_version is not None:
            newer = next((a for a in rec.acks.get(w.client or "", []) if a.mono_ns <= (w.invoke_ns or 0)
                          and int(a.get("rules_version", 0)) > w.rules_version), None)
            if newer is not None:
                stale.append({**w.ref(), "client_had_acked": int(newer.get("rules_version", 0))})
        if own is not None and own.bans(w.user or 0):  # the client's own rules refused this user
            during_ban.append({**w.ref(), "ban": list(own.ban or ()), "ban_version": own.version,
                               "client_acked_ban": True, "admitted_under_ban": True})
    admitted = {w["op"] for w in during_ban}
    for ban in bans(rec):
        lo, hi = ban.range
        for w in acked:
            if not (lo <= (w.user or -1) <= hi) or w.op in admitted:
                continue
            if not (ban.start_ns <= (w.complete_ns or 0) and (ban.lift_ns is None or (w.complete_ns or 0) < ban.lift_ns)):
                continue
            ack = rec.first_ack(w.client or "", ban.rules.version)
            if ack is not None:
                violated = (w.invoke_ns or 0) >= ack.mono_ns or (w.complete_ns or 0) > ack.mono_ns
            else:
                violated = (w.invoke_ns or 0) >= ban.start_ns
            if violated:
                during_ban.append({**w.ref(), "ban": [lo, hi], "ban_version": ban.rules.version,
                                   "client_acked_ban": ack is not None})
    measured = {"acknowledged": len(ok), "wrong_unit": len(wrong_unit), "during_ban": len(during_ban),
                "stale_rules": len(stale)}
    evidence = {"wrong_unit": wrong_unit[:50], "during_ban": during_ban[:50], "stale_rules": stale[:50],
                "bans": len(bans(rec))}
    if wrong_unit or during_ban or stale:
        parts = []
        if wrong_unit:
            w = wrong_unit[0]
            parts.append(f"{len(wrong_unit)} acknowledged write(s) landed outside their user's unit (first: user "
                         f"{w['user']} written in {w['dc']}, owned by {w['owner_at_ack']} at the ack)")
        if during_ban:
            w = during_ban[0]
            parts.append(f"{len(during_ban)} write(s) for banned users acknowledged during the ban (first: user "
                         f"{w['user']} by {w['client']}{'' if w['client_acked_ban'] else ', which never acknowledged the ban'})")
        if stale:
            w = stale[0]
            parts.append(f"{len(stale)} write(s) taken under rules older than their client had already acknowledged "
                         f"(first: op {w['op']} by {w['client']} under version {w['rules_version']}, after acknowledging "
                         f"version {w['client_had_acked']})")
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "; ".join(parts) + ".", evidence)
    if unplaced:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, f"{len(unplaced)} acknowledged write(s) fall before the first "
                       "published rules or lack their user, DC or times in the ledger, so their unit cannot be told.", {**evidence, "unplaced": unplaced[:20]})
    return Verdict(NAME, PASSED, measured, OBJECTIVE, f"All {len(acked)} acknowledged writes landed in their user's unit; "
                   f"none for a banned user during {len(bans(rec))} ban(s).", evidence)
