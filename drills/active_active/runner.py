"""What a drill does to run in active-active mode: make the baseline two-way (or, in someone
else's environment, verify that it already is), publish the initial unit rules, and mark the
topology handle so the runner's parts (workload, controller, observer, judging) take their
active-active form."""

from __future__ import annotations

from typing import Any

from drills import events
from drills.active_active import attached, units
from drills.active_active import topology as aa_topology
from drills.errors import UserError
from drills.topology.environment import AA_LINKS, EnvironmentFile
from drills.topology.spec import TopologySpec

SOURCE = "topology"
PROVIDERS = ("local", "containers", "external")


def refuse_provider(provider: str) -> None:
    """Two-way replication is established on the topologies drills makes (local, containers)
    and attached and verified on an environment file's (external)."""
    if provider not in PROVIDERS:
        raise UserError(f"topology mode active-active runs on the providers {', '.join(PROVIDERS)} (this run uses "
                        f"provider {provider})")


def environment_refusals(spec: TopologySpec, env: EnvironmentFile) -> list[str]:
    """Why this scenario's mode cannot run in `env` (before anything starts): drills never
    makes someone else's environment two-way, nor drills a single-writer scenario on a pair
    that writes on both sides; the scenario cannot choose filters or a central unit the
    environment does not have."""
    declared = env.mode
    if spec.mode != declared:
        if spec.mode == "active-active":
            return [f"the scenario runs in topology mode active-active but environment {env.name} declares mode "
                    f"{declared}: drills never reconfigures replication it did not set up (declare `mode: "
                    "active-active` with `active_active: {central, links}` when the environment already runs two-way)"]
        return [f"environment {env.name} declares mode active-active (both DCs write) and the scenario is "
                f"single-writer: its checks assume one writer; run an active-active scenario there"]
    if spec.mode != "active-active" or env.active_active is None:
        return []
    out = []
    if spec.active_active.central != env.active_active.central:
        out.append(f"the scenario's central unit is {spec.active_active.central}, environment {env.name} declares "
                   f"{env.active_active.central}")
    if sorted(spec.active_active.filter_links) != sorted(AA_LINKS):
        out.append(f"the scenario applies the filter list on {', '.join(spec.active_active.filter_links)} only; in "
                   f"environment {env.name} the filters are what the environment has (both links), never set by drills")
    return out


def prepare(topo: Any, spec: TopologySpec, journal: Any, provider: str,
            env: EnvironmentFile | None = None) -> dict[str, Any]:
    refuse_provider(provider)
    settings = spec.active_active
    if env is not None:  # someone else's pair: attached and verified, never established
        settings = attached.settings(env, spec.active_active.users)
        setup = attached.verify(topo, env, settings, journal)
    else:
        setup = aa_topology.establish(topo, settings, journal)
    cc = topo.config_center()
    try:
        route = cc.read()
        current = route.document if route else {}
        if env is not None and units.parse(current) is not None:  # the environment's own units stand
            document, revision, by = current, route.revision if route else None, "environment"
            settings = settings.model_copy(update={"users": int(current.get("users") or settings.users)})
        else:
            if env is not None and not any(a.fault in ("*", "cutover") for a in env.allow):
                raise UserError(f"environment {env.name}: its routing document carries no unit rules and drills may "
                                "not write them (allow `cutover` to let drills publish the initial units)")
            document = units.initial_document(current, settings.users)
            revision, by = cc.put(document), "baseline"
    finally:
        cc.close()
    journal.record(SOURCE, events.AA_RULES, rules_version=document["rules_version"], unit_epoch=document["unit_epoch"],
                   units=document["units"], ban=document.get("ban"), revision=revision, by=by)
    topo.active_active = settings
    return setup
