"""One drill from start to sealed record: `drills run`.

The order matters and is the same on every path out — success, failed step, exception,
SIGINT/SIGTERM: stop the workload (no more writes), stop the controller (no more
decisions), heal every fault still active, stop watching the routing key, settle the workload's unknown outcomes, judge
(unless interrupted), fingerprint the environment, tear the topology down (unless it was
reused or kept), write `run.end` as the journal's last line, then `result.json` with the
journal's final hash. Each cleanup step is guarded on its own: one failing does not skip
the next, and its failure is journaled.

Signals only set a flag (the handler must not take the journal's lock, which the interrupted
code may hold); the engine's wait loops notice it within a few tens of milliseconds.
"""

from __future__ import annotations

import getpass
import os
import secrets as pysecrets
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from drills import events, masking
from drills.errors import EXIT_STOPPED, UserError
from drills.journal import Journal, now_wall
from drills.record import FILTER_LIST_COPY, JOURNAL_FILE, LEDGER_FILE, SCENARIO_COPY
from drills.runner import result as result_mod
from drills.runner.gates import Approvals
from drills.runner.progress import Progress
from drills.runner.stages import Engine, EngineOutcome, StepRecord
from drills.runner.steps import DrillContext, actions
from drills.scenario.loader import find_scenario, load_scenario
from drills.scenario.model import Scenario, Step
from drills.topology.provider import TopologyProvider, missing_capabilities, provider_for
from drills.topology.spec import TopologySpec
from drills.topology.state import Topology

SOURCE = "runner"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunOptions:
    scenario: str
    out: Path | None = None
    params: dict[str, str] = field(default_factory=dict)
    keep_env: bool = False
    state_dir: Path | None = None
    reset: bool = False
    approve: list[str] = field(default_factory=list)
    junit: Path | None = None
    html: Path | None = None
    allure_dir: Path | None = None
    summary: Path | None = None
    pdf: Path | None = None
    baseline: float | None = None  # fail when RTO regresses by more than this fraction vs. the last passing runs
    record_history: bool = True
    environ: dict[str, str] | None = None
    stream: TextIO | None = None  # progress display (stderr by default)
    tty: bool | None = None
    provider: str | None = None  # overrides the scenario topology's provider (local | containers)
    environment: Path | None = None  # someone else's environment (provider external): its file
    confirm: str | None = None  # a protected environment's name, repeated
    json_summary: bool = False  # `--json`: the closing summary goes to the progress stream, stdout gets JSON


@dataclass
class RunOutcome:
    status: str
    exit_code: int
    run_dir: Path
    result_path: Path
    result: dict[str, Any]


def new_run_id(scenario: str) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{scenario}-{pysecrets.token_hex(3)}"


def prepare_run_dir(out: Path | None, run_id: str) -> Path:
    run_dir = out if out is not None else REPO_ROOT / "reports" / "runs" / run_id
    if (run_dir / JOURNAL_FILE).exists() or (run_dir / result_mod.RESULT_FILE).exists():
        raise UserError(f"{run_dir} already holds a run (journal.jsonl/result.json); a record is never overwritten",
                        hint="choose another --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{run_dir}: cannot create the run directory: {exc.strerror}") from None
    return run_dir


class _Signals:
    """SIGINT/SIGTERM -> a flag. Installed only from the main thread (tests call in threads)."""

    def __init__(self, interrupted: threading.Event):
        self.interrupted = interrupted
        self.received: list[tuple[str, int]] = []
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        self.received.append((name, time.monotonic_ns()))
        if self.interrupted.is_set():
            os.write(2, b"\ndrills: already stopping; healing faults and stopping processes\n")
        else:
            os.write(2, f"\ndrills: {name}: stopping — healing faults, stopping workload and processes\n".encode())
        self.interrupted.set()


@dataclass
class DrillParts:
    """What a drill plugs in. The real ones by default; tests hand in their own (a fault that
    only records calls, a judge that returns nothing) to exercise the runner's control flow."""

    make_fault: Callable[..., Any] = field(default_factory=lambda: _real("drills.faults", "make_fault"))
    make_controller: Callable[..., Any] = field(default_factory=lambda: _real("drills.control", "make_controller"))
    make_workload: Callable[..., Any] = field(default_factory=lambda: _real("drills.workload", "make_workload"))
    evaluate: Callable[..., Any] = field(default_factory=lambda: _real("drills.runner.judging", "evaluate"))
    make_route_watch: Callable[..., Any] = field(default_factory=lambda: _real("drills.observe.route_watch", "RouteWatch"))


def _real(module: str, attr: str) -> Callable[..., Any]:
    """Imported when a drill is built, not when the CLI starts (`drills validate` stays fast)."""
    import importlib

    return getattr(importlib.import_module(module), attr)


def run(opts: RunOptions) -> RunOutcome:
    """Load, check, run, always clean up, seal. Input problems raise UserError before anything starts."""
    environ = dict(os.environ) if opts.environ is None else opts.environ
    path = find_scenario(opts.scenario)
    scenario = load_scenario(path, opts.params, environ=environ, require_secrets=True)
    provider: TopologyProvider
    if opts.environment is not None:
        provider = external_provider(scenario, opts, environ)
    else:
        provider = provider_for(run_provider(scenario, opts))
        refuse_missing_capabilities(scenario, provider)
    run_id = new_run_id(scenario.name)
    lock = take_environment_lock(provider, run_id) if opts.environment is not None else None
    try:
        run_dir = prepare_run_dir(opts.out, run_id)
        journal = Journal(run_dir / JOURNAL_FILE, secrets=scenario.secret_values)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    drill = Drill(scenario, run_dir, journal, run_id, opts, environ=environ, topology_provider=provider)
    drill.lock = lock
    return drill.execute()


def run_provider(scenario: Scenario, opts: RunOptions) -> str:
    """Who runs the topology: a reused one's own provider (recorded in its state), else
    `--provider`, else the scenario's topology."""
    if opts.state_dir is not None and Topology.exists(opts.state_dir):
        return Topology.load(opts.state_dir).provider
    return opts.provider or topology_spec(scenario).provider


def take_environment_lock(provider: Any, run_id: str) -> Any:
    """One drill at a time in someone else's environment: refused (exit 2, naming the holder)
    before a run directory exists, so a refused run leaves nothing behind."""
    from drills.runner import safety

    lock = safety.EnvironmentLock(provider.topology(), provider.env, run_id)
    lock.acquire()
    return lock


def external_provider(scenario: Scenario, opts: RunOptions, environ: dict[str, str]) -> TopologyProvider:
    """Someone else's environment: everything the scenario would do that the environment file
    does not allow is refused here, all at once, before anything is touched."""
    from drills.runner import safety
    from drills.topology.environment import load_environment
    from drills.topology.external import ExternalProvider

    assert opts.environment is not None
    env = load_environment(opts.environment)
    problems = safety.refusals(scenario, env)
    if problems:
        raise UserError(f"scenario {scenario.name} may not run in environment {env.name}:\n  " + "\n  ".join(problems))
    safety.confirm(env, opts.confirm)
    if opts.reset:
        raise UserError(f"--reset: environment {env.name} is not drills' to reset")
    provider = ExternalProvider(env, environ)
    if topology_spec(scenario).mode == "active-active":  # the pair as declared, read before anything starts
        from drills.active_active.attached import check_declared

        check_declared(provider.topology(), env)
    return provider


def refuse_missing_capabilities(scenario: Scenario, provider: TopologyProvider) -> None:
    """A fault the provider cannot carry out is refused before anything starts."""
    faults = [(f"stage {stage.name}, step {step.label(i)}", step.fault.type)
              for stage, i, step in scenario.steps() if step.fault is not None]
    problems = missing_capabilities(faults, provider)
    if problems:
        raise UserError(f"scenario {scenario.name} cannot run on this topology: " + "; ".join(problems))


class Drill:
    def __init__(self, scenario: Scenario, run_dir: Path, journal: Journal, run_id: str, opts: RunOptions,
                 parts: DrillParts | None = None, *, environ: dict[str, str] | None = None,
                 topology_provider: TopologyProvider | None = None):
        self.scenario = scenario
        self.run_dir = run_dir
        self.journal = journal
        self.run_id = run_id
        self.opts = opts
        self.parts = parts or DrillParts()
        self.environ = dict(os.environ) if environ is None else environ
        self.interrupted = threading.Event()
        self.signals = _Signals(self.interrupted)
        self.secrets: list[str] = list(scenario.secret_values)
        self.topo: Any = None
        self.reused = False
        self.state_dir: Path | None = None
        self.provider = topology_provider
        self.error: str | None = None
        self.cleanup_problems: list[str] = []
        self.outcome: EngineOutcome | None = None
        self.checks: list[dict[str, Any]] = []
        self.check_reasons: list[str] = []
        self.checks_status = "passed"
        self.progress = Progress(opts.stream, tty=opts.tty, active_dc=self._active_dc)
        self.ctx: DrillContext | None = None
        self.route_watch: Any = None
        self.environment: dict[str, Any] = {}
        self._signals_logged = 0
        # someone else's environment: its file, the lock held on it, the safeguards watching it
        self.env_file: Any = getattr(topology_provider, "env", None)
        self.lock: Any = None
        self.safeguards: Any = None
        self.stopped_by: dict[str, Any] | None = None

    # ---- the whole run ----------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        started_at = now_wall()
        t0 = time.monotonic()
        self.signals.install()
        self.progress.start()
        self.journal.record(SOURCE, events.RUN_START, scenario=self.scenario.name, run_id=self.run_id,
                            scenario_file=str(self.scenario.source) if self.scenario.source else None,
                            scenario_sha256=self.scenario.sha256, params=self.scenario.masked_params(),
                            pid=os.getpid())
        self.progress.say(f"run {self.run_id} -> {self.run_dir}")
        self._copy_inputs()
        try:
            try:
                self._bring_up()
                if not self.interrupted.is_set():
                    self._drive()
            except UserError as exc:
                self.error = str(exc)
            except Exception as exc:  # a bug must still end in healed faults and a sealed record
                self.error = f"{type(exc).__name__}: {exc}"
                self.journal.record(SOURCE, events.RUN_EXCEPTION, error=self.error, traceback=traceback.format_exc(limit=8))
            if self.error:
                self.progress.say(f"error: {self.error}")
            self._finish()
        finally:
            self.progress.close()
            self.signals.restore()
        status = result_mod.decide(
            interrupted=self.interrupted.is_set(),
            error=self.error,
            steps_failed=bool(self.outcome and self.outcome.status == "failed"),
            checks_status=self.checks_status,
        )
        duration = round(time.monotonic() - t0, 3)
        status = self._baseline_gate(status)
        self.journal.record(SOURCE, events.RUN_END, status=status, duration_s=duration,
                            **({"stopped_by": self.stopped_by["name"]} if self.stopped_by else {}))
        head = self.journal.head
        self.journal.close()
        record = self._result(status, started_at, duration, head)
        path = result_mod.write_result(self.run_dir, record, self.secrets)
        if self.opts.record_history:
            self._guard_quiet("history", lambda: past_runs().record(self.run_dir))
        self._reports(status)
        self._summary_line(status, record)
        return RunOutcome(status, record["exit_code"], self.run_dir, path, record)

    def _copy_inputs(self) -> None:
        """The scenario as run and the filter list as drilled go into the run directory, so the
        record stands alone (the compliance report shows each filter entry's reason)."""
        if self.scenario.source is not None and Path(self.scenario.source).is_file():
            shutil.copyfile(self.scenario.source, self.run_dir / SCENARIO_COPY)

    def _copy_filter_list(self) -> None:
        src = getattr(self.topo, "filter_list_file", None)
        if src and Path(src).is_file():
            shutil.copyfile(src, self.run_dir / FILTER_LIST_COPY)

    def _baseline_gate(self, status: str) -> str:
        """`--baseline`: a passing run whose RTO regressed against the last passing runs fails."""
        if self.opts.baseline is None or status != "passed":
            return status
        rto = next((c.get("measured") for c in self.checks if c.get("name") == "rto"), None)
        if isinstance(rto, dict):
            rto = rto.get("seconds")
        try:
            message = past_runs().baseline_regression(None, self.scenario.name, rto, self.opts.baseline,
                                                      exclude_run_id=self.run_id)
        except Exception as exc:  # noqa: BLE001 - a gate that cannot read its baseline cannot say "passed"
            why = masking.mask(str(exc) or type(exc).__name__)
            self.progress.say(f"baseline: {why}")
            self.check_reasons.append(f"baseline: the run history could not be read, so the regression gate could "
                                      f"not decide ({why})")
            self.journal.record(SOURCE, events.RUN_BASELINE, error=why, tolerance=self.opts.baseline)
            return "inconclusive"
        if message:
            self.check_reasons.append(f"baseline: {message}")
            self.journal.record(SOURCE, events.RUN_BASELINE, regression=message, tolerance=self.opts.baseline)
            return "failed"
        return status

    def _guard_quiet(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # history is a convenience; it never changes a sealed verdict
            self.progress.say(f"{what}: {exc}")
            return None

    # ---- phases --------------------------------------------------------------------------------------
    def _bring_up(self) -> None:
        provider = self.provider or provider_for(topology_spec(self.scenario).provider)
        self.provider = provider
        if topology_spec(self.scenario).mode == "active-active":  # refused before anything starts
            from drills.active_active.runner import refuse_provider

            refuse_provider(self.opts.provider or provider.name)
        state_dir = self.opts.state_dir
        if state_dir is None and self.env_file is not None:
            state_dir = provider.state_dir()  # type: ignore[attr-defined]
        if state_dir is not None and Topology.exists(state_dir):
            self.topo = provider.attach(Path(state_dir))
            self.reused = True
            self.state_dir = Path(state_dir)
            self.journal.record(SOURCE, events.RUN_TOPOLOGY, action="reuse", state_dir=str(state_dir))
            self.progress.say(f"reusing the topology in {state_dir}")
            if self.opts.reset:
                self.progress.say("resetting it to the baseline")
                provider.reset(self.topo, topology_spec(self.scenario))
                self.journal.record(SOURCE, events.RUN_TOPOLOGY, action="reset", state_dir=str(state_dir))
        else:
            spec = topology_spec(self.scenario)
            if self.opts.provider:
                spec = spec.model_copy(update={"provider": self.opts.provider})
            self.state_dir = Path(state_dir) if state_dir else provider.state_root() / f"run-{self.run_id}"
            self.journal.record(SOURCE, events.RUN_TOPOLOGY, action="up", state_dir=str(self.state_dir))
            self.progress.say(f"bringing the topology up in {self.state_dir}")
            self.topo = provider.up(spec, self.state_dir, lambda msg: self.progress.say(f"  {msg}"))
        self._copy_filter_list()
        if topology_spec(self.scenario).mode == "active-active" and self.env_file is None:
            from drills.active_active.runner import prepare

            prepare(self.topo, topology_spec(self.scenario), self.journal, provider.name)
        for secret in self.topo.secrets():
            self.journal.add_secret(secret)
            self.secrets.append(secret)
        control = self.topo.process_control
        self.journal.record(SOURCE, events.RUN_TOPOLOGY, action="ready", provider=provider.name,
                            pids=control.pids() if control is not None else None, routing_key=self.topo.routing_key)
        if self.env_file is not None:
            self._enter_environment()
            if topology_spec(self.scenario).mode == "active-active":  # attached and verified, after the lock
                from drills.active_active.runner import prepare

                prepare(self.topo, topology_spec(self.scenario), self.journal, provider.name, env=self.env_file)

    def _enter_environment(self) -> None:
        """Someone else's environment: say what the drill was allowed and that its lock (one
        drill at a time, taken before the run began) is held, before anything acts on it."""
        from drills.runner import safety

        env = self.env_file
        self.journal.record(SOURCE, events.RUN_ENVIRONMENT, name=env.name, provider="external", writes=env.writes,
                            protected=env.protected, allow=[a.model_dump() for a in env.allow],
                            stop_conditions=[c.name for c in env.stop_conditions],
                            max_fault_duration_s=float(env.max_fault_duration), waive=safety.waivers(env))
        if self.lock is None:  # a Drill built without `run()` (tests): take it now
            self.lock = safety.EnvironmentLock(self.topo, env, self.run_id)
            self.lock.acquire()
        self.lock.attach(self.journal)
        if env.writes == "canary":  # the only place the harness may write: its own schema, made now
            from drills.observe.collector import ensure_harness_schema

            ensure_harness_schema(self.topo)

    def _drive(self) -> None:
        from drills.faults import ActiveFaults

        faults = ActiveFaults(on_change=self.progress.set_faults)
        approvals = Approvals(self.opts.approve, environ=self.environ, run_dir=self.run_dir,
                              interactive=None if self.opts.tty is None else self.opts.tty)
        ctx = DrillContext(self.scenario, self.journal, self.topo, self.run_dir, faults, approvals,
                           make_fault=self.parts.make_fault,
                           on_gate=lambda g: self.progress.say(f"gate {g}: waiting for approval ({approvals.instructions(g)})"))
        self.ctx = ctx
        if self.env_file is not None:
            from drills.runner import safety

            def counts() -> dict[str, int] | None:
                ledger = getattr(ctx.workload, "ledger", None) if ctx.workload_running else None
                return dict(ledger.counts) if ledger is not None else None

            self.safeguards = safety.Safeguards(self.env_file, self.topo, self.journal, faults,
                                                on_trip=self._stop_condition_tripped, write_counts=counts)
            self.safeguards.start()
        self.route_watch = self.parts.make_route_watch(self.topo, self.journal)
        self.route_watch.start()
        if self.scenario.controller.kind != "none":
            ctx.controller = self.parts.make_controller(self.scenario.controller, self.topo, self.journal,
                                                        run_dir=self.run_dir, interrupted=self.interrupted,
                                                        environ=ctx.shell_env())
            ctx.controller.start()
        if self.scenario.workload.kind != "none":
            ctx.workload = self.parts.make_workload(self.scenario.workload, self.topo, self.journal, self.run_dir)
            if not _explicit_start(self.scenario):
                ctx.workload_running = True
                ctx.workload.start()
        engine = Engine(self.journal, actions(ctx), interrupted=self.interrupted, on_step=self._on_step)
        self.outcome = engine.run(self.scenario.stages)

    def _stop_condition_tripped(self, name: str, detail: str) -> None:
        """Called from the safeguard's thread once every fault is healed: stop the drill."""
        self.stopped_by = dict(self.safeguards.tripped or {"name": name, "detail": detail})
        os.write(2, f"\ndrills: stop condition {name} tripped: {masking.mask(detail)[:200]} — faults healed, "
                    "aborting\n".encode())
        self.interrupted.set()

    def _on_step(self, what: str, rec: StepRecord | None, step: Step | None) -> None:
        if what == "stage":
            return
        if what == "start" and rec:
            if self.progress.stage != rec.stage:
                self.progress.set_stage(rec.stage)
            self.progress.step_started(rec.label)
        elif what == "end" and rec:
            self.progress.step_ended(rec.label, rec.status, rec.error)

    def _finish(self) -> None:
        """Always-run cleanup; every part guarded on its own."""
        self._log_signals()
        if self.safeguards is not None:
            self._guard("stop safeguards", self.safeguards.stop)
        ctx = self.ctx
        if ctx is not None:
            self._guard("stop workload", ctx.stop_workload)
            if ctx.controller is not None:
                self._guard("stop controller", ctx.controller.stop)
            report = self._guard("heal faults", lambda: ctx.faults.heal_all(by="runner"))
            if report is not None:
                for name in report.healed:
                    self.progress.say(f"healed {name}")
                for name, error in report.failed.items():
                    self.progress.say(f"healed {name} (FAILED: {error})")
                    self.cleanup_problems.append(f"healing {name} failed: {error}")
        if self.route_watch is not None:
            self._guard("stop route watch", self.route_watch.stop)
        if self.topo is not None and not self.interrupted.is_set() and not self.error:
            self._judge()
        self.environment = self._guard("environment fingerprint", lambda: result_mod.environment(self.topo)) or \
            result_mod.environment(None)
        self._teardown()
        if self.lock is not None:
            self._guard("release the environment lock", self.lock.release)
        self._log_signals(during="cleanup")

    def _log_signals(self, **extra: Any) -> None:
        new = self.signals.received[self._signals_logged:]
        self._signals_logged += len(new)
        for name, when in new:
            self.journal.record(SOURCE, events.SIGNAL, signal=name, received_mono_ns=when, **extra)

    def _judge(self) -> None:
        self.progress.say("collecting evidence and running checks")
        verdicts = self._guard("checks", lambda: self.parts.evaluate(self.run_dir, self.scenario, self.topo, self.journal))
        oc = self.scenario.objectives.checks
        if verdicts is None:  # no verdict means we cannot tell
            self.checks_status = "inconclusive"
            self.check_reasons = ["the checks could not run (see run.cleanup_error in the journal)"]
            return
        self.checks = result_mod.normalise_checks(verdicts)
        self.checks_status, self.check_reasons = result_mod.judge_checks(
            self.checks, result_mod.required_checks(self.scenario.objectives), oc.expected_to_fail)

    def _teardown(self) -> None:
        if self.topo is None and self.state_dir is None:
            return
        if self.reused:
            return
        if self.opts.keep_env:
            self.journal.record(SOURCE, events.RUN_TOPOLOGY, action="kept", state_dir=str(self.state_dir))
            self.progress.say(f"topology kept in {self.state_dir}; stop it with `drills env down --state-dir {self.state_dir}`")
            return
        provider = self.provider or provider_for(topology_spec(self.scenario).provider)
        report = self._guard("tear down", lambda: provider.down(self.state_dir))
        self.journal.record(SOURCE, events.RUN_TOPOLOGY, action="down", state_dir=str(self.state_dir), ok=report is not None)

    def _guard(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            text = f"{what} failed: {exc}"
            self.cleanup_problems.append(text)
            self.journal.record(SOURCE, events.RUN_CLEANUP_ERROR, step=what, error=str(exc) or type(exc).__name__,
                                traceback=traceback.format_exc(limit=5))
            self.progress.say(text)
            return None

    def _active_dc(self) -> str | None:
        return self.ctx.active_dc() if self.ctx is not None and self.topo is not None else None

    # ---- the record -----------------------------------------------------------------------------------
    def _result(self, status: str, started_at: str, duration: float, head: str) -> dict[str, Any]:
        steps = [r.as_dict() for r in (self.outcome.records if self.outcome else [])]
        measurements: dict[str, Any] = {"duration_s": duration}
        if self.ctx is not None and self.ctx.workload_stats is not None:
            measurements["workload"] = self.ctx.workload_stats
        for c in self.checks:
            measurements[c["name"]] = c.get("measured")
        reasons = []
        if self.error:
            reasons.append(self.error)
        if self.stopped_by is not None:
            reasons.append(f"aborted: stop condition {self.stopped_by['name']} tripped at {self.stopped_by.get('wall', '?')} "
                           f"({self.stopped_by.get('detail', '')}); healed {', '.join(self.stopped_by.get('healed') or []) or 'nothing active'} "
                           f"in {self.stopped_by.get('healed_s', '?')} s")
            for name, error in (self.stopped_by.get("heal_failed") or {}).items():
                reasons.append(f"healing {name} after the stop condition FAILED: {error}")
        elif self.interrupted.is_set():
            reasons.append("interrupted by " + ", ".join(n for n, _ in self.signals.received) if self.signals.received else "interrupted")
        reasons += [f"step {r['stage']}/{r['step']} failed: {r['error']}" for r in steps if r["status"] == "failed"]
        reasons += self.check_reasons
        return {
            "scenario": self.scenario.name,
            "run_id": self.run_id,
            "status": status,
            "exit_code": EXIT_STOPPED if self.stopped_by is not None and status == "aborted" else result_mod.exit_code(status),
            "started_at": started_at,
            "finished_at": now_wall(),
            "duration_s": duration,
            "scenario_file": str(self.scenario.source) if self.scenario.source else None,
            "scenario_sha256": self.scenario.sha256,
            "description": self.scenario.description,
            "params": self.scenario.masked_params(),
            "operator": self.environ.get("DRILLS_OPERATOR") or _login_name(),
            "objectives": self.scenario.objectives.model_dump(mode="json"),
            "measurements": measurements,
            "checks": self.checks,
            "steps": steps,
            "reasons": reasons,
            "cleanup_problems": self.cleanup_problems,
            "topology": {"state_dir": str(self.state_dir) if self.state_dir else None, "reused": self.reused,
                         "kept": bool(self.opts.keep_env and not self.reused),
                         **({"provider": "external", "environment": self.env_file.name} if self.env_file is not None else {})},
            **({"stopped_by": {k: v for k, v in self.stopped_by.items() if k != "at_mono_ns"}} if self.stopped_by else {}),
            "journal": JOURNAL_FILE,
            "journal_sha256": head,
            "ledger_sha256": _file_sha256(self.run_dir / LEDGER_FILE),
            "environment": self.environment or result_mod.environment(None),
        }

    def _reports(self, status: str) -> None:
        wanted = [("junit", self.opts.junit), ("html", self.opts.html), ("allure", self.opts.allure_dir),
                  ("summary", self.opts.summary), ("pdf", self.opts.pdf)]
        for kind, target in wanted:
            if target is None:
                continue
            try:
                renderer(kind)(self.run_dir, target)
                self.progress.say(f"{kind} report: {target}")
            except Exception as exc:  # a report failing does not change the drill's verdict
                self.progress.say(f"{kind} report failed: {exc}")

    def _summary_line(self, status: str, record: dict[str, Any]) -> None:
        """The closing summary (drills.runner.progress): on stdout, or with `--json` on the
        progress stream, stdout then carrying only the JSON object."""
        from drills.runner.progress import closing_summary
        from drills.terminal import use_colour

        stream = (self.opts.stream or sys.stderr) if self.opts.json_summary else sys.stdout
        stream.write(closing_summary(record, self.run_dir / result_mod.RESULT_FILE, colour=use_colour(stream)))
        stream.flush()


def _file_sha256(path: Path) -> str | None:
    """Seal of a file of the record that is not hash-chained itself (the ledger)."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _explicit_start(scenario: Scenario) -> bool:
    return any(step.kind == "workload" and step.workload == "start" for _, _, step in scenario.steps())


def topology_spec(scenario: Scenario) -> TopologySpec:
    """The scenario's topology: its own file, inline settings, or the built-in default."""
    from drills.topology.spec import load_spec

    if scenario.topology is None:
        return TopologySpec()
    if isinstance(scenario.topology, Path):
        return load_spec(scenario.topology)
    return scenario.topology


def past_runs() -> Any:
    from drills.report import past_runs as module

    return module


def renderer(kind: str) -> Callable[..., Any]:
    """The report renderer for `--junit`, `--html`, `--allure-dir`, `--summary`, `--pdf`."""
    from drills import report

    return {"junit": report.render_junit, "html": report.render_html, "allure": report.render_allure,
            "summary": report.render_summary, "pdf": report.render_pdf}[kind]
