"""cutover_protocol: new unit rules were published only after every client confirmed the ban
and the link confirmed catch-up to the ban point; and a moved user's writes were readable in
the new unit when the new rules were published (read-your-writes across the move).

Per cut-over, from the record, never from the controller's summary alone:

* **publish time** — the earliest evidence the new version was out: its `aa.rules` line or
  any client's acknowledgement of it (a client cannot apply what is not published);
* **ban** — a version banning the moving range was published before it and not lifted;
* **effect feedback** — every client the workload ran (those `workload.start` lists, and any
  other the record shows acking or writing: one left off the list does not escape) has an
  `aa.ack` of the ban version (journaled by the client itself) strictly before the publish;
* **catch-up** — a `caught_up` step strictly before the publish, for a ban point taken
  after the last ban acknowledgement;
* **read-your-writes** — the observer's read-back of the moving users' rows in the new unit
  taken right before the publish (`aa.rows`, `when: cutover-N`): every write for a moving user
  acknowledged before the ban took effect must be in it.

A forced cut-over (whole-DC failure: the source cannot give a ban point) is held to the same
rules except that catch-up is to what the target received, and writes missing at the publish
are reported as lost (`rpo` judges them against its objective) instead of failing here —
only when the record shows the source could not give the ban point (`basis: received`): a
cut-over called forced whose source answered is held to read-your-writes like any other.
The catch-up must reach the ban point's GTID position (the `caught_up` step's `gtid`), and
the new rules are the first version the record shows handing the range's users to the
target, whichever version the controller's `rules_published` step names.
Any rule broken → failed. A rule that cannot be evaluated (no client list, no read-back or a
failed one, no GTID positions, no orders in the ledger, no unit rules at all) → unknown. No
cut-over → unknown.
"""

from __future__ import annotations

from typing import Any

from drills.checks.history import History
from drills.checks.rpo import GtidSet
from drills.checks.units_record import Cutover, RulesVersion, UnitsRecord
from drills.checks.verdict import FAILED, PASSED, UNKNOWN, Status, Verdict, combine

NAME = "cutover_protocol"
OBJECTIVE = "rules after every ban ack and link catch-up; moved users' writes readable at the publish"


def check(hist: History) -> Verdict:
    rec = UnitsRecord.of(hist)
    if not rec.cutovers:
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "No cut-over is in the record.", {})
    if not rec.rules:  # without them no ban and no publish can be shown, nor their absence
        return Verdict(NAME, UNKNOWN, None, OBJECTIVE, "The record holds cut-over steps but no unit rules, so the "
                       "ban and the publish cannot be judged.", {"cutovers": [c.id for c in rec.cutovers]})
    results = [_judge(rec, c) for c in rec.cutovers]
    status = combine([r["status"] for r in results])
    summary = " ".join(r["summary"] for r in results if r["status"] == status)
    measured = {"cutovers": len(results), "violations": sum(len(r["violations"]) for r in results),
                "ryw_missing": sum(r.get("ryw_missing", 0) for r in results)}
    return Verdict(NAME, status, measured, OBJECTIVE, summary, {"cutovers": results})


def _hands_over(rec: UnitsRecord, r: RulesVersion, c: Cutover) -> bool:
    """Whether version `r` gives some user of the cut-over's range to its target that the
    version in force before it did not (a partial move counts: it is a move)."""
    before = rec.rules_at(r.mono_ns - 1)
    lo, hi = c.range
    # ownership is constant between unit boundaries: test the range's ends and each boundary in it
    points = {lo, hi} | {b for x in (r, before) if x is not None for a, z, _ in x.units for b in (a, z, z + 1)
                         if lo <= b <= hi}
    return any(r.owner(u) == c.to and (before is None or before.owner(u) != c.to) for u in points)


def _judge(rec: UnitsRecord, c: Cutover) -> dict[str, Any]:
    out: dict[str, Any] = {"cutover": c.id, "range": list(c.range), "from": c.source, "to": c.to, "forced": c.forced,
                           "violations": [], "gaps": []}
    v, gaps = out["violations"], out["gaps"]
    # the new rules: the first version the record shows handing users of the range to the
    # target — the controller's `rules_published` step is a claim, and a version that moved
    # them earlier (or one the controller never claimed) is the one that counts
    claimed_version = int(c.steps["rules_published"].get("rules_version")) if "rules_published" in c.steps else None
    others = {int(o.steps["rules_published"].get("rules_version")) for o in rec.cutovers
              if o is not c and "rules_published" in o.steps}
    started = c.at("start") or 0
    moved = [r for r in rec.rules if r.mono_ns >= started and r.version not in others and _hands_over(rec, r, c)]
    candidates = [x for x in (claimed_version, moved[0].version if moved else None) if x is not None]
    timed = [(t, x) for x in candidates if (t := rec.effective_publish_ns(x)) is not None]
    new_version = min(timed)[1] if timed else (candidates[0] if candidates else None)
    if claimed_version is not None and new_version != claimed_version:
        out["claimed_version"] = claimed_version
    if new_version is None:
        stalled = c.steps.get("stalled")
        if stalled is not None:  # stopped before the new rules: the safe stop the protocol asks for
            out["status"] = PASSED
            out["stalled_at"] = stalled.get("at")
            out["summary"] = (f"cut-over {c.id} stalled at {stalled.get('at')} and stopped before publishing new rules: "
                              "the old units stayed in force, nothing half-switched.")
        else:
            out["status"] = UNKNOWN
            out["summary"] = f"cut-over {c.id}: the new rules were never published and the record does not say why."
        return out
    publish = rec.effective_publish_ns(new_version)
    if publish is None:
        out["status"] = UNKNOWN
        out["summary"] = f"cut-over {c.id}: no record of rules version {new_version} being published."
        return out
    out["publish_mono_ns"] = publish
    # every change is a new version (+1): a number missing up to the new rules is a publish the
    # record lost — the ban, or the move itself, may be the one missing
    absent = [n for n in range(min(r.version for r in rec.rules), new_version + 1) if rec.version(n) is None]
    if absent:
        gaps.append(f"rules version(s) {', '.join(map(str, absent[:10]))} (up to the new units, {new_version}) are not "
                    "in the record, so what was published cannot be shown")
    # the ban
    # the latest ban on the range before the publish: a range moved before (and there and back)
    # has an older, lifted ban whose acknowledgements say nothing about this cut-over
    ban = next((r for r in reversed(rec.rules) if r.mono_ns < publish and r.ban is not None
                and r.ban[0] <= c.range[0] and c.range[1] <= r.ban[1] and r.version < new_version), None)
    lifted_before = ban is not None and any(r.mono_ns < publish and r.version > ban.version and r.ban is None
                                            for r in rec.rules)
    if (ban is None or lifted_before) and absent:
        gaps.append("no ban on the range is in the record, but versions are missing from it")
    elif ban is None or lifted_before:
        v.append(f"users {c.range[0]}..{c.range[1]} were not write-banned when the new rules were published")
    # effect feedback
    acks_at: dict[str, int | None] = {}
    if ban is not None:
        if rec.clients is None:
            gaps.append("the record does not list the workload's clients, so the ban acknowledgements cannot be counted")
        for client in rec.clients or []:
            a = rec.first_ack(client, ban.version)
            acks_at[client] = a.mono_ns if a is not None else None
            if a is None or a.mono_ns >= publish:
                v.append(f"client {client} had not acknowledged the ban (version {ban.version}) when the new rules "
                         "were published" + ("" if a is None else f" (it did {(a.mono_ns - publish) / 1e6:.3f} ms later)"))
    # catch-up to the ban point
    caught, point = c.steps.get("caught_up"), c.steps.get("ban_point")
    if caught is None or caught.mono_ns >= publish:
        v.append("the link had not confirmed catch-up to the ban point when the new rules were published"
                 + ("" if caught is None else f" (it did {(caught.mono_ns - publish) / 1e6:.3f} ms later)"))
    elif point is None or any(t is not None and point.mono_ns < t for t in acks_at.values()):
        v.append("the ban point was taken before every client had acknowledged the ban")
    elif not point.get("gtid") or not caught.get("gtid"):
        gaps.append("the ban point or the position the link caught up to is not in the record")
    else:
        try:
            short = GtidSet.parse(str(point.get("gtid"))) - GtidSet.parse(str(caught.get("gtid")))
        except ValueError:
            short = None
            gaps.append(f"the GTID positions cannot be read ({point.get('gtid')!r}, {caught.get('gtid')!r})")
        if short:
            v.append(f"the link caught up to {caught.get('gtid')}, below the ban point {point.get('gtid')} "
                     f"(missing {short})")
    # read-your-writes
    snap = rec.rows(f"cutover-{c.id}").get(c.to)
    effective = max((t for t in acks_at.values() if t is not None), default=None)
    due = [w for w in rec.writes if w.outcome == "ok" and w.user is not None and c.range[0] <= w.user <= c.range[1]
           and w.complete_ns is not None and (effective is None or w.complete_ns <= effective) and w.complete_ns < publish]
    if not any(r.get("f") == "write_order" for r in rec.events.ledger_records):
        gaps.append("the ledger holds no orders, so read-your-writes across the move cannot be judged")
    elif snap is None or snap.mono_ns > publish:
        gaps.append(f"no read-back of the moving users' rows in {c.to} before the publish")
    elif snap.get("error") or not isinstance(snap.get("tokens"), list):  # a failed read is no evidence of loss
        gaps.append(f"the read-back of the moving users' rows in {c.to} failed ({str(snap.get('error'))[:120]})")
    else:
        present = set(snap.get("tokens") or [])
        last: dict[int, Any] = {}
        for w in sorted(due, key=lambda w: w.complete_ns or 0):
            last[w.user or 0] = w
        missing = [w.ref() for w in due if w.token not in present]
        missing_last = [w.ref() for w in last.values() if w.token not in present]
        out.update({"ryw_checked": len(due), "ryw_missing": len(missing), "users": len(last)})
        if missing:
            out["missing"] = missing[:50]
            # a forced cut-over may publish without writes the dead source never shipped — only when
            # the source could not give the ban point; one that answered had them all caught up
            if c.forced and point is not None and point.get("basis") == "received":
                out["lost_at_publish"] = len(missing)
            else:
                v.append(f"{len(missing_last)} moved user(s)' last write(s) (and {len(missing)} write(s) in all) were "
                         f"not readable in {c.to} when the new rules were published")
    status: Status = FAILED if v else (UNKNOWN if gaps else PASSED)
    out["status"] = status
    if v:
        out["summary"] = f"cut-over {c.id} ({c.range[0]}..{c.range[1]} -> {c.to}): " + "; ".join(v) + "."
    elif gaps:
        out["summary"] = f"cut-over {c.id}: " + "; ".join(gaps) + "."
    else:
        extra = f"; {out.get('lost_at_publish')} write(s) lost with the failed DC" if out.get("lost_at_publish") else ""
        out["summary"] = (f"cut-over {c.id} ({c.range[0]}..{c.range[1]} -> {c.to}) followed the protocol: ban acknowledged "
                          f"by {len(acks_at)} client(s) and the link caught up before the new rules; "
                          f"{out.get('ryw_checked', 0)} moved write(s) readable at the publish{extra}.")
    return out
