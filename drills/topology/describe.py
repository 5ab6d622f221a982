"""`drills env describe`: the environment file of a topology drills started.

An example for users (every field, filled in from a real topology) and the "someone else's
environment" of the tests: the topology is then drilled through the external provider, as a
DBA's staging pair would be. Passwords are never written: each account names an environment
variable, and the command says which variables to export and where their values are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from drills.topology.state import LINK_PROXY, Topology

PASSWORD_VARIABLES = {"admin": "DRILLS_ENV_ADMIN_PASSWORD", "app": "DRILLS_ENV_APP_PASSWORD",
                      "repl": "DRILLS_ENV_REPL_PASSWORD"}


def describe(topo: Topology, name: str, *, writes: str = "all") -> dict[str, Any]:
    """The environment file (as a mapping) of `topo`. Every fault is allowed (the topology
    is yours) except process faults, which need commands only you can write."""
    c = topo.credentials
    proxies = {p: p for p in ("app:dc1", "app:dc2", *LINK_PROXY.values(), "etcd") if p in topo.proxies}
    doc: dict[str, Any] = {
        "name": name,
        "provider": "external",
        "description": f"the topology drills started in {topo.state_dir}, described as someone else's environment",
        "protected": False,
        "app": topo.app,
        "monitor": topo.monitor,
        "servers": {dc: {"observer": {"host": s.host, "port": s.port}, "flavor": s.flavor}
                    for dc, s in sorted(topo.servers.items())},
        "accounts": {
            role: {"user": user, "password": {"env": PASSWORD_VARIABLES[role]}}
            for role, user in (("admin", c.admin_user if c else "drills"), ("app", c.app_user if c else "app"),
                               ("repl", c.repl_user if c else "repl"))
        },
        "etcd": {"endpoint": {"host": topo.etcd.host, "port": topo.etcd.port}, "routing_key": topo.routing_key},
        "toxiproxy": {"api": f"http://{topo.toxiproxy_api.host}:{topo.toxiproxy_api.port}", "proxies": proxies},
        "replication": {"source": "dc1", "replica": "dc2", "filter_list": str(Path(topo.filter_list_file).resolve())},
        "allow": [{"fault": "*", "targets": ["*"]}],
        "max_fault_duration": "5m",
        "stop_conditions": [],
        "lock": {"ttl": "10s"},
        "writes": writes,
        "retry": dict(topo.retry),
    }
    return doc


def render(doc: dict[str, Any]) -> str:
    head = ("# drills environment file (`drills run SCENARIO --environment THIS_FILE`).\n"
            "# Passwords are never written here: export the variables the accounts name.\n"
            "# Process faults (crash, hang, restart) need your own commands, for example:\n"
            "#   process_faults:\n"
            "#     dc1: {crash: \"ssh db1 sudo systemctl kill -s KILL mariadb\", restart: \"ssh db1 sudo systemctl start mariadb\"}\n"
            "# Stop conditions abort the run and heal every fault when one trips, for example:\n"
            "#   stop_conditions:\n"
            "#     - {name: dc1-answers, sql: {dc: dc1, query: \"SELECT 1\", expect: \"1\"}, every: 500ms}\n")
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def password_exports(topo: Topology) -> dict[str, str]:
    """The variables `describe` names, with their values (for a test's environment, or the
    user's shell: never printed by the command itself)."""
    c = topo.credentials
    if c is None:
        return {}
    return {PASSWORD_VARIABLES["admin"]: c.admin_password, PASSWORD_VARIABLES["app"]: c.app_password,
            PASSWORD_VARIABLES["repl"]: c.repl_password}
