"""JUnit XML for CI: one test suite per scenario, one test case per check.

The test cases agree with the run's exit code, because CI reads them as the verdict: a check
that failed exactly as the scenario expects passes (its output says it FAILED — as the
scenario expects, with the evidence), a check passing although it was expected to fail is a
failure, a check the scenario waived is `<skipped>` with the reason (a passing run has no
error), and only an unwaived `unknown` — which makes the run inconclusive — is an error. The
message attribute, which CI systems show in their failure lists, carries the measured value
next to the objective.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from drills.report.explain import finding
from drills.report.run_record import RunRecord, check_outcome, check_unit, fmt_value, load_run, write_text


def _message(check: dict) -> str:
    unit = check_unit(check)
    return f"measured {fmt_value(check.get('measured'), unit)}, objective {fmt_value(check.get('objective'), unit)}"


def junit_tree(record: RunRecord) -> ET.Element:
    checks = record.checks
    suites = ET.Element("testsuites", name="drills")
    suite = ET.SubElement(suites, "testsuite", name=record.scenario)
    props = ET.SubElement(suite, "properties")
    fp = record.fingerprint
    for key, value in (
        ("run_id", record.run_id),
        ("status", record.status),
        ("journal_sha256", record.sealed_hash or "unsealed"),
        ("drills_version", fp["drills_version"]),
        ("flavor", fp["flavor"]),
        ("topology", fp["topology"]),
        ("scenario_sha256", fp["scenario_sha256"]),
        ("operator", fp["operator"]),
    ):
        if value:
            ET.SubElement(props, "property", name=key, value=str(value))
    failures = errors = skipped = 0
    for check in checks:
        name = str(check.get("name"))
        case = ET.SubElement(suite, "testcase", classname=f"drills.{record.scenario}", name=name, time="0")
        outcome = check_outcome(check)
        message = _message(check)
        found = finding(check)
        if outcome.ok is False:
            failures += 1
            kind = "unexpected pass" if outcome.kind == "unexpected_pass" else "objective missed"
            node = ET.SubElement(case, "failure", message=f"{name}: {outcome.label}: {message}", type=kind)
            node.text = "\n".join(x for x in (found, outcome.note) if x)
        elif outcome.kind == "waived":
            skipped += 1
            node = ET.SubElement(case, "skipped", message=outcome.waived)
            node.text = found
        elif outcome.ok is None:
            errors += 1
            node = ET.SubElement(case, "error", message=f"{name}: inconclusive: {message}", type="inconclusive")
            node.text = found
        out = ET.SubElement(case, "system-out")
        out.text = f"{found}\n{message[0].upper()}{message[1:]}."
    if record.derived or record.status in ("error", "aborted"):
        errors += 1
        case = ET.SubElement(suite, "testcase", classname=f"drills.{record.scenario}", name="run", time="0")
        reason = record.result.get("incomplete") or record.result.get("error") or f"run status {record.status}"
        node = ET.SubElement(case, "error", message=f"run {record.status}: {reason}", type=record.status)
        node.text = str(reason)
    tests = len(suite.findall("testcase"))
    duration = f"{record.duration_s or 0:.3f}"
    suite.attrib.update(tests=str(tests), failures=str(failures), errors=str(errors), skipped=str(skipped), time=duration,
                        timestamp=str(record.result.get("started_at") or ""), id=record.run_id)
    suites.attrib.update(tests=str(tests), failures=str(failures), errors=str(errors), time=duration)
    return suites


def render_junit(run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *, record: RunRecord | None = None) -> Path:
    """Write JUnit XML for one run; returns the path written."""
    record = record or load_run(run_dir)
    tree = junit_tree(record)
    ET.indent(tree)
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") + "\n"
    return write_text(out_path, text, record.masker)
