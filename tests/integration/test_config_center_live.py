"""The routing key's watch against a real etcd that crashes and comes back."""

from __future__ import annotations

import threading
import time

import pytest

from drills.faults import make_fault
from drills.journal import Journal

pytestmark = pytest.mark.integration


def test_the_applications_watch_survives_an_etcd_crash_and_restart(clean_topology, tmp_path) -> None:  # noqa: ANN001
    """Issue 10 (config-center-outage): the etcd client marked its node failed after the
    crash and refused every later call, so the application never saw the route published
    after etcd returned and kept writing to the fenced old side."""
    topo = clean_topology
    seen: list[int] = []
    arrived = threading.Event()
    cc = topo.config_center(via="service")  # the application's path, through the etcd proxy
    cancel = cc.watch(lambda r: (seen.append(int(r.document["epoch"])), arrived.set()))
    try:
        assert arrived.wait(5) and seen == [1]
        crash = make_fault({"type": "crash", "target": "etcd", "name": "etcd-outage"}, topo,
                           Journal(tmp_path / "journal.jsonl"))
        crash.inject()
        time.sleep(1.0)  # the watch fails and retries while etcd is gone
        crash.heal()
        observer = topo.config_center(via="observer")
        try:
            current = observer.read()
            assert current is not None
            published = observer.compare_and_swap({**current.document, "epoch": 2}, current.revision)
            assert published is not None
        finally:
            observer.close()
        deadline = time.monotonic() + 5
        while 2 not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen[-1] == 2, f"the watch never delivered the route published after the restart: {seen}"
    finally:
        cancel()
        cc.close()
