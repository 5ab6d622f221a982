"""Filter tables: what must not replicate does not, in every direction the link ran.

Three kinds of evidence, each a finding when it disagrees:

1. **effective = declared** — every `observe.filters` (the replica's filters read back on
   the observer path) compared with the declared filter list, per direction
   (source → replica). A `link.reversed` event carries the filters the controller applied
   when it turned the link around; it is judged too (a reversal that dropped an entry is
   the failure the source documents warn about), but it is the controller's word, so the
   directions only ever *applied* and never read back are listed as such.
2. **canaries** — a marker row written to a filtered table on the source (`canary.write`)
   must never be found on the replica (`canary.observed`). A canary on a replicated table
   (`filtered: false`) is the control: if it did not arrive, the link was not carrying
   changes and "not found" proves nothing, so the canaries are inconclusive.
3. **schema** — filtered tables are defined the same on both sides (`observe.schema`,
   SHOW CREATE TABLE with AUTO_INCREMENT counters ignored). DDL on a filtered table is not
   replicated either, so drift is silent until a switch sends the application to a table
   of another shape.

Any finding → failed. Otherwise, with a non-empty filter list: no read-back of the
effective filters, no conclusive canary, or no schema comparison → unknown.
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
_AUTO_INCREMENT = re.compile(r"\s+AUTO_INCREMENT=\d+", re.IGNORECASE)


def check(hist: History, *, declared: FilterList | dict[str, list[str]] | None = None) -> Verdict:
    declared_map = _as_map(declared) if declared is not None else None
    declared_list = declared if isinstance(declared, FilterList) else (
        FilterList.from_filters(declared_map["ignore_tables"], declared_map["wild_ignore_tables"]) if declared_map else None)
    findings: list[str] = []
    evidence: dict[str, Any] = {}

    # 1. effective vs declared, per direction
    observed, applied, mismatches = [], [], []
    for e in hist.of(ev.OBSERVE_FILTERS):
        want = _as_map(e.get("declared")) if e.get("declared") is not None else declared_map
        if want is None:
            continue
        direction = f"{e.get('source')}->{e.get('replica')}"
        diff = _compare(want, _as_map(e.get("effective") or {}))
        observed.append(direction)
        if diff:
            mismatches.append({"seq": e.seq, "direction": direction, "source": "observed", **diff})
    first_declared = next((e.get("declared") for e in hist.of(ev.OBSERVE_FILTERS) if e.get("declared") is not None), None)
    reference = declared_map or (_as_map(first_declared) if first_declared is not None else None)
    for e in hist.of(ev.LINK_REVERSED):
        if reference is None:
            continue
        want = reference
        direction = f"{e.get('source')}->{e.get('replica')}"
        applied.append(direction)
        diff = _compare(want, _as_map(e.get("filters") or {}))
        if diff:
            mismatches.append({"seq": e.seq, "direction": direction, "source": "applied on reversal", **diff})
    evidence["filters"] = {"observed_directions": sorted(set(observed)),
                           "applied_only_directions": sorted(set(applied) - set(observed)),
                           "mismatches": mismatches}
    if mismatches:
        m = mismatches[0]
        what = ", ".join([f"missing {x}" for x in m["missing"]] + [f"unexpected {x}" for x in m["extra"]])
        findings.append(f"the {m['direction']} link's filters differ from the declared list ({what}; journal line {m['seq']})")

    # 2. canaries
    canaries, leaked, inconclusive, control_failed = _canaries(hist, declared_list)
    evidence["canaries"] = canaries
    if leaked:
        c = leaked[0]
        findings.append(f"a canary row written to filtered table {c['table']} on {c['source']} appeared on "
                        f"{c['replica']} (journal lines {c['write_seq']}, {c['observed_seq']})")

    # 3. schema of filtered tables
    drift = []
    schema_events = hist.of(ev.OBSERVE_SCHEMA)
    latest: dict[str, Event] = {}
    for e in schema_events:
        latest[str(e.get("table"))] = e
    for table, e in sorted(latest.items()):
        defs = {dc: _normalise_ddl(d) for dc, d in (e.get("definitions") or {}).items()}
        if len(set(defs.values())) > 1:
            dcs = sorted(defs)
            a, b = defs[dcs[0]] or "", defs[dcs[-1]] or ""
            delta = [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), dcs[0], dcs[-1], lineterm="", n=0)
                     if not line.startswith(("---", "+++", "@@"))]
            drift.append({"seq": e.seq, "table": table, "missing_on": [dc for dc, d in defs.items() if d is None],
                          "difference": delta[:20]})
    evidence["schema"] = {"compared": sorted(latest), "drift": drift}
    if drift:
        d = drift[0]
        how = f"missing on {', '.join(d['missing_on'])}" if d["missing_on"] else "defined differently on the two sides"
        findings.append(f"filtered table {d['table']} is {how} (journal line {d['seq']})")

    measured = {"filter_mismatches": len(mismatches), "canaries_leaked": len(leaked),
                "canaries_inconclusive": len(inconclusive), "schema_drift": len(drift)}
    objective = "declared = effective; filtered rows never replicate; same schema"
    if findings:
        return Verdict(NAME, FAILED, measured, objective, "Filtering is wrong: " + "; ".join(findings) + ".", evidence)
    nonempty = declared_list is None or bool(declared_list.entries)
    gaps = []
    if not observed:
        gaps.append("the replica's effective filters were never read back")
    if nonempty and not any(c.get("found") is False and c.get("conclusive") for c in canaries if c.get("filtered")):
        gaps.append("no canary on a filtered table was conclusively observed")
    if control_failed:
        gaps.append("the control canary on a replicated table never reached the replica, so the link was not carrying changes")
    if nonempty and not latest:
        gaps.append("the filtered tables' schemas were never compared")
    if gaps:
        return Verdict(NAME, UNKNOWN, measured, objective, "Filtering could not be confirmed: " + "; ".join(gaps) + ".", evidence)
    n_tables = len({c["table"] for c in canaries if c.get("filtered")})
    dirs = ", ".join(sorted(set(observed)))
    return Verdict(NAME, PASSED, measured, objective,
                   f"The declared filter list was in force on the {dirs} link, canaries on {n_tables} filtered table(s) "
                   f"stayed on their own side, and the filtered tables are defined alike on both sides.", evidence)


def _canaries(hist: History, declared: FilterList | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], bool]:
    observations: dict[str, Event] = {}
    for e in hist.of(ev.CANARY_OBSERVED):
        observations[str(e.get("marker"))] = e
    rows, leaked, inconclusive = [], [], []
    control_failed = False
    for w in hist.of(ev.CANARY_WRITE):
        table = str(w.get("table"))
        filtered = w.get("filtered")
        if filtered is None:
            filtered = declared.is_filtered(table) if declared is not None else True
        o = observations.get(str(w.get("marker")))
        row: dict[str, Any] = {"table": table, "source": w.get("source"), "marker": w.get("marker"), "filtered": bool(filtered),
                               "write_seq": w.seq}
        if o is None:
            row.update(conclusive=False, found=None)
            inconclusive.append(row)
        else:
            caught_up = o.get("caught_up", True)
            row.update(replica=o.get("replica"), observed_seq=o.seq, found=o.get("found"), caught_up=caught_up,
                       conclusive=bool(caught_up) or bool(o.get("found")))
            if filtered and o.get("found"):
                leaked.append(row)
            elif not row["conclusive"]:
                inconclusive.append(row)
        if not filtered and not row.get("found"):
            control_failed = True
        rows.append(row)
    if control_failed:
        for row in rows:
            if row["filtered"] and row.get("found") is False:
                row["conclusive"] = False
    return rows, leaked, inconclusive, control_failed


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
