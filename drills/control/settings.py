"""Controller settings as the reference controller reads them.

The scenario model (another module) may hand us a pydantic model or a plain mapping; both
are read through `field` so the controller does not depend on how the scenario was parsed.
Durations are float seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.errors import ConfigError


def field(spec: Any, name: str, default: Any = None) -> Any:
    """One setting from a mapping or an object, `default` when absent or None."""
    if spec is None:
        return default
    value = spec.get(name, default) if isinstance(spec, dict) else getattr(spec, name, default)
    return default if value is None else value


def _seconds(spec: Any, name: str, default: float, where: str) -> float:
    value = field(spec, name, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.{name}: expected a duration in seconds, got {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"{where}.{name}: must not be negative, got {seconds}")
    return seconds


@dataclass(frozen=True)
class ProbeSettings:
    interval: float = 0.2
    timeout: float = 0.2
    failures: int = 3

    @property
    def budget(self) -> float:
        """The detection budget: how long `failures` consecutive probes take at best."""
        return self.interval * self.failures


@dataclass(frozen=True)
class ControllerSettings:
    kind: str = "reference"
    auto_failover: bool = True
    probe: ProbeSettings = ProbeSettings()
    max_lag: float = 1.0
    lag_wait: float = 5.0
    block_period: float = 30.0
    fencing: bool = True
    edge_fencing: bool = True
    failover_cmd: str | None = None
    switchover_cmd: str | None = None
    failback_cmd: str | None = None
    command_timeout: float = 60.0

    @classmethod
    def from_spec(cls, spec: Any) -> ControllerSettings:
        kind = str(field(spec, "kind", "reference"))
        if kind not in ("reference", "external", "none"):
            raise ConfigError(f"controller.kind: expected reference, external or none, got {kind!r}")
        probe_spec = field(spec, "probe", None)
        failures = field(probe_spec, "failures", 3)
        if not isinstance(failures, int) or isinstance(failures, bool) or failures < 1:
            raise ConfigError(f"controller.probe.failures: expected a whole number >= 1, got {failures!r}")
        probe = ProbeSettings(
            interval=_seconds(probe_spec, "interval", 0.2, "controller.probe"),
            timeout=_seconds(probe_spec, "timeout", 0.2, "controller.probe"),
            failures=failures,
        )
        return cls(
            kind=kind,
            auto_failover=bool(field(spec, "auto_failover", True)),
            probe=probe,
            max_lag=_seconds(spec, "max_lag", 1.0, "controller"),
            lag_wait=_seconds(spec, "lag_wait", 5.0, "controller"),
            block_period=_seconds(spec, "block_period", 30.0, "controller"),
            fencing=bool(field(spec, "fencing", True)),
            edge_fencing=bool(field(spec, "edge_fencing", True)),
            failover_cmd=field(spec, "failover", None),
            switchover_cmd=field(spec, "switchover", None),
            failback_cmd=field(spec, "failback", None),
            command_timeout=_seconds(spec, "timeout", 60.0, "controller"),
        )
