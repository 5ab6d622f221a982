"""How long `drills env up` takes until every component answers and replication runs,
beside a plain shell script that starts the same processes and does the same set-up
(template copy, 2x mariadbd, etcd, toxiproxy with the link proxy, schema on both sides,
replication through the proxy), measured in the same run.

    .venv/bin/python benchmarks/boot.py [--runs 5]

Targets (issue 2): median under 3 s on a 2-core machine, within 1.5x of the plain script.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drills.topology import local  # noqa: E402
from drills.topology.processes import allocate_ports, toxiproxy_binary  # noqa: E402

PLAIN = r"""
set -e
D="$1"; TPL="$2"; P1=$3; P2=$4; PE=$5; PEP=$6; PT=$7; PL=$8; SCHEMA="$9"; TOXI="${10}"
USER_OPT=""; [ "$(id -u)" = 0 ] && USER_OPT="--user=root"
for n in 1 2; do cp -a "$TPL" "$D/dc$n"; rm -f "$D/dc$n/.complete"; done
start_db() { n=$1; port=$2
  setsid /usr/sbin/mariadbd --no-defaults --datadir="$D/dc$n" --port=$port --bind-address=127.0.0.1 --socket="$D/dc$n.sock" \
    --pid-file="$D/dc$n.pid" --log-error="$D/dc$n.err" --server-id=$n --log-bin=binlog --binlog-format=ROW --log-slave-updates=ON \
    --skip-slave-start --innodb-buffer-pool-size=64M --innodb-log-file-size=8M --skip-name-resolve $USER_OPT >/dev/null 2>&1 &
  echo $! >> "$D/pids"; }
start_db 1 $P1; start_db 2 $P2
setsid /usr/bin/etcd --name b --data-dir "$D/etcd" --listen-client-urls http://127.0.0.1:$PE --advertise-client-urls http://127.0.0.1:$PE \
  --listen-peer-urls http://127.0.0.1:$PEP --initial-advertise-peer-urls http://127.0.0.1:$PEP --initial-cluster b=http://127.0.0.1:$PEP \
  --log-level warn >/dev/null 2>&1 & echo $! >> "$D/pids"
setsid "$TOXI" -host 127.0.0.1 -port $PT >/dev/null 2>&1 & echo $! >> "$D/pids"
for n in 1 2; do until mariadb --no-defaults -S "$D/dc$n.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; do sleep 0.02; done; done
until ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:$PE endpoint health >/dev/null 2>&1; do sleep 0.02; done
until curl -sf http://127.0.0.1:$PT/version >/dev/null; do sleep 0.02; done
curl -sf -X POST http://127.0.0.1:$PT/proxies -d "{\"name\":\"link\",\"listen\":\"127.0.0.1:$PL\",\"upstream\":\"127.0.0.1:$P1\"}" >/dev/null
ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:$PE put /bench/router '{"active":"dc1","epoch":1}' >/dev/null
for n in 1 2; do
  mariadb --no-defaults -S "$D/dc$n.sock" -uroot -e "SET sql_log_bin=0; CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'r'; GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'; SOURCE $SCHEMA;"
done
mariadb --no-defaults -S "$D/dc2.sock" -uroot -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PL, MASTER_USER='repl', MASTER_PASSWORD='r', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; SET GLOBAL replicate_ignore_table='app.app_config,app.job_log,app.job_switch'; SET GLOBAL replicate_wild_ignore_table='app.tmp_%,bi.%'; START SLAVE;"
until mariadb --no-defaults -S "$D/dc2.sock" -uroot -e 'SHOW SLAVE STATUS\G' | grep -q 'Slave_IO_Running: Yes'; do sleep 0.02; done
"""


def plain_once(template: Path) -> float:
    d = Path(tempfile.mkdtemp(prefix="drills-boot-plain-"))
    ports = allocate_ports({k: 0 for k in ("dc1", "dc2", "etcd", "peer", "toxi", "link")})
    script = d / "boot.sh"
    script.write_text(PLAIN)
    t = time.monotonic()
    try:
        subprocess.run(["bash", str(script), str(d), str(template), *(str(ports[k]) for k in ("dc1", "dc2", "etcd", "peer", "toxi", "link")),
                        str(REPO / "fixtures" / "schema.sql"), toxiproxy_binary()], check=True, timeout=120)
        return time.monotonic() - t
    finally:
        pids = [int(x) for x in (d / "pids").read_text().split()] if (d / "pids").exists() else []
        subprocess.run(["kill", "-9", *map(str, pids)], capture_output=True)
        time.sleep(0.3)
        shutil.rmtree(d, ignore_errors=True)


def drills_once() -> float:
    d = Path(tempfile.mkdtemp(prefix="drills-boot-")) / "env"
    t = time.monotonic()
    try:
        local.up(state_dir=d)
        return time.monotonic() - t
    finally:
        local.down(d)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("DRILLS_HOME", tempfile.mkdtemp(prefix="drills-home-"))
    template = local._ServerKind("mariadb").ensure_template()  # made once, outside the timing, as for both
    drills_once()  # warm the page cache for both contenders
    ours, plain = [], []
    for i in range(args.runs):  # interleaved, so machine load affects both alike
        ours.append(drills_once())
        plain.append(plain_once(template))
        print(f"run {i + 1}: drills env up {ours[-1]:.2f}s   plain script {plain[-1]:.2f}s", flush=True)
    mo, mp = statistics.median(ours), statistics.median(plain)
    print(f"\nmedian over {args.runs} runs: drills env up {mo:.2f}s   plain shell script {mp:.2f}s   ratio {mo / mp:.2f}x")
    print(f"targets: < 3 s -> {'met' if mo < 3 else 'MISSED'};  <= 1.5x plain -> {'met' if mo <= 1.5 * mp else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
