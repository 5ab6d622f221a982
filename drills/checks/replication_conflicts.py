"""replication_conflicts: no row written in both units; no duplicate-key or missing-row error
on either link; no transaction applied twice.

* **rows in both units** — an order key (primary key `id`, unique `token`) acknowledged by
  both units (the ledger), or found in the two units' final read-backs with different
  content (`aa.rows`, `when: end`): the same key written on each side, which two-way
  replication turns into a collision or a silent overwrite;
* **link errors** — a replica's SQL thread stopped on 1062 (duplicate key) or 1032 (row not
  found), or on any other error, as read at the end (`aa.link`);
* **applied twice** — the loop probe at the end (`aa.loop_check`, `when: end`): a row written
  on each side is there exactly once on both.

Any finding → failed. No link read-back or no final loop probe → unknown.
"""

from __future__ import annotations

from typing import Any

from drills import events as ev
from drills.checks.history import History
from drills.checks.units_record import UnitsRecord
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "replication_conflicts"
OBJECTIVE = "no key written in both units; no 1062/1032 on a link; nothing applied twice"
CONFLICT_CODES = {1062: "duplicate key", 1032: "row not found"}


def check(hist: History) -> Verdict:
    rec = UnitsRecord.of(hist)
    if not rec.active_active:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "Not an active-active run: there is no two-way link.", {})
    findings: list[str] = []
    evidence: dict[str, Any] = {}
    # keys acknowledged by both units
    by_key: dict[tuple[str, Any], set[str]] = {}
    for w in rec.writes:
        if w.outcome == "ok" and w.dc and w.id is not None:
            by_key.setdefault(("id", w.id), set()).add(w.dc)
    both = [k[1] for k, dcs in by_key.items() if len(dcs) > 1]
    if both:
        findings.append(f"{len(both)} order id(s) acknowledged by both units (first {both[0]})")
        evidence["ids_in_both_units"] = both[:50]
    end = rec.rows("end")
    if len(end) == 2:
        ids: dict[str, dict[Any, Any]] = {dc: {r[0]: r[1] for r in e.get("rows") or []} for dc, e in end.items()}
        clash = [i for i in set(ids["dc1"]) & set(ids["dc2"]) if ids["dc1"][i] != ids["dc2"][i]]
        if clash:
            findings.append(f"{len(clash)} order id(s) hold different writes in the two units (first {sorted(clash)[0]})")
            evidence["ids_diverged"] = sorted(clash)[:50]
    # link errors
    links = hist.last(ev.AA_LINK, where=lambda e: e.get("when") == "end")
    gaps = []
    if links is None:
        gaps.append("the links were not read at the end")
    else:
        evidence["links"] = links.get("links")
        for name, st in (links.get("links") or {}).items():
            errno = int(st.get("sql_errno") or 0)
            if errno:
                what = CONFLICT_CODES.get(errno, "replication error")
                findings.append(f"link {name} stopped on {errno} ({what}): {str(st.get('sql_error'))[:160]}")
    # applied twice
    loop = hist.last(ev.AA_LOOP_CHECK, where=lambda e: e.get("when") == "end")
    if loop is None:
        gaps.append("no loop probe at the end")
    else:
        evidence["loop_check"] = {"rows": loop.get("rows"), "problems": loop.get("problems")}
        twice = [p for p in loop.get("problems") or [] if "came back" in p]
        if twice:
            findings.append("a transaction was applied twice: " + twice[0])
    measured = {"findings": len(findings)}
    if findings:
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "; ".join(findings) + ".", evidence)
    if gaps:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, "; ".join(gaps).capitalize() + ".", evidence)
    return Verdict(NAME, PASSED, measured, OBJECTIVE, "No key written in both units, both links applying without "
                   "error, and the loop probe found every row exactly once.", evidence)
