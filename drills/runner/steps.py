"""What each step kind does to a running topology.

Actions run in the engine's worker threads and must stop at `call.cancel`: every poll
loop here sleeps through `call.sleep`, and subprocesses are started in their own session
so a cancelled shell step can be killed with everything it started.

Faults are kept in the one register (`drills.faults.ActiveFaults`) so that whatever is
still active when the drill ends — on success, failure, an exception or Ctrl-C — is healed
by the runner; each fault journals its own inject and heal (`by: step` or `by: runner`).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills import events
from drills import journal as journal_mod
from drills.errors import UserError
from drills.journal import Journal
from drills.record import LEDGER_FILE
from drills.runner.gates import Approvals
from drills.runner.stages import Action, Cancelled, StepCall, StepError
from drills.scenario.model import ExpectSpec, Scenario, Step
from drills.topology.processes import group_alive, stop_group

SOURCE = "runner"
POLL_S = 0.1
MAX_ROWS = 20


# ---- the drill context --------------------------------------------------------------------------------


@dataclass
class DrillContext:
    """Everything actions share: the scenario, the topology handle, the parts in use."""

    scenario: Scenario
    journal: Journal
    topo: Any
    run_dir: Path
    faults: Any  # drills.faults.ActiveFaults
    approvals: Approvals
    controller: Any = None
    workload: Any = None
    workload_running: bool = False
    workload_stats: dict[str, Any] | None = None
    environ: dict[str, str] = field(default_factory=dict)
    make_fault: Callable[..., Any] | None = None  # spec, topo, journal -> Fault
    on_gate: Callable[[str], None] = lambda _g: None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    baseline_observed: bool = False

    def observe(self, when: str) -> None:
        """Record what only this moment can show (drills.observe.collector.observe_point): the
        link and its filters before the first fault or switch, canaries on each direction a
        switch leaves, the standby's sequence. Never fails the step: a side that cannot be
        reached is journaled as such and the checks say what could not be judged."""
        from drills.observe import collector as evidence

        if getattr(self.topo, "active_active", None) is not None:
            return  # two writers: the unit observer records its own points (drills.active_active.observe)
        if when == "baseline":
            with self._lock:
                if self.baseline_observed:
                    return
                self.baseline_observed = True
        try:
            evidence.observe_point(self.topo, self.journal, self.scenario, when=when)
        except Exception as exc:  # noqa: BLE001 - evidence that could not be collected is itself recorded
            self.journal.record("observer", events.OBSERVE_ERROR, what=f"observe {when}", error=str(exc))

    def shell_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.topo is not None:
            env.update(self.topo.endpoint_env())
        env["DRILLS_RUN_DIR"] = str(self.run_dir)
        if self.scenario.source is not None:
            env["DRILLS_SCENARIO_DIR"] = str(Path(self.scenario.source).resolve().parent)
        for name, value in self.scenario.param_values.items():
            env[f"DRILLS_PARAM_{name.upper()}"] = "" if value is None else str(value)
        env.update(self.environ)
        return env

    def route(self) -> Any:
        cc = self.topo.config_center(via="observer")
        try:
            return cc.read()
        finally:
            cc.close()

    def active_dc(self) -> str | None:
        route = self.route()
        return route.document.get("active") if route else None

    def stop_workload(self) -> dict[str, Any] | None:
        with self._lock:
            if not self.workload_running or self.workload is None:
                return self.workload_stats
            self.workload_running = False
        stats = self.workload.stop()
        self.workload_stats = dict(stats) if isinstance(stats, dict) else {"result": stats}
        return self.workload_stats


def actions(ctx: DrillContext) -> dict[str, Action]:
    def wait(step: Step, call: StepCall) -> dict[str, Any]:
        call.sleep(float(step.wait or 0))
        return {"waited_s": step.wait}

    def sql(step: Step, call: StepCall) -> dict[str, Any]:
        spec = step.sql
        assert spec is not None
        conn = ctx.topo.connect(spec.dc, via=spec.via, database=spec.database, timeout=min(5.0, max(call.remaining(), 0.5)),
                                read_timeout=max(call.remaining(), 1.0))
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(spec.statement)
                except Exception as exc:
                    raise StepError(f"{spec.dc} ({spec.via}): {exc}") from None
                rows = cur.fetchmany(MAX_ROWS) if cur.description else []
                _journal_scenario_canary(ctx, spec.dc, spec.statement, spec.database)
                return {"dc": spec.dc, "via": spec.via, "rowcount": cur.rowcount,
                        "rows": [list(r) for r in rows]}
        finally:
            conn.close()

    def shell(step: Step, call: StepCall) -> dict[str, Any]:
        spec = step.shell_spec
        assert spec is not None
        return run_shell(spec.command, min(spec.timeout, call.remaining()), ctx.shell_env(), call, ctx.run_dir)

    def fault(step: Step, call: StepCall) -> dict[str, Any]:
        assert step.fault is not None and ctx.make_fault is not None
        ctx.observe("baseline")
        made = ctx.make_fault(step.fault.model_dump(exclude_none=True), ctx.topo, ctx.journal)
        ctx.faults.inject(made)
        return {"fault": made.name}

    def heal(step: Step, call: StepCall) -> dict[str, Any]:
        assert step.heal is not None
        healed = ctx.faults.heal(step.heal, by="step")
        return {"healed": [f.name for f in healed]}

    def switchover(step: Step, call: StepCall) -> dict[str, Any] | None:
        assert step.switchover is not None
        return _controller_call(lambda: ctx.controller.switchover(step.switchover.to), planned=True)

    def failover(step: Step, call: StepCall) -> dict[str, Any] | None:
        assert step.failover is not None
        return _controller_call(lambda: ctx.controller.failover(step.failover.to, step.failover.force), planned=False)

    def failback(step: Step, call: StepCall) -> dict[str, Any] | None:
        assert step.failback is not None
        return _controller_call(lambda: ctx.controller.failback(step.failback.to), planned=True)

    def _controller_call(fn: Callable[[], Any], *, planned: bool) -> dict[str, Any] | None:
        if ctx.controller is None:
            raise StepError("this step needs a controller; the scenario has `controller: {kind: none}`")
        ctx.observe("baseline")
        if planned:  # an unplanned failover answers a fault: it must not wait for canaries
            ctx.observe("before-switch")
        try:
            outcome = fn()
        finally:
            ctx.observe("after-switch")
        if outcome is False:
            raise StepError("the controller refused or failed (see the journal)")
        if isinstance(outcome, dict):
            if outcome.get("ok") is False:
                raise StepError(str(outcome.get("error") or "the controller reported failure"))
            return {"controller": outcome}
        return None

    def expect(step: Step, call: StepCall) -> dict[str, Any]:
        assert step.expect is not None
        return run_expect(ctx, step.expect, call)

    def gate(step: Step, call: StepCall) -> dict[str, Any]:
        spec = step.gate
        assert spec is not None

        def waiting() -> None:
            ctx.journal.record(SOURCE, events.GATE_WAIT, gate=spec.name, how=ctx.approvals.instructions(spec.name))
            ctx.on_gate(spec.name)

        by = ctx.approvals.wait(spec.name, min(spec.timeout, call.remaining()), call.cancel, message=spec.message,
                                on_wait=waiting)
        ctx.journal.record(SOURCE, events.GATE_APPROVED, gate=spec.name, by=by)
        return {"gate": spec.name, "by": by}

    def route(step: Step, call: StepCall) -> dict[str, Any]:
        assert step.route is not None
        ctx.observe("baseline")
        return write_route(ctx, step.route.active, call)

    def workload(step: Step, call: StepCall) -> dict[str, Any] | None:
        if ctx.workload is None:
            raise StepError("this step needs a workload; the scenario has none")
        if step.workload == "start":
            with ctx._lock:
                if ctx.workload_running:
                    raise StepError("the workload is already running")
                if ctx.workload_stats is not None:
                    # one ledger, one period: a restarted load generator would number its
                    # operations again from the start, and the record could no longer tell them apart
                    raise StepError("the workload was already stopped; a drill runs its workload once")
                ctx.workload_running = True
            ctx.workload.start()
            return None
        stats = ctx.stop_workload()
        return {"workload": stats}

    def cutover(step: Step, call: StepCall) -> dict[str, Any] | None:
        assert step.cutover is not None
        spec = step.cutover
        return _controller_call(lambda: ctx.controller.cutover(tuple(spec.range), spec.to), planned=True)

    return {
        "wait": wait, "sql": sql, "shell": shell, "fault": fault, "heal": heal, "switchover": switchover,
        "failover": failover, "failback": failback, "expect": expect, "gate": gate, "route": route,
        "workload": workload, "cutover": cutover,
    }


_INSERT = re.compile(r"^\s*INSERT\s+(?:IGNORE\s+)?INTO\s+(`?[A-Za-z0-9_$]+`?(?:\.`?[A-Za-z0-9_$]+`?)?)\s*"
                     r"\(([^)]*)\)\s*VALUES\s*\((.*)\)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_LITERAL = re.compile(r"\s*(?:'((?:[^'\\]|\\.|'')*)'|(-?\d+(?:\.\d+)?)|(NULL))\s*(?:,|$)", re.IGNORECASE)


def scenario_insert(statement: str, database: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """(db.table, {column: value}) of a single-row `INSERT INTO t (cols) VALUES (literals)`,
    else None. Just enough to find again the marker rows a scenario writes by hand."""
    m = _INSERT.match(statement)
    if m is None:
        return None
    table = m.group(1).replace("`", "")
    if "." not in table:
        if not database:
            return None
        table = f"{database}.{table}"
    columns = [c.strip().strip("`") for c in m.group(2).split(",")]
    values: list[Any] = []
    rest = m.group(3)
    pos = 0
    while pos < len(rest):
        lit = _LITERAL.match(rest, pos)
        if lit is None or lit.end() == pos:
            return None
        text, number, null = lit.groups()
        if text is not None:
            values.append(text.replace("''", "'").replace("\\'", "'").replace("\\\\", "\\"))
        elif number is not None:
            values.append(int(number) if number.lstrip("-").isdigit() else number)
        else:
            values.append(None)
        pos = lit.end()
    if len(values) != len(columns) or not all(columns):
        return None
    return table, dict(zip(columns, values, strict=True))


def _journal_scenario_canary(ctx: DrillContext, dc: str, statement: str, database: str | None) -> None:
    """A scenario's own INSERT into a filtered table is a canary: filter_tables checks that the
    row never appears on the other side."""
    parsed = scenario_insert(statement, database)
    if parsed is None:
        return
    table, key = parsed
    try:
        filtered = ctx.topo.declared_filters.is_filtered(table)
    except Exception:  # noqa: BLE001 - without a declared list there is nothing to check it against
        return
    if filtered:
        ctx.journal.record("observer", events.CANARY_WRITE, table=table, source=dc, replica=ctx.topo.other(dc),
                           marker=f"scenario-{ctx.journal.seq}", filtered=True, key=key, by="scenario")


def run_shell(command: str, timeout: float, env: dict[str, str], call: StepCall, cwd: Path | None = None) -> dict[str, Any]:
    """A command in its own process group, killed with its children on timeout or cancel."""
    proc = subprocess.Popen(command, shell=True, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, text=True, errors="replace")
    deadline = time.monotonic() + timeout
    out = {"stdout": "", "stderr": ""}

    def drain() -> None:
        o, e = proc.communicate()
        out["stdout"], out["stderr"] = o or "", e or ""

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    finished = False
    try:
        while reader.is_alive():
            reader.join(POLL_S)
            if call.cancel.is_set():
                raise Cancelled("cancelled")
            if time.monotonic() > deadline:
                raise StepError(f"`{command}` timed out after {timeout:g}s")
        finished = True
    finally:
        # timed out or cancelled: the whole group goes, also what the shell left holding its
        # output after it returned itself
        if proc.poll() is None or (not finished and group_alive(proc.pid)):
            stop_group(proc, grace=2.0)
            reader.join(2)
    details = {"exit_code": proc.returncode, "stdout": _tail(out["stdout"]), "stderr": _tail(out["stderr"])}
    if proc.returncode != 0:
        call.details.update(details)
        said = _tail(out["stderr"] or out["stdout"], 300)
        raise StepError(f"`{command}` exited with {proc.returncode}" + (f": {said}" if said else ""))
    return details


def _tail(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---- expectations ----------------------------------------------------------------------------------


def run_expect(ctx: DrillContext, spec: ExpectSpec, call: StepCall) -> dict[str, Any]:
    """Poll until the assertion holds; fail with the last observation when `within` runs out."""
    within = spec.window
    started_ns = time.monotonic_ns()
    deadline = min(time.monotonic() + within, call.deadline)
    probe = _EXPECTATIONS[spec.kind]
    last: Any = None
    polls = 0
    started = time.monotonic()
    while True:
        polls += 1
        try:
            ok, last = probe(ctx, spec, started_ns)
        except (Cancelled, StepError):
            raise
        except Exception as exc:  # unreachable server etc.: an observation, keep polling
            ok, last = False, f"error: {exc}"
        if ok:
            return {"expect": spec.kind, "observed": last, "after_s": round(time.monotonic() - started, 3), "polls": polls}
        if time.monotonic() >= deadline:
            call.details.update({"expect": spec.kind, "observed": last, "polls": polls})
            raise StepError(f"expected {_describe(spec)} within {within:g}s; last observed: {last}")
        call.sleep(POLL_S)


def _describe(spec: ExpectSpec) -> str:
    kind = spec.kind
    if kind == "active":
        return f"active DC {spec.active}"
    if kind == "replication":
        return f"replication {spec.replication}" + (f" on {spec.dc}" if spec.dc else " on the standby")
    if kind == "lag_below":
        return f"replication lag below {spec.lag_below:g}s" + (f" on {spec.dc}" if spec.dc else "")
    if kind == "read_only" and spec.read_only:
        return f"read_only={'ON' if spec.read_only.value else 'OFF'} on {spec.read_only.dc}"
    if kind == "orders_acknowledged" and spec.orders_acknowledged:
        return f"the application to have an order acknowledged by {spec.orders_acknowledged.dc}"
    return "writes to succeed" + (f" on {spec.writes_succeed.dc}" if spec.writes_succeed and spec.writes_succeed.dc else "")


def _standby(ctx: DrillContext, dc: str | None) -> str:
    if dc:
        return dc
    active = ctx.active_dc()
    if active is None:
        raise StepError("no routing document in etcd; name the replica with `dc:`")
    return ctx.topo.other(active)


def _replica(ctx: DrillContext, dc: str) -> Any:
    from drills.mysql import admin

    conn = ctx.topo.connect(dc, via="observer", timeout=2.0, read_timeout=3.0)
    try:
        return admin.replica_status(conn)
    finally:
        conn.close()


def _expect_active(ctx: DrillContext, spec: ExpectSpec, since_ns: int = 0) -> tuple[bool, Any]:
    route = ctx.route()
    if route is None:
        return False, "no routing document"
    active = route.document.get("active")
    return active == spec.active, {"active": active, "epoch": route.document.get("epoch")}


def _expect_replication(ctx: DrillContext, spec: ExpectSpec, since_ns: int = 0) -> tuple[bool, Any]:
    dc = _standby(ctx, spec.dc)
    st = _replica(ctx, dc)
    if st is None:
        return spec.replication == "stopped", {"dc": dc, "replica": "not configured"}
    running = bool(st.io_running and st.sql_running)
    seen = {"dc": dc, "io_running": st.io_running, "sql_running": st.sql_running,
            "last_io_error": st.last_io_error or None}
    return running == (spec.replication == "running"), seen


def _expect_lag(ctx: DrillContext, spec: ExpectSpec, since_ns: int = 0) -> tuple[bool, Any]:
    dc = _standby(ctx, spec.dc)
    st = _replica(ctx, dc)
    if st is None:
        return False, {"dc": dc, "replica": "not configured"}
    lag = st.lag_s
    ok = lag is not None and bool(st.sql_running) and lag < float(spec.lag_below or 0) + 1e-9
    return ok, {"dc": dc, "lag_s": lag, "io_running": st.io_running, "sql_running": st.sql_running}


def _expect_read_only(ctx: DrillContext, spec: ExpectSpec, since_ns: int = 0) -> tuple[bool, Any]:
    from drills.mysql import admin

    assert spec.read_only is not None
    conn = ctx.topo.connect(spec.read_only.dc, via="observer", timeout=2.0, read_timeout=3.0)
    try:
        value = admin.read_only(conn)
    finally:
        conn.close()
    return value == spec.read_only.value, {"dc": spec.read_only.dc, "read_only": value}


def _expect_writes(ctx: DrillContext, spec: ExpectSpec, since_ns: int = 0) -> tuple[bool, Any]:
    """A write as the application makes it (service path, app role) to a table the filter list
    keeps on each side (app.job_log), so the probe itself cannot disturb replicated data."""
    assert spec.writes_succeed is not None
    dc = spec.writes_succeed.dc or ctx.active_dc()
    if dc is None:
        return False, "no routing document"
    try:
        conn = ctx.topo.connect(dc, via="service", role="app", timeout=1.0, read_timeout=2.0)
    except Exception as exc:
        return False, {"dc": dc, "error": str(exc)}
    from drills.observe.collector import PROBE_TABLE, writes_policy

    try:
        with conn.cursor() as cur:
            if writes_policy(ctx.topo) == "all":
                cur.execute("INSERT INTO app.job_log (dc, job_name, message) VALUES (%s, %s, %s)",
                            (dc, "drills.expect", "writes_succeed probe"))
            else:  # someone else's environment: only the harness's own schema (drills.observe.collector)
                cur.execute(f"INSERT INTO {PROBE_TABLE} (marker, dc) VALUES (%s, %s)", (uuid.uuid4().hex, dc))
        return True, {"dc": dc}
    except Exception as exc:
        return False, {"dc": dc, "error": str(exc)}
    finally:
        conn.close()


def _expect_orders(ctx: DrillContext, spec: ExpectSpec, since_ns: int = 0) -> tuple[bool, Any]:
    """From the workload's own ledger: an order acknowledged by the DC since the step began."""
    assert spec.orders_acknowledged is not None
    dc = spec.orders_acknowledged.dc
    path = ctx.run_dir / LEDGER_FILE
    if ctx.workload is None:
        raise StepError("orders_acknowledged needs a workload; the scenario has none")
    acked = 0
    for rec in journal_mod.read_tolerant(path, []):
        if rec.get("type") == "ok" and rec.get("f") == "write_order" and rec.get("dc") == dc \
                and int(rec.get("mono_ns") or 0) >= since_ns:
            acked += 1
    return acked > 0, {"dc": dc, "orders_acknowledged": acked}


_EXPECTATIONS: dict[str, Callable[[DrillContext, ExpectSpec, int], tuple[bool, Any]]] = {
    "active": _expect_active,
    "replication": _expect_replication,
    "lag_below": _expect_lag,
    "read_only": _expect_read_only,
    "writes_succeed": _expect_writes,
    "orders_acknowledged": _expect_orders,
}


# ---- manual routing (controller kind none) ------------------------------------------------------------


def write_route(ctx: DrillContext, active: str, call: StepCall) -> dict[str, Any]:
    """What an operator does with etcdctl: write the routing document's successor naming
    `active` by compare-and-swap. A lost race is re-read and retried, never overwritten."""
    cc = ctx.topo.config_center(via="observer")
    try:
        for _ in range(5):
            call.check()
            try:
                published = cc.publish_successor(active)
            except UserError as exc:
                raise StepError(str(exc)) from None
            if published is not None:
                before, doc, revision = published
                ends = {"from": before.active, "to": active}
                ctx.journal.record(SOURCE, events.ROUTE_PUBLISHED, **ends, epoch=doc["epoch"], revision=revision,
                                   by="operator")
                return {**ends, "epoch": doc["epoch"], "revision": revision}
            ctx.journal.record(SOURCE, events.ROUTE_CAS_LOST, actual_revision=cc.revision())
            call.sleep(POLL_S)
        raise StepError("could not publish the route: lost the compare-and-swap 5 times")
    finally:
        cc.close()
