"""The fault catalogue (Jepsen's nemesis): each fault has inject() and heal(), both journaled.

    fault = make_fault({"type": "port_change", "target": "app:dc1"}, topo, journal)
    fault.inject()          # journals fault.inject {name, type, target, params, details}
    fault.heal(by="step")   # journals fault.heal {name, type, target, by, ok, error?}; idempotent

`ActiveFaults` is the runner's register: `heal(name_or_target)` for a `heal:` step and
`heal_all()` for the heal that always runs at the end.
"""

from __future__ import annotations

from typing import Any

from drills.faults.active import ActiveFaults, HealReport
from drills.faults.base import Fault, FaultError
from drills.faults.catalogue import (
    FAULT_TYPES,
    FaultSpec,
    FaultSpecError,
    FaultType,
    fault_json_schema,
    validate_spec,
)
from drills.faults.database import ReadOnlyFault, ReplicationDelayFault, ReplicationStopFault
from drills.faults.network import DownFault, PortChangeFault, ToxicFault
from drills.faults.process import CrashFault, HangFault, RestartFault
from drills.journal import Journal
from drills.topology.state import Topology

IMPLEMENTATIONS: dict[str, type[Fault]] = {
    "latency": ToxicFault,
    "bandwidth": ToxicFault,
    "timeout": ToxicFault,
    "reset_peer": ToxicFault,
    "slow_close": ToxicFault,
    "down": DownFault,
    "port_change": PortChangeFault,
    "crash": CrashFault,
    "hang": HangFault,
    "restart": RestartFault,
    "replication_stop": ReplicationStopFault,
    "replication_delay": ReplicationDelayFault,
    "read_only": ReadOnlyFault,
    "etcd_down": DownFault,
    "etcd_slow": ToxicFault,
}
assert set(IMPLEMENTATIONS) == set(FAULT_TYPES)


def make_fault(spec: dict[str, Any], topo: Topology, journal: Journal | None) -> Fault:
    """Validate a scenario step's `fault:` mapping against the running topology and bind it.
    Raises FaultSpecError (a ConfigError, so a UserError) with the offending key."""
    proxies = tuple(topo.proxies) if topo is not None and topo.proxies else None
    fault_spec = validate_spec(spec, proxies=proxies)
    return IMPLEMENTATIONS[fault_spec.type](fault_spec, topo, journal)


__all__ = [
    "FAULT_TYPES", "IMPLEMENTATIONS", "ActiveFaults", "Fault", "FaultError", "FaultSpec", "FaultSpecError", "FaultType", "HealReport",
    "fault_json_schema", "make_fault", "validate_spec",
]
