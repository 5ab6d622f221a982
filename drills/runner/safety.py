"""What keeps a drill in someone else's environment to what it was allowed.

Before anything starts (`refusals`, `confirm`): every fault the scenario would inject must be
listed in the environment's `allow`; a process fault needs the environment's own command for
it (and for its heal); an environment that allows no writes refuses a workload and `sql`
steps; a `protected` environment needs `--confirm NAME`. All problems are reported at once,
exit 2, nothing touched.

While it runs (`Safeguards`), in the manner of AWS FIS stop conditions and Chaos Toolkit's
safeguards:

- **one drill at a time** — a lock key in the environment's etcd bound to a lease the run
  keeps alive; a second run is refused naming the holder and since when; a SIGKILLed run's
  lease expires by itself after `lock.ttl`;
- **stop conditions** — each probe (a SQL query with its expected answer, an HTTP health
  URL, a ceiling on the workload's failed-write rate over a window) is polled on its own
  thread; when one trips, every active fault is healed *from that thread at once* (the
  engine may be blocked in a step), then the run is aborted: status `aborted`, reason
  `aborted: stop condition NAME tripped at T`, exit code 4 (`EXIT_STOPPED`; 130 stays the
  code of a signal);
- **a longest fault** — a fault active for longer than `max_fault_duration` is healed when it
  runs out, even while the scenario is stuck in a step.
"""

from __future__ import annotations

import getpass
import os
import platform
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Any

from drills import events as ev
from drills.errors import UserError
from drills.journal import now_wall
from drills.topology.environment import FAULT_COMMANDS, EnvironmentFile, StopCondition

SOURCE = "safety"
POLL_S = 0.05


# ---- before anything starts ------------------------------------------------------------------------
def refusals(scenario: Any, env: EnvironmentFile) -> list[str]:
    """Every reason this scenario may not run in `env`, each naming the step."""
    from drills.active_active.runner import environment_refusals
    from drills.runner.session import topology_spec

    active_active = topology_spec(scenario).mode == "active-active"
    problems: list[str] = environment_refusals(topology_spec(scenario), env)
    for stage, i, step in scenario.steps():
        where = f"stage {stage.name}, step {step.label(i)}"
        # active-active: a cut-over (a failover moves every range of a unit) writes the routing document
        moves = step.cutover.to if step.cutover is not None else \
            (step.failover.to or "*") if active_active and step.failover is not None else None
        if moves is not None and not env.allows("cutover", moves):
            allowed = ", ".join(f"{a.fault} on {'/'.join(a.targets)}" for a in env.allow) or "nothing"
            problems.append(f"{where}: a cut-over to {moves} writes the routing document, which environment "
                            f"{env.name} does not allow (add `{{fault: cutover, targets: [{moves}]}}` to "
                            f"allow; allow: {allowed})")
        if active_active and step.failback is not None:
            problems.append(f"{where}: failback in active-active re-points the returned unit's link and re-applies "
                            f"its filters, and drills never reconfigures replication in environment {env.name}: "
                            "bring the unit back with your own tooling")
        if step.fault is not None:
            ftype, target = step.fault.type, step.fault.target or "-"
            if not env.allows(ftype, target):
                allowed = ", ".join(f"{a.fault} on {'/'.join(a.targets)}" for a in env.allow) or "nothing"
                problems.append(f"{where}: fault {ftype} on {target} is not allowed in environment {env.name} "
                                f"(allow: {allowed})")
            for action in FAULT_COMMANDS.get(ftype, ()):
                if env.process_command(target, action) is None:
                    problems.append(f"{where}: fault {ftype} on {target} needs the environment's "
                                    f"process_faults.{target}.{action} command, which {env.name} does not give "
                                    "(drills never touches a process it did not start)")
        if env.writes == "none" and step.kind == "sql":
            problems.append(f"{where}: a `sql` step writes, and environment {env.name} allows no writes (writes: none)")
        if env.writes == "none" and step.expect is not None and step.expect.writes_succeed is not None:
            problems.append(f"{where}: `expect: writes_succeed` writes a probe row, and environment {env.name} allows "
                            "no writes (writes: none)")
    if env.writes == "none" and scenario.workload.kind != "none":
        problems.append(f"workload {scenario.workload.kind} writes, and environment {env.name} allows no writes "
                        "(writes: none)")
    return problems


# what each writes policy keeps a drill from judging (the checks stay `unknown`, waived with why)
_NEEDS_WRITES = ("rto", "rpo", "sequence_continuity", "split_brain", "write_availability")


def waivers(env: EnvironmentFile) -> dict[str, str]:
    """The checks this environment cannot let a drill judge, each with the reason: journaled
    in `run.environment`, so a re-judge from the record waives the same ones."""
    out: dict[str, str] = {}
    if env.writes == "none":
        why = f"environment {env.name} allows no writes (writes: none): no workload, no canaries"
        out.update(dict.fromkeys(_NEEDS_WRITES, why))
        out["filter_tables"] = why
    elif env.writes == "canary":
        out["filter_tables"] = (f"environment {env.name} allows writes only to the harness schema (writes: canary): "
                                "no marker rows in its filtered tables, so filters are judged as read back only")
    return out


def confirm(env: EnvironmentFile, given: str | None) -> None:
    if env.protected and given != env.name:
        said = f" (--confirm {given!r} does not name it)" if given else ""
        raise UserError(f"environment {env.name} is protected: a drill there needs --confirm {env.name}{said}")


# ---- one drill at a time ----------------------------------------------------------------------------
class EnvironmentLock:
    """Taken before the run directory exists (a refused run leaves no record behind); the
    journal is attached once it does (`attach`)."""

    def __init__(self, topo: Any, env: EnvironmentFile, run_id: str, journal: Any = None):
        self.topo, self.env, self.run_id, self.journal = topo, env, run_id, journal
        self.key = env.lock_key
        self.ttl = float(env.lock.ttl)
        self.holder = {"run_id": run_id, "pid": os.getpid(), "host": platform.node(), "user": _user(),
                       "since": now_wall()}
        self._lease: Any = None
        self._cc: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        self._cc = self.topo.config_center(timeout=3.0)
        lease, other = self._cc.acquire_lock(self.key, self.holder, self.ttl)
        if lease is None:
            self._cc.close()
            self._cc = None
            who = other or {}
            raise UserError(f"environment {self.env.name} is being drilled by run {who.get('run_id', '?')} "
                            f"(pid {who.get('pid', '?')} on {who.get('host', '?')}, {who.get('user', '?')}) since "
                            f"{who.get('since', '?')}; one drill at a time (lock {self.key}, expires "
                            f"{self.ttl:g} s after its holder stops)")
        self._lease = lease
        self._thread = threading.Thread(target=self._keep_alive, name="environment-lock", daemon=True)
        self._thread.start()

    def attach(self, journal: Any) -> None:
        self.journal = journal
        journal.record(SOURCE, ev.SAFETY_LOCK, action="acquired", key=self.key, ttl_s=self.ttl,
                       since=self.holder["since"])

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._lease.refresh()
            except Exception as exc:  # noqa: BLE001 - journaled; the next refresh may work
                if self.journal is not None:
                    self.journal.record(SOURCE, ev.SAFETY_LOCK, action="refresh_failed", key=self.key,
                                        error=type(exc).__name__)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._lease is not None and self._cc is not None:
            try:
                self._cc.release_lock(self.key, self._lease, self.holder)
                if self.journal is not None:
                    self.journal.record(SOURCE, ev.SAFETY_LOCK, action="released", key=self.key)
            finally:
                self._cc.close()
                self._lease = self._cc = None


# ---- while it runs ----------------------------------------------------------------------------------
class Safeguards:
    """Stop conditions and fault deadlines, each on its own thread. `on_trip(name, detail)` is
    called once, from the tripping thread, after every active fault was healed."""

    def __init__(self, env: EnvironmentFile, topo: Any, journal: Any, faults: Any, *,
                 on_trip: Callable[[str, str], None], write_counts: Callable[[], dict[str, int] | None]):
        self.env, self.topo, self.journal, self.faults = env, topo, journal, faults
        self.on_trip = on_trip
        self.write_counts = write_counts
        self._stop = threading.Event()
        self._tripped = threading.Lock()
        self.tripped: dict[str, Any] | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.journal.record(SOURCE, ev.SAFETY_ARMED, stop_conditions=[c.name for c in self.env.stop_conditions],
                            max_fault_duration_s=float(self.env.max_fault_duration))
        for cond in self.env.stop_conditions:
            self._spawn(f"stop-condition {cond.name}", lambda c=cond: self._watch(c))
        self._spawn("fault deadlines", self._deadlines)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=3.0)

    def _spawn(self, name: str, fn: Callable[[], None]) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    # ---- stop conditions -------------------------------------------------------------------------
    def _watch(self, cond: StopCondition) -> None:
        probe = _probe_for(cond, self.topo, self.write_counts)
        misses = 0
        while not self._stop.is_set():
            ok, detail = probe()
            misses = 0 if ok else misses + 1
            if misses >= cond.failures and not self._stop.is_set():
                self._trip(cond, detail)
                return
            self._stop.wait(float(cond.every))

    def _trip(self, cond: StopCondition, detail: str) -> None:
        if not self._tripped.acquire(blocking=False):
            return  # another condition tripped first
        at = time.monotonic_ns()
        self.journal.record(SOURCE, ev.SAFETY_TRIPPED, name=cond.name, kind=cond.kind, detail=detail[:300],
                            tripped_mono_ns=at)
        self.faults.close(f"stop condition {cond.name} tripped", by="stop_condition")  # a fault landing now is undone
        report = self.faults.heal_all(by="stop_condition")
        healed_at = time.monotonic_ns()
        self.tripped = {"name": cond.name, "detail": detail, "at_mono_ns": at, "wall": now_wall(),
                        "healed": report.healed, "heal_failed": report.failed,
                        "healed_s": round((healed_at - at) / 1e9, 3)}
        self.journal.record(SOURCE, ev.SAFETY_HEALED, name=cond.name, healed=report.healed,
                            failed=report.failed, took_s=self.tripped["healed_s"])
        self.on_trip(cond.name, detail)

    # ---- fault deadlines -------------------------------------------------------------------------
    def _deadlines(self) -> None:
        limit_ns = int(float(self.env.max_fault_duration) * 1e9)
        while not self._stop.wait(POLL_S):
            now = time.monotonic_ns()
            for fault in self.faults.active():
                since = getattr(fault, "injected_mono_ns", None)
                if since is None or now - since < limit_ns:
                    continue
                self.journal.record(SOURCE, ev.SAFETY_FAULT_EXPIRED, name=fault.name, target=fault.target,
                                    limit_s=float(self.env.max_fault_duration))
                try:
                    self.faults.heal(fault.name, by="max_fault_duration")
                except Exception as exc:  # noqa: BLE001 - the final heal tries again; journaled here
                    self.journal.record(SOURCE, ev.SAFETY_FAULT_EXPIRED, name=fault.name, heal_error=str(exc)[:300])


def _probe_for(cond: StopCondition, topo: Any, write_counts: Callable[[], dict[str, int] | None]
               ) -> Callable[[], tuple[bool, str]]:
    timeout = float(cond.timeout)
    if cond.sql is not None:
        spec = cond.sql

        def sql() -> tuple[bool, str]:
            try:
                conn = topo.connect(spec.dc, timeout=timeout, read_timeout=timeout)
            except UserError as exc:
                return False, str(exc)
            try:
                with conn.cursor() as cur:
                    cur.execute(spec.query)
                    row = cur.fetchone()
            except Exception as exc:  # noqa: BLE001 - any failure of the probe is the probe failing
                return False, f"{spec.dc}: {type(exc).__name__}: {exc}"
            finally:
                conn.close()
            got = None if row is None else str(row[0])
            return (got == spec.expect), f"{spec.dc}: {spec.query!r} returned {got!r}, expected {spec.expect!r}"

        return sql
    if cond.http is not None:
        spec_h = cond.http

        def http() -> tuple[bool, str]:
            try:
                with urllib.request.urlopen(spec_h.url, timeout=timeout) as resp:  # noqa: S310 - the user's own URL
                    status, body = resp.status, resp.read(65536).decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                status, body = exc.code, ""
            except (urllib.error.URLError, OSError) as exc:
                return False, f"{spec_h.url}: {getattr(exc, 'reason', exc)}"
            if status != spec_h.status:
                return False, f"{spec_h.url}: HTTP {status}, expected {spec_h.status}"
            if spec_h.contains is not None and spec_h.contains not in body:
                return False, f"{spec_h.url}: the answer does not contain {spec_h.contains!r}"
            return True, f"{spec_h.url}: HTTP {status}"

        return http
    spec_w = cond.failed_writes
    assert spec_w is not None
    samples: deque[tuple[int, int, int]] = deque()

    def failed_writes() -> tuple[bool, str]:
        counts = write_counts()
        now = time.monotonic_ns()
        if counts is None:
            return True, "no workload running"
        bad = int(counts.get("fail", 0)) + int(counts.get("info", 0))
        total = bad + int(counts.get("ok", 0))
        samples.append((now, total, bad))
        window_ns = int(float(spec_w.window) * 1e9)
        while len(samples) > 1 and now - samples[1][0] >= window_ns:
            samples.popleft()
        t0, total0, bad0 = samples[0]
        attempts, failed = total - total0, bad - bad0
        if attempts < spec_w.min_attempts:
            return True, f"{attempts} writes in the window"
        rate = failed / attempts
        return rate <= spec_w.max_rate, (f"{failed} of {attempts} writes failed in the last "
                                         f"{(now - t0) / 1e9:.1f} s ({rate:.0%}, ceiling {spec_w.max_rate:.0%})")

    return failed_writes



def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


__all__ = ["EnvironmentLock", "Safeguards", "confirm", "refusals", "waivers"]
