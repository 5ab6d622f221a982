"""`drills explore SPACE.yaml`: search fault schedules, shrink a failure to a minimal scenario.

Exit codes: 0 nothing failed and every example run judged the property, 1 a check of the
property failed (reproduced, flaky — a failure that did not come back on replay is a finding
too — or unconfirmed: the replay could not judge), 2 invalid input or a search stopped by
harness errors, 3 inconclusive: nothing failed, but some example ended in a harness error or
could not decide a check the property names (not tested is not passed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path
from typing import TextIO

from drills.durations import format_duration, parse_duration
from drills.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE, UserError
from drills.explore.explorer import Explorer, Outcome, drill_runner
from drills.explore.space import Space, load_space

REPO_ROOT = Path(__file__).resolve().parents[2]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explore", help="search fault schedules with Hypothesis; shrink a failure to a minimal scenario",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("space", metavar="SPACE", type=Path, help="a search space file (see explore/*.yaml)")
    p.add_argument("--max-examples", type=int, default=20, metavar="N",
                   help="schedules to generate before stopping (shrinking a failure runs more; default 20)")
    p.add_argument("--time-budget", default="10m", metavar="DURATION",
                   help="stop generating, and stop shrinking, after this long (default 10m)")
    p.add_argument("--seed", type=int, default=None, help="seed Hypothesis' generation (the example database is still tried first)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where the example database and the sessions go (default reports/explore/<space name>/)")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="use the topology running in DIR (reset between examples); default: bring one up, and down after")
    p.set_defaults(func=cmd_explore)


def cmd_explore(args: argparse.Namespace) -> int:
    if args.max_examples < 1:
        raise UserError(f"--max-examples {args.max_examples}: expected at least 1")
    try:
        budget = parse_duration(args.time_budget)
    except ValueError as exc:
        raise UserError(f"--time-budget {args.time_budget}: {exc}") from None
    if budget <= 0:
        raise UserError("--time-budget: expected a duration above 0, like 10m")
    space = load_space(args.space)
    outcome = explore(space, out=args.out, max_examples=args.max_examples, time_budget=budget, seed=args.seed,
                      state_dir=args.state_dir, stream=sys.stderr)
    print_summary(outcome, sys.stdout)
    return exit_code(outcome)


def exit_code(outcome: Outcome) -> int:
    """See the module docstring: a failure first, then a search the harness stopped, then
    examples that did not test the property; 0 only when every example judged it and passed."""
    if outcome.minimal is not None:
        return EXIT_FAILED
    if outcome.stopped and "harness error" in outcome.stopped:
        return EXIT_USAGE
    return EXIT_INCONCLUSIVE if outcome.verdict == "inconclusive" else EXIT_OK


def explore(space: Space, *, out: Path | None = None, max_examples: int = 20, time_budget: float = 600.0,
            seed: int | None = None, state_dir: Path | None = None, stream: TextIO | None = None) -> Outcome:
    """Run the search on one topology: the one in `state_dir` when it runs, else one brought up
    for the search and torn down after it."""
    from drills.topology import local
    from drills.topology.state import Topology

    root = out if out is not None else REPO_ROOT / "reports" / "explore" / space.name
    session = root / (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{secrets.token_hex(3)}")
    own = state_dir is None or not Topology.exists(state_dir)
    topo_dir = Path(state_dir) if state_dir is not None else local.state_root() / f"explore-{session.name}"
    if own:
        _say(stream, f"bringing a topology up in {topo_dir} (reused by every example, reset between them)")
        local.up(state_dir=topo_dir, progress=lambda msg: _say(stream, f"  {msg}"))
    else:
        _say(stream, f"using the topology in {topo_dir} (reset between examples)")
    try:
        _say(stream, f"exploring space {space.name}: at most {max_examples} examples, "
                     f"{format_duration(time_budget)}, session {session}")
        explorer = Explorer(space, session, root / "hypothesis-db", drill_runner(topo_dir), max_examples=max_examples,
                            time_budget=time_budget, seed=seed, stream=stream)
        return explorer.explore()
    finally:
        if own:
            _say(stream, f"tearing the topology in {topo_dir} down")
            local.down(topo_dir)


def print_summary(outcome: Outcome, out: TextIO) -> None:
    d = outcome.as_dict()
    replays = " and the replay" if outcome.replay is not None else ""
    lines = [f"explore {outcome.space}: {d['examples_run']} examples run ({d['shrink_steps']} shrink steps{replays}), "
             f"{d['failures']} failing, {d['errors']} harness errors, {d['inconclusive']} inconclusive, "
             f"{outcome.seconds:.0f}s "
             f"({d['examples_per_minute']} examples/min)"]
    if outcome.stopped:
        lines.append(f"  stopped: {outcome.stopped}")
    if outcome.minimal is not None:
        m = outcome.minimal
        names = ", ".join(c["name"] for c in m.failed_checks)
        label = {"flaky": "FLAKY", "unconfirmed": "UNCONFIRMED"}.get(outcome.replay_verdict, "FAILED")
        lines.append(f"{label}: {names} failed on a {len(m.schedule)}-step schedule: {m.schedule.describe()}")
        lines.append(f"  minimal example: {m.run_dir}")
        if outcome.replay is not None:
            again = {"reproduced": "failed again", "flaky": f"did NOT fail the same way ({outcome.replay.outcome})"}.get(
                outcome.replay_verdict, f"could not judge ({outcome.replay.outcome})")
            lines.append(f"  replay: {again}: {outcome.replay.run_dir}")
        if outcome.flaky_minimal is not None and outcome.flaky_replay is not None:
            f = outcome.flaky_minimal
            lines.append(f"  FLAKY, smaller: {f.schedule.describe()} failed once, not on replay "
                         f"({outcome.flaky_replay.outcome}): {f.run_dir}, {outcome.flaky_replay.run_dir}")
        lines.append(f"  scenario: {outcome.scenario_file}  (drills run {outcome.scenario_file})")
    elif outcome.not_judged:
        bad = outcome.not_judged
        unknown = sorted({name for e in bad for name in e.unknown_checks})
        errors = sum(e.outcome == "error" for e in bad)
        lines.append(f"INCONCLUSIVE: no check of the property failed, but {len(bad)} of {len(outcome.ran)} examples "
                     f"did not test it ({errors} harness errors, {len(bad) - errors} could not decide"
                     + (f" {', '.join(unknown)}" if unknown else "") + ")")
        for e in bad[:3]:
            lines.append(f"  #{e.number} {e.outcome}: {e.run_dir}")
    else:
        lines.append("no check of the property failed")
    lines.append(f"  report: {outcome.session_dir / 'explore.json'}")
    out.write("\n".join(lines) + "\n")
    out.flush()


def _say(stream: TextIO | None, text: str) -> None:
    if stream is not None:
        stream.write(text + "\n")
        stream.flush()
