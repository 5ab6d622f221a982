"""The verdict of a run and `result.json`, the record every report and CI job reads.

Status precedence, strongest first: `aborted` (interrupted: nothing is judged) > `error`
(the harness could not carry out the drill) > `failed` (a step, an objective or a check
failed — including a check that was expected to fail and passed: the harness did not catch
what the scenario says it must) > `inconclusive` (a check that mattered could not decide) >
`passed`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from drills import __version__, masking
from drills.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from drills.record import RESULT_FILE

STATUSES = ("passed", "failed", "error", "inconclusive", "aborted")
EXIT_CODES = {"passed": EXIT_OK, "failed": EXIT_FAILED, "error": EXIT_USAGE, "inconclusive": EXIT_INCONCLUSIVE,
              "aborted": EXIT_INTERRUPTED}


def exit_code(status: str) -> int:
    return EXIT_CODES[status]


def normalise_checks(verdicts: Iterable[Any]) -> list[dict[str, Any]]:
    """Verdict objects or dicts -> the `checks` entries of result.json. Whether a failure was
    expected is the judge's word (`drills.checks.judge_record` sets `expected_failure`)."""
    out: list[dict[str, Any]] = []
    for v in verdicts:
        d = v.as_dict() if hasattr(v, "as_dict") else dict(v)
        status = d.get("status")
        entry = {
            "name": str(d.get("name", "?")),
            "status": status if status in ("passed", "failed", "unknown") else "unknown",
            "expected_failure": bool(d.get("expected_failure", False)),
            "measured": d.get("measured"),
            "objective": d.get("objective"),
            "evidence": d.get("evidence") or {},
        }
        for k, val in d.items():
            entry.setdefault(k, val)
        out.append(entry)
    return out


def required_checks(objectives: Any) -> set[str]:
    """Checks whose verdict the scenario depends on: listed as required, or named by an
    objective (`rto:`/`switchover_window:` -> rto, `rpo:` -> rpo). An objective nobody could
    measure makes the run inconclusive, not passed."""
    required = set(objectives.checks.required)
    if objectives.rto is not None or objectives.switchover_window is not None:
        required.add("rto")
    if objectives.rpo is not None:
        required.add("rpo")
    return required - set(objectives.checks.expected_to_fail)


def judge_checks(checks: list[Mapping[str, Any]], required: Iterable[str], expected_to_fail: Iterable[str]) -> tuple[str, list[str]]:
    """-> (passed|failed|inconclusive, reasons). Only the checks' statuses and the objectives.

    `unknown` is never a pass: any check that could not decide makes the run inconclusive,
    unless the scenario waived it (`waived`: the reason, shown in every report)."""
    required, expected = set(required), set(expected_to_fail)
    by_name = {c["name"]: c for c in checks}
    failed: list[str] = []
    unknown: list[str] = []
    for c in checks:
        name, status = c["name"], c["status"]
        why = f": {c['summary']}" if c.get("summary") else ""
        if name in expected:
            if status == "passed":
                failed.append(f"check {name} passed but the scenario expects it to fail (the harness missed the fault)")
            elif status == "unknown":
                unknown.append(f"check {name} could not decide (expected to fail){why}")
        elif status == "failed":
            failed.append(f"check {name} failed{why}")
        elif status == "unknown" and not c.get("waived"):
            unknown.append(f"check {name} could not decide" + (" (required)" if name in required else "") +
                           f"{why} — waive it in objectives.checks.not_judged with a reason if this drill cannot judge it")
    for name in sorted((required | expected) - set(by_name)):
        unknown.append(f"check {name} was not evaluated")
    if failed:
        return "failed", failed + unknown
    if unknown:
        return "inconclusive", unknown
    return "passed", []


def decide(*, interrupted: bool, error: str | None, steps_failed: bool, checks_status: str) -> str:
    if interrupted:
        return "aborted"
    if error:
        return "error"
    if steps_failed or checks_status == "failed":
        return "failed"
    if checks_status == "inconclusive":
        return "inconclusive"
    return "passed"


def environment(topo: Any | None) -> dict[str, Any]:
    """Versions of every server and of drills: the fingerprint that makes a result comparable."""
    env: dict[str, Any] = {
        "drills": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": platform.node(),
    }
    if topo is None:
        return env
    env["provider"] = getattr(topo, "provider", None)
    env["flavor"] = getattr(topo, "flavor", None)
    servers: dict[str, Any] = {}
    for dc in ("dc1", "dc2"):
        try:
            from drills.mysql import admin

            conn = topo.connect(dc, via="observer", timeout=3.0)
            try:
                servers[dc] = admin.server_info(conn)
            finally:
                conn.close()
        except Exception as exc:  # a dead server is a fact about the run, not a reason to lose the result
            servers[dc] = {"error": str(exc)}
    env["servers"] = servers
    try:
        env["etcd"] = _http_version("http://%s:%d/version" % topo.etcd_address("observer"))
        api = topo.toxiproxy_api
        env["toxiproxy"] = _toxiproxy_version(_http_version(f"http://{api.host}:{api.port}/version"))
    except Exception as exc:
        env["etcd"] = env["toxiproxy"] = {"error": str(exc)}
    return env


def _toxiproxy_version(reported: Any) -> Any:
    """A `go install` build reports "git"; scripts/setup pins the version beside the binary."""
    if reported != "git":
        return reported
    try:
        from drills.topology import processes

        binary = Path(processes.toxiproxy_binary())
        return f"{binary.with_name(binary.name + '.version').read_text().strip()} (built by scripts/setup)"
    except Exception:  # noqa: BLE001 - the version is a fact for the record, not a reason to fail
        return reported


def _http_version(url: str) -> Any:
    try:
        import requests

        r = requests.get(url, timeout=2)
        try:
            return r.json()
        except ValueError:
            return r.text.strip()
    except Exception as exc:
        return {"error": str(exc)}


def write_result(run_dir: Path, result: Mapping[str, Any], secrets: Iterable[str] = ()) -> Path:
    """Atomic write (tmp + rename): a reader never sees half a result.json."""
    masker = masking.masker(secrets)
    text = json.dumps(masker.value(json.loads(json.dumps(result, default=str))), indent=2, sort_keys=False,
                      default=str, ensure_ascii=False)
    path = run_dir / RESULT_FILE
    tmp = run_dir / (RESULT_FILE + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
