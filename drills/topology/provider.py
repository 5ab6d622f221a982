"""Who runs a topology: the one seam a new way of running servers plugs into.

A provider brings a topology up, attaches to one that runs, puts it back to its baseline,
and tears it down; everything else in the harness sees only the `Topology` handle it
returns — endpoints and credentials. What a provider can do beyond that is a declared
capability: process control (crash, hang, restart a server or etcd) is one a provider may
or may not offer, and a scenario whose faults need a capability its provider lacks is
refused before anything starts, naming the fault and the missing capability.

The baseline itself — schema, seed, routing document, the link with its filter list, the
standby fenced — is provider-independent (`drills.topology.baseline`): built through the
admin account over TCP, so it is the same on every provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from drills.errors import ConfigError
from drills.topology.spec import TopologySpec
from drills.topology.state import Topology

PROCESS_CONTROL = "process_control"
CAPABILITIES = {PROCESS_CONTROL: "crash, hang and restart the servers and etcd"}
# what each fault type needs beyond the service paths every provider has
FAULT_NEEDS = {"crash": PROCESS_CONTROL, "hang": PROCESS_CONTROL, "restart": PROCESS_CONTROL}


@runtime_checkable
class ProcessControl(Protocol):
    """Signals to the topology's own processes (targets: dc1, dc2, etcd)."""

    def check_running(self, target: str) -> int:
        """Its pid; raises (touching nothing) when it is not running."""

    def crash(self, target: str) -> dict[str, Any]: ...

    def hang(self, target: str) -> dict[str, Any]: ...

    def resume(self, target: str) -> dict[str, Any]: ...

    def restart(self, target: str) -> dict[str, Any]: ...

    def ensure_running(self, target: str) -> dict[str, Any]:
        """Start it again if it is gone, resume it if it is stopped."""

    def pids(self) -> dict[str, int]: ...


class TopologyProvider(Protocol):
    name: str
    capabilities: frozenset[str]

    def state_root(self) -> Path:
        """Where this provider keeps the state directories of topologies it starts."""

    def up(self, spec: TopologySpec, state_dir: Path, say: Callable[[str], None]) -> Topology:
        """Bring a whole topology up at its baseline; on failure leave nothing behind."""

    def attach(self, state_dir: Path) -> Topology:
        """A handle on a topology that runs (started earlier, maybe by another process)."""

    def reset(self, topo: Topology, spec: TopologySpec | None = None) -> None:
        """Back to the baseline (with `spec`'s schema, seed and filter list when given)."""

    def down(self, state_dir: Path | None, *, keep: bool = False) -> dict[str, Any]:
        """Stop what it started; also after a crashed run, from the state directory alone."""


def provider_for(name: str, *, state_dir: Path | None = None) -> TopologyProvider:
    if name == "local":
        from drills.topology.local import LocalProvider

        return LocalProvider()
    if name == "containers":
        from drills.topology.containers import ContainersProvider

        return ContainersProvider()
    if name == "external":
        from drills.topology.external import provider_from_state

        if state_dir is None:
            raise ConfigError("provider external needs an environment file: --environment FILE")
        return provider_from_state(Path(state_dir))
    raise ConfigError(f"unknown topology provider {name!r}; this build has: local, containers, external (--environment FILE)")


def attach(state_dir: str | Path) -> Topology:
    """A handle on the running topology in `state_dir`, through the provider that started it
    (so it comes with the capabilities that provider offers)."""
    return provider_for(Topology.load(state_dir).provider, state_dir=Path(state_dir)).attach(Path(state_dir))


def missing_capabilities(fault_types: Iterable[tuple[str, str]], provider: TopologyProvider) -> list[str]:
    """One message per fault (label, type) that needs a capability `provider` does not offer."""
    problems = []
    for label, fault_type in fault_types:
        need = FAULT_NEEDS.get(fault_type)
        if need is not None and need not in provider.capabilities:
            problems.append(f"{label}: fault {fault_type} needs {need} ({CAPABILITIES[need]}), which the "
                            f"{provider.name} provider does not offer")
    return problems
