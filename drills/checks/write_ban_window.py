"""write_ban_window: per moved range, how long its users could not write — from the ban's
publication to its lift — with the phases of the cut-over protocol in between. Both ends are
the record's, not the controller's word: the ban starts at the earliest evidence it was out
(its `aa.rules` line or a client's acknowledgement), and ends when the *last* client applied
the lift (a client refuses the users until it has). An objective like RTO
(`objectives.write_ban_window`, seconds): within → passed; beyond → failed; a ban never
lifted, or a lift some client never applied → failed (those users are still locked out
there). No objective → passed once lifted, the figure reported (as `rto` does). No ban in
the record → unknown; the workload's clients not in the record → unknown (whether each
applied the lift cannot be told).
"""

from __future__ import annotations

from typing import Any

from drills.checks.history import History
from drills.checks.unit_isolation import bans
from drills.checks.units_record import Ban, Cutover, UnitsRecord
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "write_ban_window"
PHASES = ("ban_published", "ban_effective", "ban_point", "caught_up", "rules_published", "rules_effective",
          "ban_lifted", "lift_effective")


def check(hist: History, *, objective: float | None = None) -> Verdict:
    rec = UnitsRecord.of(hist)
    published = bans(rec)
    if not published:
        return Verdict(NAME, UNKNOWN, None, objective, "No write ban was published, so there is no ban window to measure.",
                       {"cutovers": [c.id for c in rec.cutovers]})
    windows: list[dict[str, Any]] = []
    for ban in published:
        lifted, unlifted = ban.lift_ns, []
        if ban.lift is not None and lifted is not None:  # the window ends at the last client to apply the lift
            for client in rec.clients or sorted(rec.acks):
                a = rec.first_ack(client, ban.lift.version)
                if a is None:
                    unlifted.append(client)
                else:
                    lifted = max(lifted, a.mono_ns)
        cut = _cutover_of(rec, ban)
        phases = {}
        if cut is not None:
            phases = {p: round((cut.at(p) - ban.start_ns) / 1e9, 6) for p in PHASES if cut.at(p) is not None}
        windows.append({"range": list(ban.range), "ban_version": ban.rules.version,
                        "seconds": None if lifted is None or unlifted else round((lifted - ban.start_ns) / 1e9, 6),
                        "never_applied_lift": unlifted, "phases_s": phases, "cutover": cut.id if cut else None})
    stuck = [w for w in windows if w["seconds"] is None]
    worst = max((w["seconds"] for w in windows if w["seconds"] is not None), default=None)
    measured = {"seconds": worst, "bans": len(windows)}
    if stuck:
        w = stuck[0]
        how = (f"was lifted, but {', '.join(w['never_applied_lift'])} never applied the lift" if w["never_applied_lift"]
               else "was never lifted")
        return Verdict(NAME, FAILED, measured, objective, f"The ban on users {w['range'][0]}..{w['range'][1]} {how}: "
                       "those users could not write there to the end of the record.", {"windows": windows})
    if objective is not None and worst is not None and worst > objective:
        return Verdict(NAME, FAILED, measured, objective, f"The longest write-ban window was {worst:.3f}s, over the "
                       f"{objective:g}s objective.", {"windows": windows})
    if rec.clients is None:
        return Verdict(NAME, UNKNOWN, measured, objective, "The record does not list the workload's clients, so whether "
                       "each applied the lift (the end of the window) cannot be told.", {"windows": windows})
    tail = f" (objective {objective:g}s)" if objective is not None else " (no objective set; the figure is reported)"
    return Verdict(NAME, PASSED, measured, objective, f"{len(windows)} ban(s) lifted; the longest window was "
                   f"{worst:.3f}s{tail}.", {"windows": windows})


def _cutover_of(rec: UnitsRecord, ban: Ban) -> Cutover | None:
    """The cut-over that published this ban (its `ban_published` step names the version); a
    record without that step: the one of the same range that started last before the ban —
    a range moved twice has two."""
    named = next((c for c in rec.cutovers if "ban_published" in c.steps
                  and c.steps["ban_published"].get("rules_version") == ban.rules.version), None)
    if named is not None:
        return named
    before = [c for c in rec.cutovers if c.range == ban.range and (c.at("start") or 0) <= ban.start_ns]
    return max(before, key=lambda c: c.at("start") or 0, default=None)
