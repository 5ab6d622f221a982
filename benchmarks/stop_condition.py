"""Stop-condition benchmark: from a stop condition tripping to every fault healed.

A topology this script starts plays someone else's environment (`drills env describe`). Each
drill injects three faults (latency on the link, a port change on dc1's application path, the
reverse link down) while the workload writes, then waits; an HTTP health URL the script serves
is broken mid-wait. Measured from the journal (one monotonic clock): `safety.tripped` to the
last `fault.heal`. Goal: under 1 s. Also: from the health URL breaking to the trip (the poll
interval, 100 ms here, bounds it).

Baseline measured in the same run: the same drill stopped by SIGINT (Ctrl-C) instead — the
runner's ordinary path, which stops the workload and the controller before it heals — from
the signal's receipt (`run.signal`) to the last `fault.heal`.

Usage: .venv/bin/python benchmarks/stop_condition.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from drills.journal import read
from drills.runner.session import RunOptions, run
from drills.topology import local
from drills.topology.describe import describe, password_exports, render

STAGES = [{"name": "faults", "steps": [
    {"fault": {"type": "latency", "target": "link:dc1->dc2", "latency_ms": 300, "name": "lag"}},
    {"fault": {"type": "port_change", "target": "app:dc1", "name": "moved"}},
    {"fault": {"type": "down", "target": "link:dc2->dc1", "name": "cut"}},
    {"wait": "60s"},
]}]


class Health:
    def __init__(self) -> None:
        self.ok = True
        self.broken_ns: int | None = None
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200 if me.ok else 503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def brk(self) -> None:
        self.broken_ns = time.monotonic_ns()
        self.ok = False


def wait_injected(journal: Path, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count('"fault.inject"') >= n:
            time.sleep(0.3)
            return
        time.sleep(0.02)
    raise SystemExit(f"faults never injected ({journal})")


def last_heal_ns(events: list[dict[str, Any]]) -> int:
    heals = [e["mono_ns"] for e in events if e["kind"] == "fault.heal"]
    if len(heals) != 3:
        raise SystemExit(f"expected 3 heals, got {len(heals)}")
    return max(heals)


def by_stop_condition(work: Path, env_path: Path, environ: dict[str, str], health: Health, i: int) -> tuple[float, float]:
    out = work / f"trip-{i}"
    health.ok = True
    breaker = threading.Thread(target=lambda: (wait_injected(out / "journal.jsonl", 3), health.brk()))
    breaker.start()
    result = run(RunOptions(scenario=str(work / "scenario.yaml"), out=out, environment=env_path, environ=environ,
                            record_history=False, stream=io.StringIO(), tty=False)).result
    breaker.join()
    assert result["status"] == "aborted", result["reasons"]
    events = read(out / "journal.jsonl")
    tripped = next(e for e in events if e["kind"] == "safety.tripped")
    assert health.broken_ns is not None
    return (last_heal_ns(events) - tripped["mono_ns"]) / 1e9, (tripped["mono_ns"] - health.broken_ns) / 1e9


def by_sigint(work: Path, env_path: Path, environ: dict[str, str], i: int) -> float:
    out = work / f"sigint-{i}"
    proc = subprocess.Popen([sys.executable, "-m", "drills", "run", str(work / "scenario-no-stop.yaml"), "--environment",
                             str(work / "environment-no-stop.yaml"), "--out", str(out), "--no-history"],
                            env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_injected(out / "journal.jsonl", 3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    events = read(out / "journal.jsonl")
    received = next(e for e in events if e["kind"] == "run.signal")["payload"]["received_mono_ns"]
    return (last_heal_ns(events) - received) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="drills-bench-stop-") as tmp:
        work = Path(tmp)
        os.environ["DRILLS_HOME"] = str(work / "home")
        topo = local.up(state_dir=work / "env")
        health = Health()
        try:
            environ = {**os.environ, **password_exports(topo)}
            doc = describe(topo, "bench")
            doc["stop_conditions"] = [{"name": "health", "http": {"url": health.url}, "every": "100ms"}]
            env_path = work / "environment.yaml"
            env_path.write_text(render(doc))
            (work / "environment-no-stop.yaml").write_text(render({**doc, "name": "bench-sigint", "stop_conditions": []}))
            scen = {"name": "stop-bench", "workload": {"kind": "orders", "rate": "100/s", "workers": 2},
                    "controller": {"kind": "none"}, "stages": STAGES}
            (work / "scenario.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
            (work / "scenario-no-stop.yaml").write_text(yaml.safe_dump(scen, sort_keys=False))
            heal, detect, baseline = [], [], []
            for i in range(args.runs):
                local.reset(topo)
                h, d = by_stop_condition(work, env_path, environ, health, i)
                heal.append(h)
                detect.append(d)
                local.reset(topo)
                baseline.append(by_sigint(work, env_path, environ, i))
        finally:
            health.server.shutdown()
            local.down(work / "env")
    fig = {
        "runs": args.runs,
        "trip_to_all_healed_s": {"median": round(statistics.median(heal), 3), "max": round(max(heal), 3)},
        "health_broken_to_trip_s": {"median": round(statistics.median(detect), 3), "max": round(max(detect), 3)},
        "baseline_sigint_to_all_healed_s": {"median": round(statistics.median(baseline), 3),
                                            "max": round(max(baseline), 3)},
        "goal_s": 1.0,
    }
    print(json.dumps(fig, indent=2))
    print(f"stop condition -> every fault healed: median {fig['trip_to_all_healed_s']['median']} s, "
          f"max {fig['trip_to_all_healed_s']['max']} s (goal < 1 s); Ctrl-C path in the same run: median "
          f"{fig['baseline_sigint_to_all_healed_s']['median']} s")


if __name__ == "__main__":
    main()
