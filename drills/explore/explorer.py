"""The search: Hypothesis draws schedules, each is run as an ordinary drill, a failure is shrunk.

The property is "no check of the property fails". A `@given` test function is built for the
space and run programmatically, so generation, the example database (a failure found once is
tried first next time) and shrinking are Hypothesis' own. Each example is written as a
scenario file into its own run directory and run by the ordinary runner on one topology,
reset to its baseline between examples (no restart), so its journal and result.json are
those of any `drills run`.

Decisions the issue left open, and why:

- *Cache by schedule.* Different draws can make the same drill (a value Hypothesis shrinks
  that the schedule does not use); a drill is seconds, so the same schedule is run once and
  its verdict reused. Flakiness is not hidden by this: the minimal example is replayed once
  more, for real, after shrinking (`replay`), and a replay that passes is reported as flaky
  with both run directories.
- *Time budget.* Before each example the clock is read. Out of time before any failure: the
  search stops (a `BaseException`, which Hypothesis does not catch as a test failure). Out of
  time while shrinking: further candidates are not run and count as passing, so Hypothesis
  finishes with the smallest failure it has, at once. Hypothesis' own five-minute cap on
  shrinking is raised to the budget (its engine documents the constant as patchable): at
  several seconds an example, five minutes is too few shrink steps.
- *Harness errors are not findings.* A run that ends in `error`/`aborted`, or in which a step
  failed (no write on dc1 in the warm-up, a fault not injected), did not test the schedule: it
  is counted, not shrunk; three in a row stop the search (the topology is probably broken).
- *A shrink step* is every example run after the first failure.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from drills import masking
from drills.durations import format_duration
from drills.explore.schedule import Schedule, render_scenario, schedule_key
from drills.explore.space import Space

EXAMPLE_FILE = "explore-example.yaml"  # the example's scenario, in its run directory (the runner copies it to scenario.yaml)
REPORT_FILE = "explore.json"
MAX_ERRORS_IN_A_ROW = 3
# a minimal schedule that does not fail again on replay sits at the edge (a hang just as long as the
# failover): the larger failures found on the way down are replayed, newest first, this many at most
MAX_FALLBACK_REPLAYS = 3

RunFn = Callable[[Path, Path], dict[str, Any]]
"""(scenario file, run directory) -> result.json of the drill."""


@dataclass
class Example:
    number: int
    phase: str  # generate | shrink | replay
    schedule: Schedule
    run_dir: Path | None
    outcome: str  # passed | failed | inconclusive | error | skipped
    status: str = ""
    failed_checks: list[dict[str, Any]] = field(default_factory=list)
    judged: int = 0  # checks with a verdict (passed or failed)
    unknown_checks: list[str] = field(default_factory=list)  # checks of the property that could not decide
    seconds: float = 0.0
    reset_s: float | None = None
    same_as: int | None = None  # a repeat of this example's schedule: its verdict, not run again
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "phase": self.phase, "steps": len(self.schedule),
                "schedule": self.schedule.describe(), "run_dir": str(self.run_dir) if self.run_dir else None,
                "outcome": self.outcome, "status": self.status, "failed_checks": self.failed_checks,
                "judged": self.judged, "unknown_checks": self.unknown_checks, "seconds": round(self.seconds, 3),
                "reset_s": None if self.reset_s is None else round(self.reset_s, 3), "same_as": self.same_as,
                "error": self.error}


class PropertyFailed(AssertionError):
    """Raised in the test function: a check of the property failed on this schedule."""

    def __init__(self, example: Example):
        names = ", ".join(c["name"] for c in example.failed_checks)
        super().__init__(f"{names} failed on: {example.schedule.describe()}")
        self.example = example


class StopSearch(BaseException):  # noqa: N818 - not an error: the search ends here
    """Out of time, or the harness keeps failing: leave Hypothesis at once."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Outcome:
    space: str
    session_dir: Path
    examples: list[Example]
    minimal: Example | None = None
    replay: Example | None = None
    scenario_file: Path | None = None
    replay_verdict: str = ""  # reproduced | flaky | unconfirmed (see `confirm`)
    # the smaller schedule that failed once but not on its replay, when a larger one reproduced
    flaky_minimal: Example | None = None
    flaky_replay: Example | None = None
    stopped: str = ""
    seconds: float = 0.0
    seed: int | None = None
    skipped: int = 0  # shrink candidates not run once the time budget was used up

    @property
    def ran(self) -> list[Example]:
        return [e for e in self.examples if e.run_dir is not None and e.same_as is None]

    @property
    def flaky(self) -> bool:
        return self.replay_verdict == "flaky"

    @property
    def not_judged(self) -> list[Example]:
        """Examples run (not the replay) that did not test the property: errors and inconclusive ones."""
        return [e for e in self.ran if e.phase != "replay" and e.outcome in ("error", "inconclusive")]

    @property
    def verdict(self) -> str:
        """failure | flaky | unconfirmed (a check failed) | interrupted | inconclusive (nothing
        failed, but some example did not test the property, or none ran) | passed."""
        if self.minimal is not None:
            return {"reproduced": "failure"}.get(self.replay_verdict, self.replay_verdict or "failure")
        if self.stopped.startswith("interrupted"):
            return "interrupted"
        return "inconclusive" if self.not_judged or not self.ran else "passed"

    def as_dict(self) -> dict[str, Any]:
        ran = self.ran
        resets = [e.reset_s for e in ran if e.reset_s is not None]
        return {
            "space": self.space, "session_dir": str(self.session_dir), "seed": self.seed,
            "seconds": round(self.seconds, 3), "stopped": self.stopped,
            "examples_run": len(ran), "examples_drawn": len(self.examples),
            "failures": sum(e.outcome == "failed" for e in self.examples if e.same_as is None),
            "errors": sum(e.outcome == "error" for e in ran),
            "inconclusive": sum(e.outcome == "inconclusive" for e in ran),
            "verdict": self.verdict,
            "shrink_steps": sum(e.phase == "shrink" for e in ran),
            "not_run_out_of_time": self.skipped,
            "examples_per_minute": round(60 * len(ran) / self.seconds, 2) if self.seconds else None,
            "mean_example_s": round(sum(e.seconds for e in ran) / len(ran), 3) if ran else None,
            "mean_reset_s": round(sum(resets) / len(resets), 3) if resets else None,
            "finding": self.verdict if self.minimal else None,
            "minimal": self.minimal.as_dict() if self.minimal else None,
            "replay": self.replay.as_dict() if self.replay else None,
            "flaky_smaller": ({"example": self.flaky_minimal.as_dict(), "replay": self.flaky_replay.as_dict()}
                              if self.flaky_minimal and self.flaky_replay else None),
            "scenario_file": str(self.scenario_file) if self.scenario_file else None,
            "examples": [e.as_dict() for e in self.examples],
        }


class Explorer:
    def __init__(self, space: Space, session_dir: Path, db_dir: Path, run: RunFn, *, max_examples: int = 20,
                 time_budget: float = 600.0, seed: int | None = None, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.space = space
        self.session_dir = session_dir
        self.db_dir = db_dir
        self.run_fn = run
        self.max_examples = max_examples
        self.time_budget = time_budget
        self.seed = seed
        self.stream = stream
        self.clock = clock
        self.examples: list[Example] = []
        self.by_schedule: dict[str, Example] = {}
        self.first_failure: Example | None = None
        self.errors_in_a_row = 0
        self.stopping = False  # a StopSearch is on its way out: Hypothesis must not save that example
        self.skipped = 0  # shrink candidates not run: out of time
        self.t0 = 0.0

    # ---- the search --------------------------------------------------------------------------
    def explore(self) -> Outcome:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as seed_decorator
        from hypothesis.database import DirectoryBasedExampleDatabase
        from hypothesis.internal.conjecture import engine

        from drills.explore.strategies import schedules

        self.t0 = self.clock()
        (self.session_dir / "examples").mkdir(parents=True, exist_ok=True)

        @given(schedules(self.space))
        def drill_property(schedule: Schedule) -> None:
            self.example(schedule)

        test: Any = drill_property
        if self.seed is not None:
            test = seed_decorator(self.seed)(test)
        database = _guarded_database(DirectoryBasedExampleDatabase(str(self.db_dir)), lambda: self.stopping)
        test = settings(
            database=database, max_examples=self.max_examples, deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False, verbosity=Verbosity.quiet, print_blob=False,
        )(test)
        # the key is the space's name, not the digest of this function's source: a failure found once
        # is tried first next time in this space (whatever drills version), never in another space
        # sharing the `--out` directory
        test._hypothesis_internal_database_key = f"drills-explore:{self.space.name}".encode()
        outcome = Outcome(self.space.name, self.session_dir, self.examples, seed=self.seed)
        minimal: Example | None = None
        saved_cap = engine.MAX_SHRINKING_SECONDS
        engine.MAX_SHRINKING_SECONDS = max(saved_cap, int(self.time_budget) + 60)
        try:
            test()
        except PropertyFailed as exc:
            minimal = exc.example
        except StopSearch as exc:
            outcome.stopped = exc.reason
        except KeyboardInterrupt:  # Ctrl-C: what ran so far is evidence too; the caller tears down
            outcome.stopped = "interrupted (Ctrl-C)"
            self.write_report(outcome)
            raise
        except BaseExceptionGroup as group:  # report_multiple_bugs=False makes this unlikely; take the first
            found = [e for e in _leaves(group) if isinstance(e, PropertyFailed)]
            if not found:
                raise
            minimal = found[0].example
        finally:
            engine.MAX_SHRINKING_SECONDS = saved_cap
        if minimal is None and self.first_failure is not None:  # stopped while shrinking (harness errors)
            minimal = min((e for e in self.examples if e.outcome == "failed" and e.same_as is None),
                          key=lambda e: (len(e.schedule), e.number))
        if minimal is not None:
            if minimal.same_as is not None:
                minimal = self.examples[minimal.same_as - 1]
            replay = self.replay(minimal)
            verdict = confirm(minimal, replay)
            if verdict == "flaky":
                for larger in self.larger_failures(minimal)[:MAX_FALLBACK_REPLAYS]:
                    again = self.replay(larger)
                    if confirm(larger, again) == "reproduced":  # the smallest failure that does come back
                        outcome.flaky_minimal, outcome.flaky_replay = minimal, replay
                        minimal, replay, verdict = larger, again, "reproduced"
                        break
            outcome.minimal, outcome.replay, outcome.replay_verdict = minimal, replay, verdict
            outcome.scenario_file = self.write_minimal(minimal, replay, verdict, outcome)
        self.write_report(outcome)
        return outcome

    def write_report(self, outcome: Outcome) -> None:
        outcome.seconds = self.clock() - self.t0
        outcome.skipped = self.skipped
        (self.session_dir / REPORT_FILE).write_text(masking.mask(json.dumps(outcome.as_dict(), indent=2)) + "\n")

    def example(self, schedule: Schedule, phase: str | None = None) -> Example:
        """One example: run it (or reuse the verdict of the same schedule), then raise
        PropertyFailed when a check of the property failed."""
        phase = phase or ("shrink" if self.first_failure is not None else "generate")
        number = len(self.examples) + 1
        key = schedule_key(schedule)
        seen = self.by_schedule.get(key)
        if seen is not None and phase != "replay":
            ex = Example(number, phase, schedule, seen.run_dir, seen.outcome, seen.status, seen.failed_checks,
                         seen.judged, unknown_checks=seen.unknown_checks, same_as=seen.number, error=seen.error)
            self.examples.append(ex)
        else:
            if self.left() <= 0 and phase != "replay":  # the replay of a finding runs whatever the clock says
                if self.first_failure is None:
                    self.stopping = True
                    raise StopSearch(f"time budget of {format_duration(self.time_budget)} used up")
                self.skipped += 1  # not listed: Hypothesis may ask for many more before it gives up
                return Example(number, phase, schedule, None, "skipped", error="time budget used up")
            ex = self.run(number, phase, schedule)
            self.examples.append(ex)
            if phase != "replay":
                self.by_schedule[key] = ex
            self.say(ex)
        if ex.outcome == "error" and ex.same_as is None:
            self.errors_in_a_row += 1
            if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW and phase != "replay":
                self.stopping = True
                raise StopSearch(f"{MAX_ERRORS_IN_A_ROW} examples in a row ended in a harness error "
                                 f"(last: {ex.error}); is the topology healthy?")
        elif ex.same_as is None:
            self.errors_in_a_row = 0
        if ex.outcome == "failed" and phase != "replay":
            if self.first_failure is None:
                self.first_failure = ex
            raise PropertyFailed(ex)
        return ex

    def run(self, number: int, phase: str, schedule: Schedule) -> Example:
        run_dir = self.session_dir / "examples" / f"{number:04d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / EXAMPLE_FILE
        comment = f"example {number} ({phase}) of drills explore, space {self.space.name} ({self.space.source})"
        path.write_text(render_scenario(self.space, schedule, name=f"explore-{self.space.name}-{number:04d}",
                                        comment=comment))
        t = self.clock()
        try:
            result = self.run_fn(path, run_dir)
        except Exception as exc:  # noqa: BLE001 - a refused run (UserError) or a bug: counted, the search goes on
            return Example(number, phase, schedule, run_dir, "error", "error", seconds=self.clock() - t,
                           error=masking.mask(str(exc) or type(exc).__name__))
        return judge_example(self.space, Example(number, phase, schedule, run_dir, "", seconds=self.clock() - t),
                             result)

    def replay(self, minimal: Example) -> Example:
        """The minimal failing schedule once more, for real: does it fail again?"""
        return self.example(minimal.schedule, phase="replay")

    def larger_failures(self, minimal: Example) -> list[Example]:
        """The other schedules that failed the minimal's checks, newest first: Hypothesis shrinks
        downwards, so the one found just before the minimal is the next smallest."""
        out, seen = [], {schedule_key(minimal.schedule)}
        same = {c["name"] for c in minimal.failed_checks}
        for e in reversed(self.examples):
            key = schedule_key(e.schedule)
            if (e.outcome == "failed" and e.same_as is None and e.phase != "replay" and key not in seen
                    and same <= {c["name"] for c in e.failed_checks}):
                seen.add(key)
                out.append(e)
        return out

    # ---- the written finding -------------------------------------------------------------------
    def write_minimal(self, minimal: Example, replay: Example, replay_verdict: str,
                      outcome: Outcome | None = None) -> Path:
        """The minimal failing schedule as a plain scenario, beside its run directory."""
        assert minimal.run_dir is not None
        path = minimal.run_dir.parent / f"{minimal.run_dir.name}-minimal.yaml"
        failed = "; ".join(f"{c['name']}: {c['summary']}" for c in minimal.failed_checks)
        ran = [e for e in self.examples if e.run_dir is not None and e.same_as is None and e.phase != "replay"]
        shrinks = sum(e.phase == "shrink" for e in ran)
        lines = [
            f"Minimal failing schedule found by `drills explore` in space {self.space.name} ({self.space.source}).",
            f"What failed: {_one_line(failed, 600)}",
            f"How it was found: {len(ran)} examples run, the first failure at example "
            f"{self.first_failure.number if self.first_failure else minimal.number}, then {shrinks} shrink steps; "
            f"this is example {minimal.number}; seed {self.seed if self.seed is not None else 'random'}; "
            f"Hypothesis example database {self.db_dir}.",
            f"Run directory of the minimal example: {minimal.run_dir}",
            _replay_line(minimal, replay, replay_verdict),
            *([_flaky_smaller_line(outcome.flaky_minimal, outcome.flaky_replay)]
              if outcome is not None and outcome.flaky_minimal and outcome.flaky_replay else []),
            f"Schedule ({_steps(len(minimal.schedule))}): {minimal.schedule.describe()}",
            f"Replay with: drills run {path}",
        ]
        text = render_scenario(self.space, minimal.schedule, name=f"explore-{self.space.name}-minimal",
                               description=f"minimal failing schedule of explore space {self.space.name}: "
                                           f"{minimal.schedule.describe()}",
                               comment="\n".join(masking.mask(line) for line in lines))
        path.write_text(text)
        return path

    # ---- progress ---------------------------------------------------------------------------------
    def left(self) -> float:
        return self.time_budget - (self.clock() - self.t0)

    def say(self, ex: Example) -> None:
        if self.stream is None:
            return
        ran = [e for e in self.examples if e.run_dir is not None and e.same_as is None]
        failures = sum(e.outcome == "failed" for e in ran)
        shrinks = sum(e.phase == "shrink" for e in ran)
        left = max(0.0, self.left())
        verdict = ex.outcome.upper()
        if ex.failed_checks:
            verdict += " " + ", ".join(c["name"] for c in ex.failed_checks)
        if ex.unknown_checks:
            verdict += " (could not decide: " + ", ".join(ex.unknown_checks) + ")"
        if ex.error:
            verdict += f" ({_one_line(ex.error, 120)})"
        self.stream.write(masking.mask(
            f"[{len(ran)} run, {failures} failing, {shrinks} shrink steps, {_clock(left)} left] "
            f"#{ex.number} {ex.phase}: {_steps(len(ex.schedule))}: {ex.schedule.describe()} -> {verdict} "
            f"({ex.seconds:.1f}s)\n"))
        self.stream.flush()


def judge_example(space: Space, ex: Example, result: dict[str, Any]) -> Example:
    """An example's outcome from its result.json, strongest first:

    - error: the drill did not run as drawn — the run ended in error/aborted, or a step failed
      (the warm-up got no write on dc1, a fault could not be injected or healed; a refused
      switch is `skipped`, not failed). A check that failed in such a run is not a finding about
      the schedule (a fault never healed fails checks too): it is named in the error, not shrunk;
    - failed: a check of the property failed;
    - inconclusive: a check the property names explicitly came back `unknown` (or was not
      evaluated). `unknown` is never a pass: the example did not test what the property asks,
      so it is counted apart, and a search with such examples is not reported as clean. With
      the default property (every check the run can judge) an unknown check is outside it;
    - passed."""
    ex.status = str(result.get("status", "error"))
    checks = result.get("checks") or []
    wanted = space.property_checks()
    ex.judged = sum(c.get("status") in ("passed", "failed") for c in checks)
    failed = [{"name": c["name"], "summary": _one_line(str(c.get("summary") or ""), 400)}
              for c in checks if c.get("status") == "failed" and (wanted is None or c["name"] in wanted)]
    steps_failed = [s for s in result.get("steps") or [] if s.get("status") == "failed"]
    if ex.status in ("error", "aborted") or steps_failed or not checks:
        ex.outcome = "error"
        reasons = [str(r) for r in result.get("reasons") or []]
        if steps_failed and not reasons:
            reasons = [f"step {s.get('stage')}/{s.get('step')} failed: {s.get('error') or ''}" for s in steps_failed]
        why = "; ".join(reasons[:2]) or f"run {ex.status}"
        if failed:
            why += f" (checks failed too, not counted: {', '.join(c['name'] for c in failed)})"
        ex.error = _one_line(why, 300)
    elif failed:
        ex.outcome = "failed"
        ex.failed_checks = failed
    else:
        by_name = {c["name"]: c for c in checks}
        ex.unknown_checks = [name for name in wanted or []
                             if (by_name.get(name) or {}).get("status") not in ("passed", "failed")]
        ex.outcome = "inconclusive" if ex.unknown_checks else "passed"
    ex.reset_s = reset_seconds(ex.run_dir) if ex.run_dir else None
    return ex


def confirm(minimal: Example, replay: Example) -> str:
    """Did the replay of the minimal schedule fail the same way? `reproduced`: every check that
    failed fails again; `flaky`: the replay ran and judged, and those checks did not all fail
    (passed, or another check failed instead); `unconfirmed`: the replay itself could not judge
    (a harness error, an unknown check) — no evidence either way, and not called flaky."""
    again = {c["name"] for c in replay.failed_checks}
    if replay.outcome == "failed" and {c["name"] for c in minimal.failed_checks} <= again:
        return "reproduced"
    if replay.outcome in ("passed", "failed"):
        return "flaky"
    return "unconfirmed"


def _flaky_smaller_line(smaller: Example, replay: Example) -> str:
    return (f"FLAKY, smaller: {smaller.schedule.describe()} (example {smaller.number}) failed once but not on "
            f"replay ({replay.outcome}; {smaller.run_dir}, {replay.run_dir}): this schedule is the smallest "
            f"that failed again")


def _replay_line(minimal: Example, replay: Example, replay_verdict: str) -> str:
    if replay_verdict == "reproduced":
        return f"Replayed once more after shrinking: failed again ({replay.run_dir})"
    if replay_verdict == "flaky":
        also = (f", failed instead: {', '.join(c['name'] for c in replay.failed_checks)}"
                if replay.failed_checks else "")
        return f"FLAKY: the replay did not fail the same way ({replay.outcome}{also}; {replay.run_dir})"
    why = replay.error or ", ".join(replay.unknown_checks) or replay.outcome
    return f"UNCONFIRMED: the replay could not judge ({replay.outcome}: {_one_line(why, 200)}; {replay.run_dir})"


def _guarded_database(inner: Any, stopping: Callable[[], bool]) -> Any:
    """Hypothesis' directory database, except that nothing is saved while a `StopSearch` leaves
    the test: Hypothesis saves the choices of any example that raised, and the example that
    stops the search (out of time: never run; the third harness error) is no failure — saved,
    it would be the first thing tried next time, before the real failures."""
    from hypothesis.database import ExampleDatabase

    class Guarded(ExampleDatabase):
        def save(self, key: bytes, value: bytes) -> None:
            if not stopping():
                inner.save(key, value)

        def fetch(self, key: bytes) -> Any:
            return inner.fetch(key)

        def delete(self, key: bytes, value: bytes) -> None:
            inner.delete(key, value)

        def move(self, src: bytes, dest: bytes, value: bytes) -> None:
            if not stopping():
                inner.move(src, dest, value)

    return Guarded()


def reset_seconds(run_dir: Path) -> float | None:
    """How long the reset to the baseline took inside a run: from the journal's `run.topology`
    reuse line to its ready line (the same clock the journal keeps for everything)."""
    from drills import events
    from drills.journal import read_tolerant
    from drills.record import JOURNAL_FILE

    path = run_dir / JOURNAL_FILE
    if not path.exists():
        return None
    start = ready = None
    for event in read_tolerant(path, []):
        if event.get("kind") != events.RUN_TOPOLOGY:
            continue
        action = (event.get("payload") or {}).get("action")
        if action == "reuse":
            start = event.get("mono_ns")
        elif action == "ready" and start is not None:
            ready = event.get("mono_ns")
            break
    return None if start is None or ready is None else (ready - start) / 1e9


def drill_runner(state_dir: Path, environ: dict[str, str] | None = None) -> RunFn:
    """Each example as `drills run FILE --state-dir DIR --reset --approve all --out RUN_DIR`, with
    the runner's progress kept in the run directory and its summary line off the terminal (the
    explore progress line says it), and no entry in the run history (hundreds of drawn drills
    would bury the drills people run)."""
    from drills.runner.session import RunOptions, run

    def run_one(scenario: Path, run_dir: Path) -> dict[str, Any]:
        with open(run_dir / "progress.log", "w", encoding="utf-8") as log, contextlib.redirect_stdout(io.StringIO()):
            opts = RunOptions(scenario=str(scenario), out=run_dir, state_dir=state_dir, reset=True, approve=["all"],
                              record_history=False, stream=log, tty=False, environ=environ)
            result = run(opts).result
        if result.get("status") == "aborted" and not result.get("stopped_by"):
            raise KeyboardInterrupt  # Ctrl-C reached the drill (its handler stopped it): stop exploring too
        return result

    return run_one


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _steps(n: int) -> str:
    return f"{n} step" + ("" if n == 1 else "s")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"


__all__ = ["Example", "Explorer", "Outcome", "PropertyFailed", "drill_runner", "judge_example"]
