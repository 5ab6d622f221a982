"""Renderings of one audit: text for people, JSON for tools, SARIF for code-scanning UIs
(findings shown against the filter list line of the offending entry), JUnit for CI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from drills import __version__
from drills.audit.baseline import Accepted
from drills.audit.rules import RULES, Finding, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "drills-audit"


@dataclass
class AuditResult:
    findings: list[Finding]  # not accepted by the baseline
    fail_on: Severity | None  # None: never fail
    suppressed: list[tuple[Finding, Accepted]] = field(default_factory=list)
    stale: list[Accepted] = field(default_factory=list)  # baseline entries no longer found
    inputs: dict[str, Any] = field(default_factory=dict)  # what was audited (never a password)

    @property
    def failing(self) -> list[Finding]:
        if self.fail_on is None:
            return []
        return [f for f in self.findings if f.severity >= self.fail_on]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0

    def counts(self) -> dict[str, int]:
        return {s.label: sum(1 for f in self.findings if f.severity == s) for s in sorted(Severity, reverse=True)}


def _where(f: Finding) -> str:
    loc = f.location()
    if loc is None:
        return ""
    path, line = loc
    return f"{_display_path(path)}:{line}" if line else _display_path(path)


def _display_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


TEXT_FINDINGS_PER_RULE = 20  # per rule and severity; the other formats list every finding


def render_text(result: AuditResult) -> str:
    """For a person: grouped by severity, at most TEXT_FINDINGS_PER_RULE findings of each rule
    (a list of 100,000 typos must not print 30 MB), then how many more there are."""
    out: list[str] = []
    for sev in sorted(Severity, reverse=True):
        group = [f for f in result.findings if f.severity == sev]
        if not group:
            continue
        out.append(f"{sev.label.upper()} ({len(group)})")
        shown: dict[str, int] = {}
        for f in group:
            shown[f.rule.id] = shown.get(f.rule.id, 0) + 1
            if shown[f.rule.id] > TEXT_FINDINGS_PER_RULE:
                continue
            where = _where(f)
            out.append(f"  {f.rule.id} {f.rule.name}: {f.message}" + (f"  [{where}]" if where else ""))
            for e in f.evidence:
                out.append(f"      - {e}")
            out.append(f"      why: {f.rule.rationale}")
            out.append(f"      fix: {f.rule.fix}")
        for rule_id, n in shown.items():
            if n > TEXT_FINDINGS_PER_RULE:
                out.append(f"  ... and {n - TEXT_FINDINGS_PER_RULE:,} more {rule_id} {sev.label} finding(s); "
                           "--format json or sarif lists them all")
        out.append("")
    counts = result.counts()
    summary = ", ".join(f"{n} {label}" for label, n in counts.items() if n) or "no findings"
    line = f"drills audit: {summary}"
    if result.suppressed:
        line += f"; {len(result.suppressed)} accepted in baseline"
    if result.fail_on is not None:
        verdict = "FAIL" if result.failing else "PASS"
        line += f" -> {verdict} (fail-on {result.fail_on.label})"
    out.append(line)
    for a in result.stale:
        out.append(f"  note: baseline entry {a.rule} `{a.subject}` no longer matches a finding; remove it")
    return "\n".join(out) + "\n"


def finding_dict(f: Finding) -> dict[str, Any]:
    loc = f.location()
    d: dict[str, Any] = {
        "rule": f.rule.id,
        "name": f.rule.name,
        "severity": f.severity.label,
        "subject": f.subject,
        "message": f.message,
        "evidence": f.evidence,
        "rationale": f.rule.rationale,
        "fix": f.rule.fix,
        "fingerprint": f.fingerprint,
    }
    if f.entry is not None:
        d["entry"] = {"name": f.entry.name, "wildcard": f.entry.wildcard, "reason": f.entry.reason, "owner": f.entry.owner, "line": f.entry.line}
    if loc is not None:
        d["location"] = {"file": loc[0], "line": loc[1]}
    return d


def render_json(result: AuditResult) -> str:
    doc = {
        "tool": TOOL_NAME,
        "version": __version__,
        "inputs": result.inputs,
        "fail_on": result.fail_on.label if result.fail_on else "never",
        "passed": not result.failing,
        "summary": result.counts(),
        "findings": [finding_dict(f) for f in result.findings],
        "accepted": [dict(finding_dict(f), reason=a.reason) for f, a in result.suppressed],
        "stale_baseline": [{"rule": a.rule, "subject": a.subject} for a in result.stale],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    rel = _display_path(path)
    return Path(rel).as_posix()


def _sarif_result(f: Finding, rule_index: dict[str, int], accepted: Accepted | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "ruleId": f.rule.id,
        "ruleIndex": rule_index[f.rule.id],
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f.message + (" (" + "; ".join(f.evidence) + ")" if f.evidence else "") + f". Fix: {f.rule.fix}"},
        "partialFingerprints": {"drillsAudit/v1": f.fingerprint},
        "properties": {"severity": f.severity.label, "subject": f.subject},
    }
    loc = f.location()
    if loc is not None:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc[0])}}
        if loc[1]:
            physical["region"] = {"startLine": loc[1]}
        res["locations"] = [{"physicalLocation": physical, "logicalLocations": [{"name": f.subject, "kind": "resource"}]}]
    if accepted is not None:
        res["suppressions"] = [{"kind": "external", "justification": accepted.reason}]
    return res


def render_sarif(result: AuditResult) -> str:
    rules = [r for r, _ in RULES]
    rule_index = {r.id: i for i, r in enumerate(rules)}
    driver = {
        "name": TOOL_NAME,
        "version": __version__,
        "informationUri": "https://example.invalid/drills/audit",
        "rules": [
            {
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.name.replace("-", " ")},
                "fullDescription": {"text": r.rationale},
                "help": {"text": f"{r.rationale}\nFix: {r.fix}"},
                "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
                "properties": {"severity": r.severity.label, "security-severity": {4: "9.0", 3: "7.0", 2: "4.0", 1: "1.0"}[int(r.severity)]},
            }
            for r in rules
        ],
    }
    results = [_sarif_result(f, rule_index) for f in result.findings]
    results += [_sarif_result(f, rule_index, a) for f, a in result.suppressed]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints",
                  "invocations": [{"executionSuccessful": True}]}],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(result: AuditResult) -> str:
    """One test case per finding (failed if it reaches --fail-on) and one passing case per
    rule without findings, so a CI dashboard shows what was checked, not only what failed."""
    suite = ET.Element("testsuite", name="drills audit")
    failing = {id(f) for f in result.failing}
    cases = 0
    failures = 0
    with_findings = {f.rule.id for f in result.findings} | {f.rule.id for f, _ in result.suppressed}
    for f in result.findings:
        case = ET.SubElement(suite, "testcase", classname=f"drills.audit.{f.rule.id}", name=f"{f.rule.name}: {f.subject}")
        cases += 1
        where = _where(f)
        body = "\n".join([f.message, *(f"- {e}" for e in f.evidence), f"why: {f.rule.rationale}", f"fix: {f.rule.fix}"] + ([f"at: {where}"] if where else []))
        if id(f) in failing:
            failures += 1
            el = ET.SubElement(case, "failure", message=f.message, type=f.severity.label)
            el.text = body
        else:
            ET.SubElement(case, "system-out").text = f"[{f.severity.label}, below fail-on] {body}"
    for f, a in result.suppressed:
        case = ET.SubElement(suite, "testcase", classname=f"drills.audit.{f.rule.id}", name=f"{f.rule.name}: {f.subject}")
        ET.SubElement(case, "skipped", message=f"accepted in baseline: {a.reason}")
        cases += 1
    for r, _ in RULES:
        if r.id not in with_findings:
            ET.SubElement(suite, "testcase", classname=f"drills.audit.{r.id}", name=r.name)
            cases += 1
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(len(result.suppressed)))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif, "junit": render_junit}
