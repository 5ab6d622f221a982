"""Data consistency: the replicated tables hold the same rows on both data centres — or differ
only where the drill itself explains it.

Judged from the last `observe.consistency` (the engine in `drills.observe.consistency`
compared every replicated table, chunk by chunk, and named the differing keys) and the last
`observe.link`:

- **the link stopped on an error** (its SQL thread halted with, say, 1032 "row not found"
  or 1062 "duplicate key") → failed: a divergence the replica itself tripped over, listed
  with whatever the comparison found;
- **the link runs but had not caught up** → differences may be rows in flight: unknown;
- otherwise (caught up, or no link at all — the sides are at rest), every difference must
  be explained, or the check fails:
  - an order row present only on the side that lost it at a failover: the ledger has a
    write with that ID committed on the old writer and, read back by its token, absent
    on the survivor (the writes `rpo` counts);
  - an order row written on the new writer after a switch and absent on the old one, while
    no link from the new writer to the old one ever caught up afterwards (the old primary
    was not rejoined);
  - the sequence table's rows, once a failover made the two sides allocate apart (or a
    lost write took an allocation with it).
  Anything else — another table, another key, a column defined differently — is a
  divergence the failover does not explain: failed, naming it.
"""

from __future__ import annotations

from typing import Any

from drills import events as ev
from drills.checks.history import History, Op
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Verdict

NAME = "data_consistency"
OBJECTIVE = "replicated tables identical on both sides, except where a failover explains it"
ORDERS_TABLE = "app.orders"
DEFAULT_SEQUENCE_TABLE = "app.id_sequence"
MAX_LISTED = 50


def check(hist: History, *, sequence_table: str | None = None, orders_table: str = ORDERS_TABLE) -> Verdict:
    e = hist.last(ev.OBSERVE_CONSISTENCY)
    if e is None:
        failed = hist.last(ev.OBSERVE_ERROR, where=lambda x: x.get("what") == "consistency")
        why = f": {failed.get('error')}" if failed is not None else ""
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, f"The two data centres' tables were never compared{why}.", {})
    differences = [d for d in (e.get("differences") or []) if isinstance(d, dict)]
    tables = e.get("tables") or []
    measured: dict[str, Any] = {"tables_compared": len(tables), "tables_differing": len(differences),
                                "rows_compared": e.get("rows_compared")}
    evidence: dict[str, Any] = {"seq": e.seq, "position": e.get("position"), "skipped": e.get("skipped"),
                                "differences": differences[:MAX_LISTED]}
    link = hist.last(ev.OBSERVE_LINK, before=e.mono_ns) or hist.last(ev.OBSERVE_LINK)
    evidence["link"] = ({k: link.get(k) for k in ("source", "replica", "io_running", "sql_running", "caught_up",
                                                  "last_sql_error")} | {"seq": link.seq}) if link is not None else None

    if link is not None and link.get("replica") and not link.get("sql_running") and link.get("last_sql_error"):
        return Verdict(NAME, FAILED, measured, OBJECTIVE,
                       f"Replication {link.get('source')}->{link.get('replica')} stopped on an error — "
                       f"{_short(link.get('last_sql_error'))} — the sides have diverged"
                       + (f"; {_describe_first(differences)}" if differences else "") + ".", evidence)
    if not tables and not differences:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE, "The comparison did not cover any replicated table.", evidence)
    if not differences:
        return Verdict(NAME, PASSED, measured, OBJECTIVE,
                       f"All {len(tables)} replicated tables hold the same rows on both data centres.", evidence)
    linked = link is not None and bool(link.get("replica")) and bool(link.get("io_running")) and bool(link.get("sql_running"))
    if linked and link is not None and link.get("caught_up") is not True:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE,
                       f"{len(differences)} table(s) differ, but the link {link.get('source')}->{link.get('replica')} "
                       "had not caught up, so they may be rows still in flight.", evidence)

    explained, unexplained, truncated = _classify(hist, differences, orders_table, sequence_table or DEFAULT_SEQUENCE_TABLE)
    measured.update(explained_differences=len(explained), unexplained_differences=len(unexplained))
    evidence["explained"] = explained[:MAX_LISTED]
    evidence["unexplained"] = unexplained[:MAX_LISTED]
    if unexplained:
        first = unexplained[0]
        return Verdict(NAME, FAILED, measured, OBJECTIVE,
                       f"{len(unexplained)} difference(s) between the data centres are not explained by the failover "
                       f"(first: {first['table']} {first['what']}" + (f" key {first['key']}" if first.get("key") is not None
                                                                      else "") + ").", evidence)
    if truncated:
        return Verdict(NAME, UNKNOWN, measured, OBJECTIVE,
                       f"{truncated} differing key(s) were not listed by the comparison, so they could not be checked "
                       "against what the failover explains.", evidence)
    kinds = sorted({x["because"] for x in explained})
    return Verdict(NAME, PASSED, measured, OBJECTIVE,
                   f"The data centres differ only where the failover explains it: {len(explained)} difference(s) "
                   f"({'; '.join(kinds)}); every other replicated row is identical.", evidence)


def _classify(hist: History, differences: list[dict[str, Any]], orders_table: str,
              sequence_table: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    lost = _lost_at_failover(hist)
    after_switch = _written_after_switch_unrejoined(hist)
    committed: dict[Any, set[str]] = {}
    for o in hist.writes:
        if o.f == "write_order" and o.id is not None and o.accepted and o.dc:
            committed.setdefault(o.id, set()).add(o.dc)
    moved_apart = bool(hist.switches())
    explained: list[dict[str, Any]] = []
    unexplained: list[dict[str, Any]] = []
    truncated = 0
    for d in differences:
        table = str(d.get("table"))
        if d.get("problem"):
            unexplained.append({"table": table, "what": d["problem"]})
            continue
        listed = 0
        for key in (d.get("differing") or {}).get("keys") or []:
            listed += 1
            k = _scalar(key)
            if table == orders_table and k in lost and committed.get(k, set()) - {w.dc for w in lost[k]}:
                explained.append({"table": table, "key": k, "what": "differs",
                                  "because": "an order lost at a failover and its ID reused by the survivor"})
            elif table == sequence_table and moved_apart:
                explained.append({"table": table, "key": k, "what": "differs",
                                  "because": "the sequence allocated apart after a failover"})
            else:
                unexplained.append({"table": table, "key": k, "what": "differs"})
        for missing_on, part in (d.get("missing") or {}).items():
            for key in (part or {}).get("keys") or []:
                listed += 1
                k = _scalar(key)
                if table == orders_table and any(w.dc != missing_on for w in lost.get(k, [])):
                    explained.append({"table": table, "key": k, "what": f"missing on {missing_on}",
                                      "because": "orders lost at a failover (counted by rpo)"})
                elif table == orders_table and any(w.dc != missing_on for w in after_switch.get(k, [])):
                    explained.append({"table": table, "key": k, "what": f"missing on {missing_on}",
                                      "because": f"orders written after the switch; {missing_on} was not rejoined"})
                elif table == sequence_table and moved_apart:
                    explained.append({"table": table, "key": k, "what": f"missing on {missing_on}",
                                      "because": "the sequence allocated apart after a failover"})
                else:
                    unexplained.append({"table": table, "key": k, "what": f"missing on {missing_on}"})
        counted = int((d.get("differing") or {}).get("count") or 0) + sum(
            int((p or {}).get("count") or 0) for p in (d.get("missing") or {}).values())
        truncated += max(0, counted - listed)
        if not listed and not counted and d.get("mismatched_chunks"):
            unexplained.append({"table": table, "what": "differs (no primary key: not narrowed to rows)"})
    return explained, unexplained, truncated


def _lost_at_failover(hist: History) -> dict[Any, list[Op]]:
    """Orders committed on a writer during its tenure and, read back by token, absent from the
    DC that took over from it."""
    out: dict[Any, list[Op]] = {}
    for prev, route in hist.switches():
        old, new = prev.active, route.active
        for o in hist.writes:
            if o.f != "write_order" or o.dc != old or o.id is None:
                continue
            route_of = hist.route_of_epoch(hist.epoch_of(o))
            if route_of is None or route_of.active != old or (route_of.mono_ns or 0) > (route.mono_ns or 0):
                continue
            if o.committed_on(old) is True and o.present_on(new) is False:
                out.setdefault(o.id, []).append(o)
    return out


def _written_after_switch_unrejoined(hist: History) -> dict[Any, list[Op]]:
    """Orders committed on a DC that became the writer by a switch, when no link from it to
    the DC it replaced caught up afterwards (that DC was not rejoined)."""
    out: dict[Any, list[Op]] = {}
    for prev, route in hist.switches():
        new, old = route.active, prev.active
        for o in hist.writes:
            if o.f != "write_order" or o.dc != new or o.id is None or not o.accepted:
                continue
            if (hist.epoch_of(o) or 0) < route.epoch:
                continue
            if hist.caught_up(new, old, after=o.invoke_ns) is None:
                out.setdefault(o.id, []).append(o)
    return out


def _scalar(key: Any) -> Any:
    if isinstance(key, list | tuple) and len(key) == 1:
        key = key[0]
    try:
        return int(key)
    except (TypeError, ValueError):
        return key if not isinstance(key, list) else tuple(key)


def _describe_first(differences: list[dict[str, Any]]) -> str:
    d = differences[0]
    keys = list((d.get("differing") or {}).get("keys") or [])
    for part in (d.get("missing") or {}).values():
        keys += (part or {}).get("keys") or []
    shown = f" (first differing key: {_scalar(keys[0])})" if keys else ""
    return f"{len(differences)} replicated table(s) differ, first {d.get('table')}{shown}"


def _short(text: Any, limit: int = 200) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"
