"""Renderings of one audit: text for people, JSON for tools, SARIF for code-scanning UIs
(findings shown against the filter list line of the offending entry), JUnit for CI.

Every format also says which rules were not evaluated and why (a rule that needs a second
schema, traffic or a live replica is silent without it): no findings from 8 of 11 rules
is not a pass of 11."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from drills import __version__
from drills.audit import rule_docs
from drills.audit.baseline import Accepted
from drills.audit.rules import NOT_EVALUATED, PARTIAL, RULES, Coverage, Finding, Rule, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "drills-audit"


@dataclass
class AuditResult:
    findings: list[Finding]  # not accepted by the baseline
    fail_on: Severity | None  # None: never fail
    suppressed: list[tuple[Finding, Accepted]] = field(default_factory=list)
    stale: list[Accepted] = field(default_factory=list)  # baseline entries no longer found
    inputs: dict[str, Any] = field(default_factory=dict)  # what was audited (never a password)
    coverage: list[Coverage] = field(default_factory=list)  # one per rule of the registry
    notes: list[str] = field(default_factory=list)  # what the audit assumed, e.g. a database taken from the filter list
    docs_url: str | None = None  # base URL of the published repository, for links to rule pages

    @property
    def not_evaluated(self) -> list[Coverage]:
        return [c for c in self.coverage if c.state == NOT_EVALUATED]

    @property
    def partial(self) -> list[Coverage]:
        return [c for c in self.coverage if c.state == PARTIAL]

    def coverage_line(self) -> str:
        """How many rules were judged: part of every verdict, so a PASS cannot hide rules that were not."""
        n = len(self.coverage)
        done = n - len(self.not_evaluated)
        part = f" ({len(self.partial)} in part)" if self.partial else ""
        return f"{done} of {n} rules evaluated{part}, {len(self.not_evaluated)} not evaluated"

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
    for title, group in (("NOT EVALUATED", result.not_evaluated), ("EVALUATED IN PART", result.partial)):
        if group:
            out.append(f"{title} ({len(group)})")
            out.extend(f"  {c.rule.id} {c.rule.name}: {c.reason}" for c in group)
            out.append("")
    out.extend(f"note: {n}" for n in result.notes)
    counts = result.counts()
    summary = ", ".join(f"{n} {label}" for label, n in counts.items() if n) or "no findings"
    line = f"drills audit: {result.coverage_line()}; {summary}"
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


def coverage_dict(c: Coverage) -> dict[str, Any]:
    d: dict[str, Any] = {"rule": c.rule.id, "name": c.rule.name, "status": c.state, "doc": rule_docs.page_path(c.rule.id)}
    if c.reason:
        d["reason"] = c.reason
    return d


def render_json(result: AuditResult) -> str:
    doc = {
        "tool": TOOL_NAME,
        "version": __version__,
        "inputs": result.inputs,
        "fail_on": result.fail_on.label if result.fail_on else "never",
        "passed": not result.failing,
        "summary": result.counts(),
        "rules": [coverage_dict(c) for c in result.coverage],
        "evaluated": len(result.coverage) - len(result.not_evaluated),
        "not_evaluated": len(result.not_evaluated),
        "notes": result.notes,
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


# Notifications (not results) of a SARIF run: what the audit could not do, or assumed. Rules
# not evaluated are tool *configuration* notifications (SARIF 3.20.21): the inputs given
# decided it, nothing failed while running.
_NOTIFICATIONS = [
    ("not-evaluated", "A rule was not evaluated: the audit lacked an input it needs (second schema, traffic, live replica) or it was not selected."),
    ("evaluated-in-part", "A rule was evaluated with part of its inputs; what it could not look at is named."),
    ("audit-note", "Something the audit assumed, such as the database of a dump without USE taken from the filter list."),
]
_NOTE_INDEX = {nid: i for i, (nid, _) in enumerate(_NOTIFICATIONS)}


def _notification(kind: str, level: str, text: str, rule: tuple[str, int] | None = None) -> dict[str, Any]:
    n: dict[str, Any] = {"level": level, "message": {"text": text}, "descriptor": {"id": kind, "index": _NOTE_INDEX[kind]}}
    if rule is not None:
        n["associatedRule"] = {"id": rule[0], "index": rule[1]}
    return n


def _sarif_rule(r: Rule, docs_url: str | None) -> dict[str, Any]:
    page = rule_docs.page_path(r.id)
    d: dict[str, Any] = {
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.name.replace("-", " ")},
        "fullDescription": {"text": r.rationale},
        "help": {"text": f"{r.rationale}\nFix: {r.fix}\nDocumentation: {page}"},
        "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
        "properties": {"severity": r.severity.label, "documentation": page},
    }
    uri = rule_docs.doc_uri(page, docs_url)
    if uri is not None:
        d["helpUri"] = uri
    return d


def render_sarif(result: AuditResult) -> str:
    rules = [r for r, _ in RULES]
    rule_index = {r.id: i for i, r in enumerate(rules)}
    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "version": __version__,
        "rules": [_sarif_rule(r, result.docs_url) for r in rules],
        "notifications": [{"id": nid, "shortDescription": {"text": text}} for nid, text in _NOTIFICATIONS],
    }
    info = rule_docs.doc_uri(rule_docs.INDEX_PAGE, result.docs_url)
    if info is not None:
        driver["informationUri"] = info
    results = [_sarif_result(f, rule_index) for f in result.findings]
    results += [_sarif_result(f, rule_index, a) for f, a in result.suppressed]
    notes = [_notification("not-evaluated", "warning", f"{c.rule.id} {c.rule.name} not evaluated: {c.reason}", (c.rule.id, rule_index[c.rule.id]))
             for c in result.not_evaluated]
    notes += [_notification("evaluated-in-part", "note", f"{c.rule.id} {c.rule.name} evaluated in part: {c.reason}", (c.rule.id, rule_index[c.rule.id]))
              for c in result.partial]
    notes += [_notification("audit-note", "note", text) for text in result.notes]
    invocation: dict[str, Any] = {"executionSuccessful": True, "properties": {"coverage": result.coverage_line()}}
    if notes:
        invocation["toolConfigurationNotifications"] = notes
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints",
                  "invocations": [invocation]}],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(result: AuditResult) -> str:
    """One test case per finding (failed if it reaches --fail-on), one skipped case per
    accepted finding and per rule not evaluated (with why), and one passing case per
    evaluated rule without findings, so a CI dashboard shows what was checked and what was
    not, not only what failed. Jenkins' JUnit schema: <testsuites> around one <testsuite>."""
    suites = ET.Element("testsuites", name="drills audit")
    suite = ET.SubElement(suites, "testsuite", name="drills audit")
    failing = {id(f) for f in result.failing}
    cases = failures = skipped = 0
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
        skipped += 1
    for c in result.coverage:
        if c.rule.id in with_findings:
            continue
        case = ET.SubElement(suite, "testcase", classname=f"drills.audit.{c.rule.id}", name=c.rule.name)
        cases += 1
        if c.state == NOT_EVALUATED:
            ET.SubElement(case, "skipped", message=f"not evaluated: {c.reason}")
            skipped += 1
        elif c.state == PARTIAL:
            ET.SubElement(case, "system-out").text = f"evaluated in part: {c.reason}"
    summary = [f"drills audit: {result.coverage_line()}", *(f"note: {n}" for n in result.notes)]
    ET.SubElement(suite, "system-out").text = "\n".join(summary)
    for el in (suites, suite):
        el.set("tests", str(cases))
        el.set("failures", str(failures))
        el.set("errors", "0")
    suite.set("skipped", str(skipped))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif, "junit": render_junit}
