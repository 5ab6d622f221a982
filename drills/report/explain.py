"""Plain-language explanations of each check, for readers who are not database engineers.

An auditor signs the compliance report; they must be able to say what each line proves
without knowing what a GTID is. Each check gets: a title, what it protects against, and a
sentence built from its evidence (what exactly was found).
"""

from __future__ import annotations

from typing import Any

from drills.report.run_record import check_outcome, number

TITLES = {
    "rto": "Recovery time (RTO)",
    "rpo": "Data loss (RPO)",
    "sequence_continuity": "No duplicate order numbers",
    "filter_tables": "Replication filter list applied as declared",
    "data_consistency": "Both data centres hold the same data",
    "split_brain": "Only one data centre accepted writes at a time",
}

PURPOSE = {
    "rto": "How long the application could not save new data after the fault, measured from the fault to the "
    "first write the surviving data centre confirmed.",
    "rpo": "Whether any write the application had been told was saved went missing on the data centre that "
    "took over.",
    "sequence_continuity": "Order numbers come from a shared counter. After a switch, the new data centre must "
    "never hand out a number the old one already used, or two orders would collide.",
    "filter_tables": "Some tables are deliberately kept out of replication (each has a reason below). The list "
    "actually in force on every replication link, in both directions, must match the declared list.",
    "data_consistency": "Every table that is meant to be copied must be identical in both data centres once "
    "copying has caught up; differing rows are named.",
    "split_brain": "Two data centres writing at the same time would create conflicting histories that cannot be "
    "merged. Each write carries the routing 'epoch' it followed; none may come from an outdated one.",
}


def title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").capitalize())


def purpose(name: str) -> str:
    return PURPOSE.get(name, "A check declared by the scenario.")


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list | dict) else 0


def _item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    if "id" in item:
        return str(item["id"])
    key = item.get("key")
    if isinstance(key, dict):
        return ", ".join(f"{k}={v}" for k, v in key.items())
    return str(key if key is not None else item)


def _preview(items: list[Any], limit: int = 8) -> str:
    shown = "; ".join(_item(i) for i in items[:limit]) if any(isinstance(i, dict) and "key" in i for i in items) \
        else ", ".join(_item(i) for i in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")


def finding(check: dict[str, Any]) -> str:
    """One or two sentences saying what this run found, from the check's own evidence."""
    name = str(check.get("name"))
    ev = check.get("evidence") if isinstance(check.get("evidence"), dict) else {}
    outcome = check_outcome(check)
    measured, objective = check.get("measured"), check.get("objective")
    if outcome.ok is None:
        reason = ev.get("error") or check.get("summary") or "no reason recorded"
        return f"No verdict could be reached: {reason}. This is neither a pass nor a failure; the drill should be repeated."
    text = ""
    if name == "rto":
        m, o = number(measured, ("seconds", "rto_s", "value")), number(objective)
        if m is not None:
            text = f"Writes were unavailable for {m:.2f} seconds"
            text += f"; the objective allows {o:g} seconds." if o is not None else "."
    elif name == "rpo":
        lost = ev.get("lost_writes") or []
        if lost:
            text = (f"{len(lost)} confirmed write(s) never reached the surviving data centre "
                    f"(order numbers {_preview(lost)}), covering {number(ev.get('span_s')) or 0:.2f} seconds.")
        else:
            text = "Every write the application was told was saved is present on the surviving data centre."
    elif name == "sequence_continuity":
        ids = ev.get("colliding_ids") or []
        if ids:
            text = f"{len(ids)} order number(s) were handed out by both data centres: {_preview(ids)}."
            if ev.get("note"):
                text += f" {ev['note']}."
        else:
            text = "No order number was handed out twice, and numbering after each switch continued above all earlier numbers."
    elif name == "filter_tables":
        diffs = ev.get("differences") or []
        if diffs:
            parts = []
            for d in diffs[:6]:
                if isinstance(d, dict):
                    state = "declared but not in force" if d.get("declared") and not d.get("effective") else \
                        "in force but not declared" if d.get("effective") and not d.get("declared") else "differs"
                    parts.append(f"{d.get('table', '?')} on link {d.get('link', '?')} ({state})")
                else:
                    parts.append(str(d))
            text = "The filters in force differ from the declared list: " + "; ".join(parts) + "."
        else:
            text = "The filters in force on every link match the declared list."
    elif name == "data_consistency":
        keys = ev.get("differing_keys") or []
        if keys:
            tables = sorted({str(k.get("table")) for k in keys if isinstance(k, dict)})
            text = f"{len(keys)} row(s) differ between the data centres in {', '.join(tables) or 'the compared tables'}: {_preview(keys)}."
        else:
            text = "All compared tables are identical in both data centres."
    elif name == "split_brain":
        stale = ev.get("stale_writes") or []
        text = (f"{len(stale)} write(s) were accepted under an outdated routing epoch: {_preview(stale)}." if stale
                else "No write was accepted by a data centre whose routing epoch had been superseded.")
    if not text:
        text = str(check.get("summary") or f"Measured {measured!r} against the objective {objective!r}.")
    if outcome.note:
        text += f" ({outcome.note}.)"
    return text
