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
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read baseline: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark else str(p)
        raise ConfigError(f"{where}: baseline is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if doc is None:
        return Baseline([], str(p))
    if not isinstance(doc, dict) or not isinstance(doc.get("accepted", []), list):
        raise ConfigError(f"{p}:1: expected a mapping with `accepted:` and a list of {{rule, subject, reason}}")
    lines = _item_lines(node)
    accepted = []
    for i, item in enumerate(doc.get("accepted") or []):
        line = lines[i] if i < len(lines) else None
        where = f"{p}:{line}" if line else str(p)
        if not isinstance(item, dict) or not item.get("rule") or not item.get("subject"):
            raise ConfigError(f"{where}: an accepted finding needs `rule:` and `subject:`")
        unknown = set(item) - {"rule", "subject", "reason", "message"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; expected rule, subject, reason")
        reason = str(item.get("reason") or "").strip()
        if not reason:
            raise ConfigError(f"{where}: accepted finding {item['rule']} `{item['subject']}` has no reason; say why it is accepted")
        accepted.append(Accepted(str(item["rule"]), str(item["subject"]), reason, line))
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


def _item_lines(node: object) -> list[int]:
    try:
        for key, value in node.value:  # type: ignore[attr-defined]
            if key.value == "accepted":
                return [child.start_mark.line + 1 for child in value.value]
    except (AttributeError, TypeError):
        pass
    return []
