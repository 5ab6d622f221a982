"""`drills run SCENARIO`: one drill, from topology up to sealed result."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drills import masking
from drills.errors import UserError
from drills.runner.plan import register_plan
from drills.runner.progress import summary_object
from drills.runner.session import RunOptions, run
from drills.scenario.commands import parse_param_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run a drill scenario and judge it",
                              description="Exit codes: 0 passed, 1 an objective or check failed, "
                                          "2 invalid scenario, refused or error before a verdict, 3 inconclusive, "
                                          "4 aborted by a stop condition of the environment, 130 interrupted.")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario file, or the name of one in scenarios/")
    p.add_argument("--out", type=Path, metavar="DIR", help="run directory (default reports/runs/<run_id>/)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="override a scenario parameter")
    p.add_argument("--keep-env", action="store_true", help="leave the topology running afterwards")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="reuse the topology running in DIR (or bring one up there)")
    p.add_argument("--reset", action="store_true", help="with --state-dir: reset the reused topology to its baseline first")
    p.add_argument("--approve", action="append", default=[], metavar="GATE", help="approve a manual gate in advance ('all' for every gate)")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report")
    p.add_argument("--allure-dir", type=Path, metavar="DIR", help="also write Allure results")
    p.add_argument("--summary", type=Path, metavar="FILE", help="also write a Markdown summary")
    p.add_argument("--pdf", type=Path, metavar="FILE", help="also print the compliance report to PDF (headless Chromium)")
    p.add_argument("--baseline", type=float, nargs="?", const=0.2, metavar="TOLERANCE",
                   help="fail when RTO is worse than the median of the last passing runs by more than TOLERANCE "
                        "(a fraction; default 0.2)")
    p.add_argument("--no-history", action="store_true", help="do not record this run in the run history")
    p.add_argument("--provider", choices=("local", "containers"),
                   help="who runs a new topology (overrides the scenario's; a reused one keeps its own)")
    p.add_argument("--environment", type=Path, metavar="FILE",
                   help="drill someone else's environment, described in FILE (provider external)")
    p.add_argument("--confirm", metavar="NAME", help="a protected environment's name: yes, drill it")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout at the end (status, exit_code, run_dir, each check); "
                        "progress and the text summary go to stderr")
    p.set_defaults(func=cmd_run)
    register_plan(subparsers)  # `drills plan`: the same refusals, in advance, touching nothing


def cmd_run(args: argparse.Namespace) -> int:
    opts = RunOptions(
        scenario=args.scenario, out=args.out, params=parse_param_args(args.param), keep_env=args.keep_env,
        state_dir=args.state_dir, reset=args.reset, approve=args.approve, junit=args.junit, html=args.html,
        allure_dir=args.allure_dir, summary=args.summary, pdf=args.pdf, baseline=args.baseline,
        record_history=not args.no_history, environment=args.environment, confirm=args.confirm,
        provider=args.provider, json_summary=args.json,
    )
    if not args.json:
        return run(opts).exit_code
    try:
        outcome = run(opts)
    except UserError as exc:  # refused before a run began: still one object for the machine reading stdout
        print(json.dumps({"status": "error", "exit_code": exc.exit_code, "run_dir": None,
                          "error": masking.mask(exc.message), "checks": []}))
        raise
    print(json.dumps(summary_object(outcome.result, outcome.result_path), indent=2))
    return outcome.exit_code
