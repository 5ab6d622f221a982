"""`drills plan SCENARIO --environment FILE`: what a drill would do in someone else's
environment, said before anyone agrees to it — and touching nothing.

A DBA asked to lend a staging pair wants to read, before the run: each action in order, what
it acts on, how far its effect reaches (its blast radius) and how long it can last; which stop
conditions would be armed; the commands that would run on their hosts; and whether the run
would be refused at all. `drills run` answers the last question only, and only by refusing.

Only the scenario file and the environment file are read. Nothing connects to a server, etcd
or Toxiproxy, no command runs, and no secret is read: the environment's passwords stay where
the file says they are (the plan names where, so the operator can have them ready), and a
scenario's secret parameters are hidden from the loader so it substitutes its placeholder.
What would be refused is decided by the same code `drills run` uses (`safety.refusals`,
`safety.confirm`), so the plan and the run cannot disagree on it: exit 0 when the run would
be allowed to start, 2 when it would be refused (or a file is invalid).

Durations are upper bounds from the files alone: a step lasts at most its own bound (a wait's
duration, an expect's `within`, a gate's timeout, a command's timeout, else the runner's
per-step time limit), times its attempts; a fault lasts until the step that heals it, or the
end of the run, and never longer than the environment's `max_fault_duration`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills import masking
from drills.durations import format_duration
from drills.errors import EXIT_OK, EXIT_USAGE, UserError
from drills.faults.catalogue import FAULT_TYPES, validate_spec
from drills.runner import safety
from drills.runner.stages import RETRY_PAUSE_S, default_timeout
from drills.scenario.loader import find_scenario, load_scenario
from drills.scenario.model import Scenario, Stage, Step
from drills.topology.environment import FAULT_COMMANDS, EnvironmentFile, Secret, load_environment

CONTROLLER_RADIUS = "moves the application's writes between data centres"
WRITES_POLICY = {
    "all": "the harness may write to its own schema drills_canary and marker rows in the filtered tables "
           "(deleted again, unlogged)",
    "canary": "the harness writes only to its own schema drills_canary (canary rounds at the baseline, "
              "around each switch and at the end)",
    "none": "the harness writes nothing at all: no workload, no `sql` steps, no canaries",
}
_HEAL_ALL = ("*", "all")


# ---- blast radius ----------------------------------------------------------------------------------
def blast_radius(fault_type: str, target: str, params: Mapping[str, Any] | None = None) -> str:
    """How far a fault's effect reaches, in the words an environment's owner uses: which of
    their clients notice, and what is at risk. Network faults act on one service path; process
    faults on a whole server; database faults on one server's settings."""
    family = FAULT_TYPES[fault_type].family if fault_type in FAULT_TYPES else "network"
    params = params or {}
    if family == "process":
        if target == "etcd":
            return ("the whole etcd server: every client's and the controller's view of the routing key "
                    "(and the environment lock)")
        return f"the whole {target} server: every client, the link in and out of it"
    if family == "database":
        if fault_type == "read_only":
            return f"every application write to {target} fails (read_only on; reads and replication go on)"
        late = f" applies events {params['seconds']}s late" if fault_type == "replication_delay" and "seconds" in params \
            else " stops"
        return f"replication into {target}{late} ({target} falls behind; RPO at risk)"
    if target.startswith("app:"):
        dc = target[4:]
        return f"the application's connections to {dc} (writes and reads through its service path)"
    if target.startswith("link:") and "->" in target:
        source, replica = target[5:].split("->", 1)
        return f"replication from {source} to {replica} ({replica} falls behind; RPO at risk)"
    if target == "etcd":
        return "every client's and the controller's view of the routing key"
    return f"the path {target}"


# ---- the scenario's steps, with the longest each may take ------------------------------------------------
@dataclass
class _Slot:
    """One step where the engine will run it, with the longest it may take (all attempts)."""

    stage_index: int
    stage: Stage
    index: int
    step: Step
    bound_s: float
    bound_text: str

    @property
    def where(self) -> str:
        return f"stage {self.stage.name}, step {self.step.label(self.index)}"


def _natural(step: Step, env: EnvironmentFile) -> tuple[float | None, str]:
    """The step's own bound, when it has one: what it says, not the runner's safety net."""
    kind = step.kind
    if kind == "wait":
        return float(step.wait or 0), "the wait"
    if kind == "expect" and step.expect is not None:
        return step.expect.window, "its `within`"
    if kind == "gate" and step.gate is not None:
        return float(step.gate.timeout), "the gate's timeout"
    if kind == "shell" and step.shell_spec is not None:
        return float(step.shell_spec.timeout), "the command's timeout"
    if kind == "fault" and step.fault is not None and step.fault.type in FAULT_COMMANDS:
        cmds = env.process_faults.get(step.fault.target or "")  # type: ignore[call-overload]
        if cmds is not None:
            return float(cmds.timeout), f"process_faults.{step.fault.target}.timeout"
    return None, ""


def _step_bound(step: Step, env: EnvironmentFile) -> tuple[float, str]:
    """(seconds, how it was decided) for every attempt the step may make: the engine abandons an
    attempt at its `timeout:` (or its kind's default limit) and pauses between retries."""
    natural, why = _natural(step, env)
    limit = float(step.timeout) if step.timeout is not None else default_timeout(step)
    if natural is None:
        per = limit
        why = "its `timeout:`" if step.timeout is not None else f"the runner's limit for a {step.kind} step"
    elif step.timeout is not None and float(step.timeout) < natural:
        per, why = float(step.timeout), "its `timeout:`"
    else:
        per = natural
    attempts = step.retry + 1
    total = attempts * per + step.retry * RETRY_PAUSE_S
    text = f"{_dur(per)} ({why})"
    if step.retry:
        text = f"{_dur(total)}: {attempts} attempts of {text}"
    return round(total, 3), text


def _slots(scenario: Scenario, env: EnvironmentFile) -> list[_Slot]:
    out: list[_Slot] = []
    for si, stage in enumerate(scenario.stages):
        for i, step in enumerate(stage.steps):
            bound, text = _step_bound(step, env)
            out.append(_Slot(si, stage, i, step, bound, text))
    return out


def _stage_time(slots: list[_Slot], si: int) -> float:
    """The longest a stage may take: its steps one after the other, or its longest step when
    they run in parallel."""
    mine = [s for s in slots if s.stage_index == si]
    if not mine:
        return 0.0
    bounds = [s.bound_s for s in mine]
    return max(bounds) if mine[0].stage.parallel else sum(bounds)


def _span(slots: list[_Slot], start: int, end: int | None) -> float:
    """The longest time from the end of step `start` to the start of step `end` (None: the end
    of the last stage). The steps of a parallel stage start together, so the stage counts as its
    longest step, and a later step of it may start before or after the fault."""
    a = slots[start]
    last_stage = max(s.stage_index for s in slots)
    b = slots[end] if end is not None else None
    b_stage = b.stage_index if b is not None else last_stage + 1
    if b is not None and b_stage == a.stage_index:
        if a.stage.parallel:
            return _stage_time(slots, a.stage_index)
        return sum(s.bound_s for s in slots[start + 1:end])
    total = _stage_time(slots, a.stage_index) if a.stage.parallel else \
        sum(s.bound_s for s in slots[start + 1:] if s.stage_index == a.stage_index)
    total += sum(_stage_time(slots, si) for si in range(a.stage_index + 1, b_stage))
    if b is not None and not b.stage.parallel:
        total += sum(s.bound_s for s in slots[:end] if s.stage_index == b_stage)
    return total


def _heals(slots: list[_Slot]) -> dict[int, int | None]:
    """Fault step -> the step that heals it (None: nothing does; the runner at the end). Like
    `ActiveFaults.heal`: a heal names a fault, or failing that a target, or `*` for every one."""
    out: dict[int, int | None] = {}
    for p, slot in enumerate(slots):
        fault = slot.step.fault
        if fault is None or not FAULT_TYPES[fault.type].lasting:
            continue
        out[p] = None
        for q in range(p + 1, len(slots)):
            heal = slots[q].step.heal
            if heal is None:
                continue
            named = {s.step.fault.handle for s in slots[:q] if s.step.fault is not None}
            if heal in _HEAL_ALL or heal == fault.handle or (heal == fault.target and heal not in named):
                out[p] = q
                break
    return out


# ---- the plan ------------------------------------------------------------------------------------------
def plan(scenario_path: str | os.PathLike[str], env_path: str | os.PathLike[str],
         params: Mapping[str, str] | None = None, confirm: str | None = None, *,
         environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything a run of `scenario_path` in the environment of `env_path` would do, and whether
    it would be allowed to start — from the two files alone. Raises ConfigError for a file that
    does not validate (the CLI's exit 2); a refusal is not an exception but part of the plan, so
    every one is listed at once (the run stops at the first kind it meets) and the actions are
    still shown around them. `environ` stands in for os.environ (non-secret parameters only)."""
    environ = dict(os.environ) if environ is None else dict(environ)
    path = find_scenario(str(scenario_path))
    hidden = _secret_variables(path)
    scenario = load_scenario(path, dict(params or {}), environ={k: v for k, v in environ.items() if k not in hidden},
                             require_secrets=False)
    env = load_environment(env_path)

    refusals = safety.refusals(scenario, env)
    try:
        safety.confirm(env, confirm)
        confirmation = {"needed": env.protected, "given": confirm, "matches": not env.protected or confirm == env.name}
    except UserError as exc:
        refusals.append(str(exc))
        confirmation = {"needed": True, "given": confirm, "matches": False}

    slots = _slots(scenario, env)
    heals = _heals(slots)
    notes: list[str] = []
    actions = _setup_actions(scenario, env, slots) + _stage_actions(scenario, env, slots, heals, notes) + \
        _cleanup_actions(scenario, env, slots, heals)
    allowed = not refusals
    return {
        "scenario": scenario.name,
        "scenario_file": str(path),
        "environment": env.name,
        "environment_file": str(env.source),
        "allowed": allowed,
        "exit_code": EXIT_OK if allowed else EXIT_USAGE,
        "protected": env.protected,
        "confirm": confirmation,
        "writes": {"policy": env.writes, "means": WRITES_POLICY[env.writes]},
        "waived": safety.waivers(env),
        "max_fault_duration_s": float(env.max_fault_duration),
        "actions": actions,
        "process_commands": [dict(c, step=a["where"]) for a in actions for c in a.get("commands", [])
                             if c.get("kind") == "process"],
        "stop_conditions": [_stop_condition(c, scenario) for c in env.stop_conditions],
        "lock": {"key": env.lock_key, "ttl_s": float(env.lock.ttl)},
        "secrets": _secrets(scenario, env),
        "refusals": refusals,
        "notes": notes,
    }


def _secret_variables(path: Path) -> set[str]:
    """The environment variables the scenario's secret parameters come from: kept from the
    loader, so the plan never holds a secret (it substitutes its placeholder instead). A file
    that does not parse is left for the loader to report."""
    from drills.yamlsource import parse, read_text

    try:
        doc, _ = parse(read_text(path), str(path))
    except UserError:
        return set()
    declared = doc.get("params") if isinstance(doc, dict) else None
    if not isinstance(declared, dict):
        return set()
    return {spec["env"] for spec in declared.values()
            if isinstance(spec, dict) and spec.get("secret") is True and isinstance(spec.get("env"), str)}


def _action(phase: str, where: str, kind: str, what: str, target: str, radius: str, seconds: float | None,
            duration: str, **extra: Any) -> dict[str, Any]:
    return {"phase": phase, "where": where, "kind": kind, "action": what, "target": target, "blast_radius": radius,
            "max_duration_s": seconds, "max_duration": duration, **extra}


def _setup_actions(scenario: Scenario, env: EnvironmentFile, slots: list[_Slot]) -> list[dict[str, Any]]:
    total = sum(_stage_time(slots, si) for si in range(len(scenario.stages)))
    whole = f"the whole run (stages at most {_dur(total)}, plus judging)"
    out = [_action("setup", "before the stages", "lock", "take the environment lock (one drill at a time)",
                   f"etcd key {env.lock_key}",
                   "one key in the environment's etcd, bound to a lease; another drill is refused while it is held",
                   None, f"{whole}; a crashed run's lock expires {_dur(float(env.lock.ttl))} after it stops")]
    c = scenario.controller
    if c.kind != "none":
        commands = [{"kind": "controller", "action": "monitor", "when": "for the whole run", "command": c.monitor}] \
            if c.monitor else []
        on_its_own = "may move the application's writes between data centres on its own"
        if c.kind == "reference" and c.auto_failover:
            radius = f"{on_its_own} when its probes fail (auto_failover; fencing {'on' if c.fencing else 'off'})"
        elif c.kind == "reference":
            radius = "decides nothing alone (auto_failover off): acts only at switchover/failover/failback steps"
        elif c.monitor:
            radius = f"your monitor {on_its_own}"
        else:
            radius = "runs your commands only at switchover/failover/failback steps"
        out.append(_action("setup", "before the stages", "controller", f"start the {c.kind} controller",
                           "both data centres and the routing key", radius, None, whole, commands=commands))
    if scenario.workload.kind != "none" and not any(s.step.kind == "workload" and s.step.workload == "start"
                                                    for s in slots):
        out.append(_action("setup", "before the stages", "workload", "start the workload", "the active data centre",
                           _workload_radius(scenario), None, "until the stages end"))
    return out


def _workload_radius(scenario: Scenario) -> str:
    w = scenario.workload
    if w.kind == "external":
        return f"your load generator's writes (`{w.command}`) to the active data centre"
    return (f"the application's writes: {w.rate:g}/s orders from {w.workers} workers to the active data centre "
            "(following the routing key)")


def _stage_actions(scenario: Scenario, env: EnvironmentFile, slots: list[_Slot], heals: dict[int, int | None],
                   notes: list[str]) -> list[dict[str, Any]]:
    cap = float(env.max_fault_duration)
    healed_by: dict[int, list[int]] = {}
    for p, q in heals.items():
        if q is not None:
            healed_by.setdefault(q, []).append(p)
    out: list[dict[str, Any]] = []
    for p, slot in enumerate(slots):
        step, kind = slot.step, slot.step.kind
        extra: dict[str, Any] = {"stage": slot.stage.name, "step": step.label(slot.index)}
        if slot.stage.parallel:
            extra["parallel"] = True
        if kind == "fault":
            out.append(_fault_action(slot, p, slots, heals, env, cap, extra, notes))
            continue
        seconds, duration = slot.bound_s, slot.bound_text
        if kind == "heal":
            healing = _lifting(env, [slots[f] for f in healed_by.get(p, [])])
            named = {n for s in slots[:p] if s.step.fault is not None for n in (s.step.fault.handle, s.step.fault.target)}
            if step.heal not in _HEAL_ALL and step.heal not in named:
                notes.append(f"{slot.where}: `heal: {step.heal}` names no fault injected before it (the step would fail)")
            out.append(_action("stage", slot.where, kind, f"heal {step.heal}", healing["target"],
                               f"lifts {healing['lifted']}" if healing["lifted"] else "nothing active to lift",
                               seconds, duration, commands=healing["commands"], heals=healing["heals"], **extra))
        elif kind in ("switchover", "failover", "failback"):
            spec = getattr(step, kind)
            to = getattr(spec, "to", None)
            c = scenario.controller
            commands = [{"kind": "controller", "action": kind, "when": "this step", "command": getattr(c, kind)}] \
                if c.kind == "external" and getattr(c, kind) else []
            force = " (force)" if kind == "failover" and getattr(spec, "force", False) else ""
            out.append(_action("stage", slot.where, kind, f"{kind}{force} by the {c.kind} controller",
                               f"to {to}" if to else "to the other data centre", CONTROLLER_RADIUS, seconds, duration,
                               commands=commands, **extra))
        elif kind == "wait":
            out.append(_action("stage", slot.where, kind, f"wait {_dur(float(step.wait or 0))}", "-",
                               "none (the drill waits)", seconds, duration, **extra))
        elif kind == "expect":
            target, radius = _expect_effect(step, env.writes)
            out.append(_action("stage", slot.where, kind, f"expect {step.expect.kind}", target, radius,  # type: ignore[union-attr]
                               seconds, duration, **extra))
        elif kind == "gate":
            g = step.gate
            assert g is not None
            out.append(_action("stage", slot.where, kind, f"gate {g.name}: wait for an approval", "-",
                               "none (waits for a person's approval; fails when the timeout runs out)", seconds, duration,
                               **extra))
        elif kind == "sql":
            s = step.sql
            assert s is not None
            out.append(_action("stage", slot.where, kind, f"run SQL: {s.statement}", f"{s.dc} ({s.via} path)",
                               f"whatever the statement does on {s.dc}, as the admin account", seconds, duration,
                               **extra))
        elif kind == "shell":
            sh = step.shell_spec
            assert sh is not None
            out.append(_action("stage", slot.where, kind, f"run a shell command: {sh.command}", "this machine",
                               "whatever the command does", seconds, duration,
                               commands=[{"kind": "shell", "action": "shell", "when": "this step",
                                          "command": sh.command}], **extra))
        elif kind == "route":
            r = step.route
            assert r is not None
            out.append(_action("stage", slot.where, kind, f"write the routing key: active {r.active}",
                               f"etcd key {env.etcd.routing_key}", CONTROLLER_RADIUS, seconds, duration, **extra))
        elif kind == "workload":
            start = step.workload == "start"
            out.append(_action("stage", slot.where, kind, f"{step.workload} the workload", "the active data centre",
                               _workload_radius(scenario) if start else "the application's writes stop",
                               seconds, duration, **extra))
        else:  # a step kind added later: said, not hidden
            out.append(_action("stage", slot.where, kind, kind, "-", "unknown", seconds, duration, **extra))
    return out


def _expect_effect(step: Step, writes: str = "all") -> tuple[str, str]:
    e = step.expect
    assert e is not None
    if e.kind == "active":
        return f"the routing key (active {e.active})", "none (reads the routing key)"
    if e.kind == "writes_succeed":
        dc = e.writes_succeed.dc if e.writes_succeed and e.writes_succeed.dc else "the active data centre"
        if writes != "all":  # drills.runner.steps._expect_writes: only the harness's own schema
            return dc, (f"probe rows in drills_canary.write_probe on {dc}, through the application's service path "
                        "(the harness's own schema)")
        return dc, (f"probe rows in app.job_log on {dc}, through the application's service path "
                    "(a table the filter list keeps on each side)")
    if e.kind == "orders_acknowledged":
        return e.orders_acknowledged.dc, "none (reads the workload's ledger)"  # type: ignore[union-attr]
    if e.kind == "read_only":
        return e.read_only.dc, "none (reads @@read_only on the observer path)"  # type: ignore[union-attr]
    dc = e.dc or "the standby"
    return dc, "none (reads replication status on the observer path)"


def _process_command(env: EnvironmentFile, fault_type: str, target: str, which: str) -> list[dict[str, Any]]:
    """The environment's commands a process fault runs: `act` at its step (crash, hang,
    restart), `heal` when it is healed (restart after a crash, resume after a hang), `all` both.
    Missing ones are shown as missing (None) — they are refused too."""
    actions = FAULT_COMMANDS.get(fault_type, ())
    chosen = {"act": actions[:1], "heal": actions[1:], "all": actions}[which]
    cmds = env.process_faults.get(target)  # type: ignore[call-overload]
    return [{"kind": "process", "target": target, "action": action,
             "when": "inject" if i == 0 and which != "heal" else "heal",
             "command": env.process_command(target, action),
             "timeout_s": float(cmds.timeout) if cmds is not None else None}
            for i, action in enumerate(chosen)]


def _fault_action(slot: _Slot, p: int, slots: list[_Slot], heals: dict[int, int | None], env: EnvironmentFile,
                  cap: float, extra: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    fault = slot.step.fault
    assert fault is not None
    spec = validate_spec(fault.model_dump(exclude_none=True))
    target = spec.target
    shown = ", ".join(f"{k}={v}" for k, v in spec.params.items())
    what = f"fault {spec.type} on {target}" + (f" ({shown})" if shown else "") + f", named {spec.name}"
    lasting = FAULT_TYPES[spec.type].lasting
    commands = _process_command(env, spec.type, target, "act")
    if FAULT_TYPES[spec.type].family in ("network", "config_centre") and target not in env.toxiproxy.proxies:
        notes.append(f"{slot.where}: environment {env.name} maps no Toxiproxy proxy for {target} "
                     "(toxiproxy.proxies); injecting would fail")
    fields: dict[str, Any] = {"fault": spec.name, "fault_type": spec.type, "params": spec.params,
                              "allowed": env.allows(spec.type, target), "commands": commands,
                              "heal_commands": _process_command(env, spec.type, target, "heal") if lasting else [],
                              **extra}
    radius = blast_radius(spec.type, target, spec.params)
    if not lasting:
        seconds, duration = slot.bound_s, f"{slot.bound_text}; nothing stays to heal (a one-off {spec.type})"
        return _action("stage", slot.where, "fault", what, target, radius, seconds, duration, limit="one-off",
                       healed_by=None, until_heal_s=None, **fields)
    q = heals.get(p)
    until = round(_span(slots, p, q), 3)
    healer = slots[q].where if q is not None else None
    if until > cap:
        limit = "max_fault_duration"
        seconds = cap
        then = f"its heal step ({healer}) may come up to {_dur(until)} after it" if healer else \
            f"no step heals it, and the rest of the run may take up to {_dur(until)}"
        duration = f"{_dur(cap)}: the environment's max_fault_duration heals it if still active then ({then})"
    elif healer is not None:
        limit, seconds = "heal step", until
        duration = (f"until its heal step ({healer}): at most {_dur(until)} after it is injected "
                    f"(max_fault_duration {_dur(cap)} does not bind)")
    else:
        limit, seconds = "end of run", until
        duration = (f"until the end of the run (no step heals it; the runner heals every fault still active "
                    f"when the stages end): at most {_dur(until)} plus cleanup "
                    f"(max_fault_duration {_dur(cap)} does not bind)")
    return _action("stage", slot.where, "fault", what, target, radius, seconds, duration, limit=limit,
                   healed_by=healer or "end of run", until_heal_s=until, **fields)


def _lifting(env: EnvironmentFile, faulted: list[_Slot]) -> dict[str, Any]:
    """What healing these fault steps' faults acts on, and the environment's commands it runs."""
    faults = [s.step.fault for s in faulted if s.step.fault is not None]
    return {"target": ", ".join(sorted({f.target or "-" for f in faults})) or "-",
            "lifted": ", ".join(f"{f.handle} on {f.target}" for f in faults),
            "commands": [c for f in faults for c in _process_command(env, f.type, f.target or "-", "heal")],
            "heals": [f.handle for f in faults]}


def _cleanup_actions(scenario: Scenario, env: EnvironmentFile, slots: list[_Slot],
                     heals: dict[int, int | None]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if scenario.workload.kind != "none":
        out.append(_action("cleanup", "after the stages", "workload", "stop the workload (if still running)",
                           "the active data centre", "the application's writes stop", None, "-"))
    if scenario.controller.kind != "none":
        out.append(_action("cleanup", "after the stages", "controller", "stop the controller",
                           "-", "none (no more decisions)", None, "-"))
    left = _lifting(env, [slots[p] for p, q in heals.items() if q is None])
    out.append(_action("cleanup", "after the stages", "heal", "heal every fault still active", left["target"],
                       f"lifts {left['lifted']} (and any a failed step left behind)" if left["lifted"] else
                       "lifts whatever a failed or interrupted step left behind (nothing, when every step ran)",
                       None, "-", commands=left["commands"], heals=left["heals"]))
    out.append(_action("cleanup", "after the stages", "judge", "observe both servers and judge the checks",
                       "dc1, dc2 (observer path)", f"reads; writes as the policy allows ({env.writes})", None, "-"))
    out.append(_action("cleanup", "after the stages", "lock", "release the environment lock",
                       f"etcd key {env.lock_key}", "deletes the lock key", None, "-"))
    return out


def _stop_condition(cond: Any, scenario: Scenario) -> dict[str, Any]:
    if cond.sql is not None:
        probe = f"SQL on {cond.sql.dc} (observer path): {cond.sql.query!r} must return {cond.sql.expect!r}"
    elif cond.http is not None:
        probe = f"GET {cond.http.url} must answer HTTP {cond.http.status}" + \
            (f" containing {cond.http.contains!r}" if cond.http.contains is not None else "")
    else:
        fw = cond.failed_writes
        probe = (f"at most {fw.max_rate:.0%} of the workload's writes may fail over {_dur(float(fw.window))} "
                 f"(checked from {fw.min_attempts} attempts)")
        if scenario.workload.kind == "none":
            probe += "; the scenario has no workload, so it never trips"
    return {"name": cond.name, "kind": cond.kind, "probe": probe, "every_s": float(cond.every),
            "timeout_s": float(cond.timeout), "failures": cond.failures,
            "trips": f"after {cond.failures} failed poll(s) in a row, polled every {_dur(float(cond.every))} "
                     f"(a probe unanswered in {_dur(float(cond.timeout))} has failed)"}


def _secrets(scenario: Scenario, env: EnvironmentFile) -> list[dict[str, str]]:
    """Where the run would read its secrets from — named, never read here."""
    out: list[dict[str, str]] = []

    def add(what: str, secret: Secret | None) -> None:
        if secret is None:
            return
        src = f"environment variable {secret.env}" if secret.env is not None else f"file {env.path(secret.file)}"  # type: ignore[arg-type]
        out.append({"for": what, "from": src})

    add("accounts.admin.password", env.accounts.admin.password)
    add("accounts.app.password", env.accounts.app.password)
    if env.accounts.repl is not None:
        add("accounts.repl.password", env.accounts.repl.password)
    add("etcd.password", env.etcd.password)
    for name, spec in scenario.params.items():
        if spec.secret:
            out.append({"for": f"scenario parameter {name}", "from": f"environment variable {spec.env}"})
    return out


# ---- text ----------------------------------------------------------------------------------------------
def _dur(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return format_duration(seconds)


def render_text(p: Mapping[str, Any]) -> str:
    """The plan as an environment's owner reads it: actions in order, then stop conditions,
    then the verdict — refusals last, where the eye ends."""
    lines = [f"plan: scenario {p['scenario']} in environment {p['environment']} (nothing was touched: "
             "no server, etcd or Toxiproxy contacted, no secret read)", ""]
    lines.append(f"environment {p['environment']}: " + ("protected" if p["protected"] else "not protected"))
    c = p["confirm"]
    if p["protected"]:
        lines.append(f"  --confirm {c['given']}: matches" if c["matches"] else
                     f"  --confirm: {'given ' + repr(c['given']) + ', which does not match' if c['given'] else 'not given'}")
    lines.append(f"  writes: {p['writes']['policy']} — {p['writes']['means']}")
    for check, why in p["waived"].items():
        lines.append(f"  waived check {check}: {why}")
    lines.append(f"  max_fault_duration: {_dur(p['max_fault_duration_s'])}")
    lines.append("")
    lines.append("actions, in order:")
    for n, a in enumerate(p["actions"], start=1):
        par = " [parallel stage]" if a.get("parallel") else ""
        lines.append(f"{n:3d}. [{a['where']}]{par} {a['action']}")
        lines.append(f"       target:       {a['target']}")
        lines.append(f"       blast radius: {a['blast_radius']}")
        lines.append(f"       max duration: {a['max_duration']}")
        if a.get("kind") == "fault" and not a.get("allowed", True):
            lines.append("       NOT ALLOWED in this environment")
        for cmd in a.get("commands", []):
            shown = cmd["command"] if cmd["command"] is not None else "MISSING"
            label = f"process_faults.{cmd['target']}.{cmd['action']}" if cmd["kind"] == "process" else cmd["action"]
            lines.append(f"       runs ({cmd['when']}): {label}: {shown}")
        for cmd in a.get("heal_commands", []):
            shown = cmd["command"] if cmd["command"] is not None else "MISSING"
            lines.append(f"       healed by: process_faults.{cmd['target']}.{cmd['action']}: {shown}")
    lines.append("")
    lines.append("process-fault commands that would run:")
    if p["process_commands"]:
        for cmd in p["process_commands"]:
            shown = cmd["command"] if cmd["command"] is not None else "MISSING (refused)"
            timeout = f" (timeout {_dur(cmd['timeout_s'])})" if cmd.get("timeout_s") else ""
            lines.append(f"  - {cmd['step']} ({cmd['when']}): process_faults.{cmd['target']}.{cmd['action']}: "
                         f"{shown}{timeout}")
    else:
        lines.append("  none")
    lines.append("")
    lines.append("stop conditions that would be armed:")
    for s in p["stop_conditions"]:
        lines.append(f"  - {s['name']} ({s['kind']}): {s['probe']}; trips {s['trips']}")
    if not p["stop_conditions"]:
        lines.append("  none declared")
    lines.append(f"  and max_fault_duration: any fault active for {_dur(p['max_fault_duration_s'])} is healed")
    lines.append("  when one trips: every active fault is healed at once, the run is aborted (exit 4)")
    lines.append(f"  lock: {p['lock']['key']} (ttl {_dur(p['lock']['ttl_s'])})")
    if p["secrets"]:
        lines.append("")
        lines.append("secrets the run would read (not read now):")
        lines += [f"  - {s['for']}: {s['from']}" for s in p["secrets"]]
    if p["notes"]:
        lines.append("")
        lines.append("notes:")
        lines += [f"  - {note}" for note in p["notes"]]
    lines.append("")
    if p["refusals"]:
        lines.append(f"REFUSED: scenario {p['scenario']} may not run in environment {p['environment']}:")
        lines += [f"  - {r}" for r in p["refusals"]]
    else:
        lines.append(f"ALLOWED: scenario {p['scenario']} may run in environment {p['environment']}")
    return "\n".join(lines) + "\n"


# ---- the command ---------------------------------------------------------------------------------------
def register_plan(subparsers: argparse._SubParsersAction) -> None:
    """`drills plan`, registered next to `drills run` (whose refusals it shows in advance)."""
    p = subparsers.add_parser(
        "plan", help="dry run: what a drill would do in an environment, touching nothing",
        description="Prints each action the scenario would take with its target, blast radius and longest "
                    "duration, the stop conditions that would be armed, and what would be refused. Reads the "
                    "scenario and the environment file only: no server, etcd or Toxiproxy is contacted and no "
                    "secret is read. Exit codes: 0 the run would be allowed, 2 it would be refused or a file "
                    "is invalid.")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario file, or the name of one in scenarios/")
    p.add_argument("--environment", type=Path, metavar="FILE", required=True,
                   help="the environment file of the environment to drill (provider external)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="override a scenario parameter")
    p.add_argument("--confirm", metavar="NAME", help="a protected environment's name, as `drills run` would get it")
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    from drills.scenario.commands import parse_param_args

    result = plan(args.scenario, args.environment, parse_param_args(args.param), args.confirm)
    text = json.dumps(_masked(result), indent=2) + "\n" if args.json else masking.mask(render_text(result))
    sys.stdout.write(text)
    sys.stdout.flush()
    return int(result["exit_code"])


def _masked(value: Any) -> Any:
    """Every string value masked before it is serialised (a key is ours, never a secret; and a
    secret with a quote in it no longer matches once JSON has escaped it)."""
    if isinstance(value, str):
        return masking.mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value
