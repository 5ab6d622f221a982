"""What the controller can do to the world, as one narrow interface.

The reference controller decides; a `ControlPlane` acts. The live plane works on a
running topology (service path for the databases, as a real monitor would); the property
tests use an in-memory model of two data centres behind the same interface, so the very
same decision code is exercised by both.
"""

from __future__ import annotations

from typing import Any, Protocol


class RouteLike(Protocol):
    document: dict[str, Any]
    revision: int


class ControlPlane(Protocol):
    dcs: tuple[str, ...]

    def other(self, dc: str) -> str:
        """The other data centre."""

    def probe(self, dc: str, timeout: float) -> str | None:
        """None when `dc` answers on the service path within `timeout`, else the error."""

    def peer_alive(self, dc: str, witness: str) -> bool | None:
        """Does `witness` still see `dc` alive over the replication link? None: cannot tell."""

    def set_read_only(self, dc: str, on: bool, via: str = "service") -> None:
        """Fence (on) or promote (off). Raises when `dc` cannot be reached. `via="management"`
        goes around the service paths — the DBA's admin connection, which an edge fence does
        not cut."""

    def cut_edge(self, dc: str) -> list[str]:
        """Cut `dc`'s service paths (its application path and the link it feeds): no client
        and no replica reaches it until `restore_edge`. Returns the paths cut."""

    def restore_edge(self, dc: str) -> None: ...

    def replication_lag(self, dc: str) -> float | None:
        """Seconds `dc` is behind its source in applying what it received; 0 when caught
        up or not a replica; None when it cannot be told."""

    def replicates_from(self, replica: str, source: str) -> bool:
        """True when `replica` is configured to replicate from `source` over the link."""

    def stop_replication(self, dc: str) -> None:
        """Stop and forget `dc`'s replica configuration (it is about to become a source)."""

    def gtid_executed(self, dc: str) -> str: ...

    def wait_for_gtid(self, dc: str, gtid: str, timeout: float) -> bool: ...

    def reverse_link(self, source: str, replica: str) -> dict[str, list[str]]:
        """Make `replica` replicate from `source` through the link proxy with the declared
        filter list, start it, and return the filters read back from `replica`."""

    def read_route(self) -> RouteLike | None: ...

    def publish_route(self, document: dict[str, Any], expected_revision: int) -> int | None:
        """Compare-and-swap: the new revision, or None when the route changed since."""
