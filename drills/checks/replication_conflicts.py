"""replication_conflicts: no row written in both units; no duplicate-key or missing-row error
on either link; no transaction applied twice.

* **rows in both units** — an order key (primary key `id`, unique `token`) acknowledged by
  both units (the ledger), or found in the two units' final read-backs with different
  content (`aa.rows`, `when: end`): the same key written on each side, which two-way
  replication turns into a collision or a silent overwrite; an order the application was
  refused with 1062 (duplicate key) says the same from the writer's side;
* **link errors** — a replica's SQL thread stopped on 1062 (duplicate key) or 1032 (row not
  found), or on any other error, as read at the end (`aa.link`) or as the settle saw it
  (`aa.settle` `link_errors`): wherever the record holds an error, it counts;
* **applied twice** — the loop probe at the end (`aa.loop_check`, `when: end`): its row
  counts, not its wording — a row written on each side is there exactly once on both.

Any finding → failed. Both links (`dc1->dc2`, `dc2->dc1`) must be read back at the end and
applying; a link missing, or stopped without an error, or a probe row that never arrived,
or no final loop probe → unknown.
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
LINKS = ("dc1->dc2", "dc2->dc1")


def check(hist: History) -> Verdict:
    rec = UnitsRecord.of(hist)
    if not rec.active_active:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "Not an active-active run: there is no two-way link.", {})
    findings: list[str] = []
    evidence: dict[str, Any] = {}
    # keys acknowledged by both units
    by_key: dict[tuple[str, Any], set[str]] = {}
    for w in rec.writes:
        if w.outcome == "ok" and w.dc:
            if w.id is not None:
                by_key.setdefault(("id", w.id), set()).add(w.dc)
            if w.token:
                by_key.setdefault(("token", w.token), set()).add(w.dc)
    for key in ("id", "token"):
        both = [k[1] for k, dcs in by_key.items() if k[0] == key and len(dcs) > 1]
        if both:
            findings.append(f"{len(both)} order {key}(s) acknowledged by both units (first {both[0]})")
            evidence[f"{key}s_in_both_units"] = both[:50]
    refused = [{**w.ref(), "error_code": w.error_code} for w in rec.writes if w.error_code in CONFLICT_CODES]
    if refused:
        code = refused[0]["error_code"]
        findings.append(f"{len(refused)} order(s) refused to the application with {code} ({CONFLICT_CODES[code]}) "
                        f"(first op {refused[0]['op']})")
        evidence["refused_as_conflicts"] = refused[:50]
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
    reported: set[str] = set()
    if links is None:
        gaps.append("the links were not read at the end")
    else:
        states = links.get("links") or {}
        evidence["links"] = states
        for name, st in states.items():
            errno = int(st.get("sql_errno") or 0)
            if errno:
                reported.add(name)
                what = CONFLICT_CODES.get(errno, "replication error")
                findings.append(f"link {name} stopped on {errno} ({what}): {str(st.get('sql_error'))[:160]}")
            elif not (st.get("io") and st.get("sql")):
                gaps.append(f"link {name} was not applying at the end (no error recorded)")
        absent = [n for n in LINKS if n not in states]
        if absent:
            gaps.append(f"link {', '.join(absent)} was not read at the end")
    for settle in hist.of(ev.AA_SETTLE):
        for name, errno in (settle.get("link_errors") or {}).items():
            if name not in reported and errno:
                reported.add(name)
                what = CONFLICT_CODES.get(int(errno), "replication error")
                findings.append(f"link {name} stopped on {errno} ({what}) when the links settled")
    # applied twice
    loop = hist.last(ev.AA_LOOP_CHECK, where=lambda e: e.get("when") == "end")
    if loop is None:
        gaps.append("no loop probe at the end")
    else:
        evidence["loop_check"] = {"rows": loop.get("rows"), "problems": loop.get("problems")}
        counts = [(origin, dc, n) for origin, per in (loop.get("rows") or {}).items()
                  for dc, n in (per or {}).items()]
        twice = [f"a row written on {o} is there {n} times on {dc}" for o, dc, n in counts if int(n or 0) > 1]
        twice += [p for p in loop.get("problems") or [] if "came back" in p]
        if twice:
            findings.append("a transaction was applied twice: " + twice[0])
        if not counts:
            gaps.append("the loop probe counted no rows")
        elif any(int(n or 0) < 1 for _o, _dc, n in counts):
            gaps.append("a loop-probe row never arrived, so applying twice cannot be ruled out")
    measured = {"findings": len(findings)}
    if findings:
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "; ".join(findings) + ".", evidence)
    if gaps:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, "; ".join(gaps).capitalize() + ".", evidence)
    return Verdict(NAME, PASSED, measured, OBJECTIVE, "No key written in both units, both links applying without "
                   "error, and the loop probe found every row exactly once.", evidence)
