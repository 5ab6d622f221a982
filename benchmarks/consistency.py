"""How fast `drills check consistency` compares replicated tables, and how that scales,
beside the two baselines the issue names, all measured in the same run on the same servers:

- pt-table-checksum (percona-toolkit): checksums chunks on the source with statement-based
  REPLACE ... SELECT, lets replication re-run them on the replica, then reads the replica's
  results (`--recursion-method=dsn=...`, `--no-check-replication-filters` because the link
  carries the filter list);
- `CHECKSUM TABLE` on dc1 alone, and on dc1 and dc2 at once: the floor for reading every
  row once (a tool that compares two servers reads both).

    .venv/bin/python benchmarks/consistency.py [--sizes 100k,1m,10m] [--many-tables 200x5000]
        [--runs 5] [--chunk-size 10000] [--compare-with DIR] [--bytecode-cache]

`--sizes` makes one table per size (`bench.orders_100k`, `bench.orders_1m`...), and
`--many-tables NxM` N tables of M rows each; then every round runs every workload with
every contender in turn, `--runs` rounds, so that all sizes are measured in the same
minutes (load from other processes, and the slower spells of this shared host, hit them
alike). Reported: medians, the time per million rows and the peak RSS of the drills
process (GNU time's %M for that one process): time should grow linearly, memory stay flat.
`--compare-with DIR` runs the command of another drills tree (a `git archive` of an
earlier commit) beside this one, for a before/after in one run. `--rows N` is `--sizes N`.

Targets (issue "Faster consistency, linear scale"): the command at least 2x faster than
pt-table-checksum, and within 2x of CHECKSUM TABLE on both servers in parallel. Then, with
10 rows changed directly on dc2 in the largest table, both tools must report the same
chunks and ours must name the 10 keys. The topology is the real one (`drills.topology.local`),
started and stopped by this script.

Rows are loaded into each server directly, without the binary log (`sql_log_bin = 0`), by
the same deterministic INSERT ... SELECT on both at once: identical by construction (the
first comparison of each size must pass, or the script stops), faster than through
replication here (1M rows: 4-6 s against 7-11 s), and the binary log stays small, whose size would
otherwise add to every check (MariaDB's BINLOG_GTID_POS reads the current binlog file up
to the snapshot's position: ~20 ms per 90 MB measured here).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drills.mysql import admin  # noqa: E402
from drills.observe import consistency  # noqa: E402
from drills.topology import local  # noqa: E402
from drills.topology.spec import ServerTuning, TopologySpec  # noqa: E402

DRILLS = REPO / ".venv" / "bin" / "drills"
TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time: peak RSS of one process
MANY_SCHEMA = "bench_many"
COLUMNS = ("(id BIGINT UNSIGNED NOT NULL PRIMARY KEY, buyer_id BIGINT UNSIGNED NOT NULL, amount DECIMAL(12,2) NOT NULL, "
           "dc VARCHAR(8) NOT NULL, note VARCHAR(64) NULL, created_at TIMESTAMP(6) NOT NULL DEFAULT '2026-01-01 00:00:00', "
           "KEY idx_buyer (buyer_id)) ENGINE=InnoDB")
ROWS_FROM_SEQ = ("(id, buyer_id, amount, dc, note, created_at) SELECT seq, seq % 9973, (seq % 100000) / 100, 'dc1', "
                 "IF(seq % 7 = 0, NULL, CONCAT('note-', seq)), '2026-01-01 00:00:00' + INTERVAL seq SECOND "
                 "FROM bench.seq_{lo}_to_{hi}")
LOAD_STEP = 500_000


# ---- arguments ----------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    """100k, 1m, 10m, 2500 -> a row count."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a row count such as 100k, 1m or 2500, got {text!r}")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({parse_count(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"expected sizes such as 100k,1m,10m, got {text!r}")
    return sizes


def parse_many(text: str) -> tuple[int, int]:
    """200x5000 -> (200 tables, 5000 rows each)."""
    tables, sep, rows = text.lower().partition("x")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected TABLESxROWS such as 200x5000, got {text!r}")
    return parse_count(tables), parse_count(rows)


def label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    return f"{rows // 1_000}k" if rows % 1_000 == 0 else str(rows)


# ---- loading ------------------------------------------------------------------------------------


def on_both(topo, work: Callable) -> None:  # noqa: ANN001 - Topology
    """work(cursor) on dc1 and dc2 at once, outside the binary log (see the docstring)."""
    from drills.topology.processes import in_parallel

    def run(dc: str) -> None:
        conn = topo.connect(dc, read_timeout=3600)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_log_bin = 0")
                work(cur)
        finally:
            conn.close()

    in_parallel(lambda dc=dc: run(dc) for dc in ("dc1", "dc2"))


def insert_rows(cur, table: str, lo: int, hi: int) -> None:  # noqa: ANN001 - cursor
    for start in range(lo, hi + 1, LOAD_STEP):
        cur.execute(f"INSERT INTO {table} " + ROWS_FROM_SEQ.format(lo=start, hi=min(hi, start + LOAD_STEP - 1)))


def table_for(rows: int) -> str:
    return f"bench.orders_{label(rows)}"


def prepare(topo, sizes: Sequence[int]) -> None:  # noqa: ANN001
    """One table per size, filled on both sides; pt-table-checksum's DSN table on dc1
    (replicated)."""
    def work(cur) -> None:  # noqa: ANN001
        cur.execute("CREATE DATABASE bench")
        for rows in sizes:
            cur.execute(f"CREATE TABLE {table_for(rows)} {COLUMNS}")
            insert_rows(cur, table_for(rows), 1, rows)

    on_both(topo, work)
    dc1, dc2 = topo.connect("dc1"), topo.connect("dc2")
    try:
        with dc1.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS percona")
            cur.execute("CREATE TABLE IF NOT EXISTS percona.dsns (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT, "
                        "dsn VARCHAR(255) NOT NULL)")
            s, c = topo.servers["dc2"], topo.credentials
            cur.execute("INSERT INTO percona.dsns (dsn) VALUES (%s)",
                        (f"h={s.host},P={s.port},u={c.admin_user},p={c.admin_password}",))
        if not admin.wait_for_gtid(dc2, admin.gtid_executed(dc1), 600):
            raise SystemExit("dc2 did not catch up with the set-up")
    finally:
        dc1.close()
        dc2.close()


def create_many(topo, tables: int, rows: int) -> list[str]:  # noqa: ANN001
    names = [f"{MANY_SCHEMA}.t{i:04d}" for i in range(tables)]

    def work(cur) -> None:  # noqa: ANN001
        cur.execute(f"CREATE DATABASE {MANY_SCHEMA}")
        for name in names:
            cur.execute(f"CREATE TABLE {name} {COLUMNS}")
            insert_rows(cur, name, 1, rows)

    on_both(topo, work)
    return names


# ---- measuring ----------------------------------------------------------------------------------


def idle_fraction(interval: float = 0.5) -> float:
    """Share of this machine's CPU time that was idle over `interval` (/proc/stat)."""
    def snap() -> tuple[int, int]:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return v[3] + v[4], sum(v)

    i0, t0 = snap()
    time.sleep(interval)
    i1, t1 = snap()
    return (i1 - i0) / max(1, t1 - t0)


def wait_quiet(limit_s: float, threshold: float = 0.9) -> float:
    """Wait (at most limit_s) until other work leaves the CPU at least `threshold` idle; the
    idle share last seen. Host-level contention is invisible here: interleaving covers it."""
    deadline = time.monotonic() + limit_s
    seen = idle_fraction()
    while seen < threshold and time.monotonic() < deadline:
        seen = idle_fraction()
    return seen


@dataclass
class Child:
    wall: float
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float  # this process's peak resident set
    cpu_s: float  # its own user + system time


def run_child(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 3600) -> Child:
    """Run argv under GNU time, which reports that one process's peak RSS. Not os.wait4 on
    our own child: a child forked (or vforked) from this 70 MB Python process inherits the
    parent's high-water mark across exec, so every tool would read 70 MB."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss:
        wrapped = [TIME, "-f", "%M %U %S", "-o", rss.name, *argv] if TIME else list(argv)
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env, cwd="/")
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        fields = (rss.read().strip().splitlines() or ["0 0 0"])[-1].split() if TIME else ["0", "0", "0"]
        kb, user, system = (float(x) for x in fields[-3:])
        return Child(wall, proc.returncode, out.read().decode(), err.read().decode(), kb / 1024, user + system)


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


@dataclass
class Drills:
    """How to run one drills tree's command: this one, or `--compare-with DIR`."""

    name: str
    env: dict[str, str]

    def argv(self, topo, tables: Sequence[str], chunk_size: int) -> list[str]:  # noqa: ANN001
        return [str(DRILLS), "check", "consistency", "--state-dir", str(topo.state_dir), "--tables", ",".join(tables),
                "--chunk-size", str(chunk_size), "--json"]

    def run(self, topo, tables: Sequence[str], chunk_size: int, *, allow_diffs: bool = False) -> tuple[Child, dict]:  # noqa: ANN001
        child = run_child(self.argv(topo, tables, chunk_size), self.env)
        if child.returncode not in ((0, 1) if allow_diffs else (0,)):
            raise SystemExit(f"{self.name}: drills check consistency exited {child.returncode}: "
                             f"{(child.stderr or child.stdout).strip()[-800:]}")
        return child, json.loads(child.stdout)


def checksum_tables(topo, dcs: Sequence[str], tables: Sequence[str]) -> float:  # noqa: ANN001
    """CHECKSUM TABLE on each of `dcs` at once (connections opened before the clock starts)."""
    conns = [topo.connect(dc, read_timeout=3600) for dc in dcs]
    start = threading.Barrier(len(conns) + 1)

    def run(conn) -> None:  # noqa: ANN001
        with conn.cursor() as cur:
            start.wait()
            cur.execute("CHECKSUM TABLE " + ", ".join(tables))
            cur.fetchall()

    try:
        threads = [threading.Thread(target=run, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        return time.perf_counter() - t0
    finally:
        for c in conns:
            c.close()


def pt_argv(topo, chunk_size: int | None, what: Sequence[str]) -> list[str]:  # noqa: ANN001
    s, c = topo.servers["dc1"], topo.credentials
    argv = ["pt-table-checksum", f"h={s.host},P={s.port},u={c.admin_user}", *what,
            "--recursion-method=dsn=D=percona,t=dsns", "--no-check-replication-filters", "--no-check-binlog-format",
            "--no-version-check"]
    if chunk_size:
        argv += ["--chunk-size", str(chunk_size), "--chunk-time", "0"]
    return argv


def run_pt(topo, what: Sequence[str], chunk_size: int | None = None, allow_diffs: bool = False) -> Child:  # noqa: ANN001
    env = dict(os.environ, MYSQL_PWD=topo.credentials.admin_password)  # pt reads the password from here, not argv
    child = run_child(pt_argv(topo, chunk_size, what), env)
    if child.returncode != 0 and not (allow_diffs and child.returncode == 16):
        raise SystemExit(f"pt-table-checksum exited {child.returncode}: {(child.stderr or child.stdout).strip()[-800:]}")
    return child


def pt_diff_chunks(topo, table: str) -> list[str]:  # noqa: ANN001
    db, _, tbl = table.partition(".")
    conn = topo.connect("dc2")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT lower_boundary FROM percona.checksums WHERE db = %s AND tbl = %s AND "
                        "(this_crc <> master_crc OR this_cnt <> master_cnt OR ISNULL(master_crc) <> ISNULL(this_crc)) "
                        "ORDER BY chunk", (db, tbl))
            return [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


@dataclass
class Measured:
    """Medians over the runs of one workload."""

    name: str
    rows: int
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, wall: float, cpu: float | None = None, rss: float | None = None) -> None:
        self.wall.setdefault(key, []).append(wall)
        if cpu is not None:
            self.cpu.setdefault(key, []).append(cpu)
        if rss is not None:
            self.rss.setdefault(key, []).append(rss)

    def med(self, key: str) -> float:
        return statistics.median(self.wall[key])


@dataclass
class Workload:
    name: str
    rows: int
    tables: list[str]
    pt_what: list[str]  # what pt-table-checksum is told to check


def measure(topo, workloads: Sequence[Workload], contenders: Sequence[Drills], args: argparse.Namespace) -> list[Measured]:  # noqa: ANN001
    """Warm every contender on every workload once, then `args.runs` rounds, each running
    every workload with every contender in turn: all sizes are measured in the same
    minutes, so a slower spell of this shared machine hits them alike and the time per
    million rows compares across sizes."""
    for w in workloads:
        for d in contenders:
            _, doc = d.run(topo, w.tables, args.chunk_size)
            if doc["verdict"] != "passed" or doc["rows_compared"] < w.rows:
                raise SystemExit(f"{d.name}: the sides should be identical ({w.name}): {json.dumps(doc)[:600]}")
        run_pt(topo, w.pt_what)
        checksum_tables(topo, ["dc1", "dc2"], w.tables)

    meter = CpuMeter(topo)
    results = [Measured(w.name, w.rows) for w in workloads]
    for i in range(args.runs):
        for w, m in zip(workloads, results, strict=True):
            idle = wait_quiet(args.quiet_wait)
            for d in contenders:
                with meter:
                    child, doc = d.run(topo, w.tables, args.chunk_size)
                m.add(d.name, child.wall, meter.seconds, child.max_rss_mb)
                m.add(d.name + " engine", doc["elapsed_s"])
            with meter:
                child = run_pt(topo, w.pt_what)
            m.add("pt", child.wall, meter.seconds, child.max_rss_mb)
            with meter:
                m.add("native", checksum_tables(topo, ["dc1"], w.tables))
            m.cpu.setdefault("native", []).append(meter.seconds)
            with meter:
                m.add("native2", checksum_tables(topo, ["dc1", "dc2"], w.tables))
            m.cpu.setdefault("native2", []).append(meter.seconds)
            ours = "  ".join(f"{d.name} {m.wall[d.name][-1]:.2f} s (engine {m.wall[d.name + ' engine'][-1]:.2f})"
                             for d in contenders)
            print(f"  round {i + 1} {w.name}: {ours}, pt-table-checksum {m.wall['pt'][-1]:.2f} s, CHECKSUM TABLE "
                  f"{m.wall['native'][-1]:.2f} s (both servers {m.wall['native2'][-1]:.2f} s); idle before {idle:.0%}, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for m in results:
        report_one(m, contenders)
    return results


def report_one(m: Measured, contenders: Sequence[Drills]) -> None:
    rows = m.rows
    print(f"\n{m.name}: {rows:,} rows, median of {len(m.wall['pt'])}; CPU = both mariadbd + the tool's own process")
    print(f"{'':44} {'wall s':>7} {'rows/s':>11} {'vs pt':>6} {'/CHECKSUM x2':>13} {'CPU s':>7} {'peak MB':>8}")
    lines = []
    for d in contenders:
        lines += [(f"drills check consistency ({d.name}, command)", d.name),
                  ("  of which engine (compare)", d.name + " engine")]
    lines += [("pt-table-checksum (defaults)", "pt"), ("CHECKSUM TABLE, dc1 only", "native"),
              ("CHECKSUM TABLE, dc1 + dc2 in parallel", "native2")]
    for text, key in lines:
        t = m.med(key)
        cpu = f"{statistics.median(m.cpu[key]):>7.2f}" if key in m.cpu else f"{'':>7}"
        rss = f"{max(m.rss[key]):>8.1f}" if key in m.rss else f"{'':>8}"
        print(f"{text:<44} {t:>7.3f} {rows / t:>11,.0f} {m.med('pt') / t:>5.1f}x {t / m.med('native2'):>12.2f}x {cpu} {rss}")
    print()


def targets(m: Measured, key: str) -> str:
    speedup, ratio = m.med("pt") / m.med(key), m.med(key) / m.med("native2")
    return (f"{speedup:.1f}x pt ({'MET' if speedup >= 2 else 'NOT MET'}), {ratio:.2f}x CHECKSUM TABLE x2 "
            f"({'MET' if ratio <= 2 else 'NOT MET'})")


def summary(results: Sequence[Measured], contenders: Sequence[Drills]) -> None:
    ours = contenders[0].name
    print("summary (medians; per million = command wall / millions of rows; peak = drills process RSS)")
    head = (f"{'workload':>10} {'rows':>11} {'drills s':>9} {'engine s':>9} {'s per 1M':>9} {'peak MB':>8} "
            f"{'pt s':>8} {'CHECKSUM s':>11} {'CHECKSUM x2 s':>14}")
    extra = "".join(f" {d.name + ' s':>12}" for d in contenders[1:])
    print(head + extra)
    for m in results:
        line = (f"{m.name:>10} {m.rows:>11,} {m.med(ours):>9.3f} {m.med(ours + ' engine'):>9.3f} "
                f"{m.med(ours) / (m.rows / 1e6):>9.3f} {max(m.rss[ours]):>8.1f} {m.med('pt'):>8.3f} "
                f"{m.med('native'):>11.3f} {m.med('native2'):>14.3f}")
        print(line + "".join(f" {m.med(d.name):>12.3f}" for d in contenders[1:]))
    print()
    for m in results:
        print(f"targets at {m.name}: command {targets(m, ours)}; engine {targets(m, ours + ' engine')}")
        for d in contenders[1:]:
            print(f"{'':>12}{d.name}: command {targets(m, d.name)}")


def diff_check(topo, rows: int, ours: Drills, args: argparse.Namespace) -> bool:  # noqa: ANN001
    """10 rows changed directly on dc2: the same chunks as pt-table-checksum, and the keys."""
    table = table_for(rows)
    changed = sorted(random.Random(5).sample(range(1, rows + 1), 10))
    conn = topo.connect("dc2")
    try:
        with conn.cursor() as cur:
            cur.execute(f"UPDATE {table} SET amount = amount + 0.01 WHERE id IN ({', '.join(map(str, changed))})")
    finally:
        conn.close()
    child, doc = ours.run(topo, [table], args.chunk_size, allow_diffs=True)
    result = doc["tables"][0]
    our_chunks = sorted(str(c["first"][0]) for c in result["mismatched_chunks"])
    our_keys = sorted(k[0] for k in result["differing"]["keys"])
    run_pt(topo, ["--tables", table], args.chunk_size, allow_diffs=True)
    theirs = sorted(pt_diff_chunks(topo, table))
    print(f"10 rows changed on dc2 in {table}: ids {changed}")
    print(f"  drills exit {child.returncode} in {child.wall:.2f} s, chunks (first key) {our_chunks}")
    print(f"  pt-table-checksum chunks (lower_boundary)  {theirs}")
    print(f"  same chunks: {'YES' if our_chunks == theirs else 'NO'}; drills names the 10 keys: "
          f"{'YES' if our_keys == changed else 'NO ' + str(our_keys)}")
    return our_chunks == theirs and our_keys == changed and child.returncode == 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=parse_sizes, default=None, help="row counts of bench.orders, e.g. 100k,1m,10m")
    ap.add_argument("--rows", type=parse_count, default=None, help="one size (the same as --sizes N)")
    ap.add_argument("--many-tables", type=parse_many, default=None, metavar="NxM", help="also N tables of M rows")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chunk-size", type=int, default=consistency.DEFAULT_CHUNK_SIZE)
    ap.add_argument("--compare-with", type=Path, default=None, metavar="DIR",
                    help="another drills tree (e.g. `git archive` of an earlier commit) whose command runs beside")
    ap.add_argument("--bytecode-cache", action="store_true",
                    help="let the drills processes cache bytecode (in a temporary PYTHONPYCACHEPREFIX), as an "
                         "installed tool does; by default they run in this environment as it is")
    ap.add_argument("--quiet-wait", type=float, default=30.0, metavar="S",
                    help="before each round, wait up to S seconds for the CPU to be 90%% idle")
    ap.add_argument("--no-diff-check", action="store_true", help="skip the 10-changed-rows check")
    args = ap.parse_args()
    sizes = args.sizes or ([args.rows] if args.rows else [1_000_000])

    env = dict(os.environ)
    if args.bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="drills-bench-pycache-")
    contenders = [Drills("drills", env)]
    if args.compare_with:
        contenders.append(Drills(f"drills@{args.compare_with.name}", dict(env, PYTHONPATH=str(args.compare_with.resolve()))))

    state = Path(tempfile.mkdtemp(prefix="drills-bench-consistency-")) / "env"
    biggest = max(sizes[-1], args.many_tables[0] * args.many_tables[1] if args.many_tables else 0)
    pool = "512M" if biggest <= 2_000_000 else f"{-(-biggest * 160 // 2**30)}G"  # every row in memory: CPU, not disk
    spec = TopologySpec(server=ServerTuning(innodb_buffer_pool_size=pool, extra_args=["--innodb-log-file-size=512M"]))
    print(f"starting topology in {state} (buffer pool {pool}) ...", flush=True)
    topo = local.up(spec, state_dir=state)
    ok = True
    try:
        t0 = time.perf_counter()
        prepare(topo, sizes)
        workloads = [Workload(label(n), n, [table_for(n)], ["--tables", table_for(n)]) for n in sizes]
        print(f"{', '.join(table_for(n) for n in sizes)}: filled on dc1 and dc2", end="", flush=True)
        if args.many_tables:
            n, m = args.many_tables
            names = create_many(topo, n, m)
            workloads.append(Workload(f"{n}x{label(m)}", n * m, names, ["--databases", MANY_SCHEMA]))
            print(f"; {MANY_SCHEMA}: {n} tables x {m:,} rows", end="")
        print(f" (loaded in {time.perf_counter() - t0:.1f} s)", flush=True)
        results = measure(topo, workloads, contenders, args)
        summary(results, contenders)
        if not args.no_diff_check:
            print()
            ok = diff_check(topo, sizes[-1], contenders[0], args)
        return 0 if ok else 1
    finally:
        local.down(state)
        print("topology stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
