"""Per-example cost of `drills explore`: the reset between examples, and examples per minute.

One topology is brought up once (timed), reset to its baseline `--resets` times on its own
(timed: the part of every example that replaces a restart), then a space is explored for
`--examples` examples on it — each an ordinary drill, reset first — and the examples per
minute are measured from the explorer's own record (explore.json), with the reset as each
run's journal timed it. The goal of issue 15 is at least 6 examples a minute on this machine.

Usage: .venv/bin/python benchmarks/explore.py [--space explore/reference-defaults.yaml]
       [--examples 12] [--resets 5] [--seed 1] [--time-budget 600]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_PER_MINUTE = 6.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", type=Path, default=REPO / "explore" / "reference-defaults.yaml")
    ap.add_argument("--examples", type=int, default=12)
    ap.add_argument("--resets", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-budget", type=float, default=600.0, help="seconds (a failure found is shrunk within it)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="drills-bench-explore-") as tmp:
        work = Path(tmp)
        os.environ["DRILLS_HOME"] = str(work / "home")
        os.environ.setdefault("DRILLS_HISTORY_DB", str(work / "history.sqlite"))
        from drills.explore.explorer import Explorer, drill_runner
        from drills.explore.space import load_space
        from drills.topology import local
        from drills.topology.spec import TopologySpec

        space = load_space(args.space)
        state = work / "topology"
        t = time.monotonic()
        topo = local.up(state_dir=state)
        boot = time.monotonic() - t
        try:
            spec = TopologySpec()
            resets = []
            for _ in range(args.resets):
                t = time.monotonic()
                local.reset(topo, filter_list=spec.filter_list, schema=spec.schema_file, seed=spec.seed)
                resets.append(time.monotonic() - t)
            explorer = Explorer(space, work / "session", work / "db", drill_runner(state), max_examples=args.examples,
                                time_budget=args.time_budget, seed=args.seed, stream=sys.stderr)
            outcome = explorer.explore()
        finally:
            local.down(state)
        report = outcome.as_dict()
        ran = outcome.ran
        per_example = [e.seconds for e in ran]
        in_run_resets = [e.reset_s for e in ran if e.reset_s is not None]
        summary = {
            "space": space.name,
            "boot_s": round(boot, 2),
            "reset_alone_s": {"mean": round(statistics.mean(resets), 3), "min": round(min(resets), 3),
                              "max": round(max(resets), 3), "n": len(resets)},
            "reset_in_examples_s": {"mean": round(statistics.mean(in_run_resets), 3),
                                    "max": round(max(in_run_resets), 3)} if in_run_resets else None,
            "examples_run": len(ran),
            "example_s": {"mean": round(statistics.mean(per_example), 2), "min": round(min(per_example), 2),
                          "max": round(max(per_example), 2)} if per_example else None,
            "explore_wall_s": report["seconds"],
            "examples_per_minute": report["examples_per_minute"],
            "goal_per_minute": GOAL_PER_MINUTE,
            # an example that ended in a harness error is quick and tests nothing: it does not count
            "goal_met": bool(report["examples_per_minute"] and report["examples_per_minute"] >= GOAL_PER_MINUTE
                             and report["errors"] == 0),
            "a_restart_instead_of_a_reset_would_add_s": round(boot - statistics.mean(resets), 2),
            "finding": report["finding"],
            "errors": report["errors"],
            "inconclusive": report["inconclusive"],
            "verdict": report["verdict"],
        }
    print(json.dumps(summary, indent=2))
    return 0 if summary["goal_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
