"""Providers that bring a two-DC topology up and down, and the handle that says where
everything is (`Topology`). `local` runs processes on this machine (the default)."""

from drills.topology.state import Credentials, ProcessState, ProxyState, ServerState, Topology

__all__ = ["Credentials", "ProcessState", "ProxyState", "ServerState", "Topology"]
