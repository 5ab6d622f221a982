"""Filter tables: what must not replicate does not, in every direction the link ran.

The directions come from the record: every link whose filters were read back
(`observe.filters`, `link.reversed`) and every direction a canary round was written for —
the pre-fault dc1→dc2 link of an unplanned drill included (the runner observes it before the
first fault). Three kinds of evidence, each a finding when it disagrees:

1. **effective = declared** — the replica's filters as read back (by the observer, or by the
   controller right after it reversed the link) against the declared list (`filters.declared`).
2. **canaries** — a marker row written to a filtered table on the source (`canary.write`,
   by the harness, or by a scenario's own `sql` step) must never be found on the replica
   (`canary.observed`). "Not found" only counts when it proves something: the link of that
   direction had applied everything up to the write before the row was looked for (the
   observer's bounded wait, or a catch-up recorded later: `gtid.wait`, `observe.link`), and
   the round's control row — in the harness's own replicated table — did arrive, so the link
   was carrying rows at all. Every filtered table a round planned (`canary.plan`) must get
   such an answer in every direction; one that could not be written or observed leaves the
   check `unknown`, naming it.
3. **schema** — filtered tables are defined the same on both sides (`observe.schema`,
   SHOW CREATE TABLE with AUTO_INCREMENT counters ignored). DDL on a filtered table is not
   replicated either, so drift is silent until a switch sends the application to a table
   of another shape.

Any finding → failed. Otherwise any direction without a read-back or without a conclusive
canary for each planned table → unknown, with the reasons.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from drills import events as ev
from drills.checks.history import Event, History
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict
from drills.filter_list import FilterList, normalise_filters

NAME = "filter_tables"
OBJECTIVE = "declared = effective; filtered rows never replicate; same schema"
_AUTO_INCREMENT = re.compile(r"\s+AUTO_INCREMENT=\d+", re.IGNORECASE)


def check(hist: History, *, declared: FilterList | dict[str, list[str]] | None = None) -> Verdict:
    declared_map = _declared(hist, declared)
    if declared_map is None:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "The declared filter list is not in the record, so the "
                       "filters in force cannot be compared with it.", {})
    declared_list = FilterList.from_filters(declared_map["ignore_tables"], declared_map["wild_ignore_tables"])
    findings: list[str] = []
    gaps: list[str] = []
    evidence: dict[str, Any] = {"declared": declared_map}

    # 1. effective vs declared, per direction
    read_back: dict[str, list[int]] = {}
    mismatches = []
    for e in hist.of(ev.OBSERVE_FILTERS, ev.LINK_REVERSED):
        direction = f"{e.get('source')}->{e.get('replica')}"
        got = e.get("effective") if e.kind == ev.OBSERVE_FILTERS else e.get("filters")
        read_back.setdefault(direction, []).append(e.seq)
        diff = _compare(declared_map, _as_map(got or {}))
        if diff:
            mismatches.append({"seq": e.seq, "direction": direction,
                               "read_back_by": "observer" if e.kind == ev.OBSERVE_FILTERS else "controller", **diff})
    if mismatches:
        m = mismatches[0]
        what = ", ".join([f"missing {x}" for x in m["missing"]] + [f"unexpected {x}" for x in m["extra"]])
        findings.append(f"the {m['direction']} link's filters differ from the declared list ({what}; journal line {m['seq']})")

    # 2. canaries, per direction and table
    canaries = _canaries(hist, declared_list)
    leaked = [c for c in canaries if c["filtered"] and c.get("found")]
    if leaked:
        c = leaked[0]
        findings.append(f"a canary row written to filtered table {c['table']} on {c['source']} appeared on "
                        f"{c['replica']} (journal lines {c['write_seq']}, {c.get('observed_seq')})")
    plans: dict[str, set[str]] = {}
    withheld: dict[tuple[str, str], str] = {}  # (direction, table) -> why no marker row was written
    for p in hist.of(ev.CANARY_PLAN):
        direction = f"{p.get('source')}->{p.get('replica')}"
        plans.setdefault(direction, set()).update(str(t) for t in p.get("tables") or [])
        held = p.get("withheld") or {}
        for t in held.get("tables") or []:
            withheld[(direction, str(t))] = f"withheld: {held.get('why') or 'the environment allows no such write'}"
    for c in canaries:
        if c["filtered"]:
            plans.setdefault(c["direction"], set()).add(c["table"])
    directions = sorted(set(read_back) | set(plans))
    nonempty = bool(declared_list.entries)
    coverage: dict[str, dict[str, str]] = {}
    for direction in directions:
        if direction not in read_back:
            gaps.append(f"the {direction} link's effective filters were never read back")
        if not nonempty:
            continue
        if not plans.get(direction) and direction in read_back:
            gaps.append(f"no canary was written for the {direction} link")
        for table in sorted(plans.get(direction, ())):
            mine = [c for c in canaries if c["direction"] == direction and c["table"] == table and c["filtered"]]
            if any(c.get("found") for c in mine):
                coverage.setdefault(direction, {})[table] = "leaked"
            elif any(c["conclusive"] for c in mine):
                coverage.setdefault(direction, {})[table] = "stayed"
            else:
                why = "; ".join(sorted({c["why"] for c in mine})) or withheld.get((direction, table)) \
                    or "its canary could not be written"
                coverage.setdefault(direction, {})[table] = f"inconclusive: {why}"
                gaps.append(f"the canary on {table} for the {direction} link is inconclusive ({why})")
    if not directions:
        gaps.append("no replication link was observed in any direction")
    evidence["filters"] = {"directions": directions, "read_back": read_back, "mismatches": mismatches}
    evidence["canaries"] = {"coverage": coverage, "rows": canaries[:100]}

    # 3. schema of filtered tables
    drift = _schema_drift(hist)
    compared = sorted({str(e.get("table")) for e in hist.of(ev.OBSERVE_SCHEMA)})
    evidence["schema"] = {"compared": compared, "drift": drift}
    if drift:
        d = drift[0]
        how = f"missing on {', '.join(d['missing_on'])}" if d["missing_on"] else "defined differently on the two sides"
        findings.append(f"filtered table {d['table']} is {how} (journal line {d['seq']})")
    if nonempty and not compared and any(plans.values()):
        gaps.append("the filtered tables' schemas were never compared")

    measured = {"directions": len(directions), "filter_mismatches": len(mismatches), "canaries_leaked": len(leaked),
                "canaries_inconclusive": sum(1 for t in coverage.values() for v in t.values() if v.startswith("incon")),
                "schema_drift": len(drift)}
    if findings:
        return Verdict(NAME, FAILED, measured, OBJECTIVE, "Filtering is wrong: " + "; ".join(findings) + ".", evidence)
    if gaps:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, "Filtering could not be confirmed: " + "; ".join(gaps) + ".",
                       evidence)
    names = " and ".join(directions)
    tables = sorted({t for per in coverage.values() for t in per})
    canary_text = (f"canaries on {len(tables)} filtered table(s) stayed on their own side in each direction"
                   if tables else "no filtered table exists to canary")
    return Verdict(NAME, PASSED, measured, OBJECTIVE,
                   f"The declared filter list was in force on the {names} link{'s' if len(directions) > 1 else ''}, "
                   f"{canary_text}, and the filtered tables are defined alike on both sides.", evidence)


def _declared(hist: History, given: FilterList | dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    if given is not None:
        return _as_map(given)
    e = hist.last(ev.FILTERS_DECLARED)
    if e is not None:
        return _as_map({"ignore_tables": e.get("ignore_tables"), "wild_ignore_tables": e.get("wild_ignore_tables")})
    first = next((e.get("declared") for e in hist.of(ev.OBSERVE_FILTERS) if e.get("declared") is not None), None)
    return _as_map(first) if first is not None else None


def _canaries(hist: History, declared: FilterList) -> list[dict[str, Any]]:
    observations: dict[str, Event] = {}
    for e in hist.of(ev.CANARY_OBSERVED):
        observations[str(e.get("marker"))] = e
    rounds: dict[str, dict[str, Any]] = {}  # round -> its control canary's outcome
    rows = []
    for w in hist.of(ev.CANARY_WRITE):
        table, source = str(w.get("table")), str(w.get("source"))
        replica = str(w.get("replica") or {"dc1": "dc2", "dc2": "dc1"}.get(source, "?"))
        filtered = w.get("filtered")
        if filtered is None:
            filtered = declared.is_filtered(table)
        o = observations.get(str(w.get("marker")))
        row: dict[str, Any] = {"table": table, "source": source, "replica": replica, "direction": f"{source}->{replica}",
                               "marker": w.get("marker"), "filtered": bool(filtered), "write_seq": w.seq,
                               "round": w.get("round"), "by": w.get("by") or "harness", "found": None,
                               "conclusive": False}
        if o is None:
            row["why"] = "never looked for on the replica"
        else:
            row.update(observed_seq=o.seq, found=bool(o.get("found")), caught_up=o.get("caught_up"))
            caught = o.get("caught_up") is True or (o.get("caught_up") is None and caught_up_between(
                hist, source, replica, w.mono_ns, o.mono_ns))
            row["conclusive"] = bool(o.get("found")) or caught
            if not row["conclusive"]:
                row["why"] = f"the {source}->{replica} link had not applied it when the replica was looked at"
        if not filtered and w.get("round"):
            rounds[str(w.get("round"))] = row
        rows.append(row)
    for row in rows:  # a round whose control row never arrived proves nothing about its filtered rows
        control = rounds.get(str(row.get("round"))) if row.get("round") else None
        if row["filtered"] and row.get("found") is False and control is not None and not control.get("found"):
            row["conclusive"] = False
            row["why"] = (f"the control row in {control['table']} did not reach {row['replica']}, so the link was not "
                          "carrying rows")
    return rows


def caught_up_between(hist: History, source: str, replica: str, after: int, before: int) -> bool:
    """Did the `source`→`replica` link apply everything up to `after` by `before`?"""
    return hist.caught_up(source, replica, after=after, before=before) is not None


def _schema_drift(hist: History) -> list[dict[str, Any]]:
    latest: dict[str, Event] = {}
    for e in hist.of(ev.OBSERVE_SCHEMA):
        latest[str(e.get("table"))] = e
    drift = []
    for table, e in sorted(latest.items()):
        defs = {dc: _normalise_ddl(d) for dc, d in (e.get("definitions") or {}).items()}
        if len(set(defs.values())) > 1:
            dcs = sorted(defs)
            a, b = defs[dcs[0]] or "", defs[dcs[-1]] or ""
            delta = [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), dcs[0], dcs[-1], lineterm="", n=0)
                     if not line.startswith(("---", "+++", "@@"))]
            drift.append({"seq": e.seq, "table": table, "missing_on": [dc for dc, d in defs.items() if d is None],
                          "difference": delta[:20]})
    return drift


def _as_map(filters: Any) -> dict[str, list[str]]:
    if isinstance(filters, FilterList):
        filters = filters.as_filters()
    filters = filters or {}
    norm = normalise_filters(filters.get("ignore_tables"), filters.get("wild_ignore_tables"))
    return {k: sorted({x.lower() for x in v}) for k, v in norm.items()}


def _compare(want: dict[str, list[str]], got: dict[str, list[str]]) -> dict[str, list[str]] | None:
    missing, extra = [], []
    for key in ("ignore_tables", "wild_ignore_tables"):
        w, g = set(want.get(key, [])), set(got.get(key, []))
        missing += sorted(w - g)
        extra += sorted(g - w)
    return {"missing": missing, "extra": extra} if missing or extra else None


def _normalise_ddl(ddl: Any) -> str | None:
    if ddl is None:
        return None
    text = _AUTO_INCREMENT.sub("", str(ddl))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
