"""pytest integration: scenario YAML files as test items, fixtures for drills written in Python.

`pytest scenarios/` collects every YAML file with a top-level `stages:` key under the
directories named by the ini option `drills_scenario_dirs` (default: `scenarios`) or given
on the command line, runs it with `drills.runner.run_scenario`, reports each check as a
sub-result, and fails the item unless the run's status is `passed`. Files elsewhere (test
data, recorded runs under tests/) are never run by accident.

Fixtures: `drill_topology` (session: a live topology, `--drills-state-dir` to reuse one) and
`drill_run` (run a scenario against it and get the result dict). With allure-pytest's
`--alluredir`, drills appear beside other tests with epic/feature/story labels.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.record import JOURNAL_FILE, RESULT_FILE
from drills.report.run_record import check_outcome, check_unit, fmt_value

_TOP_LEVEL_STAGES = re.compile(r"^stages\s*:", re.MULTILINE)
RUN_MARKERS = (RESULT_FILE, JOURNAL_FILE)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drills", "disaster-recovery drills")
    group.addoption("--drills-state-dir", default=None, metavar="DIR",
                    help="run scenarios against the running topology in DIR (default: each run brings its own)")
    group.addoption("--drills-out", default=None, metavar="DIR",
                    help="where scenario run directories go (default: reports/pytest)")
    group.addoption("--drills-param", action="append", default=[], metavar="K=V",
                    help="scenario parameter, repeatable")
    group.addoption("--drills-approve", action="append", default=[], metavar="GATE",
                    help="approve a manual gate in advance ('all' for every gate), repeatable; a gate nobody "
                         "approved fails at once (pytest has no terminal to ask on)")
    group.addoption("--drills-no-history", action="store_true", default=False,
                    help="keep these runs out of the run history (a trial run must not become a baseline)")
    parser.addini("drills_scenario_dirs", type="linelist", default=["scenarios"],
                  help="directories (relative to rootdir) whose YAML scenarios pytest collects")


DRILL_DOMAIN = "drill: "
_CONFIG: dict[str, pytest.Config] = {}


def pytest_configure(config: pytest.Config) -> None:
    _CONFIG["config"] = config
    config.addinivalue_line("markers", "integration: needs real MariaDB, etcd and Toxiproxy processes")
    config.addinivalue_line("markers", "slow: runs a whole drill")


def is_scenario_file(path: Path) -> bool:
    """A YAML file with a top-level `stages:` key that is not part of a recorded run."""
    if path.suffix.lower() not in (".yaml", ".yml") or any((path.parent / m).exists() for m in RUN_MARKERS):
        return False
    try:
        return _TOP_LEVEL_STAGES.search(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


def _in_scope(path: Path, config: pytest.Config) -> bool:
    resolved = path.resolve()
    for arg in config.args:
        candidate = Path(str(arg).split("::", 1)[0])
        candidate = candidate if candidate.is_absolute() else Path(config.invocation_params.dir) / candidate
        if candidate.resolve() == resolved:
            return True
    roots = [(config.rootpath / d).resolve() for d in config.getini("drills_scenario_dirs")]
    return any(resolved.is_relative_to(root) for root in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path) and _in_scope(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(f"--drills-param expects K=V, got {item!r}")
        params[key.strip()] = value
    return params


def load_runner() -> Callable[..., dict[str, Any]]:
    """`drills.runner.run_scenario`, imported when a drill runs (collecting YAML files must not
    pay for the runner, and a broken runner must fail the drill, not skip it)."""
    return importlib.import_module("drills.runner").run_scenario


class DrillFailed(Exception):
    """The run finished with a status other than passed."""

    def __init__(self, result: dict[str, Any], run_dir: Path) -> None:
        super().__init__(result.get("status"))
        self.result = result
        self.run_dir = run_dir


def describe(result: dict[str, Any], run_dir: Path | None = None) -> str:
    lines = [f"drill {result.get('scenario')} ({result.get('run_id')}): {str(result.get('status')).upper()}"]
    for check in result.get("checks") or []:
        outcome = check_outcome(check)
        unit = check_unit(check)
        mark = "skip" if outcome.kind == "waived" else {True: "ok  ", False: "FAIL", None: "??  "}[outcome.ok]
        lines.append(f"  {mark} {check.get('name')}: {outcome.label}; measured {fmt_value(check.get('measured'), unit)}, "
                     f"objective {fmt_value(check.get('objective'), unit)}"
                     + (f" — {check.get('summary')}" if check.get("summary") else ""))
    if result.get("error"):
        lines.append(f"  error: {result['error']}")
    if run_dir is not None:
        lines.append(f"  run directory: {run_dir}  (drills report {run_dir})")
    return "\n".join(lines)


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class CheckNotMet(AssertionError):
    """One check's sub-result failed."""


class ScenarioItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(pytest.mark.integration)
        self.add_marker(pytest.mark.slow)
        self.drill_result: dict[str, Any] | None = None

    def runtest(self) -> None:
        run_scenario = load_runner()
        config = self.config
        base = Path(config.getoption("drills_out") or Path(config.rootpath) / "reports" / "pytest")
        # the pid: two sessions (pytest -n, two shells) running the same scenario in one second
        out_dir = base / f"{self.path.stem}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        params = parse_params(config.getoption("drills_param"))
        result = run_scenario(self.path, out_dir=out_dir, params=params, state_dir=config.getoption("drills_state_dir"),
                              approve=config.getoption("drills_approve"),
                              record_history=not config.getoption("drills_no_history"))
        self.drill_result = result
        publish(self, result, out_dir)
        interrupted = [r for r in result.get("reasons") or [] if str(r).startswith("interrupted by SIGINT")]
        if result.get("status") == "aborted" and interrupted:
            # the drill caught the Ctrl-C (to heal and seal); the session stops too, as any test run does
            pytest.exit(f"{self.path.stem}: {interrupted[0]} — faults healed, run sealed in {out_dir}", returncode=130)
        if result.get("status") != "passed":
            raise DrillFailed(result, out_dir)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DrillFailed):
            return describe(excinfo.value.result, excinfo.value.run_dir)
        if isinstance(excinfo.value, CheckNotMet):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{DRILL_DOMAIN}{self.name}"


def _check_verdict(check: dict[str, Any]) -> None:
    outcome = check_outcome(check)
    if outcome.ok is False:
        raise CheckNotMet(f"{check.get('name')}: {outcome.label}: measured {fmt_value(check.get('measured'))}, "
                          f"objective {fmt_value(check.get('objective'))}. {check.get('summary') or ''}".strip())
    # `_use_item_location`: a skipped check is reported at the scenario file, not at this line
    if outcome.kind == "waived":
        raise pytest.skip.Exception(f"{check.get('name')}: {outcome.label}", _use_item_location=True)
    if outcome.ok is None:
        # Not judged and not waived: the run is inconclusive and the item itself fails; the
        # sub-result only says why this check could not decide.
        raise pytest.skip.Exception(f"{check.get('name')}: not judged. {check.get('summary') or ''}".strip(),
                                    _use_item_location=True)


CHECK_MSG = "check "


def check_name(report: Any) -> str | None:
    """The check a sub-result of a drill reports on, or None for any other report."""
    msg = str(getattr(getattr(report, "context", None), "msg", ""))
    if msg.startswith(CHECK_MSG) and str(report.location[2]).startswith(DRILL_DOMAIN):
        return msg[len(CHECK_MSG):]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """A check that did not decide (skipped) is shown as `SUBSKIPPED`, its node id and its reason
    naming the check: pytest's short summary folds skips and labels every folded line with the
    word of the session's first skipped report, so a word carrying the check's name put it on
    other checks' lines. Quiet runs hide it, as pytest's subtests do."""
    if report.when != "call" or not report.skipped or check_name(report) is None:
        return None
    if config.get_verbosity(pytest.Config.VERBOSITY_SUBTESTS) == 0:
        return "", "", ""
    return "skipped", "-", "SUBSKIPPED"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> Iterator[None]:
    """Each check's sub-result gets a node id of its own (`scenarios/x.yaml::x[rto]`) before JUnit
    and the terminal see it: JUnit then writes one testcase per check, so its `tests` count is the
    number of its testcases (with the drill's id, every check was counted but folded into the
    drill's one testcase). Not in an xdist worker, which insists on the item's id; its controller
    renames there. The progress count stays one per drill."""
    name = check_name(report)
    config = _CONFIG.get("config")
    renamed = name is not None and "[" not in report.nodeid and config is not None and not hasattr(config, "workerinput")
    if renamed:
        report.nodeid = f"{report.nodeid}[{name}]"
    yield
    if renamed:
        terminal = config.pluginmanager.getplugin("terminalreporter")
        getattr(terminal, "_progress_nodeids_reported", set()).discard(report.id)


def report_checks(item: pytest.Item, result: dict[str, Any]) -> None:
    """Each check as a sub-result (pytest's own subtest reports where available), a report
    section and a user property (which --junitxml carries)."""
    checks = [c for c in result.get("checks") or [] if isinstance(c, dict)]
    for check in checks:
        outcome = check_outcome(check)
        item.user_properties.append((f"check:{check.get('name')}", f"{outcome.label}; measured "
                                     f"{fmt_value(check.get('measured'))}; objective {fmt_value(check.get('objective'))}"))
    emit_check_reports(item, checks)
    # after the sub-results: each of them would otherwise repeat the whole section in its failure
    item.add_report_section("call", "drill checks", describe(result))


def emit_check_reports(item: pytest.Item, checks: list[dict[str, Any]]) -> None:
    try:
        from _pytest.subtests import SubtestContext, SubtestReport  # pytest >= 9
    except ImportError:
        return
    capman = item.config.pluginmanager.getplugin("capturemanager")
    for check in checks:
        call = pytest.CallInfo.from_call(lambda c=check: _check_verdict(c), when="call")
        report = item.ihook.pytest_runtest_makereport(item=item, call=call)
        sub = SubtestReport._new(report, SubtestContext(msg=f"{CHECK_MSG}{check.get('name')}", kwargs={}),
                                 captured_output=None, captured_logs=None)
        # Written while the drill's output is still being captured: without suspending capture the
        # lines of `-v` land in "Captured stdout" under the next check's heading instead of the terminal.
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            item.ihook.pytest_runtest_logreport(report=sub)


def allure_active(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None))


def label_allure(result: dict[str, Any], run_dir: Path | None) -> None:
    """Labels, one step per check and the reports as attachments, for allure-pytest."""
    import allure

    allure.dynamic.epic("DR drill")
    allure.dynamic.feature(str(result.get("scenario")))
    allure.dynamic.story("drill run")
    allure.dynamic.severity(allure.severity_level.CRITICAL)
    for check in result.get("checks") or []:
        try:
            with allure.step(f"check {check.get('name')}: {check_outcome(check).label}"):
                _check_verdict(check)
        except (CheckNotMet, pytest.skip.Exception):
            pass
    if run_dir is not None:
        result_path = run_dir / RESULT_FILE
        if result_path.exists():
            allure.attach.file(str(result_path), name=RESULT_FILE, attachment_type=allure.attachment_type.JSON)
        html = run_dir / "report.html"
        if html.exists():
            allure.attach.file(str(html), name="compliance report", attachment_type=allure.attachment_type.HTML)


def publish(item: pytest.Item, result: dict[str, Any], run_dir: Path | None) -> None:
    if run_dir is not None and (run_dir / RESULT_FILE).exists():
        from drills.report.html import render_html

        try:
            render_html(run_dir, run_dir / "report.html")
        except Exception as exc:  # the drill's verdict must not be lost to a rendering problem
            item.add_report_section("call", "drills report", f"report not rendered: {exc}")
    report_checks(item, result)
    if allure_active(item.config):
        label_allure(result, run_dir)


# ---- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def drill_topology(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A live topology for the session: the one in --drills-state-dir, or one started here."""
    state_dir = request.config.getoption("drills_state_dir")
    from drills.topology import local
    from drills.topology.provider import attach

    if state_dir:
        yield attach(state_dir)
        return
    target = tmp_path_factory.mktemp("drills-topology") / "state"
    topo = local.up(state_dir=target)
    try:
        yield topo
    finally:
        local.down(target)


class DrillRunner:
    """`drill_run(scenario, params=...)`: runs a scenario on the session topology, returns result.json's dict."""

    def __init__(self, item: pytest.Item, topology: Any, base: Path) -> None:
        self.item, self.topology, self.base = item, topology, base
        self.results: list[dict[str, Any]] = []

    def __call__(self, scenario: str | Path, *, params: dict[str, Any] | None = None, out_dir: Path | None = None) -> dict[str, Any]:
        run_scenario = load_runner()
        out = out_dir or self.base / f"{Path(scenario).stem}-{len(self.results)}"
        result = run_scenario(Path(scenario), out_dir=out, params=dict(params or {}),
                              state_dir=getattr(self.topology, "state_dir", None),
                              record_history=not self.item.config.getoption("drills_no_history"))
        self.results.append(result)
        publish(self.item, result, out)
        return result


@pytest.fixture
def drill_run(request: pytest.FixtureRequest, drill_topology: Any, tmp_path: Path) -> DrillRunner:
    return DrillRunner(request.node, drill_topology, tmp_path)


def result_summary(result: dict[str, Any]) -> str:
    """Compact JSON of the verdicts, for assertion messages in Python drills."""
    return json.dumps({c.get("name"): c.get("status") for c in result.get("checks") or []}, sort_keys=True)
