"""Unit rules: which DC owns which users, and which users are write-banned.

They live in the routing document in etcd (the one key the application already follows),
next to the single-writer fields, which keep their meaning (`active` names the central
unit)::

    {"active": "dc1", "epoch": 1, ..., "mode": "active-active",
     "units": [{"range": [0, 4999], "dc": "dc1"}, {"range": [5000, 9999], "dc": "dc2"}],
     "unit_epoch": 1,            # + 1 whenever ownership changes
     "rules_version": 1,         # + 1 on every change (ban, units, lift): what clients acknowledge
     "ban": {"range": [0, 4999], "ban_epoch": 1} | null}

Every client (a DC's data-access layer) acknowledges each `rules_version` it has applied under
`<routing key>/acks/<client>`: the "effect feedback" the cut-over controller waits for.
Pure functions only: the document in, the document or an answer out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from drills.errors import UserError

Range = tuple[int, int]


@dataclass(frozen=True)
class Unit:
    low: int
    high: int
    dc: str

    def owns(self, user: int) -> bool:
        return self.low <= user <= self.high


@dataclass(frozen=True)
class Rules:
    """One version of the unit rules as a client applies them."""

    units: tuple[Unit, ...]
    unit_epoch: int
    rules_version: int
    ban: Range | None
    ban_epoch: int = 0
    epoch: int = 0  # the routing document's (single-writer) epoch, unchanged by unit rules

    def owner(self, user: int) -> str | None:
        return next((u.dc for u in self.units if u.owns(user)), None)

    def banned(self, user: int) -> bool:
        return self.ban is not None and self.ban[0] <= user <= self.ban[1]

    def refusal(self, user: int, dc: str) -> str | None:
        """Why the data-access layer of `dc` refuses a write for `user` (None: it accepts)."""
        if self.banned(user):
            return "banned"
        owner = self.owner(user)
        if owner is None:
            return "no unit"
        return None if owner == dc else "other unit"


def initial_units(users: int) -> list[dict[str, Any]]:
    """Users 0..users-1 split at the middle: the lower half dc1's, the upper dc2's."""
    mid = users // 2
    return [{"range": [0, mid - 1], "dc": "dc1"}, {"range": [mid, users - 1], "dc": "dc2"}]


def initial_document(document: dict[str, Any], users: int) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    doc.update({"mode": "active-active", "units": initial_units(users), "unit_epoch": 1, "rules_version": 1,
                "ban": None, "users": users})
    return doc


def parse(document: dict[str, Any]) -> Rules | None:
    """The rules in a routing document, or None when it carries none (single-writer)."""
    if document.get("mode") != "active-active" or not isinstance(document.get("units"), list):
        return None
    units = tuple(Unit(int(u["range"][0]), int(u["range"][1]), str(u["dc"])) for u in document["units"])
    ban = document.get("ban")
    return Rules(units, int(document.get("unit_epoch", 0)), int(document.get("rules_version", 0)),
                 (int(ban["range"][0]), int(ban["range"][1])) if ban else None,
                 int(ban.get("ban_epoch", 0)) if ban else 0, int(document.get("epoch", 0)))


def _next(document: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    doc["rules_version"] = int(doc.get("rules_version", 0)) + 1
    return doc


def with_ban(document: dict[str, Any], moving: Range) -> dict[str, Any]:
    doc = _next(document)
    doc["ban"] = {"range": [moving[0], moving[1]], "ban_epoch": doc["rules_version"]}
    return doc


def without_ban(document: dict[str, Any]) -> dict[str, Any]:
    doc = _next(document)
    doc["ban"] = None
    return doc


def with_owner(document: dict[str, Any], moving: Range, to: str) -> dict[str, Any]:
    """`moving` now belongs to `to`: the units are re-cut so each user has exactly one owner."""
    doc = _next(document)
    lo, hi = moving
    out: list[dict[str, Any]] = []
    for u in document.get("units") or []:
        a, b = int(u["range"][0]), int(u["range"][1])
        if b < lo or a > hi:
            out.append({"range": [a, b], "dc": u["dc"]})
            continue
        if a < lo:
            out.append({"range": [a, lo - 1], "dc": u["dc"]})
        if b > hi:
            out.append({"range": [hi + 1, b], "dc": u["dc"]})
    out.append({"range": [lo, hi], "dc": to})
    out.sort(key=lambda u: u["range"][0])
    merged: list[dict[str, Any]] = []
    for u in out:
        if merged and merged[-1]["dc"] == u["dc"] and merged[-1]["range"][1] + 1 == u["range"][0]:
            merged[-1]["range"][1] = u["range"][1]
        else:
            merged.append(u)
    doc["units"] = merged
    doc["unit_epoch"] = int(doc.get("unit_epoch", 0)) + 1
    return doc


def owned_by(document: dict[str, Any], dc: str) -> list[Range]:
    return [(int(u["range"][0]), int(u["range"][1])) for u in document.get("units") or [] if u["dc"] == dc]


def validate_range(moving: Range, users: int, where: str) -> Range:
    lo, hi = int(moving[0]), int(moving[1])
    if not (0 <= lo <= hi < users):
        raise UserError(f"{where}: user range [{lo}, {hi}] is not within 0..{users - 1}")
    return lo, hi
