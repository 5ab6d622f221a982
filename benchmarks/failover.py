"""Failover benchmark: RTO phases of the reference controller and the workload's throughput.

For a port change on dc1 (its application proxy stops answering) with probes every 200 ms,
3 failures to declare: the median over 5 runs of detection, promotion, route published and
first acknowledged write on dc2, each measured from the fault's journal event (one clock:
the journal's and ledger's monotonic ns). Target: first ack on dc2 <= 1.5 s after the fault.
Baseline printed beside it: the probe budget (interval x failures), the least any prober
with these settings can take to detect.

Throughput: acknowledged order writes per second of the reference workload (4 workers,
unthrottled, IDs from the segment allocator, ledger written per line) outside any failover
window. Target >= 500/s. Baseline: a naive single-connection INSERT loop on the same path,
no ledger, no routing.

Usage: .venv/bin/python benchmarks/failover.py [--runs 5] [--seconds 3]
Starts its own topology in a temporary directory and stops it at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from drills.control import make_controller
from drills.journal import Journal, read
from drills.scenario.model import ControllerSpec, WorkloadSpec
from drills.topology import Topology, local
from drills.workload import make_workload
from drills.workload.ledger import read_ledger

PROBE = {"interval": 0.2, "timeout": 0.2, "failures": 3}


def one_failover(topo: Topology, run_dir: Path) -> dict[str, float]:
    local.reset(topo)
    topo = local.attach(topo.state_dir)
    journal = Journal(run_dir / "journal.jsonl", secrets=topo.secrets())
    ctl = make_controller(ControllerSpec.model_validate({"probe": PROBE, "block_period": 30.0}), topo, journal)
    wl = make_workload(WorkloadSpec.model_validate({"kind": "orders", "rate": 400, "workers": 4}), topo, journal, run_dir)
    tp = topo.toxiproxy()
    ctl.start()
    wl.start()
    try:
        time.sleep(1.0)
        fault = journal.record("fault", "fault.inject", name="port_change", type="port_change",
                               target="app:dc1", params={})
        tp.update_proxy("app:dc1", enabled=False)
        time.sleep(3.0)  # polling the ledger here would compete with the workers for the GIL
    finally:
        wl.stop()
        ctl.stop()
        tp.update_proxy("app:dc1", enabled=True)
        journal.close()
    events = read(run_dir / "journal.jsonl")
    t0 = fault["mono_ns"]

    def first(kind: str) -> float:
        return next((e["mono_ns"] - t0) / 1e6 for e in events if e["kind"] == kind and e["mono_ns"] >= t0)

    acks = [r["mono_ns"] for r in read_ledger(run_dir / "ledger.jsonl")
            if r["type"] == "ok" and r["f"] == "write_order" and r["dc"] == "dc2"]
    return {
        "detection": first("dc.failed"),
        "promotion": first("promote"),
        "route published": first("route.published"),
        "first ack on dc2": (min(acks) - t0) / 1e6 if acks else float("nan"),
    }


def workload_throughput(topo: Topology, run_dir: Path, seconds: float) -> float:
    local.reset(topo)
    topo = local.attach(topo.state_dir)
    journal = Journal(run_dir / "journal.jsonl", secrets=topo.secrets())
    # as fast as four workers go: a rate no worker can reach
    wl = make_workload(WorkloadSpec.model_validate({"kind": "orders", "rate": 1_000_000, "workers": 4}), topo, journal, run_dir)
    wl.start()
    time.sleep(0.5)  # warm-up: connections, first segment
    start_ns = time.monotonic_ns()
    time.sleep(seconds)
    end_ns = time.monotonic_ns()
    wl.stop()
    journal.close()
    acks = [r for r in read_ledger(run_dir / "ledger.jsonl")
            if r["type"] == "ok" and r["f"] == "write_order" and start_ns <= r["mono_ns"] < end_ns]
    return len(acks) / ((end_ns - start_ns) / 1e9)


def naive_throughput(topo: Topology, seconds: float) -> float:
    local.reset(topo)
    conn = topo.connect("dc1", via="service", role="app")
    n = 0
    try:
        with conn.cursor() as cur:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                n += 1
                cur.execute("INSERT INTO app.orders (id, buyer_id, amount, dc, epoch, client_ts) "
                            "VALUES (%s, 1, 9.99, 'dc1', 1, 0)", (n,))
    finally:
        conn.close()
    return n / seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="drills-bench-failover-") as tmp:
        base = Path(tmp)
        topo = local.up(state_dir=base / "env")
        try:
            runs = []
            for i in range(args.runs):
                run_dir = base / f"run{i}"
                run_dir.mkdir()
                runs.append(one_failover(topo, run_dir))
                print(f"run {i + 1}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in runs[-1].items()), flush=True)
            (base / "tput").mkdir()
            ours = workload_throughput(topo, base / "tput", args.seconds)
            naive = naive_throughput(topo, args.seconds)
        finally:
            local.down(base / "env")
    budget = PROBE["interval"] * PROBE["failures"] * 1000
    print()
    print(f"RTO phases after a dc1 port change (median of {args.runs}, probe 200 ms x 3):")
    print(f"  {'phase':<18} {'median ms':>10}   baseline")
    for phase in runs[0]:
        med = statistics.median(r[phase] for r in runs)
        base_txt = f"probe budget {budget:.0f} ms" if phase == "detection" else ""
        if phase == "first ack on dc2":
            base_txt = "target <= 1500 ms " + ("(met)" if med <= 1500 else "(MISSED)")
        print(f"  {phase:<18} {med:>10.0f}   {base_txt}")
    print()
    print("Acknowledged writes/s outside the failover window:")
    print(f"  reference workload (4 workers, ledger, allocator): {ours:8.0f}/s   target >= 500/s "
          + ("(met)" if ours >= 500 else "(MISSED)"))
    print(f"  baseline: naive single-connection INSERT loop:     {naive:8.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
