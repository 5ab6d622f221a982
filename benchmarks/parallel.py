"""The whole scenario library: serial, `pytest -n 2`, and serial on one shared topology.

Three ways of running every scenario in `scenarios/` as pytest items (the drills pytest
plugin), measured in the same run, each verdict compared with the serial run's:

- serial, each drill on its own topology (the baseline);
- `pytest -n 2` (pytest-xdist), two drills at once, each on its own topology — on a 2-core
  machine less than 2x is expected: the servers, the workload and the harness share the cores;
- serial on one topology started once and reset between scenarios (`--drills-state-dir`).

Usage: .venv/bin/python benchmarks/parallel.py [--scenarios DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_library(label: str, scenarios: Path, work: Path, *extra: str, env: dict[str, str]) -> tuple[float, dict[str, str]]:
    out = work / label
    t = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
                          "--drills-out", str(out), *extra, str(scenarios)], env=env, capture_output=True, text=True,
                         cwd=REPO, timeout=3600)
    took = time.monotonic() - t
    verdicts = {}
    for d in sorted(out.iterdir()) if out.exists() else []:
        result = d / "result.json"
        if result.exists():
            r = json.loads(result.read_text())
            failed = sorted(c["name"] for c in r["checks"] if c["status"] == "failed")
            verdicts[r["scenario"]] = r["status"] + (f" ({', '.join(failed)} failed)" if failed else "")
    print(f"{label}: {took:.1f}s, pytest exit {res.returncode}, {len(verdicts)} drills", flush=True)
    return took, verdicts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=Path, default=REPO / "scenarios")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="drills-bench-parallel-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "DRILLS_HOME": str(work / "home"), "DRILLS_HISTORY_DB": str(work / "history.sqlite"),
               "DRILLS_APPROVE": "all"}
        serial, base = run_library("serial", args.scenarios, work, env=env)
        parallel, par = run_library("n2", args.scenarios, work, "-n", "2", env=env)
        from drills.topology import local

        os.environ["DRILLS_HOME"] = env["DRILLS_HOME"]
        t = time.monotonic()
        local.up(state_dir=work / "shared")
        boot = time.monotonic() - t
        try:
            shared, reused = run_library("shared", args.scenarios, work, "--drills-state-dir", str(work / "shared"), env=env)
        finally:
            local.down(work / "shared")
        shared += boot
    differ = {k: (base.get(k), par.get(k), reused.get(k)) for k in sorted(set(base) | set(par) | set(reused))
              if not (base.get(k) == par.get(k) == reused.get(k))}
    print(json.dumps({"serial_s": round(serial, 1), "n2_s": round(parallel, 1), "speed_up": round(serial / parallel, 2),
                      "shared_topology_s": round(shared, 1), "drills": len(base), "verdicts": base,
                      "verdicts_that_differ (serial, n2, shared)": differ}, indent=2))
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
