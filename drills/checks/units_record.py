"""The record of an active-active drill as the unit checks read it.

Built from the journal and the ledger only (`History`): the unit-rule versions as published
(`aa.rules`), each client's acknowledgements (`aa.ack`, journaled by the workload — not the
controller's word), the cut-over steps (`aa.cutover`), the link states and the rows read
back (`aa.link`, `aa.rows`, `aa.loop_check`), and every order as the ledger has it (buyer,
unit, client, rules version applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from drills import events as ev
from drills.checks.history import Event, History

Range = tuple[int, int]


@dataclass
class Write:
    op: int
    id: int | None
    token: str | None
    user: int | None
    dc: str | None
    client: str | None
    rules_version: int | None
    invoke_ns: int | None = None
    complete_ns: int | None = None
    outcome: str | None = None
    refused: str | None = None
    error_code: int | None = None

    def ref(self) -> dict[str, Any]:
        return {"op": self.op, "id": self.id, "user": self.user, "dc": self.dc, "client": self.client,
                "rules_version": self.rules_version, "outcome": self.outcome,
                **({"refused": self.refused} if self.refused else {})}


@dataclass(frozen=True)
class RulesVersion:
    version: int
    mono_ns: int
    units: tuple[tuple[int, int, str], ...]
    ban: Range | None

    def owner(self, user: int) -> str | None:
        return next((dc for lo, hi, dc in self.units if lo <= user <= hi), None)

    def bans(self, user: int) -> bool:
        return self.ban is not None and self.ban[0] <= user <= self.ban[1]


@dataclass(frozen=True)
class Ban:
    rules: RulesVersion  # the version that published it
    start_ns: int  # the earliest evidence it was out
    lift: RulesVersion | None  # the version that lifted it (None: never lifted)
    lift_ns: int | None  # the earliest evidence the lift was out

    @property
    def range(self) -> Range:
        assert self.rules.ban is not None
        return self.rules.ban


@dataclass
class Cutover:
    id: int
    range: Range
    source: str
    to: str
    forced: bool
    steps: dict[str, Event] = field(default_factory=dict)

    def at(self, step: str) -> int | None:
        e = self.steps.get(step)
        return e.mono_ns if e is not None else None


@dataclass
class UnitsRecord:
    active_active: bool
    rules: list[RulesVersion]  # timed by the earliest evidence each was out (`effective_publish_ns`)
    writes: list[Write]
    cutovers: list[Cutover]
    acks: dict[str, list[Event]]  # client -> its acks in time order
    # the clients the workload ran: those `workload.start` lists and every client the record
    # shows acting (an ack, an order) — a client left off the list does not escape "every
    # client"; None when the workload never said which clients it ran
    clients: list[str] | None
    events: History

    @classmethod
    def of(cls, hist: History) -> UnitsRecord:
        rules: dict[int, RulesVersion] = {}
        for e in hist.of(ev.AA_RULES):
            v = int(e.get("rules_version", 0))
            ban = e.get("ban")
            units = tuple((int(u["range"][0]), int(u["range"][1]), str(u["dc"])) for u in e.get("units") or [])
            rv = RulesVersion(v, e.mono_ns, units, (int(ban["range"][0]), int(ban["range"][1])) if ban else None)
            if v not in rules or rules[v].mono_ns > e.mono_ns:
                rules[v] = rv
        acks: dict[str, list[Event]] = {}
        for e in hist.of(ev.AA_ACK):
            acks.setdefault(str(e.get("client")), []).append(e)
        # a version is out from the earliest evidence of it: its line, or a client's ack of it or a
        # later one (a client cannot apply what is not published; the controller may journal late)
        for v, rv in list(rules.items()):
            early = [a.mono_ns for lst in acks.values() for a in lst if int(a.get("rules_version", 0)) >= v]
            if early and min(early) < rv.mono_ns:
                rules[v] = replace(rv, mono_ns=min(early))
        start = hist.first(ev.WORKLOAD_START)
        listed = start.get("clients") if start is not None else None
        writes = _writes(hist.ledger_records)
        clients = None
        if isinstance(listed, list):
            seen = {str(c) for c in listed} | set(acks) | {w.client for w in writes if w.client}
            clients = sorted(seen)
        cutovers: dict[int, Cutover] = {}
        for e in hist.of(ev.AA_CUTOVER_STEP):
            if e.get("cutover") is None:
                continue
            cid = int(e.get("cutover"))
            rng = e.get("range") or [0, -1]
            c = cutovers.setdefault(cid, Cutover(cid, (int(rng[0]), int(rng[1])), str(e.get("source_dc")),
                                                 str(e.get("to")), bool(e.get("forced"))))
            c.steps.setdefault(str(e.get("step")), e)
        return cls(hist.first(ev.AA_TOPOLOGY) is not None, sorted(rules.values(), key=lambda r: r.mono_ns),
                   writes, sorted(cutovers.values(), key=lambda c: c.id), acks, clients, hist)

    def rules_at(self, ns: int) -> RulesVersion | None:
        """The newest version published at or before `ns`."""
        current = None
        for r in self.rules:
            if r.mono_ns <= ns:
                current = r
        return current

    def version(self, v: int) -> RulesVersion | None:
        return next((r for r in self.rules if r.version == v), None)

    def first_ack(self, client: str, version: int) -> Event | None:
        """When `client` first acknowledged `version` or a later one."""
        return next((a for a in self.acks.get(client, []) if int(a.get("rules_version", 0)) >= version), None)

    def effective_publish_ns(self, version: int) -> int | None:
        """The earliest evidence that `version` was out: its `aa.rules` line, or any client's
        acknowledgement of it or a later one — a client cannot apply what is not published, so
        a controller that journals late cannot move its publish after the facts."""
        times = [r.mono_ns for r in self.rules if r.version == version]
        for lst in self.acks.values():
            times += [a.mono_ns for a in lst if int(a.get("rules_version", 0)) >= version]
        return min(times) if times else None

    def bans(self) -> list[Ban]:
        """Each ban as published, with its lift (a later version with another ban or none).
        Both are timed by the earliest evidence (`effective_publish_ns`): a controller that
        journals late cannot shorten a ban's window or hide writes taken under it."""
        out: list[Ban] = []
        for i, r in enumerate(self.rules):
            if r.ban is None or (i and self.rules[i - 1].ban == r.ban):
                continue
            lift = next((later for later in self.rules[i + 1:] if later.ban != r.ban), None)
            start = self.effective_publish_ns(r.version)
            lift_ns = self.effective_publish_ns(lift.version) if lift is not None else None
            out.append(Ban(r, r.mono_ns if start is None else start, lift, lift_ns))
        return out

    def rows(self, when: str) -> dict[str, Event]:
        """`aa.rows` read-backs taken at `when`, by DC."""
        return {str(e.get("dc")): e for e in self.events.of(ev.AA_ROWS) if e.get("when") == when}


def _writes(records: list[dict[str, Any]]) -> list[Write]:
    by_op: dict[int, Write] = {}
    for r in records:
        if r.get("f") != "write_order" or "op" not in r:
            continue
        try:
            op = int(r["op"])
        except (TypeError, ValueError):
            continue
        w = by_op.get(op)
        if r.get("type") == "invoke":
            by_op[op] = Write(op, _int(r.get("id")), r.get("token"), _int(r.get("buyer_id")), r.get("dc"),
                              r.get("client"), _int(r.get("rules_version")), invoke_ns=_int(r.get("mono_ns")))
        elif w is not None and r.get("type") in ("ok", "fail", "info") and w.outcome is None:
            w.outcome = str(r["type"])
            w.complete_ns = _int(r.get("mono_ns"))
            w.refused = r.get("refused")
            w.error_code = _int(r.get("error_code"))
            if w.id is None:
                w.id = _int(r.get("id"))
    return list(by_op.values())


def _int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None
