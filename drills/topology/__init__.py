"""A two-DC topology: the handle that says where everything is (`Topology`: endpoints and
credentials), the providers that run one (`provider`: the protocol; `local`: processes on
this machine, the default), and the baseline every drill starts from (`baseline`)."""

from drills.topology.state import Credentials, Endpoint, ProxyState, ServerState, Topology

__all__ = ["Credentials", "Endpoint", "ProxyState", "ServerState", "Topology"]
