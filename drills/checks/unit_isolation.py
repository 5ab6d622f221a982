"""unit_isolation: every acknowledged write landed in the unit that owned its user, and no
write for a banned user was acknowledged during its ban.

Ownership is the unit rules *as published* (`aa.rules`) at the write's invoke and at its
acknowledgement: both must name the DC that took it (units only change while the moving
users are banned, so a correct cut-over never leaves a write straddling a change).

The ban runs from its publication to its lift. A write for a banned user acknowledged in
that span is a violation when it was sent after its client acknowledged the ban — or, when
the client never acknowledged it, after the ban was published: a missing acknowledgement
never excuses a write (writes already in flight when the ban arrived finish before the
client acknowledges, so they are not counted).

No rules or no acknowledged order in the record → unknown.
"""

from __future__ import annotations

from drills.checks.history import History
from drills.checks.units_record import RulesVersion, UnitsRecord
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "unit_isolation"
OBJECTIVE = "each acked write in its user's unit; none for a banned user during the ban"


def bans(rec: UnitsRecord) -> list[tuple[RulesVersion, int | None]]:
    """Each ban as (the version that published it, when a later version lifted it)."""
    out: list[tuple[RulesVersion, int | None]] = []
    for i, r in enumerate(rec.rules):
        if r.ban is None or (i and rec.rules[i - 1].ban == r.ban):
            continue
        lift = next((later.mono_ns for later in rec.rules[i + 1:] if later.ban != r.ban), None)
        out.append((r, lift))
    return out


def check(hist: History) -> Verdict:
    rec = UnitsRecord.of(hist)
    if not rec.active_active or not rec.rules:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "The record holds no unit rules (not an active-active run, "
                       "or the rules were never journaled), so no write can be placed in a unit.", {})
    acked = [w for w in rec.writes if w.outcome == "ok" and w.user is not None and w.invoke_ns and w.complete_ns]
    if not acked:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "No order was acknowledged, so there is nothing to place.", {})
    wrong_unit, during_ban, unplaced = [], [], []
    for w in acked:
        at_invoke, at_ack = rec.rules_at(w.invoke_ns or 0), rec.rules_at(w.complete_ns or 0)
        if at_invoke is None or at_ack is None:
            unplaced.append(w.ref())
            continue
        owners = {at_invoke.owner(w.user or 0), at_ack.owner(w.user or 0)}
        if owners != {w.dc}:
            wrong_unit.append({**w.ref(), "owner_at_invoke": at_invoke.owner(w.user or 0),
                               "owner_at_ack": at_ack.owner(w.user or 0)})
    for ban_rules, lifted in bans(rec):
        assert ban_rules.ban is not None
        lo, hi = ban_rules.ban
        for w in acked:
            if not (lo <= (w.user or -1) <= hi):
                continue
            if not (ban_rules.mono_ns <= (w.complete_ns or 0) and (lifted is None or (w.complete_ns or 0) < lifted)):
                continue
            ack = rec.first_ack(w.client or "", ban_rules.version)
            applied = ack.mono_ns if ack is not None else ban_rules.mono_ns
            if (w.invoke_ns or 0) >= applied:
                during_ban.append({**w.ref(), "ban": [lo, hi], "ban_version": ban_rules.version,
                                   "client_acked_ban": ack is not None})
    measured = {"acknowledged": len(acked), "wrong_unit": len(wrong_unit), "during_ban": len(during_ban)}
    evidence = {"wrong_unit": wrong_unit[:50], "during_ban": during_ban[:50], "bans": len(bans(rec))}
    if wrong_unit or during_ban:
        parts = []
        if wrong_unit:
            w = wrong_unit[0]
            parts.append(f"{len(wrong_unit)} acknowledged write(s) landed outside their user's unit (first: user "
                         f"{w['user']} written in {w['dc']}, owned by {w['owner_at_ack']} at the ack)")
        if during_ban:
            w = during_ban[0]
            parts.append(f"{len(during_ban)} write(s) for banned users acknowledged during the ban (first: user "
                         f"{w['user']} by {w['client']}{'' if w['client_acked_ban'] else ', which never acknowledged the ban'})")
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "; ".join(parts) + ".", evidence)
    if unplaced:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, f"{len(unplaced)} acknowledged write(s) fall before the first "
                       "published rules, so their unit cannot be told.", {**evidence, "unplaced": unplaced[:20]})
    return Verdict(NAME, PASSED, measured, OBJECTIVE, f"All {len(acked)} acknowledged writes landed in their user's unit; "
                   f"none for a banned user during {len(bans(rec))} ban(s).", evidence)
