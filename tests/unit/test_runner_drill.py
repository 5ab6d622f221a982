"""The drill's always-run cleanup, verdict rules, gates and exit codes — with tiny in-test
parts (a fault that only records calls, a provider that starts nothing), because what is
under test is the runner's control flow, not the parts."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.journal import Journal, read, verify
from drills.runner import result as result_mod
from drills.runner.gates import Approvals
from drills.runner.session import Drill, DrillParts, RunOptions
from drills.runner.stages import StepError
from drills.scenario import Scenario, load_scenario_text


class RecordingFault:
    """Keeps the Fault contract (active once injected, journals its own inject and heal,
    idempotent heal) and only records the calls."""

    def __init__(self, spec: dict, log: list[str], journal: Journal):
        self.spec, self.log, self.journal = spec, log, journal
        self.type, self.target = spec["type"], spec.get("target")
        self.name = spec.get("name") or f"{self.type}@{self.target}"
        self.active = False

    def inject(self) -> None:
        self.log.append(f"inject {self.type}")
        self.active = True
        self.journal.record("fault", "fault.inject", name=self.name, type=self.type, target=self.target)

    def heal(self, by: str = "step") -> bool:
        if not self.active:
            return False
        self.log.append(f"heal {self.type}")
        self.active = False
        self.journal.record("fault", "fault.heal", name=self.name, type=self.type, target=self.target, by=by, ok=True)
        return True


class NothingRuns:
    """A topology handle of nothing: no secrets, no process control."""

    process_control = None
    routing_key = "/drills/x/y/router"
    filter_list_file = None

    def secrets(self) -> list[str]:
        return []

    def endpoint_env(self) -> dict[str, str]:
        return {}


class NoRouteWatch:
    """There is no etcd behind NothingRuns: the route watch has nothing to watch."""

    def __init__(self, topo: Any, journal: Any):
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class NoTopology:
    """Provider that starts nothing; records what the drill asked of it."""

    name = "none"
    capabilities = frozenset()

    def __init__(self, fail_up: bool = False):
        self.calls: list[str] = []
        self.fail_up = fail_up

    def state_root(self) -> Path:
        return Path("/nonexistent-drills-test")

    def up(self, spec: Any, state_dir: Path, say: Any) -> Any:
        self.calls.append("up")
        if self.fail_up:
            raise RuntimeError("could not start mariadbd")
        return NothingRuns()

    def attach(self, state_dir: Path) -> Any:
        self.calls.append("attach")
        return NothingRuns()

    def reset(self, topo: Any, spec: Any = None) -> None:
        self.calls.append("reset")

    def down(self, state_dir: Path | None, *, keep: bool = False) -> dict:
        self.calls.append("down")
        return {}


def drill(tmp_path: Path, text: str | Scenario, *, provider: NoTopology | None = None, log: list[str] | None = None,
          evaluate: Any = None, approve: list[str] | None = None) -> tuple[Drill, NoTopology, list[str]]:
    scenario = text if isinstance(text, Scenario) else load_scenario_text(text, "s.yaml", environ={})
    log = [] if log is None else log
    provider = provider or NoTopology()
    # No checks unless a test gives them: a real judge on a topology of nothing would rightly
    # find every check unknown, and these tests are about the runner's control flow.
    parts = DrillParts(make_fault=lambda spec, topo, journal: RecordingFault(spec, log, journal),
                       evaluate=evaluate or (lambda *_args: []), make_route_watch=NoRouteWatch)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    d = Drill(scenario, run_dir, Journal(run_dir / "journal.jsonl"), "rid", RunOptions(scenario="s", approve=approve or [], tty=False),
              parts, environ={}, topology_provider=provider)
    return d, provider, log


FAULT_THEN_FAIL = """\
name: x
stages:
  - name: a
    steps:
      - fault: {type: latency, target: "app:dc1"}
      - shell: "exit 4"
      - wait: 1s
"""


def test_failed_step_still_heals_the_fault_and_tears_down(tmp_path: Path) -> None:
    d, provider, log = drill(tmp_path, FAULT_THEN_FAIL)
    out = d.execute()
    assert out.status == "failed" and out.exit_code == 1
    assert log == ["inject latency", "heal latency"]
    assert provider.calls == ["up", "down"]
    journal = read(out.run_dir / "journal.jsonl")
    heal = [e for e in journal if e["kind"] == "fault.heal"]
    assert len(heal) == 1 and heal[0]["payload"]["by"] == "runner" and heal[0]["payload"]["ok"] is True
    assert journal[-1]["kind"] == "run.end"
    assert verify(out.run_dir / "journal.jsonl", out.result["journal_sha256"]).ok
    saved = json.loads(out.result_path.read_text())
    assert saved["status"] == "failed" and saved["journal"] == "journal.jsonl"
    assert any("exited with 4" in r for r in saved["reasons"])


def test_interrupt_mid_step_heals_and_reports_aborted(tmp_path: Path) -> None:
    text = "name: x\nstages:\n  - name: a\n    steps:\n      - fault: {type: down, target: etcd}\n      - wait: 30s\n"
    d, provider, log = drill(tmp_path, text)
    d.signals.received.append(("SIGINT", time.monotonic_ns()))
    threading.Timer(0.3, d.interrupted.set).start()
    t0 = time.monotonic()
    out = d.execute()
    assert time.monotonic() - t0 < 5
    assert out.status == "aborted" and out.exit_code == 130
    assert log == ["inject down", "heal down"] and provider.calls == ["up", "down"]
    kinds = [e["kind"] for e in read(out.run_dir / "journal.jsonl")]
    assert "run.signal" in kinds and kinds.index("run.signal") < kinds.index("fault.heal")


def test_explicit_heal_step_is_journaled_by_step_and_not_healed_twice(tmp_path: Path) -> None:
    text = "name: x\nstages:\n  - name: a\n    steps:\n      - fault: {type: crash, target: dc1, name: c}\n      - heal: c\n"
    d, _, log = drill(tmp_path, text)
    out = d.execute()
    assert out.status == "passed" and log == ["inject crash", "heal crash"]
    heals = [e["payload"] for e in read(out.run_dir / "journal.jsonl") if e["kind"] == "fault.heal"]
    assert [h["by"] for h in heals] == ["step"]


def test_heal_of_an_unknown_fault_fails_the_step(tmp_path: Path) -> None:
    # the loader refuses such a file (drills.scenario.semantics); the runner's own defence is
    # exercised with a scenario built in code
    scenario = Scenario.model_validate({"name": "x", "stages": [{"name": "a", "steps": [{"heal": "nothing"}]}]})
    d, _, _ = drill(tmp_path, scenario)
    out = d.execute()
    assert out.status == "failed" and "no fault named or targeting 'nothing'" in out.result["reasons"][0]


def test_topology_failure_is_an_error_before_a_verdict(tmp_path: Path) -> None:
    d, provider, _ = drill(tmp_path, "name: x\nstages: [{name: a, steps: [{wait: 0}]}]\n", provider=NoTopology(fail_up=True))
    out = d.execute()
    assert out.status == "error" and out.exit_code == 2
    assert "could not start mariadbd" in out.result["reasons"][0]


def test_expected_failure_passes_the_run_and_an_unexpected_pass_fails_it(tmp_path: Path) -> None:
    text = "name: x\nobjectives: {checks: {expected_to_fail: [sequence_continuity], required: [rpo]}}\nstages: [{name: a, steps: [{wait: 0}]}]\n"

    def evaluate(status: str):
        return lambda run_dir, scenario, topo, journal: [
            {"name": "sequence_continuity", "status": status, "measured": {"duplicates": 3}, "objective": 0, "evidence": {},
             "expected_failure": True},
            {"name": "rpo", "status": "passed", "measured": 0, "objective": 0, "evidence": {}},
        ]

    (tmp_path / "1").mkdir()
    out = drill(tmp_path / "1", text, evaluate=evaluate("failed"))[0].execute()
    assert out.status == "passed" and out.exit_code == 0
    assert out.result["checks"][0]["expected_failure"] is True
    assert out.result["measurements"]["sequence_continuity"] == {"duplicates": 3}
    (tmp_path / "2").mkdir()
    out = drill(tmp_path / "2", text, evaluate=evaluate("passed"))[0].execute()
    assert out.status == "failed" and "passed but the scenario expects it to fail" in " ".join(out.result["reasons"])


def test_secret_params_never_reach_journal_or_result(tmp_path: Path) -> None:
    text = "name: x\nparams: {pw: {secret: true, env: PW}}\nstages: [{name: a, steps: [{shell: 'echo ${pw}'}]}]\n"
    scenario = load_scenario_text(text, "s.yaml", environ={"PW": "s3cr3t-value"}, require_secrets=True)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    d = Drill(scenario, run_dir, Journal(run_dir / "journal.jsonl", secrets=scenario.secret_values), "rid",
              RunOptions(scenario="s", tty=False), DrillParts(evaluate=lambda *_a: [], make_route_watch=NoRouteWatch), environ={},
              topology_provider=NoTopology())
    out = d.execute()
    assert out.status == "passed"
    for f in ("journal.jsonl", "result.json"):
        text_out = (run_dir / f).read_text()
        assert "s3cr3t-value" not in text_out and "***" in text_out


# ---- verdict rules ---------------------------------------------------------------------------------

NAMES = ["rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain"]
CHECKS = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["passed", "failed", "unknown"])), unique_by=lambda t: t[0])


@given(CHECKS, st.sets(st.sampled_from(NAMES)), st.sets(st.sampled_from(NAMES)), st.sets(st.sampled_from(NAMES)))
def test_judge_checks_rules(pairs: list[tuple[str, str]], required: set[str], expected: set[str], waived: set[str]) -> None:
    """Issue 10's unknown policy: any unknown the scenario did not waive is inconclusive, not
    only a required one; a waived unknown is not."""
    required -= expected
    waived -= required | expected
    checks = [{"name": n, "status": s, **({"waived": "by design"} if n in waived and s == "unknown" else {})}
              for n, s in pairs]
    status, reasons = result_mod.judge_checks(checks, required, expected)
    by = dict(pairs)
    unexpected = any(s == "failed" and n not in expected for n, s in pairs) or any(by.get(n) == "passed" for n in expected)
    undecided = any(by.get(n, "unknown") == "unknown" for n in required | expected) or \
        any(s == "unknown" and n not in waived for n, s in pairs)
    assert status == ("failed" if unexpected else "inconclusive" if undecided else "passed")
    assert (status == "passed") == (reasons == [])
    # a passing, unremarkable extra check never changes the verdict
    extra = [n for n in NAMES if n not in by and n not in required | expected]
    if extra:
        assert result_mod.judge_checks([*checks, {"name": extra[0], "status": "passed"}], required, expected)[0] == status


@given(st.booleans(), st.one_of(st.none(), st.just("boom")), st.booleans(), st.sampled_from(["passed", "failed", "inconclusive"]))
def test_status_precedence_and_exit_codes(interrupted: bool, error: str | None, steps_failed: bool, checks: str) -> None:
    status = result_mod.decide(interrupted=interrupted, error=error, steps_failed=steps_failed, checks_status=checks)
    if interrupted:
        assert status == "aborted" and result_mod.exit_code(status) == 130
    elif error:
        assert status == "error" and result_mod.exit_code(status) == 2
    elif steps_failed or checks == "failed":
        assert result_mod.exit_code(status) == 1
    else:
        assert result_mod.exit_code(status) == {"passed": 0, "inconclusive": 3}[checks]


# ---- gates ----------------------------------------------------------------------------------------------


def test_gate_approvals_by_flag_env_and_file(tmp_path: Path) -> None:
    cancel = threading.Event()
    assert Approvals(["go"], environ={}, interactive=False).wait("go", 1, cancel) == "flag"
    assert Approvals([], environ={"DRILLS_APPROVE": "a, go"}, interactive=False).wait("go", 1, cancel) == "env"
    assert Approvals([], environ={"DRILLS_APPROVE_ALL": "1"}, interactive=False).wait("x", 1, cancel) == "env"
    assert Approvals([], environ={"DRILLS_APPROVE": "all"}, interactive=False).wait("failback", 1, cancel) == "env"
    approvals = Approvals([], environ={"DRILLS_GATE_WAIT": "1"}, run_dir=tmp_path, interactive=False)
    (tmp_path / "approvals").mkdir()
    threading.Timer(0.3, (tmp_path / "approvals" / "go").touch).start()
    assert approvals.wait("go", 5, cancel) == "file"


def test_unapproved_gate_times_out_with_instructions(tmp_path: Path) -> None:
    approvals = Approvals([], environ={"DRILLS_APPROVE": "other", "DRILLS_GATE_WAIT": "1"}, run_dir=tmp_path,
                          interactive=False)
    with pytest.raises(StepError, match=r"gate go was not approved within 0.3s \(--approve go"):
        approvals.wait("go", 0.3, threading.Event())


def test_a_gate_nobody_can_answer_fails_at_once_saying_how_to_approve(tmp_path: Path) -> None:
    """No terminal, no approval in advance: a CI job must not sit silently until the timeout."""
    approvals = Approvals([], environ={"DRILLS_APPROVE": "other"}, run_dir=tmp_path, interactive=False)
    t0 = time.monotonic()
    with pytest.raises(StepError) as err:
        approvals.wait("failback", 600, threading.Event())
    assert time.monotonic() - t0 < 1.0
    text = str(err.value)
    for way in ("--approve failback", "--drills-approve failback", "DRILLS_APPROVE=failback", "DRILLS_GATE_WAIT=1",
                f"touch {tmp_path / 'approvals' / 'failback'}"):
        assert way in text, way


def test_gate_step_fails_the_run_on_timeout_and_passes_when_approved(tmp_path: Path) -> None:
    text = "name: x\nstages: [{name: a, steps: [{gate: {name: go, timeout: 300ms}}]}]\n"
    (tmp_path / "1").mkdir()
    out = drill(tmp_path / "1", text)[0].execute()
    assert out.status == "failed"
    (tmp_path / "2").mkdir()
    out = drill(tmp_path / "2", text, approve=["go"])[0].execute()
    assert out.status == "passed"
    approved = [e["payload"] for e in read(out.run_dir / "journal.jsonl") if e["kind"] == "gate.approved"]
    assert approved == [{"gate": "go", "by": "flag"}]


def test_an_objective_nobody_could_measure_makes_the_run_inconclusive(tmp_path: Path) -> None:
    text = "name: x\nobjectives: {rto: 5s}\nstages: [{name: a, steps: [{wait: 0}]}]\n"
    out = drill(tmp_path, text, evaluate=lambda *a: [{"name": "rto", "status": "unknown", "measured": None}])[0].execute()
    assert out.status == "inconclusive" and out.exit_code == 3
    assert out.result["reasons"] == ["check rto could not decide (required) — waive it in objectives.checks.not_judged "
                                     "with a reason if this drill cannot judge it"]


def test_progress_line_on_a_terminal_and_plain_lines_elsewhere() -> None:
    import io

    from drills.runner.progress import Progress

    plain = io.StringIO()
    p = Progress(plain, tty=False)
    p.set_stage("fault")
    p.step_started("inject")
    p.step_ended("inject", "ok")
    assert [ln.split("] ", 1)[1] for ln in plain.getvalue().splitlines()] == ["stage fault", "  step inject ...", "  step inject: ok"]
    tty = io.StringIO()
    p = Progress(tty, tty=True, active_dc=lambda: "dc2", refresh_s=0.05)
    p.start()
    p.set_stage("fault")
    p.step_started("port change")
    p.set_faults(["dc1-port"])
    time.sleep(0.3)
    p.close()
    assert "stage fault | step port change | faults dc1-port | active dc2" in tty.getvalue()
    assert "\r" in tty.getvalue()


def test_a_baseline_gate_that_cannot_read_its_history_cannot_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--baseline against a history server that does not answer: the gate could not compare,
    so the run is inconclusive — never "passed" on a comparison nobody made."""
    monkeypatch.setenv("DRILLS_HISTORY_URL", "mysql+pymysql://drills:Hq7rW2zK9mV4@127.0.0.1:1/history")
    text = "name: x\nstages: [{name: a, steps: [{wait: 0}]}]\n"
    d = drill(tmp_path, text, evaluate=lambda *a: [{"name": "rto", "status": "passed", "measured": 1.0}])[0]
    d.opts.baseline = 0.2
    d.opts.record_history = False
    out = d.execute()
    assert out.status == "inconclusive" and out.exit_code == 3
    assert any(r.startswith("baseline: the run history could not be read") for r in out.result["reasons"])
    assert "Hq7rW2zK9mV4" not in json.dumps(out.result)
