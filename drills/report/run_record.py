"""A recorded run as every renderer sees it: result.json plus the journal and ledger it names.

result.json is the single source of truth. A run that was killed has no result.json; its
journal still holds everything up to the kill, so `load_run` derives an *aborted* view from
it (`derived=True`), which every renderer marks as incomplete rather than passing off as a
verdict. Everything loaded here is already masked: no renderer ever sees a secret value.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drills import durations, events
from drills.errors import ConfigError, UserError
from drills.filter_list import FilterList
from drills.filter_list import load as load_filter_list
from drills.journal import GENESIS, Verification, read_tolerant, verify
from drills.masking import DSN_PASSWORD, MASK, Masker
from drills.masking import masker as process_masker
from drills.record import FILTER_LIST_COPY, JOURNAL_FILE, LEDGER_FILE, RESULT_FILE, SCENARIO_COPY

_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key", re.IGNORECASE)


class RunDirError(UserError):
    """A run directory that cannot be rendered (missing, or neither result.json nor journal)."""


def collect_secrets(params: Any, scenario_doc: Any, environ: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    """Secret values this run may contain: params whose name says secret, params the scenario
    declares `secret: true` (and the environment variables those read from)."""
    environ = os.environ if environ is None else environ
    found: list[str] = []
    declared: dict[str, Any] = {}
    if isinstance(scenario_doc, dict) and isinstance(scenario_doc.get("params"), dict):
        declared = scenario_doc["params"]
    secret_names = {name for name, spec in declared.items() if isinstance(spec, dict) and spec.get("secret")}
    for spec in declared.values():
        if isinstance(spec, dict) and spec.get("secret"):
            env_name = spec.get("env") or spec.get("from_env")
            if isinstance(env_name, str) and environ.get(env_name):
                found.append(environ[env_name])
            if isinstance(spec.get("value"), str):
                found.append(spec["value"])

    def walk(name: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(str(k), v)
        elif isinstance(value, list):
            for v in value:
                walk(name, v)
        elif isinstance(value, str) and (name in secret_names or _SECRET_NAME.search(name)):
            found.append(value)
        elif isinstance(value, str):
            m = DSN_PASSWORD.search(value)
            if m:
                found.append(m["pw"])

    if isinstance(params, dict):
        for k, v in params.items():
            walk(str(k), v)
    return [s for s in found if s and s != MASK]


EXPECTED_FAILURE = "FAILED — as the scenario expects"
WAIVED = "not judged — waived by the scenario"


@dataclass(frozen=True)
class Outcome:
    """How one check reads to a person, in the terms of the run's exit code.

    `ok` is True when the check counts towards a pass (passed, or failed exactly as the
    scenario expects), False when it fails the run, None when it is no verdict at all.
    `kind` separates the cases a report must word differently: an expected failure is still
    a failure of the check (never a green "pass"), and a waived `unknown` (`waived` holds the
    scenario's reason) does not make the run inconclusive, unlike an unwaived one."""

    ok: bool | None
    label: str
    note: str = ""
    kind: str = "inconclusive"  # passed | failed | expected_failure | unexpected_pass | waived | inconclusive
    waived: str = ""


def check_outcome(check: dict[str, Any]) -> Outcome:
    """A check's verdict in the light of what the scenario expected of it (and waived)."""
    status = str(check.get("status") or "unknown")
    expected_failure = bool(check.get("expected_failure"))
    if expected_failure and status == "failed":
        return Outcome(True, EXPECTED_FAILURE, "the harness caught the fault the scenario plants", "expected_failure")
    if expected_failure and status == "passed":
        return Outcome(False, "unexpectedly passed",
                       "the scenario expects this check to fail, but it passed: the harness missed the fault",
                       "unexpected_pass")
    if status == "passed":
        return Outcome(True, "passed", kind="passed")
    if status == "failed":
        return Outcome(False, "failed", kind="failed")
    reason = check.get("waived")
    if reason and not expected_failure:
        reason = " ".join(str(reason).split())
        return Outcome(None, f"{WAIVED}: {reason}", "the scenario does not judge this check", "waived", reason)
    # why (and whether a repeat would help) is the finding's to say: explain.no_verdict_reason
    return Outcome(None, "inconclusive", "the check could not reach a verdict", "inconclusive")


@dataclass
class RunRecord:
    run_dir: Path
    result: dict[str, Any]
    events: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    scenario_doc: dict[str, Any] | None
    filter_list: FilterList | None
    derived: bool
    verification: Verification
    masker: Masker = field(default_factory=Masker)
    problems: list[str] = field(default_factory=list)

    # ---- the names result.json guarantees ----------------------------------------------------
    @property
    def scenario(self) -> str:
        return str(self.result.get("scenario") or "unknown-scenario")

    @property
    def run_id(self) -> str:
        return str(self.result.get("run_id") or self.run_dir.name)

    @property
    def status(self) -> str:
        return str(self.result.get("status") or "aborted")

    @property
    def checks(self) -> list[dict[str, Any]]:
        return [c for c in self.result.get("checks") or [] if isinstance(c, dict)]

    @property
    def environment(self) -> dict[str, Any]:
        env = self.result.get("environment")
        return env if isinstance(env, dict) else {}

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The environment under the names reports use, whichever spelling the runner chose
        (`drills_version`|`drills`, `host`|`hostname`, `topology`|`provider`, etcd/toxiproxy
        either under `servers` or beside it)."""
        env = self.environment
        start = (self.first_event(events.RUN_START) or {}).get("payload", {})

        def pick(*names: str) -> Any:
            return next((env[n] for n in names if env.get(n) not in (None, "", {})), None)

        servers: dict[str, str] = {}
        raw_servers = env.get("servers") if isinstance(env.get("servers"), dict) else {}
        for name, value in [*raw_servers.items(), *((n, env[n]) for n in ("etcd", "toxiproxy") if n in env)]:
            servers[str(name)] = server_version(value)
        return {
            "drills_version": pick("drills_version", "drills"),
            "flavor": pick("flavor"),
            "topology": pick("topology", "provider"),
            "host": pick("host", "hostname"),
            "operator": self.operator or None,
            "scenario_file": pick("scenario_file") or self.result.get("scenario_file"),
            "scenario_sha256": pick("scenario_sha256") or self.result.get("scenario_sha256") or start.get("scenario_sha256"),
            "servers": servers,
            "other": {k: v for k, v in env.items() if k not in _FINGERPRINT_KEYS and v not in (None, "", {}, [])},
        }

    @property
    def objectives(self) -> dict[str, Any]:
        obj = self.result.get("objectives")
        return obj if isinstance(obj, dict) else {}

    @property
    def measurements(self) -> dict[str, Any]:
        m = self.result.get("measurements")
        return m if isinstance(m, dict) else {}

    @property
    def params(self) -> dict[str, Any]:
        p = self.result.get("params")
        if isinstance(p, dict):
            return p
        start = self.first_event(events.RUN_START)
        p = (start or {}).get("payload", {}).get("params")
        return p if isinstance(p, dict) else {}

    @property
    def purpose(self) -> str:
        for source in (self.result, self.scenario_doc or {}):
            for key in ("description", "purpose"):
                if isinstance(source.get(key), str) and source[key].strip():
                    return " ".join(source[key].split())
        return ""

    @property
    def operator(self) -> str:
        env = self.environment
        start = (self.first_event(events.RUN_START) or {}).get("payload", {})
        return str(self.result.get("operator") or env.get("operator") or env.get("user") or start.get("operator") or "")

    @property
    def sealed_hash(self) -> str | None:
        value = self.result.get("journal_sha256")
        return str(value) if value else None

    @property
    def duration_s(self) -> float | None:
        if len(self.events) >= 2:
            return (self.events[-1]["mono_ns"] - self.events[0]["mono_ns"]) / 1e9
        return None

    @property
    def rto_s(self) -> float | None:
        if self.check("rto"):
            return number(self.check("rto", "measured"), ("seconds", "rto_s", "value", "total_s"))
        return number(self.measurements.get("rto_s", self.measurements.get("rto")))

    @property
    def rpo(self) -> float | None:
        """Lost writes (the count the rpo check measured)."""
        if self.check("rpo"):
            return number(self.check("rpo", "measured"), ("lost_writes", "count", "value"))
        return number(self.measurements.get("rpo_lost_writes", self.measurements.get("rpo")), ("lost_writes",))

    def check(self, name: str, key: str | None = None) -> Any:
        for c in self.checks:
            if c.get("name") == name:
                return c.get(key) if key else c
        return None

    def first_event(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("kind") == kind), None)

    @property
    def t0_ns(self) -> int:
        return int(self.events[0]["mono_ns"]) if self.events else 0

    def rel_s(self, mono_ns: int) -> float:
        return (int(mono_ns) - self.t0_ns) / 1e9


_FINGERPRINT_KEYS = {"drills_version", "drills", "flavor", "topology", "provider", "host", "hostname", "operator", "user",
                     "scenario_file", "scenario_sha256", "servers", "etcd", "toxiproxy"}


def server_version(value: Any) -> str:
    """`{flavor, version}`, etcd's `{etcdserver: ...}`, `{version}`, a bare string, or `{error}`."""
    if isinstance(value, dict):
        if value.get("error"):
            return f"unreachable ({value['error']})"
        version = value.get("version") or value.get("etcdserver")
        flavor = value.get("flavor")
        return " ".join(str(x) for x in (flavor, version) if x) or fmt_value(value)
    return "" if value is None else str(value)


def number(value: Any, keys: tuple[str, ...] = ("value",)) -> float | None:
    """A measured value as a number: 3.4, "3.4s", "350ms", or a mapping holding one of `keys`."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        for key in keys:
            if key in value:
                return number(value[key])
        return None
    if isinstance(value, str):
        return parse_duration(value)
    return None


def parse_duration(text: str) -> float | None:
    """'10s' -> 10.0, '350ms' -> 0.35, '2m' -> 120.0; None when not a duration (drills.durations)."""
    try:
        return durations.parse_duration(text)
    except ValueError:
        return None


def _load_result(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: result.json is not valid JSON: {exc.msg}") from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read: {exc.strerror}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}:1: expected a JSON object with scenario, run_id, status, checks")
    return doc


def _derive_result(run_dir: Path, journal: list[dict[str, Any]], head: str) -> dict[str, Any]:
    """The aborted view of a run that never wrote result.json: what the journal proves."""
    start = next((e for e in journal if e.get("kind") == events.RUN_START), None)
    payload = (start or {}).get("payload", {})
    end = next((e for e in reversed(journal) if e.get("kind") == events.RUN_END), None)
    checks = []
    for e in journal:
        if e.get("kind") == events.CHECK_RESULT:
            p = e.get("payload", {})
            check = {"name": p.get("name"), "status": p.get("status", "unknown"),
                     "expected_failure": bool(p.get("expected_failure")), "measured": p.get("measured"),
                     "objective": p.get("objective"), "evidence": {},
                     "summary": " ".join(x for x in (p.get("summary"), f"(From journal line {e.get('seq', 0) + 1}; "
                                                     "the run ended before result.json.)") if x)}
            if p.get("waived"):
                check["waived"] = p["waived"]
            checks.append(check)
    return {
        "scenario": payload.get("scenario") or run_dir.name,
        "run_id": payload.get("run_id") or run_dir.name,
        "status": "aborted",
        "started_at": journal[0].get("wall") if journal else None,
        "finished_at": None,
        "last_event_at": journal[-1].get("wall") if journal else None,
        "objectives": {},
        "measurements": {},
        "params": payload.get("params") or {},
        "checks": checks,
        "journal": JOURNAL_FILE,
        "journal_sha256": None,
        "journal_head": head,
        "run_end_status": (end or {}).get("payload", {}).get("status"),
        "environment": {"scenario_sha256": payload.get("scenario_sha256")} if payload.get("scenario_sha256") else {},
        "incomplete": "no result.json: the run was killed or crashed before it could write its verdict; "
        "this view is derived from the journal up to its last line",
    }


def load_run(run_dir: str | os.PathLike[str], *, environ: dict[str, str] | None = None) -> RunRecord:
    """Read a run directory into a masked `RunRecord` (derived/aborted when result.json is absent)."""
    rd = Path(run_dir)
    if not rd.is_dir():
        raise RunDirError(f"{rd}: not a run directory (expected a folder with result.json or journal.jsonl)")
    problems: list[str] = []
    result_path = rd / RESULT_FILE
    raw_result = _load_result(result_path) if result_path.exists() else None
    journal_name = str((raw_result or {}).get("journal") or JOURNAL_FILE)
    journal_path = rd / journal_name
    if raw_result is None and not journal_path.exists():
        raise RunDirError(f"{rd}: neither result.json nor journal.jsonl found; nothing to report")
    if journal_path.exists():
        verification = verify(journal_path, (raw_result or {}).get("journal_sha256"))
    else:
        verification = Verification(False, 0, GENESIS, f"journal {journal_name} is missing")
    journal = read_tolerant(journal_path, problems)
    ledger = read_tolerant(rd / str((raw_result or {}).get("ledger") or LEDGER_FILE), problems)
    scenario_doc = None
    scenario_path = rd / SCENARIO_COPY
    if scenario_path.exists():
        try:
            loaded = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
            scenario_doc = loaded if isinstance(loaded, dict) else None
        except yaml.YAMLError:
            problems.append("scenario.yaml copy is not valid YAML; purpose not shown")
    derived = raw_result is None
    result = raw_result if raw_result is not None else _derive_result(rd, journal, verification.final_hash)
    start = next((e for e in journal if e.get("kind") == events.RUN_START), None)
    secrets = collect_secrets(result.get("params"), scenario_doc, environ)
    secrets += collect_secrets((start or {}).get("payload", {}).get("params"), scenario_doc, environ)
    masker = process_masker(secrets)
    filter_list = None
    if (rd / FILTER_LIST_COPY).exists():
        try:
            filter_list = load_filter_list(rd / FILTER_LIST_COPY)
        except ConfigError as exc:
            problems.append(f"filter list copy not readable: {exc}")
    if filter_list is None and isinstance(result.get("filter_list"), dict):
        fl = result["filter_list"]
        filter_list = FilterList.from_filters(fl.get("ignore_tables") or [], fl.get("wild_ignore_tables") or [])
    return RunRecord(
        run_dir=rd,
        result=masker.value(result),
        events=masker.value(journal),
        ledger=masker.value(ledger),
        scenario_doc=masker.value(scenario_doc) if scenario_doc else None,
        filter_list=filter_list,
        derived=derived,
        verification=verification,
        masker=masker,
        problems=problems,
    )


def write_text(path: str | os.PathLike[str], text: str, masker: Masker) -> Path:
    """Write a rendered file after a last masking pass (raw and escaped forms of each secret)."""
    for variant in masker.html_variants():
        if variant:
            text = text.replace(variant, MASK)
    text = masker.exact(text)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def fmt_value(value: Any, unit: str = "") -> str:
    """A measured value or objective, compact and readable (`3.42 s`, `0`, `lost_writes=3`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{text} {unit}".strip()
    if isinstance(value, int):
        return f"{value} {unit}".strip()
    if isinstance(value, dict):
        # a part nobody set (an objective not declared, a span with nothing lost) is left out, not shown as `=—`
        shown = [f"{k}={fmt_value(v)}" for k, v in value.items() if v is not None]
        return ", ".join(shown) if shown else "—"
    if isinstance(value, list):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    return str(value)


def check_unit(check: dict[str, Any]) -> str:
    ev = check.get("evidence") if isinstance(check.get("evidence"), dict) else {}
    return str(ev.get("unit") or ("s" if check.get("name") in ("rto", "write_availability") else ""))
