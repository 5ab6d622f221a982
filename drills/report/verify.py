"""`drills verify RUN_DIR`: is this the record the run sealed?

Recomputes the journal's hash chain and compares its end with `journal_sha256` in
result.json, then checks that every verdict result.json states matches the `check.result`
line the journal holds for it, since result.json itself is not hashed and a verdict edited
there would otherwise go unnoticed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from drills import events
from drills.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from drills.journal import iter_lines, verify
from drills.record import JOURNAL_FILE
from drills.report.run_record import RESULT_FILE, RunDirError, _load_result


@dataclass
class RunVerification:
    exit_code: int
    lines: int
    final_hash: str
    sealed_hash: str | None
    messages: list[str] = field(default_factory=list)
    tampered_line: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


def _locate_edit(path: Path, line_no: int) -> int:
    """`journal.verify` names the first line whose `prev` no longer matches; when its seq still
    follows on, the content of the line *before* it was edited (its hash changed)."""
    if line_no <= 1:
        return line_no
    lines = list(iter_lines(path))
    try:
        before, here = json.loads(lines[line_no - 2]), json.loads(lines[line_no - 1])
    except (IndexError, json.JSONDecodeError):
        return line_no
    if isinstance(before, dict) and isinstance(here, dict) and here.get("seq") == before.get("seq", -2) + 1:
        return line_no - 1
    return line_no


def verify_run(run_dir: str | os.PathLike[str]) -> RunVerification:
    rd = Path(run_dir)
    if not rd.is_dir():
        raise RunDirError(f"{rd}: not a run directory")
    result_path = rd / RESULT_FILE
    result = _load_result(result_path) if result_path.exists() else None
    journal_path = rd / str((result or {}).get("journal") or JOURNAL_FILE)
    if not journal_path.exists():
        raise RunDirError(f"{journal_path}: journal missing; nothing to verify")
    sealed = (result or {}).get("journal_sha256")
    v = verify(journal_path, sealed)
    report = RunVerification(EXIT_OK, v.lines, v.final_hash, sealed)
    if not v.ok:
        report.exit_code = EXIT_FAILED
        if v.line_no is not None:
            where = _locate_edit(journal_path, v.line_no)
            report.tampered_line = where
            report.messages.append(f"{journal_path.name}:{where}: TAMPERED — {v.error}")
            if where != v.line_no:
                report.messages.append(f"  line {where} was edited: its hash no longer matches what line {v.line_no} recorded")
        else:
            report.messages.append(f"{journal_path.name}: TAMPERED — {v.error} "
                                   f"({v.lines} lines now; the last line was edited, or lines were removed or added at the end)")
        return report
    if result is None:
        report.exit_code = EXIT_INCONCLUSIVE
        report.messages.append(f"{journal_path.name}: chain intact over {v.lines} lines, but the run wrote no result.json, "
                               "so there is no sealed hash: removal of lines at the end cannot be ruled out")
        return report
    if not sealed:
        report.exit_code = EXIT_INCONCLUSIVE
        report.messages.append("result.json has no journal_sha256: the chain is intact but the record was never sealed")
        return report
    # result.json's verdicts must be the ones the journal recorded
    journal_verdicts: dict[str, tuple[int, str]] = {}
    for n, line in enumerate(iter_lines(journal_path), start=1):
        rec = json.loads(line)
        if rec.get("kind") == events.CHECK_RESULT:
            p = rec.get("payload") or {}
            journal_verdicts[str(p.get("name"))] = (n, str(p.get("status")))
    for check in result.get("checks") or []:
        name = str(check.get("name"))
        if name in journal_verdicts and journal_verdicts[name][1] != str(check.get("status")):
            n, status = journal_verdicts[name]
            report.exit_code = EXIT_FAILED
            report.messages.append(f"result.json: check {name} says {check.get('status')!r} but journal line {n} "
                                   f"recorded {status!r}: result.json was edited")
    end = next((json.loads(x) for x in reversed(list(iter_lines(journal_path)))), {})
    if end.get("kind") == events.RUN_END and str((end.get("payload") or {}).get("status")) != str(result.get("status")):
        report.exit_code = EXIT_FAILED
        report.messages.append(f"result.json: status {result.get('status')!r} but the journal's run.end says "
                               f"{(end.get('payload') or {}).get('status')!r}: result.json was edited")
    if report.ok:
        report.messages.append(f"{journal_path.name}: OK — {v.lines} lines, chain intact, final hash {v.final_hash} "
                               "matches result.json")
    return report
