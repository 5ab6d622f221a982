"""Issue 17, parallel drills: listening ports never collide between topologies booting at once.

Ports come from below the kernel's ephemeral range (no outgoing connection of any process can
take one between our release and the server's bind) and are chosen under a machine-wide claim
held until the components listen. Shown with real processes: eight of them choose ports at
once, each under the claim, and bind them while the others choose."""

from __future__ import annotations

import multiprocessing as mp
import socket
import time
from pathlib import Path

import pytest

from drills.topology import processes as proc


def _boot(cache: str, queue: mp.Queue[list[int] | str]) -> None:  # a topology's boot, in miniature
    import os

    os.environ["DRILLS_CACHE"] = cache
    held = []
    try:
        with proc.port_claim():
            ports = proc.allocate_ports({f"p{i}": 0 for i in range(10)})
            for port in ports.values():  # the "servers" listen before the claim is released
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                s.listen()
                held.append(s)
        queue.put(sorted(ports.values()))
        time.sleep(0.5)  # still listening while the others boot
    except OSError as exc:
        queue.put(f"bind failed: {exc}")
    finally:
        for s in held:
            s.close()


def test_ports_are_chosen_below_the_ephemeral_range() -> None:
    low = proc._ephemeral_low()
    ports = proc.allocate_ports({f"p{i}": 0 for i in range(50)})
    assert len(set(ports.values())) == 50
    assert all(proc.LISTEN_PORTS_LOW <= p < low for p in ports.values())


def test_eight_boots_at_once_never_share_a_port(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    queue: mp.Queue[list[int] | str] = ctx.Queue()
    workers = [ctx.Process(target=_boot, args=(str(tmp_path), queue)) for _ in range(8)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    failures = [r for r in results if isinstance(r, str)]
    assert failures == []
    every = [p for r in results for p in r]  # type: ignore[union-attr]
    assert len(every) == 80 and len(set(every)) == 80


def test_a_fixed_port_in_use_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(Exception, match=f"port {taken} \\(dc1\\) is already in use"):
            proc.allocate_ports({"dc1": taken})
