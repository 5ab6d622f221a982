"""Plain-language explanations of each check, for readers who are not database engineers.

An auditor signs the compliance report; they must be able to say what each line proves
without knowing what a GTID is. Each check gets a title and what it protects against (both
fixed, written here), and what this run found — which is never written here: it is the
check's own `summary` from result.json, behind a plain verdict phrase. A report that
re-derived the finding from evidence keys could contradict the check (it once printed "No
order number was handed out twice" beside 496 duplicate-key errors); the check that judged
is the only one that may say what it found.

`highlights` picks, per check, the evidence lists an auditor should see first (the reused
IDs, the lost writes, …); the HTML shows them as tables and every report can quote a short
`evidence_brief` from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.report.run_record import check_outcome, fmt_value

TITLES = {
    "rto": "Recovery time (RTO)",
    "rpo": "Data loss (RPO)",
    "sequence_continuity": "No duplicate order numbers",
    "filter_tables": "Replication filter list applied as declared",
    "data_consistency": "Both data centres hold the same data",
    "split_brain": "Only one data centre accepted writes at a time",
    "write_availability": "Longest time the application could not write",
}

PURPOSE = {
    "rto": "How long the application could not save new data after the fault, measured from the first sign that "
    "writes had stopped to the first order the surviving data centre confirmed.",
    "rpo": "Whether any write that had been saved went missing on the data centre that took over.",
    "sequence_continuity": "Order numbers come from a shared counter. After a switch, the new data centre must "
    "never hand out a number the old one already used, or two orders would collide.",
    "filter_tables": "Some tables are deliberately kept out of replication (each has a reason below). The list "
    "actually in force on every replication link, in each direction it ran, must match the declared list.",
    "data_consistency": "Every table that is meant to be copied must be identical in both data centres, except "
    "where a failover explains the difference; differing rows are named.",
    "split_brain": "Two data centres writing at the same time would create conflicting histories that cannot be "
    "merged. Every write must have gone to the one data centre that was the writer at that moment.",
    "write_availability": "The longest stretch, while the application was writing, in which no write was confirmed "
    "at all — measured whether or not anything failed over, so an outage nobody answered is still counted.",
}

BRIEF_ITEMS = 5
_NOT_IN_BRIEF = {"switches", "phases", "explained"}  # context for the tables, not what went wrong


def title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").capitalize())


def purpose(name: str) -> str:
    return PURPOSE.get(name, "A check declared by the scenario.")


def verdict_phrase(check: dict[str, Any]) -> str:
    """The verdict in words, as it stands in front of the check's own finding."""
    outcome = check_outcome(check)
    return {
        "passed": "Passed",
        "failed": "FAILED",
        "expected_failure": outcome.label,
        "unexpected_pass": "FAILED — the check passed, but the scenario expects it to fail: the harness missed "
                           "the fault the scenario plants",
        "waived": f"Not judged — waived by the scenario: {outcome.waived}",
    }.get(outcome.kind, "No verdict could be reached")


def finding(check: dict[str, Any], *, verdict: bool = True) -> str:
    """What this run found: the check's own summary, behind a plain verdict phrase (`verdict`),
    with the evidence that makes a failure concrete. An unwaived `unknown` says why it reached no
    verdict (`no_verdict_reason`); a waived one is a decision the scenario made, with its reason."""
    outcome = check_outcome(check)
    summary = _sentence(check.get("summary")) or "The check recorded no summary."
    parts = [_sentence(verdict_phrase(check)) if verdict else "", summary]
    if outcome.kind in ("failed", "expected_failure"):
        parts.append(evidence_brief(check))
    elif outcome.kind == "inconclusive":
        error = _evidence(check).get("error")
        if error and str(error) not in summary:
            parts.append(_sentence(f"Error: {error}"))
        parts.append(no_verdict_reason(check))
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Highlight:
    """One list from a check's evidence, as a table: `rows` (already capped by the check),
    the `columns` worth showing, and `total` when the check counted more than it listed."""

    key: str
    label: str
    rows: list[dict[str, Any]]
    columns: list[str]
    total: int | None = None


def highlights(check: dict[str, Any]) -> list[Highlight]:
    """The non-empty evidence lists that say what went wrong (or, for rto, how long each
    phase took), in the order a reader needs them."""
    ev = _evidence(check)
    measured = check.get("measured") if isinstance(check.get("measured"), dict) else {}
    spec = _SPECS.get(str(check.get("name")))
    out = []
    for key, label, rows, columns, counted in spec(ev) if spec else []:
        rows = [r for r in rows if isinstance(r, dict)]
        if not rows:
            continue
        shown = [c for c in columns if any(c in r for r in rows)]
        total = measured.get(counted) if counted else None
        out.append(Highlight(key, label, rows, shown, total if isinstance(total, int) else None))
    return out


def evidence_brief(check: dict[str, Any], limit: int = BRIEF_ITEMS) -> str:
    """One sentence quoting the first items of the check's main evidence list ("Writes refused
    with a duplicate-key error (22): ID 1 (op 36, dc2, already used by op 1), … and 17 more.");
    the compliance report's tables show the rest."""
    for h in highlights(check):
        if h.key in _NOT_IN_BRIEF:
            continue
        count = h.total if h.total is not None else len(h.rows)
        shown = h.rows[:limit]
        more = f" and {count - len(shown)} more" if count > len(shown) else ""
        return f"{h.label} ({count}): {', '.join(item_text(r) for r in shown)}{more}."
    return ""


def item_text(item: dict[str, Any]) -> str:
    """One evidence entry in a few words: a write as "ID 1 (op 36, dc2, already used by op 1)",
    a row as "app.customers key 2 (differs)", a filter read-back as its direction and delta."""
    if "op" in item:
        has_id = item.get("id") is not None
        details = [f"op {item['op']}"] if has_id else []
        details += [str(item["dc"])] if item.get("dc") else []
        earlier = [str(c.get("op")) for c in item.get("conflicts_with") or [] if isinstance(c, dict)]
        details += ["already used by op " + ", ".join(earlier)] if earlier else []
        head = f"ID {item['id']}" if has_id else f"op {item['op']}"
        return f"{head} ({', '.join(details)})" if details else head
    if "ops" in item and "id" in item:
        return f"ID {item['id']} (ops {', '.join(str(o.get('op')) for o in item['ops'] if isinstance(o, dict))})"
    if "segments" in item:
        return " and ".join(f"{s.get('low')}-{s.get('high')} from {s.get('dc')}" for s in item["segments"]
                            if isinstance(s, dict))
    if "direction" in item and ("missing" in item or "extra" in item):
        delta = [f"missing {x}" for x in item.get("missing") or []] + [f"unexpected {x}" for x in item.get("extra") or []]
        return f"{item['direction']}: {', '.join(delta)}"
    if "table" in item:
        key = f" key {cell(item['key'])}" if item.get("key") is not None else ""
        what = item.get("what") or item.get("direction") or ""
        return f"{item['table']}{key}" + (f" ({what})" if what else "")
    if "epoch" in item:
        return f"epoch {item['epoch']}: {cell(item.get('dcs'))}"
    if "source_next_val" in item:
        return f"{item.get('dc')} at {item.get('next_val')} while {item.get('source')} was at {item['source_next_val']}"
    if "largest_id_in_use" in item:
        return f"{item.get('active_dc')} would hand out {item.get('next_val')}, below ID {item['largest_id_in_use']}"
    return fmt_value(item)


def cell(value: Any) -> str:
    """A table cell: client operations by op number and ID (a whole ledger reference is
    noise to a reader; result.json keeps it), everything else compact."""
    if isinstance(value, dict) and "op" in value:
        return f"op {value['op']}" + (f" (ID {value['id']})" if value.get("id") is not None else "")
    if isinstance(value, dict) and "low" in value and "high" in value:
        return f"{value['low']}-{value['high']} from {value.get('dc')}" + (
            f" (journal line {value['seq']})" if value.get("seq") is not None else "")
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items()) or "—"
    return fmt_value(value)


# ---- what to highlight, per check: (key, label, rows, columns, the `measured` key counting them) ----

_Spec = list[tuple[str, str, list[Any], tuple[str, ...], str | None]]
_WRITE = ("op", "id", "dc", "epoch", "outcome", "error_code")


def _rto(ev: dict[str, Any]) -> _Spec:
    changes = _list(ev.get("changes"))
    out: _Spec = [("switches", "Switches timed", changes,
                   ("from", "to", "kind", "epoch", "measured_s", "objective_s", "status", "first_ack"), None)]
    for c in changes:
        if isinstance(c, dict):
            out.append(("phases", f"Phases of the switch {c.get('from')} → {c.get('to')} (seconds after the start)",
                        _list(c.get("phases")), ("phase", "at_s", "seq", "op"), None))
    return out


def _rpo(ev: dict[str, Any]) -> _Spec:
    lost = [w for c in _list(ev.get("changes")) if isinstance(c, dict) for w in _list(c.get("lost"))]
    return [("lost", "Writes missing on the data centre that took over", lost,
             (*_WRITE, "acked_s_before_switch"), "lost_writes")]


def _sequence(ev: dict[str, Any]) -> _Spec:
    standby = [s for s in _list(ev.get("standby_high_water_mark")) if isinstance(s, dict) and s.get("ok") is False]
    hwm = ev.get("high_water_mark")
    return [
        ("duplicate_key_errors", "Writes refused with a duplicate-key error", _list(ev.get("duplicate_key_errors")),
         (*_WRITE, "conflicts_with"), "duplicate_key_errors"),
        ("committed_twice", "IDs committed twice", _list(ev.get("committed_twice")), ("id", "ops"), "committed_twice"),
        ("overlapping_segments", "Segments handed out twice", _list(ev.get("overlapping_segments")),
         ("segments",), "overlapping_segments"),
        ("not_above_previous", "IDs not above those used before a switch", _list(ev.get("not_above_previous")),
         ("op", "id", "dc", "route_epoch", "highest_before_switch"), "not_above_previous"),
        ("standby_high_water_mark", "Standby sequence behind the active side", standby,
         ("dc", "name", "next_val", "source", "source_next_val", "seq"), "standby_behind"),
        ("high_water_mark", "Sequence below the IDs in use",
         [hwm] if isinstance(hwm, dict) and hwm.get("ok") is False else [],
         ("active_dc", "next_val", "largest_id_in_use", "seq"), None),
    ]


def _filters(ev: dict[str, Any]) -> _Spec:
    filters = ev.get("filters") if isinstance(ev.get("filters"), dict) else {}
    canaries = ev.get("canaries") if isinstance(ev.get("canaries"), dict) else {}
    schema = ev.get("schema") if isinstance(ev.get("schema"), dict) else {}
    leaked = [c for c in _list(canaries.get("rows")) if isinstance(c, dict) and c.get("filtered") and c.get("found")]
    return [
        ("mismatches", "Filters in force that differ from the declared list", _list(filters.get("mismatches")),
         ("direction", "missing", "extra", "read_back_by", "seq"), "filter_mismatches"),
        ("leaked", "Canary rows that crossed a filter", leaked,
         ("direction", "table", "marker", "write_seq", "observed_seq"), "canaries_leaked"),
        ("drift", "Filtered tables defined differently", _list(schema.get("drift")),
         ("table", "missing_on", "difference", "seq"), "schema_drift"),
    ]


def _consistency(ev: dict[str, Any]) -> _Spec:
    if "unexplained" not in ev and "explained" not in ev:
        rows = [{"table": d.get("table"), "what": _difference_text(d)} for d in _list(ev.get("differences"))
                if isinstance(d, dict) and not d.get("identical", False)]
        return [("differences", "Tables that differ", rows, ("table", "what"), "tables_differing")]
    return [
        ("unexplained", "Differences the failover does not explain", _list(ev.get("unexplained")),
         ("table", "key", "what"), "unexplained_differences"),
        ("explained", "Differences the failover explains", _list(ev.get("explained")),
         ("table", "key", "what", "because"), "explained_differences"),
    ]


def _split_brain(ev: dict[str, Any]) -> _Spec:
    return [
        ("split_brain_writes", "Writes that may have committed after their data centre stopped being the writer",
         _list(ev.get("split_brain_writes")), (*_WRITE, "why"), "split_brain_writes"),
        ("epochs_with_two_writers", "Routing epochs with two writers", _list(ev.get("epochs_with_two_writers")),
         ("epoch", "route_active", "dcs"), "epochs_with_two_writers"),
    ]


def _write_availability(ev: dict[str, Any]) -> _Spec:
    return [("longest", "Longest stretches without an acknowledged write (seconds into the workload)",
             _list(ev.get("longest")), ("seconds", "from_s", "to_s", "attempts", "error_codes", "route_changes"), None)]


_SPECS = {"rto": _rto, "rpo": _rpo, "sequence_continuity": _sequence, "filter_tables": _filters,
          "data_consistency": _consistency, "split_brain": _split_brain, "write_availability": _write_availability}


def _difference_text(d: dict[str, Any]) -> str:
    parts = []
    differing = d.get("differing") if isinstance(d.get("differing"), dict) else {}
    if differing.get("count"):
        parts.append(f"{differing['count']} row(s) differ")
    missing = d.get("missing") if isinstance(d.get("missing"), dict) else {}
    for dc, m in sorted(missing.items()):
        if isinstance(m, dict) and m.get("count"):
            parts.append(f"{m['count']} row(s) missing on {dc}")
    return "; ".join(parts) or str(d.get("problem") or "differs")


def _evidence(check: dict[str, Any]) -> dict[str, Any]:
    ev = check.get("evidence")
    return ev if isinstance(ev, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _sentence(text: Any) -> str:
    text = " ".join(str(text or "").split())
    return text if not text or text[-1] in ".!?" else text + "."


# ---- the objectives table in plain words ---------------------------------------------------------

# What each measured count means, as a reader would say it (a key ending in `_s` is seconds).
MEASURED_WORDS = {
    "lost_writes": "acknowledged write(s) lost",
    "span_s": "between the first and the last lost write",
    "gtid_transactions_missing": "replicated transaction(s) missing on the survivor",
    "committed_twice": "ID(s) committed twice",
    "duplicate_key_errors": "write(s) refused with a duplicate-key error",
    "overlapping_segments": "ID segment(s) handed out twice",
    "not_above_previous": "ID(s) not above those used before a switch",
    "standby_behind": "standby sequence(s) behind the active side",
    "skipped_ids": "ID(s) skipped (left unused in abandoned segments: allowed)",
    "directions": "replication direction(s) read back",
    "filter_mismatches": "direction(s) whose filters differ from the declared list",
    "canaries_leaked": "canary row(s) that crossed a filter",
    "canaries_inconclusive": "canary row(s) that could not be confirmed",
    "schema_drift": "filtered table(s) defined differently",
    "tables_compared": "replicated table(s) compared",
    "tables_differing": "table(s) differing",
    "rows_compared": "row(s) compared",
    "explained_differences": "difference(s) the failover explains",
    "unexplained_differences": "difference(s) the failover does not explain",
    "epochs_with_two_writers": "routing epoch(s) with two writers",
    "split_brain_writes": "write(s) that may have committed after their data centre stopped being the writer",
    "proven_before_switch": "late write(s) proven committed before the switch",
    "behind_edge_fence": "write(s) behind a fence no client could see",
    "epochs_reused": "routing epoch(s) reused",
}


def seconds_text(value: Any) -> str:
    """3.432 -> "3.43 s"; 0.5 -> "0.5 s"; 10.0 -> "10 s"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return fmt_value(value)
    return f"{float(value):.2f}".rstrip("0").rstrip(".") + " s"


def measured_lines(check: dict[str, Any]) -> list[str]:
    """The check's measured values as short lines with their meaning and unit; a value nobody
    measured (None) is left out, never printed as a dash behind a name."""
    measured = check.get("measured")
    if measured is None:
        return []
    if isinstance(measured, int | float) and not isinstance(measured, bool):
        return [seconds_text(measured)] if check_unit_is_seconds(check) else [fmt_value(measured)]
    if not isinstance(measured, dict):
        return [fmt_value(measured)]
    lines = []
    for key, value in measured.items():
        if value is None:
            continue
        words = MEASURED_WORDS.get(key, key.replace("_", " "))
        if key.endswith("_s"):
            lines.append(f"{seconds_text(value)} {words}")
        else:
            lines.append(f"{fmt_value(value)} {words}")
    return lines


def check_unit_is_seconds(check: dict[str, Any]) -> bool:
    ev = _evidence(check)
    return str(ev.get("unit") or "") == "s" or check.get("name") in ("rto", "write_availability")


def rpo_objective_text(value: Any) -> str:
    """`rpo: 0`, `{max_writes: 3, max_span_s: 2}` in words; an unset bound is not mentioned."""
    if isinstance(value, dict):
        writes, span = value.get("max_writes"), value.get("max_span_s", value.get("max_span"))
    else:
        writes, span = value, None
    parts = []
    if writes is not None:
        parts.append("no acknowledged write lost" if writes == 0 else f"at most {fmt_value(writes)} acknowledged write(s) lost")
    if span is not None:
        parts.append(f"lost writes spanning at most {seconds_text(span) if isinstance(span, int | float) else span}")
    return " and ".join(parts) or "no bound declared"


def objective_text(check: dict[str, Any]) -> str:
    """What the check requires, in words with units."""
    name, objective = str(check.get("name")), check.get("objective")
    if objective is None:
        return "no objective declared"
    if name == "rpo":
        return rpo_objective_text(objective)
    if isinstance(objective, int | float) and not isinstance(objective, bool) and check_unit_is_seconds(check):
        return f"at most {seconds_text(objective)}"
    return fmt_value(objective)


# ---- long key lists as ranges ------------------------------------------------------------------

RANGE_MIN = 3  # a run of fewer consecutive keys is shorter written out


def _int_key(value: Any) -> int | None:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def key_ranges(keys: list[Any]) -> str:
    """Keys as ranges, in their order: [1, 2, 3, 7, 433..692] -> "1–3, 7, 433–692". Runs of
    consecutive integers of at least RANGE_MIN become one range; anything else stays itself."""
    parts: list[str] = []
    i = 0
    while i < len(keys):
        start = _int_key(keys[i])
        j = i
        if start is not None:
            while j + 1 < len(keys) and _int_key(keys[j + 1]) == start + (j + 1 - i):
                j += 1
        if start is not None and j - i + 1 >= RANGE_MIN:
            parts.append(f"{start}–{start + j - i}")
        else:
            j = i
            parts.append(cell(keys[i]))
        i = j + 1
    return ", ".join(parts)


def collapse_key_rows(rows: list[dict[str, Any]], key: str = "key") -> list[dict[str, Any]]:
    """Evidence rows that differ only by consecutive integer keys, folded into one row whose
    key reads "433–692 (260 keys)"; other rows are kept as they are, in order."""
    out: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []

    def flush() -> None:
        if len(group) >= RANGE_MIN:
            first = _int_key(group[0].get(key))
            out.append({**group[0], key: f"{first}–{first + len(group) - 1} ({len(group)} keys)"})
        else:
            out.extend(group)
        group.clear()

    def same_but_key(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return {k: v for k, v in a.items() if k != key} == {k: v for k, v in b.items() if k != key}

    for row in rows:
        k = _int_key(row.get(key))
        if group and k is not None and same_but_key(group[-1], row) \
                and k == _int_key(group[-1].get(key)) + 1:  # type: ignore[operator]
            group.append(row)
            continue
        flush()
        if k is not None:
            group.append(row)
        else:
            out.append(row)
    flush()
    return out


def compact_lists(value: Any, limit: int = 20) -> Any:
    """A copy of `value` with every list of more than `limit` integers written as its ranges
    ("433–692 (260 values)"), and every list of more than `limit` evidence rows with their runs
    of consecutive keys folded as in the tables (`collapse_key_rows`), so a printed evidence
    dump does not run over pages of numbers; result.json keeps every value."""
    if isinstance(value, dict):
        return {k: compact_lists(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > limit and all(_int_key(v) is not None for v in value):
            return f"{key_ranges(value)} ({len(value)} values)"
        if len(value) > limit and all(isinstance(v, dict) and "key" in v for v in value):
            value = collapse_key_rows(value)
        return [compact_lists(v, limit) for v in value]
    return value


# ---- why a check reached no verdict ----------------------------------------------------------------

def _no_switch(check: dict[str, Any]) -> bool:
    return check.get("measured") is None and "changes" not in _evidence(check)


def _no_writes(check: dict[str, Any]) -> bool:
    ev = _evidence(check)
    return check.get("measured") is None and "error" not in ev and not ev.get("split_brain_writes") \
        and not ev.get("epochs_with_two_writers")


# Checks that cannot decide when the drill, as designed, gives them nothing to judge.
_NOTHING_TO_JUDGE = {
    "rto": (_no_switch, "this drill never switched the active data centre, so there is no recovery time to measure"),
    "rpo": (_no_switch, "this drill never switched the active data centre, so no write could be lost in a switch"),
    "split_brain": (_no_writes, "no write was committed, so there is no writer to judge"),
    "write_availability": (lambda c: c.get("measured") is None and "periods" in _evidence(c),
                           "no order was attempted while the workload ran"),
}


def no_verdict_reason(check: dict[str, Any]) -> str:
    """Why an unwaived `unknown` check reached no verdict, and what to do about it — worded by
    its actual cause. Only a gap a new run may close asks for the drill to be repeated."""
    ev = _evidence(check)
    if ev.get("error"):
        return ("Repeating the drill unchanged would not give a verdict: the check broke on this record, and the "
                "record or the check has to be fixed first.")
    if ev.get("passed_but"):
        return ("The check found nothing wrong, but the record has a blind spot (above) in what it watched, so a "
                "pass cannot be claimed; a repeat gives a verdict only once that gap is closed.")
    nothing = _NOTHING_TO_JUDGE.get(str(check.get("name")))
    if nothing and nothing[0](check):
        return (f"This is no verdict by design: {nothing[1]}. Repeating the drill unchanged gives the same answer; "
                "if that is intended, the scenario should say so (objectives.checks.not_judged, with the reason).")
    return "This is neither a pass nor a failure: the record was incomplete for this check; the drill should be repeated."
