"""Accepted findings: a reviewed list of (rule, subject, reason), so CI fails only on new ones.

Every accepted finding needs a reason a person wrote: a baseline is an auditable
decision, not a mute button. `--write-baseline` writes the current findings with the
`--reason` given (or an empty reason, which loading then refuses until someone fills it in).

    accepted:
      - rule: AUD111
        subject: app.audit_trail
        reason: append-only, compared by row count in the drill
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from drills.audit.rules import Finding
from drills.errors import ConfigError
from drills.filter_list import decode_utf8, read_yaml, shown


@dataclass(frozen=True)
class Accepted:
    rule: str
    subject: str
    reason: str
    line: int | None = None

    @property
    def fingerprint(self) -> str:
        return f"{self.rule}:{self.subject}".lower()


@dataclass
class Baseline:
    accepted: list[Accepted]
    source: str | None = None

    def match(self, finding: Finding) -> Accepted | None:
        key = finding.fingerprint.lower()
        return next((a for a in self.accepted if a.fingerprint == key), None)


def load_baseline(path: str | Path) -> Baseline:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read baseline: {exc.strerror}") from None
    root = read_yaml(decode_utf8(data, str(p), "the baseline"), str(p))
    if root is None or root.kind == "scalar" and root.text() == "":
        return Baseline([], str(p))
    fields = {k.value: v for k, v in root.value} if root.kind == "map" else {}
    items = fields.get("accepted")
    if root.kind != "map" or items is not None and items.kind != "seq" and items.text() != "":
        raise ConfigError(f"{p}:{root.line}: expected a mapping with `accepted:` and a list of {{rule, subject, reason}}")
    accepted = []
    for item in items.value if items is not None and items.kind == "seq" else []:
        where = f"{p}:{item.line}"
        values = {k.value: v.text() for k, v in item.value} if item.kind == "map" else {}
        if not values.get("rule") or not values.get("subject"):
            raise ConfigError(f"{where}: an accepted finding needs `rule:` and `subject:` (text)")
        unknown = set(values) - {"rule", "subject", "reason", "message"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {sorted(shown(u) for u in unknown)[:5]}; expected rule, subject, reason")
        reason = (values.get("reason") or "").strip()
        if not reason:
            raise ConfigError(f"{where}: accepted finding {shown(values['rule'])} {shown(values['subject'])} has no reason; say why it is accepted")
        accepted.append(Accepted(values["rule"], values["subject"], reason, item.line))  # type: ignore[arg-type]
    return Baseline(accepted, str(p))


def write_baseline(path: str | Path, findings: list[Finding], reason: str | None = None, previous: Baseline | None = None) -> int:
    """Write every finding as accepted (keeping reasons already given). Returns how many."""
    seen: set[str] = set()
    items = []
    for f in findings:
        if f.fingerprint.lower() in seen:
            continue
        seen.add(f.fingerprint.lower())
        old = previous.match(f) if previous else None
        items.append({"rule": f.rule.id, "subject": f.subject, "message": f.message,
                      "reason": old.reason if old else (reason or "")})
    header = "# Findings of `drills audit` accepted on purpose. Every entry needs a reason.\n"
    Path(path).write_text(header + yaml.safe_dump({"accepted": items}, sort_keys=False, allow_unicode=True, width=200), encoding="utf-8")
    return len(items)
