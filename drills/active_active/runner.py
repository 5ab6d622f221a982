"""What a drill does to run in active-active mode: make the baseline two-way, publish the
initial unit rules, and mark the topology handle so the runner's parts (workload,
controller, observer, judging) take their active-active form."""

from __future__ import annotations

from typing import Any

from drills import events
from drills.active_active import topology as aa_topology
from drills.active_active import units
from drills.errors import UserError
from drills.topology.spec import TopologySpec

SOURCE = "topology"


def refuse_provider(provider: str) -> None:
    """Two-way replication is set up and verified on the local provider only so far."""
    if provider != "local":
        raise UserError(f"topology mode active-active runs on the local provider only for now (this run uses "
                        f"provider {provider}); run it without --provider/`provider:` or with `provider: local`")


def prepare(topo: Any, spec: TopologySpec, journal: Any, provider: str) -> dict[str, Any]:
    refuse_provider(provider)
    setup = aa_topology.establish(topo, spec.active_active, journal)
    cc = topo.config_center()
    try:
        route = cc.read()
        document = units.initial_document(route.document if route else {}, spec.active_active.users)
        revision = cc.put(document)
    finally:
        cc.close()
    journal.record(SOURCE, events.AA_RULES, rules_version=document["rules_version"], unit_epoch=document["unit_epoch"],
                   units=document["units"], ban=None, revision=revision, by="baseline")
    topo.active_active = spec.active_active
    return setup
