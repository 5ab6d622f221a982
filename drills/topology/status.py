"""`drills env status`: the topology as the observer path sees it.

Read directly from each server, etcd and Toxiproxy's API, never through the proxies, so
the report is true whatever faults are active. A component that does not answer is
reported as down (with the reason), not raised: status is what you run when things are
broken.
"""

from __future__ import annotations

from typing import Any

import pymysql

from drills.errors import UserError
from drills.mysql import admin
from drills.topology.state import Topology


def server_status(topo: Topology, dc: str) -> dict[str, Any]:
    s = topo.servers[dc]
    out: dict[str, Any] = {"up": False, "flavor": s.flavor, "version": s.version, "host": s.host, "port": s.port}
    if topo.process_control is not None:
        out["pid"] = topo.process_control.pids().get(dc)
    try:
        conn = topo.connect(dc, via="observer", timeout=1.0, read_timeout=3.0)
    except UserError as exc:
        out["error"] = exc.message
        return out
    try:
        info = admin.server_info(conn)
        out.update(up=True, flavor=info["flavor"], version=info["version"], read_only=admin.read_only(conn),
                   gtid_executed=admin.gtid_executed(conn))
        rs = admin.replica_status(conn)
        if rs is not None:
            out["replication"] = {
                "source": topo.source_behind(rs.source_host, rs.source_port),
                "source_address": f"{rs.source_host}:{rs.source_port}",
                "io_running": rs.io_running,
                "io_state": rs.io_state,
                "sql_running": rs.sql_running,
                "lag_s": rs.lag_s,
                "last_io_error": rs.last_io_error,
                "last_sql_error": rs.last_sql_error,
                "filters": admin.read_filters(conn),
            }
    except pymysql.err.MySQLError as exc:
        out["up"] = False
        out["error"] = f"MySQL error {exc.args[0] if exc.args else '?'}"
    finally:
        conn.close()
    return out


def status(topo: Topology) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "state_dir": str(topo.state_dir),
        "provider": topo.provider,
        "flavor": topo.flavor,
        "servers": {dc: server_status(topo, dc) for dc in topo.servers},
        "declared_filters": topo.declared_filters.as_filters(),
        "filter_list_file": topo.filter_list_file,
    }
    routing: dict[str, Any] = {"key": topo.routing_key, "endpoint": "%s:%d" % topo.etcd_address()}
    try:
        cc = topo.config_center(timeout=1.0)
        try:
            route = cc.read()
        finally:
            cc.close()
        routing.update(up=True, revision=route.revision if route else None, document=route.document if route else None)
    except UserError as exc:
        routing.update(up=False, error=exc.message, revision=None, document=None)
    doc["routing"] = routing
    proxies: dict[str, Any] = {}
    try:
        for name, px in sorted(topo.toxiproxy(timeout=1.0).proxies().items()):
            proxies[name] = {"listen": px.listen, "upstream": px.upstream, "enabled": px.enabled,
                             "toxics": [t.as_dict() for t in px.toxics]}
        doc["toxiproxy"] = {"up": True, "api": f"http://{topo.toxiproxy_api.host}:{topo.toxiproxy_api.port}"}
    except UserError as exc:
        doc["toxiproxy"] = {"up": False, "error": exc.message}
    doc["proxies"] = proxies
    return doc
