"""Allure results from a recorded run, without pytest: allure-python-commons' model and file logger.

One Allure test per check (epic = DR drill, feature = scenario, story = check), each with
the run's stages and steps from the journal as steps, the timeline and the check's evidence
attached. Results are written through `AllureFileLogger` directly rather than the global
plugin manager, so rendering inside a pytest session that runs allure-pytest never mixes
the two streams.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    ATTACHMENT_PATTERN,
    Attachment,
    Label,
    Parameter,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)
from allure_commons.utils import md5, uuid4

from drills import events
from drills.report.explain import finding, purpose, title
from drills.report.run_record import MASK, RunRecord, check_outcome, check_unit, fmt_value, load_run
from drills.report.timeline import build_timeline, render_svg

SEVERITY = {"rpo": "critical", "split_brain": "critical", "sequence_continuity": "critical",
            "data_consistency": "critical", "rto": "critical", "filter_tables": "normal",
            "write_availability": "critical"}

CATEGORIES = [
    {"name": "Objective missed", "matchedStatuses": ["failed"], "messageRegex": "(?s).*(objective missed|unexpected pass).*"},
    {"name": "Harness error or inconclusive", "matchedStatuses": ["broken"], "messageRegex": "(?s).*"},
    {"name": "Expected failure", "matchedStatuses": ["passed"], "messageRegex": "(?s).*as the scenario expects.*"},
    {"name": "Waived by the scenario", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*waived by the scenario.*"},
]


def epoch_ms(wall: Any) -> int | None:
    if not isinstance(wall, str) or not wall:
        return None
    try:
        return int(datetime.fromisoformat(wall.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _step_status(status: Any) -> str:
    return {"ok": Status.PASSED, "passed": Status.PASSED, "failed": Status.FAILED, "skipped": Status.SKIPPED,
            "error": Status.BROKEN}.get(str(status), Status.BROKEN if status is None else Status.UNKNOWN)


def journal_steps(record: RunRecord) -> list[TestStepResult]:
    """Stages as steps, their steps nested, faults and controller decisions as leaf steps."""
    stages: list[TestStepResult] = []
    open_stage: TestStepResult | None = None
    open_steps: dict[tuple[Any, Any], TestStepResult] = {}
    for e in record.events:
        kind, p, ms = e.get("kind"), e.get("payload") or {}, epoch_ms(e.get("wall"))
        if kind == events.STAGE_START:
            open_stage = TestStepResult(name=f"stage {p.get('stage')}", start=ms, stop=ms, status=None)
            stages.append(open_stage)
        elif kind == events.STAGE_END and open_stage is not None:
            open_stage.stop, open_stage.status = ms, _step_status(p.get("status"))
            open_stage = None
        elif kind == events.STEP_START:
            step = TestStepResult(name=f"{p.get('type', 'step')}: {p.get('step')}", start=ms, stop=ms, status=None)
            open_steps[(p.get("stage"), p.get("index"))] = step
            (open_stage.steps if open_stage is not None else stages).append(step)
        elif kind == events.STEP_END:
            step = open_steps.pop((p.get("stage"), p.get("index")), None)
            if step is not None:
                step.stop, step.status = ms, _step_status(p.get("status"))
                if p.get("error"):
                    step.statusDetails = StatusDetails(message=str(p["error"]))
        elif kind in (events.FAULT_INJECT, events.FAULT_HEAL, events.DC_FAILED, events.FENCE, events.PROMOTE,
                      events.ROUTE_PUBLISHED, events.WRITE_BAN, events.LINK_REVERSED, events.SIGNAL):
            ok = p.get("ok", True)
            leaf = TestStepResult(name=f"{kind} " + ", ".join(f"{k}={v}" for k, v in p.items() if k != "params"),
                                  start=ms, stop=ms, status=Status.PASSED if ok else Status.FAILED)
            (open_stage.steps if open_stage is not None else stages).append(leaf)
    for s in [*stages, *open_steps.values()]:
        if s.status is None:  # never ended: the run was killed in it
            s.status = Status.BROKEN
            s.statusDetails = StatusDetails(message="no end recorded in the journal (run killed)")
    return stages


class _Writer:
    def __init__(self, out_dir: Path, record: RunRecord) -> None:
        self.logger = AllureFileLogger(str(out_dir))
        self.record = record

    def attach(self, body: str, name: str, mime: str, ext: str) -> Attachment:
        file_name = ATTACHMENT_PATTERN.format(prefix=uuid4(), ext=ext)
        self.logger.report_attached_data(body=self.record.masker.exact(body), file_name=file_name)
        return Attachment(name=name, source=file_name, type=mime)

    def result(self, result: TestResult) -> None:
        self.logger.report_result(result)


def _labels(record: RunRecord, story: str, severity: str, extra: list[tuple[str, str]] = ()) -> list[Label]:
    pairs = [("epic", "DR drill"), ("feature", record.scenario), ("story", story), ("severity", severity),
             ("parentSuite", "DR drill"), ("suite", record.scenario), ("framework", "drills"),
             ("host", str(record.fingerprint["host"] or "")), *extra]
    return [Label(name=k, value=v) for k, v in pairs if v]


def render_allure(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                  record: RunRecord | None = None) -> list[Path]:
    """Write Allure result files for one run into `out_dir`; returns the result files written."""
    record = record or load_run(run_dir)
    out = Path(out_dir)
    writer = _Writer(out, record)
    start, stop = epoch_ms(record.result.get("started_at")), epoch_ms(record.result.get("finished_at"))
    if record.events:
        start = start or epoch_ms(record.events[0].get("wall"))
        stop = stop or epoch_ms(record.events[-1].get("wall"))
    timeline = build_timeline(record)
    svg = writer.attach(render_svg(timeline, incomplete=record.derived), "timeline", "image/svg+xml", "svg")
    journal_text = "\n".join(json.dumps(e, sort_keys=True, ensure_ascii=False) for e in record.events)
    journal = writer.attach(journal_text, "journal (masked)", "application/json", "json")
    params = [Parameter(name="run_id", value=record.run_id)]
    if record.fingerprint["flavor"]:
        params.append(Parameter(name="flavor", value=str(record.fingerprint["flavor"])))
    written_uuids: list[str] = []
    cases: list[tuple[str, dict[str, Any] | None]] = [(str(c.get("name")), c) for c in record.checks]
    if record.derived or record.status in ("error", "aborted"):
        cases.append(("run", None))
    for name, check in cases:
        uid = uuid4()
        steps = journal_steps(record)
        if check is None:
            reason = record.result.get("incomplete") or record.result.get("error") or f"run {record.status}"
            status, details = Status.BROKEN, StatusDetails(message=f"run {record.status}: {reason}")
            description = "The run did not reach a verdict. " + str(reason)
            attachments = [svg, journal]
            severity = "blocker"
        else:
            outcome = check_outcome(check)
            unit = check_unit(check)
            message = f"measured {fmt_value(check.get('measured'), unit)}, objective {fmt_value(check.get('objective'), unit)}"
            found = finding(check)
            # the status agrees with the exit code: an expected failure passes the run, a waived
            # check is skipped, only an unwaived unknown (the run is inconclusive) is broken
            if outcome.kind == "expected_failure":
                status = Status.PASSED
                details = StatusDetails(message=f"{outcome.label}: {message}", trace=found, known=True)
            elif outcome.ok is True:
                status, details = Status.PASSED, StatusDetails(message=message)
            elif outcome.ok is False:
                status = Status.FAILED
                kind = "unexpected pass" if outcome.kind == "unexpected_pass" else "objective missed"
                details = StatusDetails(message=f"{kind}: {message}", trace=found)
            elif outcome.kind == "waived":
                status, details = Status.SKIPPED, StatusDetails(message=outcome.label, trace=found)
            else:
                status = Status.BROKEN
                details = StatusDetails(message=f"inconclusive: {check.get('summary') or message}", trace=found)
            description = f"{purpose(name)}\n\n{found}"
            evidence = json.dumps({"measured": check.get("measured"), "objective": check.get("objective"),
                                   "summary": check.get("summary"), "evidence": check.get("evidence")},
                                  indent=2, ensure_ascii=False, default=str)
            attachments = [svg, writer.attach(evidence, f"evidence: {name}", "application/json", "json"), journal]
            severity = SEVERITY.get(name, "normal")
            steps.append(TestStepResult(name=f"verdict {name}: {outcome.label} ({message})", status=status,
                                        start=stop, stop=stop))
        extra = [("tag", "expected-failure")] if check and check.get("expected_failure") else []
        if check and check_outcome(check).kind == "waived":
            extra.append(("tag", "waived"))
        if record.derived:
            extra.append(("tag", "incomplete"))
        result = TestResult(
            uuid=uid,
            historyId=md5(record.scenario, name),
            testCaseId=md5(record.scenario, name),
            fullName=f"drills.{record.scenario}.{name}",
            name=f"{title(name)} [{name}]" if check else f"run {record.run_id}",
            status=status,
            statusDetails=details,
            stage="finished",
            description=description,
            steps=steps,
            attachments=attachments,
            parameters=params,
            labels=_labels(record, name, severity, extra),
            start=start,
            stop=stop,
        )
        writer.result(result)
        written_uuids.append(uid)
    env_lines = environment_properties(record)
    (out / "environment.properties").write_text(record.masker.exact(env_lines), encoding="utf-8")
    (out / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    # AllureFileLogger names files after a fresh uuid; find ours by the uuid inside
    files = []
    for path in sorted(out.glob("*-result.json")):
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("uuid") in written_uuids:
                files.append(path)
        except (OSError, json.JSONDecodeError):
            continue
    return files


def environment_properties(record: RunRecord) -> str:
    """Allure's environment widget: server versions, flavour, topology, seals."""
    fp = record.fingerprint
    pairs: list[tuple[str, Any]] = [
        ("scenario", record.scenario), ("run_id", record.run_id), ("status", record.status),
        ("drills.version", fp["drills_version"]), ("flavor", fp["flavor"]),
        ("topology", fp["topology"]), ("scenario.sha256", fp["scenario_sha256"]),
        ("journal.sha256", record.sealed_hash or "unsealed"), ("operator", fp["operator"]),
    ]
    for name, version in sorted(fp["servers"].items()):
        pairs.append((f"{name}.version", version))
    lines = []
    for key, value in pairs:
        if value not in (None, ""):
            text = str(value).replace("\\", "\\\\").replace("\n", " ")
            lines.append(f"{key}={text}" if text != MASK else f"{key}=***")
    return "\n".join(lines) + "\n"
