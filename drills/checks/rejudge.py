"""`drills judge RUN_DIR`: judge a recorded run again from its files alone.

As Jepsen re-analyses a stored history, an auditor (or a CI job, or a sceptical engineer)
can recompute every verdict from what the run wrote down — the hash-chained journal, the
ledger with its read-backs, the scenario as run — without a topology and without trusting
the run's own result.json. The record judged is the journal up to `run.checks` (the moment
the run itself started judging), so an untouched run gives exactly the verdicts in its
result.json; when they differ, both are shown.

Exit codes are those of `drills run` for the verdicts (0 passed, 1 failed, 3 inconclusive)
and 2 for a record that cannot be judged: missing, unreadable, or tampered with — the
journal's chain or the sealed hashes in result.json no longer match (the line is named).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from drills import events as ev
from drills import journal as journal_mod
from drills.errors import EXIT_USAGE, UserError
from drills.record import JOURNAL_FILE, LEDGER_FILE, RESULT_FILE, SCENARIO_COPY


class RecordError(UserError):
    """The run directory cannot be judged (exit 2): missing, unreadable or tampered with."""

    exit_code = EXIT_USAGE


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "judge", help="re-judge a recorded run from its files alone",
        description="Recompute every check's verdict from RUN_DIR's journal, ledger and scenario, without a "
        "topology. Exit 0 passed, 1 failed, 3 inconclusive, 2 the record is missing, unreadable or tampered with.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    p.set_defaults(func=cmd_judge)


def cmd_judge(args: argparse.Namespace) -> int:
    outcome = judge_run_dir(Path(args.run_dir))
    if args.json:
        json.dump(outcome, sys.stdout, indent=2, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print(outcome)
    return int(outcome["exit_code"])


def judge_run_dir(run_dir: Path) -> dict[str, Any]:
    """Verify the record, judge it, compare with result.json; raises RecordError (exit 2)."""
    from drills.checks.judge import NO_SCENARIO, judge_record
    from drills.runner import result as result_mod

    if not run_dir.is_dir():
        raise RecordError(f"{run_dir}: no such run directory")
    journal_path = run_dir / JOURNAL_FILE
    if not journal_path.is_file():
        raise RecordError(f"{run_dir}: no journal.jsonl: nothing was recorded here")
    recorded = _read_result(run_dir)
    sealed = recorded.get("journal_sha256") if recorded else None
    check = journal_mod.verify(journal_path, sealed)
    if not check.ok:
        where = f" (journal.jsonl line {check.line_no})" if check.line_no else ""
        raise RecordError(f"{run_dir}: the journal does not verify{where}: {check.error}; a tampered record is not judged")
    if recorded and recorded.get("ledger_sha256"):
        actual = _sha256(run_dir / LEDGER_FILE)
        if actual != recorded["ledger_sha256"]:
            raise RecordError(f"{run_dir}: ledger.jsonl differs from the one sealed in result.json "
                              f"(sha256 {actual or 'missing'} != {recorded['ledger_sha256']}); a tampered record is not judged")
    scenario, scenario_note = _scenario(run_dir, recorded)
    verdicts = judge_record(run_dir, scenario)
    objectives = (scenario or NO_SCENARIO).objectives
    expected = list(objectives.checks.expected_to_fail)
    required = result_mod.required_checks(objectives)
    checks = result_mod.normalise_checks(verdicts)
    checks_status, reasons = result_mod.judge_checks(checks, required, expected)
    steps_failed = _steps_failed(journal_path)
    status = result_mod.decide(interrupted=False, error=None, steps_failed=bool(steps_failed), checks_status=checks_status)
    reasons = [f"step {s} failed" for s in steps_failed] + reasons
    outcome: dict[str, Any] = {"run_dir": str(run_dir), "status": status, "exit_code": result_mod.exit_code(status),
                               "checks": [_brief(c) for c in checks], "reasons": reasons, "journal_lines": check.lines,
                               "sealed": sealed is not None}
    if scenario_note:
        outcome["note"] = scenario_note
    if recorded:
        outcome["differences_from_result"] = _differences(recorded, checks)
        outcome["recorded_status"] = recorded.get("status")
    return outcome


def _read_result(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RESULT_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: unreadable ({exc}); a damaged record is not judged") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: not a JSON object")
    return data


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _scenario(run_dir: Path, recorded: dict[str, Any] | None) -> tuple[Any, str | None]:
    """The scenario as run (its copy in the run directory), with the run's non-secret params."""
    from drills.scenario.loader import load_scenario

    path = run_dir / SCENARIO_COPY
    if not path.is_file():
        return None, "no scenario.yaml in the run directory: judged without objectives or waivers"
    params = {k: str(v) for k, v in ((recorded or {}).get("params") or {}).items() if v not in (None, "***")}
    try:
        scenario = load_scenario(path, params, require_secrets=False)
    except UserError as exc:
        raise RecordError(f"{path}: the scenario copy does not load: {exc}") from None
    wanted = (recorded or {}).get("scenario_sha256")
    if wanted and scenario.sha256 != wanted:
        raise RecordError(f"{path}: differs from the scenario the run recorded (sha256 {scenario.sha256} != {wanted})")
    return scenario, None


def _steps_failed(journal_path: Path) -> list[str]:
    failed = []
    for rec in journal_mod.read(journal_path):
        if rec.get("kind") == ev.RUN_CHECKS:
            break
        p = rec.get("payload") or {}
        if rec.get("kind") == ev.STEP_END and p.get("status") == "failed":
            failed.append(f"{p.get('stage')}/{p.get('step')}")
    return failed


def _brief(check: dict[str, Any]) -> dict[str, Any]:
    out = {k: check.get(k) for k in ("name", "status", "expected_failure", "measured", "objective", "summary")}
    if check.get("waived"):
        out["waived"] = check["waived"]
    return out


def _differences(recorded: dict[str, Any], checks: list[dict[str, Any]]) -> list[str]:
    before = {c.get("name"): c for c in recorded.get("checks") or [] if isinstance(c, dict)}
    out = []
    for c in checks:
        old = before.get(c["name"])
        if old is None:
            out.append(f"{c['name']}: not in result.json")
            continue
        for key in ("status", "measured", "waived"):
            if json.dumps(old.get(key), sort_keys=True, default=str) != json.dumps(c.get(key), sort_keys=True, default=str):
                out.append(f"{c['name']}: {key} {old.get(key)!r} in result.json, {c.get(key)!r} from the record")
    return out


def _print(outcome: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"{outcome['status'].upper()}: re-judged {outcome['run_dir']} from {outcome['journal_lines']} journal lines\n")
    for c in outcome["checks"]:
        mark = c["status"]
        if c.get("expected_failure") and c["status"] == "failed":
            mark = "failed, as the scenario expects"
        elif c.get("waived"):
            mark = f"unknown, waived: {c['waived']}"
        out.write(f"  {c['name']}: {mark} — {c.get('summary') or ''}\n")
    for reason in outcome["reasons"]:
        out.write(f"  - {reason}\n")
    if outcome.get("note"):
        out.write(f"  note: {outcome['note']}\n")
    diffs = outcome.get("differences_from_result")
    if diffs:
        out.write("  result.json disagrees with the record:\n")
        for d in diffs:
            out.write(f"    {d}\n")
    elif diffs is not None:
        out.write("  the verdicts match result.json\n")
    out.flush()
