"""Issue 13: drilling an environment that already exists, with the guards of a real chaos tool.

A topology the test brought up with the local provider plays "someone else's environment",
described by `drills env describe` — the harness then sees only the environment file. Real
MariaDB, etcd and Toxiproxy processes throughout:

- the reference drill runs through the external provider with the local provider's verdicts,
  and the harness starts and stops none of the processes (pids unchanged);
- an unlisted fault, a process fault without a command, writes where none are allowed and a
  protected environment without --confirm are refused before anything happens;
- a stop condition that trips mid-run aborts it, heals every fault within a second and
  leaves no toxic behind; a fault outliving max_fault_duration is healed while the scenario
  still waits;
- one drill at a time: a second run is refused naming the holder; a SIGKILLed run's lock
  expires by itself;
- writes: none — nothing at all is written (GTID sets unchanged), and the checks that need
  writes are waived with the environment's reason, also when re-judged from the record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills.checks.rejudge import judge_run_dir
from drills.errors import EXIT_STOPPED, UserError
from drills.journal import read
from drills.mysql import admin
from drills.runner import run_scenario
from drills.runner.session import RunOptions, run
from drills.topology.describe import describe, password_exports, render

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "scenarios" / "dc1-port-change-failover.yaml"


def env_file(topo: Any, tmp_path: Path, **changes: Any) -> Path:
    doc = describe(topo, f"t-{uuid.uuid4().hex[:8]}")
    doc.update(changes)
    path = tmp_path / "environment.yaml"
    path.write_text(render(doc))
    return path


def environ(topo: Any) -> dict[str, str]:
    return {**os.environ, **password_exports(topo)}


def drill(scenario: Path, env: Path, topo: Any, out: Path, **opts: Any) -> dict[str, Any]:
    import io

    return run(RunOptions(scenario=str(scenario), out=out, environment=env, environ=environ(topo),
                          record_history=False, stream=io.StringIO(), tty=False, **opts)).result


NO_WORKLOAD = {"checks": {"not_judged": dict.fromkeys(
    ("rto", "rpo", "sequence_continuity", "split_brain", "write_availability"), "no workload in this safety test")}}


def scenario(tmp_path: Path, name: str, stages: list[dict[str, Any]], **extra: Any) -> Path:
    doc = {"name": name, "workload": {"kind": "none"}, "controller": {"kind": "none"}, "stages": stages,
           "objectives": NO_WORKLOAD, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def toxiproxy_state(topo: Any) -> dict[str, Any]:
    return {name: (p.listen, p.upstream, p.enabled, sorted(t.name for t in p.toxics))
            for name, p in topo.toxiproxy().proxies().items()}


def gtid_sets(topo: Any) -> dict[str, str]:
    out = {}
    for dc in topo.servers:
        conn = topo.connect(dc)
        try:
            out[dc] = admin.gtid_executed(conn)
        finally:
            conn.close()
    return out


def test_the_reference_drill_runs_through_the_external_provider_with_the_same_verdicts(
        clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    local = run_scenario(REFERENCE, out_dir=tmp_path / "local", state_dir=topo.state_dir, approve=["failback"],
                         record_history=False)
    assert local["status"] == "passed", local["reasons"]
    from drills.topology.local import reset

    reset(topo)
    pids = topo.process_control.pids()
    path = env_file(topo, tmp_path)
    result = drill(REFERENCE, path, topo, tmp_path / "external", approve=["failback"])
    assert result["status"] == "passed", result["reasons"]
    assert {c["name"]: c["status"] for c in result["checks"]} == {c["name"]: c["status"] for c in local["checks"]}
    assert topo.process_control.pids() == pids  # started, stopped, restarted nothing
    assert result["topology"]["provider"] == "external"
    journal = read(tmp_path / "external" / "journal.jsonl")
    kinds = [e["kind"] for e in journal]
    assert kinds.index("run.environment") < kinds.index("safety.lock") < kinds.index("fault.inject")
    locks = [e["payload"]["action"] for e in journal if e["kind"] == "safety.lock"]
    assert locks == ["acquired", "released"]
    secrets = list(password_exports(topo).values())
    for f in (tmp_path / "external").rglob("*"):
        if f.is_file():
            text = f.read_text(errors="replace")
            assert not any(s in text for s in secrets), f
    assert judge_run_dir(tmp_path / "external")["differences_from_result"] == []


def test_what_the_environment_does_not_allow_is_refused_before_anything_happens(
        clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    before = (toxiproxy_state(topo), gtid_sets(topo))
    only_latency = env_file(topo, tmp_path, allow=[{"fault": "latency", "targets": ["link:dc1->dc2"]}])
    with pytest.raises(UserError) as port:
        drill(REFERENCE, only_latency, topo, tmp_path / "r1", approve=["failback"])
    assert "fault port_change on app:dc1 is not allowed" in str(port.value) and "latency on link:dc1->dc2" in str(port.value)
    everything = env_file(topo, tmp_path)
    with pytest.raises(UserError) as crash:
        drill(REPO / "scenarios" / "dc1-crash.yaml", everything, topo, tmp_path / "r2")
    assert "process_faults.dc1.crash" in str(crash.value) and "process_faults.dc1.restart" in str(crash.value)
    no_writes = env_file(topo, tmp_path, writes="none")
    with pytest.raises(UserError) as writes:
        drill(REFERENCE, no_writes, topo, tmp_path / "r3", approve=["failback"])
    assert "allows no writes" in str(writes.value)
    protected = env_file(topo, tmp_path, protected=True, name="staging-east")
    short = scenario(tmp_path, "short", [{"name": "s", "steps": [{"wait": "10ms"}]}])
    with pytest.raises(UserError) as confirm:
        drill(short, protected, topo, tmp_path / "r4")
    assert "--confirm staging-east" in str(confirm.value)
    with pytest.raises(UserError):
        drill(short, protected, topo, tmp_path / "r5", confirm="staging-west")
    for d in ("r1", "r2", "r3", "r4", "r5"):
        assert not (tmp_path / d / "journal.jsonl").exists()
    assert (toxiproxy_state(topo), gtid_sets(topo)) == before  # nothing was touched
    assert drill(short, protected, topo, tmp_path / "r6", confirm="staging-east")["status"] == "passed"


class Health:
    """An application health URL the test can break."""

    def __init__(self) -> None:
        self.ok = True
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200 if health.ok else 503)
                self.end_headers()
                self.wfile.write(b"ok" if health.ok else b"down")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for_kind(journal: Path, kind: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists():
            for line in journal.read_text().splitlines():
                e = json.loads(line)
                if e["kind"] == kind:
                    return e
        time.sleep(0.05)
    raise AssertionError(f"no {kind} in {journal} within {timeout}s")


def test_a_tripped_stop_condition_aborts_and_heals_every_fault_within_a_second(
        clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    before = toxiproxy_state(topo)
    health = Health()
    try:
        path = env_file(topo, tmp_path, stop_conditions=[{"name": "app-health", "http": {"url": health.url},
                                                           "every": "100ms"}])
        scen = scenario(tmp_path, "long-faults", [{"name": "faults", "steps": [
            {"fault": {"type": "latency", "target": "link:dc1->dc2", "latency_ms": 500, "name": "lag"}},
            {"fault": {"type": "port_change", "target": "app:dc1", "name": "moved"}},
            {"wait": "60s"},
        ]}], workload={"kind": "orders", "rate": "50/s", "workers": 2})
        out = tmp_path / "run"
        breaker = threading.Thread(target=lambda: (wait_for_kind(out / "journal.jsonl", "step.start", 30),
                                                   _after_two_faults(out), setattr(health, "ok", False)))
        breaker.start()
        t0 = time.monotonic()
        result = drill(scen, path, topo, out)
        breaker.join()
        took = time.monotonic() - t0
    finally:
        health.close()
    assert result["status"] == "aborted" and result["exit_code"] == EXIT_STOPPED == 4
    assert result["reasons"][0].startswith("aborted: stop condition app-health tripped at ")
    assert "HTTP 503" in result["reasons"][0]
    stopped = result["stopped_by"]
    assert sorted(stopped["healed"]) == ["lag", "moved"] and stopped["healed_s"] < 1.0, stopped
    assert took < 30  # the 60 s wait was cut short
    assert toxiproxy_state(topo) == before  # no toxic left, every proxy back at its address
    journal = read(out / "journal.jsonl")
    tripped = next(e for e in journal if e["kind"] == "safety.tripped")
    heals = [e for e in journal if e["kind"] == "fault.heal"]
    assert {h["payload"]["name"] for h in heals} == {"lag", "moved"}
    assert all(h["payload"]["by"] == "stop_condition" and h["seq"] > tripped["seq"] for h in heals)
    assert all((h["mono_ns"] - tripped["payload"]["tripped_mono_ns"]) / 1e9 < 1.0 for h in heals)


def _after_two_faults(out: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        injected = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()
                    if '"fault.inject"' in line]
        if len(injected) >= 2:
            time.sleep(0.5)
            return
        time.sleep(0.05)


def test_a_fault_that_outlives_max_fault_duration_is_healed_while_the_scenario_waits(
        clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    before = toxiproxy_state(topo)
    path = env_file(topo, tmp_path, max_fault_duration="1s")
    scen = scenario(tmp_path, "stuck", [{"name": "s", "steps": [
        {"fault": {"type": "latency", "target": "app:dc2", "latency_ms": 100, "name": "slow"}},
        {"wait": "3s"},
        {"heal": "slow"},
    ]}])
    result = drill(scen, path, topo, tmp_path / "run")
    assert result["status"] == "passed", result["reasons"]
    journal = read(tmp_path / "run" / "journal.jsonl")
    inject = next(e for e in journal if e["kind"] == "fault.inject")
    expired = next(e for e in journal if e["kind"] == "safety.fault_expired")
    heal = next(e for e in journal if e["kind"] == "fault.heal")
    assert heal["payload"]["by"] == "max_fault_duration" and heal["seq"] > expired["seq"]
    assert 1.0 <= (heal["mono_ns"] - inject["mono_ns"]) / 1e9 < 2.5  # healed once it outlived 1 s, not at the 3 s heal step
    assert toxiproxy_state(topo) == before


def test_one_drill_at_a_time_and_a_killed_runs_lock_expires(clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    path = env_file(topo, tmp_path, lock={"ttl": "3s"})
    long = scenario(tmp_path, "holder", [{"name": "s", "steps": [{"wait": "120s"}]}])
    short = scenario(tmp_path, "second", [{"name": "s", "steps": [{"wait": "10ms"}]}])
    out = tmp_path / "holder"
    holder = subprocess.Popen([sys.executable, "-m", "drills", "run", str(long), "--environment", str(path), "--out",
                               str(out), "--no-history"], env=environ(topo), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        acquired = wait_for_kind(out / "journal.jsonl", "safety.lock", 30)
        assert acquired["payload"]["action"] == "acquired"
        run_id = next(e for e in read(out / "journal.jsonl") if e["kind"] == "run.start")["payload"]["run_id"]
        with pytest.raises(UserError) as refused:
            drill(short, path, topo, tmp_path / "second")
        assert f"being drilled by run {run_id} (pid {holder.pid}" in str(refused.value)
        assert not (tmp_path / "second" / "journal.jsonl").exists()
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        t_killed = time.monotonic()
        while True:  # the lease runs out by itself (ttl 3 s): no one has to clean up
            try:
                result = drill(short, path, topo, tmp_path / f"third-{time.monotonic_ns()}")
                break
            except UserError:
                assert time.monotonic() - t_killed < 10, "the killed run's lock never expired"
                time.sleep(0.5)
        assert result["status"] == "passed"
        assert time.monotonic() - t_killed >= 1.0  # it was the lease that expired, not a release
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait(timeout=10)


def test_writes_none_writes_nothing_and_waives_what_needs_writes(clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    path = env_file(topo, tmp_path, writes="none")
    scen = scenario(tmp_path, "read-only", [{"name": "s", "steps": [
        {"fault": {"type": "latency", "target": "link:dc1->dc2", "latency_ms": 50, "name": "slow-link"}},
        {"wait": "500ms"},
        {"heal": "slow-link"},
    ]}], objectives={})
    before = gtid_sets(topo)
    result = drill(scen, path, topo, tmp_path / "run")
    assert gtid_sets(topo) == before  # not one transaction written on either side
    checks = {c["name"]: c for c in result["checks"]}
    for name in ("rto", "rpo", "sequence_continuity", "split_brain", "write_availability", "filter_tables"):
        assert checks[name]["status"] == "unknown" and "writes: none" in checks[name]["waived"], checks[name]
    assert checks["data_consistency"]["status"] == "passed"
    assert result["status"] == "passed", result["reasons"]
    journal = read(tmp_path / "run" / "journal.jsonl")
    assert not [e for e in journal if e["kind"] == "canary.write"]
    rejudged = judge_run_dir(tmp_path / "run")
    assert rejudged["differences_from_result"] == []


def test_writes_canary_keeps_every_harness_write_in_its_own_schema(clean_topology: Any, tmp_path: Path) -> None:
    """The default policy: the reference drill still judges everything it can; the harness's
    probe goes to drills_canary, no marker
    row goes into the user's filtered tables, and filter_tables is waived with that reason."""
    topo = clean_topology  # its app account may INSERT into drills_canary, as `env check` asks
    path = env_file(topo, tmp_path, writes="canary")
    result = drill(REFERENCE, path, topo, tmp_path / "run", approve=["failback"])
    checks = {c["name"]: c for c in result["checks"]}
    assert result["status"] == "passed", result["reasons"]
    assert checks["filter_tables"]["status"] == "unknown" and "writes: canary" in checks["filter_tables"]["waived"]
    assert "withheld" in checks["filter_tables"]["summary"]
    assert all(c["status"] == "passed" for n, c in checks.items() if n != "filter_tables")
    journal = read(tmp_path / "run" / "journal.jsonl")
    written = [e["payload"]["table"] for e in journal if e["kind"] == "canary.write"]
    assert written and all(t.startswith("drills_canary.") for t in written)
    for dc in topo.servers:
        conn = topo.connect(dc)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM app.job_log WHERE job_name = 'drills.expect'")
                assert cur.fetchone()[0] == 0
                cur.execute("SELECT COUNT(*) FROM drills_canary.write_probe")
                assert cur.fetchone()[0] > 0
        finally:
            conn.close()


def test_a_process_fault_runs_the_environments_own_commands_and_nothing_else(clean_topology: Any, tmp_path: Path) -> None:
    """dc1 hangs through the commands the environment file gives (here: signals to the pid in
    the server's own pid file — in a real environment an ssh/systemctl line), and the drill is
    judged as on the local provider; the harness restarts nothing (same pids)."""
    topo = clean_topology
    pidfile = Path(topo.state_dir) / "dc1" / "mysqld.pid"
    assert pidfile.exists()
    marks = tmp_path / "commands.log"
    path = env_file(topo, tmp_path, process_faults={"dc1": {
        "hang": f'echo "$DRILLS_ACTION $DRILLS_TARGET" >> {marks} && kill -STOP "$(cat {pidfile})"',
        "resume": f'echo "$DRILLS_ACTION $DRILLS_TARGET" >> {marks} && kill -CONT "$(cat {pidfile})"'}})
    pids = topo.process_control.pids()
    result = drill(REPO / "scenarios" / "dc1-hang.yaml", path, topo, tmp_path / "run")
    assert result["status"] == "passed", result["reasons"]
    assert marks.read_text().split("\n")[:2] == ["hang dc1", "resume dc1"]
    assert topo.process_control.pids() == pids
    journal = read(tmp_path / "run" / "journal.jsonl")
    inject = next(e for e in journal if e["kind"] == "fault.inject")
    assert inject["payload"]["type"] == "hang" and inject["payload"]["details"]["command"] == "hang"
