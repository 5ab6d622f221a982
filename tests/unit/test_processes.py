"""Process bookkeeping that `env down` and the crash/hang faults rely on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from drills.topology.processes import allocate_ports, is_alive, port_is_free, reap, stop, stop_group


def test_a_zombie_child_is_not_alive_and_is_reaped_by_pid() -> None:
    child = subprocess.Popen(["sleep", "30"])
    assert is_alive(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while is_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not is_alive(child.pid)  # exited but not yet reaped: a zombie counts as dead
    reap([child.pid])
    assert child.poll() is not None or not os.path.exists(f"/proc/{child.pid}")


def test_a_process_with_a_live_thread_is_alive() -> None:
    """A server's threads keep its port after the main thread is gone; is_alive looks at all."""
    code = "import threading,time; t=threading.Thread(target=time.sleep,args=(30,)); t.start(); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.2)
        assert len(os.listdir(f"/proc/{child.pid}/task")) >= 2 and is_alive(child.pid)
    finally:
        stop([child.pid], timeout=2)
    assert not is_alive(child.pid)


def test_stop_does_not_steal_other_childrens_exit_status() -> None:
    other = subprocess.Popen(["sh", "-c", "exit 7"])
    victim = subprocess.Popen(["sleep", "30"])
    time.sleep(0.1)
    stop([victim.pid], timeout=2)
    assert other.wait(timeout=5) == 7  # waitpid(-1) in stop() would have collected this as 0/unknown


def test_allocated_ports_are_distinct_and_fixed_ones_checked() -> None:
    ports = allocate_ports({f"p{i}": 0 for i in range(10)})
    assert len(set(ports.values())) == 10 and all(port_is_free(p) for p in ports.values())


def test_stop_group_takes_the_whole_group_even_when_sigterm_is_ignored(tmp_path) -> None:  # noqa: ANN001
    pidfile = tmp_path / "child.pid"
    script = f"trap '' TERM; sleep 60 & echo $! > {pidfile}; wait"
    group = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    deadline = time.monotonic() + 5
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    child = int(pidfile.read_text())
    t0 = time.monotonic()
    stop_group(group, grace=0.3)
    assert group.poll() is not None and time.monotonic() - t0 >= 0.3  # needed the SIGKILL
    deadline = time.monotonic() + 5
    while is_alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not is_alive(child)
    stop_group(group)  # already gone: not an error
