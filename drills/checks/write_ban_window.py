"""write_ban_window: per moved range, how long its users could not write — from the ban's
publication to its lift (the last client's acknowledgement of the lift: a client refuses
the users until it has applied it) — with the phases of the cut-over protocol in between. An objective
like RTO (`objectives.write_ban_window`, seconds): within → passed; beyond → failed; a ban
never lifted → failed (those users are still locked out). No objective → passed once lifted,
the figure reported (as `rto` does). No ban in the record → unknown.
"""

from __future__ import annotations

from typing import Any

from drills.checks.history import History
from drills.checks.unit_isolation import bans
from drills.checks.units_record import UnitsRecord
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
    for rules, lifted in published:
        assert rules.ban is not None
        if lifted is not None:  # a client refuses until it has applied the lift: the window ends at the last one
            lift = next(r for r in rec.rules if r.mono_ns == lifted)
            applied = [a.mono_ns for a in (rec.first_ack(c, lift.version) for c in rec.clients or []) if a is not None]
            lifted = max([lifted, *applied])
        cut = next((c for c in rec.cutovers if c.range == rules.ban), None)
        phases = {}
        if cut is not None:
            phases = {p: round((cut.at(p) - rules.mono_ns) / 1e9, 6) for p in PHASES if cut.at(p) is not None}
        windows.append({"range": list(rules.ban), "ban_version": rules.version,
                        "seconds": None if lifted is None else round((lifted - rules.mono_ns) / 1e9, 6),
                        "phases_s": phases, "cutover": cut.id if cut else None})
    stuck = [w for w in windows if w["seconds"] is None]
    worst = max((w["seconds"] for w in windows if w["seconds"] is not None), default=None)
    measured = {"seconds": worst, "bans": len(windows)}
    if stuck:
        return Verdict(NAME, FAILED, measured, objective, f"The ban on users {stuck[0]['range'][0]}..{stuck[0]['range'][1]} "
                       "was never lifted: those users could not write to the end of the record.", {"windows": windows})
    if objective is not None and worst is not None and worst > objective:
        return Verdict(NAME, FAILED, measured, objective, f"The longest write-ban window was {worst:.3f}s, over the "
                       f"{objective:g}s objective.", {"windows": windows})
    tail = f" (objective {objective:g}s)" if objective is not None else " (no objective set; the figure is reported)"
    return Verdict(NAME, PASSED, measured, objective, f"{len(windows)} ban(s) lifted; the longest window was "
                   f"{worst:.3f}s{tail}.", {"windows": windows})
