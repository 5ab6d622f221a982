"""One audit run: rules over the context, then the baseline, then the verdict."""

from __future__ import annotations

from typing import Any

from drills.audit.baseline import Baseline
from drills.audit.output import AuditResult
from drills.audit.rules import AuditContext, Severity, evaluate


def run_audit(ctx: AuditContext, *, baseline: Baseline | None = None, fail_on: Severity | None = Severity.ERROR,
              inputs: dict[str, Any] | None = None, only: set[str] | None = None,
              notes: list[str] | None = None, docs_url: str | None = None) -> AuditResult:
    findings, coverage = evaluate(ctx, only)
    kept, suppressed, used = [], [], set()
    for f in findings:
        accepted = baseline.match(f) if baseline else None
        if accepted is not None:
            suppressed.append((f, accepted))
            used.add(accepted.fingerprint)
        else:
            kept.append(f)
    stale = [a for a in (baseline.accepted if baseline else []) if a.fingerprint not in used]
    return AuditResult(kept, fail_on, suppressed, stale, inputs or {}, coverage, notes or [], docs_url)
