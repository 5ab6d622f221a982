"""The runner's own watch of the routing key (issue 19 item 2), against the real etcd: every
value the key takes is journaled whoever writes it, a value that is not a routing document
is journaled with its problem, and losing etcd is journaled once and its return too."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from drills.config_center import default_document
from drills.journal import Journal, read
from drills.observe.route_watch import RouteWatch


def wait_for(journal: Journal, n: int, kind: str = "route.changed", timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [r["payload"] for r in read(journal.path) if r["kind"] == kind]
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return [r["payload"] for r in read(journal.path) if r["kind"] == kind]


def test_every_value_the_key_takes_is_journaled_whoever_writes_it(clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    journal = Journal(tmp_path / "journal.jsonl")
    watch = RouteWatch(topo, journal)
    watch.start()
    cc = topo.config_center(via="service")
    try:
        doc = default_document("dc1")
        cc.put({**doc, "active": "dc2", "epoch": 2})  # an operator's etcdctl put: no controller involved
        cc._client.put(topo.routing_key, "{not json")
        cc.put({**doc, "active": "dc1"})  # the epoch field dropped... still epoch 1 here
        cc._client.put(topo.routing_key, json.dumps({"active": "dc1"}))
        got = wait_for(journal, 5)
    finally:
        cc.close()
    assert got[0] == {"active": "dc1", "epoch": 1, "revision": got[0]["revision"], "initial": True}
    assert (got[1]["active"], got[1]["epoch"]) == ("dc2", 2)
    assert "no routing document" in got[2]["problem"]
    assert (got[3]["active"], got[3]["epoch"], got[3].get("problem")) == ("dc1", 1, None)
    assert got[4]["problem"] == "no `epoch`"
    assert [g["revision"] for g in got] == sorted({g["revision"] for g in got})
    # the last write before the stop is journaled even when its watch event is still on its way
    cc = topo.config_center(via="observer")
    try:
        cc.put({**default_document("dc2"), "epoch": 7})
    finally:
        cc.close()
    watch.stop()
    final = [r["payload"] for r in read(journal.path) if r["kind"] == "route.changed"][-1]
    assert (final["active"], final["epoch"]) == ("dc2", 7)
    journal.close()


def test_losing_etcd_is_journaled_once_and_its_return_too(clean_topology: Any, tmp_path: Path) -> None:
    topo = clean_topology
    control = topo.process_control
    journal = Journal(tmp_path / "journal.jsonl")
    watch = RouteWatch(topo, journal)
    watch.start()
    try:
        wait_for(journal, 1)
        control.crash("etcd")
        time.sleep(1.5)
        control.ensure_running("etcd")
        cc = topo.config_center(via="observer", timeout=5.0)
        try:
            cc.put({**default_document("dc2"), "epoch": 2})
        finally:
            cc.close()
        changed = wait_for(journal, 2)
        states = wait_for(journal, 2, kind="route.watch")
    finally:
        watch.stop()
        control.ensure_running("etcd")
        journal.close()
    assert [s["ok"] for s in states] == [False, True]
    assert (changed[-1]["active"], changed[-1]["epoch"]) == ("dc2", 2)
