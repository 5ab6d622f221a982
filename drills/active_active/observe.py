"""What the observer records in an active-active run (observer path, admin account).

* `rows_at(...)` — the moving users' rows in the new unit, read right before the new rules
  are published (`aa.rows`, `when: cutover-N`): read-your-writes across the move is judged
  from this read-back, not from the controller's word;
* `collect_end(...)` — after the drill: both links given a bounded time to catch up
  (`aa.settle`), the links' threads, errors and filters (`aa.link`), both units' order
  tables (`aa.rows`, `when: end`) and a last loop probe (`aa.loop_check`, `when: end`).

A side that cannot be read is recorded as such; the checks then say `unknown`.
"""

from __future__ import annotations

import time
from typing import Any

from drills import events
from drills.active_active import topology as aa_topology
from drills.errors import EnvironmentProblem
from drills.topology.state import DCS

SOURCE = "observer"
SETTLE_TIMEOUT = 10.0


def rows_at(topo: Any, journal: Any, dc: str, moving: tuple[int, int], when: str) -> None:
    try:
        conn = topo.connect(dc, timeout=2.0, read_timeout=10.0)
    except EnvironmentProblem as exc:
        journal.record(SOURCE, events.AA_ROWS, dc=dc, range=list(moving), when=when, error=str(exc))
        return
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT token FROM app.orders WHERE buyer_id BETWEEN %s AND %s", moving)
            tokens = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    journal.record(SOURCE, events.AA_ROWS, dc=dc, range=list(moving), when=when, tokens=tokens)


def collect_end(topo: Any, journal: Any) -> None:
    conns: dict[str, Any] = {}
    errors = {}
    for dc in DCS:
        try:
            conns[dc] = topo.connect(dc, timeout=2.0, read_timeout=SETTLE_TIMEOUT + 5)
        except EnvironmentProblem as exc:
            errors[dc] = str(exc)
    try:
        t0 = time.monotonic()
        caught: dict[str, bool] = {}
        before = aa_topology.link_states(topo)
        # a link stopped on an error will not catch up: waiting for it only delays the record
        broken = any(st.get("sql_errno") for st in before.values())
        if len(conns) == 2:
            try:
                caught = aa_topology.catch_up(topo, conns, 1.0 if broken else SETTLE_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - a broken server: recorded, judged unknown
                errors["catch_up"] = str(exc)
        links = aa_topology.link_states(topo)
        link_errors = {name: st.get("sql_errno") for name, st in links.items() if st.get("sql_errno")}
        journal.record(SOURCE, events.AA_SETTLE, caught_up=bool(caught) and all(caught.values()), per_dc=caught,
                       link_errors=link_errors, errors=errors, waited_ms=round((time.monotonic() - t0) * 1000, 1))
        journal.record(SOURCE, events.AA_LINK, when="end", links=links)
        for dc in DCS:
            if dc not in conns:
                journal.record(SOURCE, events.AA_ROWS, dc=dc, when="end", error=errors.get(dc))
                continue
            with conns[dc].cursor() as cur:
                cur.execute("SELECT id, token, unit, buyer_id FROM app.orders ORDER BY id")
                rows = [list(r) for r in cur.fetchall()]
            journal.record(SOURCE, events.AA_ROWS, dc=dc, when="end", rows=rows)
        db = aa_topology.probe_db(topo)
        if len(conns) == 2 and db is not None:  # None: no writes allowed, no probe (the check says unknown)
            loop = aa_topology.verify_no_loop(topo, conns, timeout=1.0 if link_errors else 5.0, db=db)
            journal.record(SOURCE, events.AA_LOOP_CHECK, when="end", **loop)
    finally:
        for conn in conns.values():
            conn.close()
