"""The Markdown summary CI shows on a run's page (GitHub's step summary among others)."""

from __future__ import annotations

import os
from pathlib import Path

from drills.report.explain import finding, title
from drills.report.run_record import RunRecord, check_outcome, check_unit, fmt_value, load_run, write_text
from drills.report.timeline import build_timeline

# An expected failure is not a green tick (the check did fail; the run counts it as caught),
# and a waived check is not the warning sign of an inconclusive one.
ICONS = {"passed": "✅", "failed": "❌", "expected_failure": "🎯", "unexpected_pass": "❌", "waived": "⏭️",
         "inconclusive": "⚠️"}
STATUS_ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "inconclusive": "⚠️", "aborted": "⛔"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(record: RunRecord) -> str:
    fp = record.fingerprint
    status = record.status
    lines = [f"## {STATUS_ICONS.get(status, '•')} DR drill `{record.scenario}`: **{status.upper()}**", ""]
    if record.derived:
        lines += [f"> **Incomplete run.** {record.result.get('incomplete')}", ""]
    if record.purpose:
        lines += [f"_{record.purpose}_", ""]
    facts = [
        ("Run", f"`{record.run_id}`"),
        ("Started", str(record.result.get("started_at") or "—")),
        ("Duration", fmt_value(record.duration_s, "s") if record.duration_s is not None else "—"),
        ("Operator", record.operator or "—"),
        ("Flavour", str(fp["flavor"] or "—")),
        ("drills", str(fp["drills_version"] or "—")),
    ]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in facts] + [""]
    if record.checks:
        lines += ["| Check | Result | Measured | Objective | Finding |", "|---|---|---|---|---|"]
        for check in record.checks:
            outcome = check_outcome(check)
            unit = check_unit(check)
            lines.append(
                f"| {_cell(title(str(check.get('name'))))} (`{check.get('name')}`) | {ICONS[outcome.kind]} "
                f"{_cell(outcome.label)} | {_cell(fmt_value(check.get('measured'), unit))} "
                f"| {_cell(fmt_value(check.get('objective'), unit))} | {_cell(finding(check, verdict=False))} |"
            )
        lines.append("")
    windows = build_timeline(record).windows
    if windows:
        parts = [f"{w.length_s:.2f} s after {w.cause}" if w.length_s is not None else f"never resumed after {w.cause}"
                 for w in windows]
        lines += ["**Write-unavailable windows:** " + "; ".join(parts), ""]
    sealed = record.sealed_hash
    integrity = "intact" if record.verification.ok else f"**NOT intact**: {record.verification.error}"
    lines += [f"Journal: {record.verification.lines} lines, chain {integrity}; "
              f"sealed hash `{sealed or 'none (run did not finish)'}`. Verify with `drills verify {record.run_dir}`.", ""]
    return "\n".join(lines)


def render_summary(run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str] | None, *,
                   record: RunRecord | None = None, step_summary: bool = True) -> Path | None:
    """Write the summary to `out_path` (if given) and append it to $GITHUB_STEP_SUMMARY (if set)."""
    record = record or load_run(run_dir)
    text = summary_markdown(record)
    written = write_text(out_path, text, record.masker) if out_path else None
    target = os.environ.get("GITHUB_STEP_SUMMARY") if step_summary else None
    if target:
        masked = record.masker.exact(text)
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(masked + "\n")
    return written
