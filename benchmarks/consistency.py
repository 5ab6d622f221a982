"""How fast `drills check consistency` compares a replicated table, beside the two baselines
the issue names, all measured in the same run on the same servers:

- pt-table-checksum (percona-toolkit): checksums chunks on the source with statement-based
  REPLACE ... SELECT, lets replication re-run them on the replica, then reads the replica's
  results (`--recursion-method=dsn=...`, `--no-check-replication-filters` because the link
  carries the filter list);
- `CHECKSUM TABLE` on one server: the floor for reading every row once.

    .venv/bin/python benchmarks/consistency.py [--rows 1000000] [--runs 5] [--chunk-size 10000]

Targets (issue 5): at least 2x pt-table-checksum's throughput; within 2x of CHECKSUM TABLE.
Then, with 10 rows changed directly on dc2, both tools must report the same chunks and
ours must name the 10 keys. The topology is the real one (`drills.topology.local`), started
and stopped by this script.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drills.mysql import admin  # noqa: E402
from drills.observe import consistency  # noqa: E402
from drills.topology import local  # noqa: E402
from drills.topology.spec import ServerTuning, TopologySpec  # noqa: E402

DRILLS = REPO / ".venv" / "bin" / "drills"
TABLE = "bench.orders"


def load_table(topo, rows: int) -> None:  # noqa: ANN001 - Topology
    dc1, dc2 = topo.connect("dc1", read_timeout=600), topo.connect("dc2", read_timeout=600)
    try:
        with dc1.cursor() as cur:
            cur.execute("CREATE DATABASE bench")
            cur.execute(
                "CREATE TABLE bench.orders (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, buyer_id BIGINT UNSIGNED NOT NULL, "
                "amount DECIMAL(12,2) NOT NULL, dc VARCHAR(8) NOT NULL, note VARCHAR(64) NULL, "
                "created_at TIMESTAMP(6) NOT NULL DEFAULT '2026-01-01 00:00:00', KEY idx_buyer (buyer_id)) ENGINE=InnoDB")
            step = 200_000
            for lo in range(1, rows + 1, step):
                hi = min(rows, lo + step - 1)
                cur.execute(
                    "INSERT INTO bench.orders (id, buyer_id, amount, dc, note, created_at) "
                    "SELECT seq, seq % 9973, (seq % 100000) / 100, 'dc1', IF(seq % 7 = 0, NULL, CONCAT('note-', seq)), "
                    f"'2026-01-01 00:00:00' + INTERVAL seq SECOND FROM bench.seq_{lo}_to_{hi}")
            cur.execute("CREATE DATABASE IF NOT EXISTS percona")
            cur.execute("CREATE TABLE IF NOT EXISTS percona.dsns (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT, dsn VARCHAR(255) NOT NULL)")
            s, c = topo.servers["dc2"], topo.credentials
            cur.execute("INSERT INTO percona.dsns (dsn) VALUES (%s)", (f"h={s.host},P={s.port},u={c.admin_user},p={c.admin_password}",))
        if not admin.wait_for_gtid(dc2, admin.gtid_executed(dc1), 600):
            raise SystemExit("dc2 did not catch up with the load")
    finally:
        dc1.close()
        dc2.close()


class CpuMeter:
    """CPU seconds spent by both mariadbd processes and by our child processes (the tool
    under test): the work a tool costs, which on a shared 2-core machine is steadier than
    wall time."""

    def __init__(self, topo) -> None:  # noqa: ANN001
        pids = topo.process_control.pids()
        self.pids = [pids[dc] for dc in ("dc1", "dc2")]

    def _now(self) -> float:
        total = 0.0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return total + kids.ru_utime + kids.ru_stime

    def __enter__(self) -> CpuMeter:
        self.start, self.seconds = self._now(), 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = self._now() - self.start


def time_drills(topo, chunk_size: int) -> tuple[float, float]:  # noqa: ANN001
    """Wall time of the command as a user runs it, and the engine's own elapsed time."""
    argv = [str(DRILLS), "check", "consistency", "--state-dir", str(topo.state_dir), "--tables", TABLE,
            "--chunk-size", str(chunk_size), "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"drills check consistency exited {out.returncode}: {out.stderr.strip()}")
    return wall, json.loads(out.stdout)["elapsed_s"]


def time_checksum_table_both(topo) -> float:  # noqa: ANN001
    """CHECKSUM TABLE on dc1 and dc2 at once: the floor for any tool that reads both sides."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda dc: _checksum_table(topo, dc), ("dc1", "dc2")))
    return time.perf_counter() - t0


def _checksum_table(topo, dc: str) -> None:  # noqa: ANN001
    conn = topo.connect(dc, read_timeout=600)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CHECKSUM TABLE {TABLE}")
            cur.fetchall()
    finally:
        conn.close()


def pt_argv(topo, chunk_size: int | None) -> list[str]:  # noqa: ANN001
    s, c = topo.servers["dc1"], topo.credentials
    argv = ["pt-table-checksum", f"h={s.host},P={s.port},u={c.admin_user}", "--tables", TABLE,
            "--recursion-method=dsn=D=percona,t=dsns", "--no-check-replication-filters", "--no-check-binlog-format",
            "--no-version-check"]
    if chunk_size:
        argv += ["--chunk-size", str(chunk_size), "--chunk-time", "0"]
    return argv


def time_pt(topo, chunk_size: int | None, allow_diffs: bool = False) -> float:  # noqa: ANN001
    env = dict(os.environ, MYSQL_PWD=topo.credentials.admin_password)  # pt reads the password from here, not argv
    t0 = time.perf_counter()
    out = subprocess.run(pt_argv(topo, chunk_size), capture_output=True, text=True, timeout=900, env=env)
    wall = time.perf_counter() - t0
    if out.returncode != 0 and not (allow_diffs and out.returncode in (16,)):
        raise SystemExit(f"pt-table-checksum exited {out.returncode}: {(out.stderr or out.stdout).strip()[-800:]}")
    return wall


def time_checksum_table(topo) -> float:  # noqa: ANN001
    conn = topo.connect("dc1", read_timeout=600)
    try:
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            cur.execute(f"CHECKSUM TABLE {TABLE}")
            cur.fetchall()
            return time.perf_counter() - t0
    finally:
        conn.close()


def pt_diff_chunks(topo) -> list[str]:  # noqa: ANN001
    conn = topo.connect("dc2")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT lower_boundary FROM percona.checksums WHERE db = 'bench' AND tbl = 'orders' AND "
                        "(this_crc <> master_crc OR this_cnt <> master_cnt OR ISNULL(master_crc) <> ISNULL(this_crc)) "
                        "ORDER BY chunk")
            return [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chunk-size", type=int, default=consistency.DEFAULT_CHUNK_SIZE)
    args = ap.parse_args()

    state = Path(tempfile.mkdtemp(prefix="drills-bench-consistency-")) / "env"
    spec = TopologySpec(server=ServerTuning(innodb_buffer_pool_size="512M"))
    print(f"starting topology in {state} ...", flush=True)
    topo = local.up(spec, state_dir=state)
    try:
        t0 = time.perf_counter()
        load_table(topo, args.rows)
        print(f"loaded {args.rows:,} rows into {TABLE} on dc1, replicated to dc2 in {time.perf_counter() - t0:.1f} s", flush=True)
        # warm both buffer pools and pt's bookkeeping tables once, untimed
        time_drills(topo, args.chunk_size)
        time_pt(topo, None)
        time_checksum_table(topo)

        meter = CpuMeter(topo)
        wall: dict[str, list[float]] = {k: [] for k in ("drills", "engine", "pt", "native", "native2")}
        cpu: dict[str, list[float]] = {k: [] for k in ("drills", "pt", "native", "native2")}
        for i in range(args.runs):  # interleaved, so load from other processes hits all of them alike
            with meter:
                w, elapsed = time_drills(topo, args.chunk_size)
            wall["drills"].append(w)
            wall["engine"].append(elapsed)
            cpu["drills"].append(meter.seconds)
            with meter:
                wall["pt"].append(time_pt(topo, None))
            cpu["pt"].append(meter.seconds)
            with meter:
                wall["native"].append(time_checksum_table(topo))
            cpu["native"].append(meter.seconds)
            with meter:
                wall["native2"].append(time_checksum_table_both(topo))
            cpu["native2"].append(meter.seconds)
            print(f"  run {i + 1}: drills {w:.2f} s (engine {elapsed:.2f} s), pt-table-checksum {wall['pt'][-1]:.2f} s, "
                  f"CHECKSUM TABLE {wall['native'][-1]:.2f} s (both servers {wall['native2'][-1]:.2f} s); "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)

        med = {k: statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        rows = args.rows
        print()
        print(f"{args.rows:,} rows, median of {args.runs}; CPU = both mariadbd + the tool's own process")
        print(f"{'':40} {'wall s':>7} {'rows/s':>11} {'vs pt':>6} {'/CHECKSUM':>10} {'CPU s':>7}")
        for label, key in (("drills check consistency (command)", "drills"), ("  of which engine (compare)", "engine"),
                           ("pt-table-checksum (defaults)", "pt"), ("CHECKSUM TABLE, dc1 only", "native"),
                           ("CHECKSUM TABLE, dc1 + dc2 in parallel", "native2")):
            t = med[key]
            used = f"{med_cpu[key]:>7.2f}" if key in med_cpu else f"{'':>7}"
            print(f"{label:<40} {t:>7.3f} {rows / t:>11,.0f} {med['pt'] / t:>5.1f}x {t / med['native']:>9.2f}x {used}")
        speedup, speedup_engine = med["pt"] / med["drills"], med["pt"] / med["engine"]
        ratio_cmd, ratio_engine = med["drills"] / med["native"], med["engine"] / med["native"]
        print()
        print(f"target >= 2x pt-table-checksum throughput: command {speedup:.1f}x -> {'MET' if speedup >= 2 else 'NOT MET'}; "
              f"engine {speedup_engine:.1f}x -> {'MET' if speedup_engine >= 2 else 'NOT MET'}")
        print(f"target within 2x of CHECKSUM TABLE: command {ratio_cmd:.2f}x -> {'MET' if ratio_cmd <= 2 else 'NOT MET'}; "
              f"engine {ratio_engine:.2f}x -> {'MET' if ratio_engine <= 2 else 'NOT MET'}")

        # ---- 10 rows changed directly on dc2: same chunks, and our keys ----------------------
        changed = sorted(random.Random(5).sample(range(1, rows + 1), 10))
        conn = topo.connect("dc2")
        try:
            with conn.cursor() as cur:
                cur.execute(f"UPDATE {TABLE} SET amount = amount + 0.01 WHERE id IN ({', '.join(map(str, changed))})")
        finally:
            conn.close()
        argv = [str(DRILLS), "check", "consistency", "--state-dir", str(topo.state_dir), "--tables", TABLE,
                "--chunk-size", str(args.chunk_size), "--json"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        result = json.loads(out.stdout)["tables"][0]
        our_chunks = sorted(str(c["first"][0]) for c in result["mismatched_chunks"])
        our_keys = sorted(k[0] for k in result["differing"]["keys"])
        time_pt(topo, args.chunk_size, allow_diffs=True)
        theirs = sorted(pt_diff_chunks(topo))
        print()
        print(f"10 rows changed on dc2: ids {changed}")
        print(f"  drills exit {out.returncode}, chunks (first key) {our_chunks}")
        print(f"  pt-table-checksum chunks (lower_boundary)  {theirs}")
        print(f"  same chunks: {'YES' if our_chunks == theirs else 'NO'}; drills names the 10 keys: "
              f"{'YES' if our_keys == changed else 'NO ' + str(our_keys)}")
        ok = our_chunks == theirs and our_keys == changed and out.returncode == 1
        return 0 if ok else 1
    finally:
        local.down(state)
        print("topology stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
