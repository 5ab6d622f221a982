"""Issue 12: the same drills in Docker containers, started through testcontainers.

Real containers of real images — built here from Debian's packages by `drills images build`
(no registry), the way a user's CI runs its own images. A Docker engine is a component with a
start-up story: when none answers, the fixture starts `dockerd` and stops it afterwards; a
machine without one skips these tests, except in CI (`CI=true`), where that is a failure.

- `env up/status/down` on containers; every container carries the topology's label;
- the reference drill and the negative `sequence-table-filtered` give the local provider's
  verdicts; `crash` (kill) and `hang` (pause) go through the engine;
- a run killed with SIGKILL leaves its containers; `env down --all` removes every one,
  network and volume included;
- no engine answering: one line with the fix, exit 2, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.runner import run_scenario

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
LABEL = "drills.topology"


def _engine_answers() -> bool:
    try:
        from drills.topology.containers import docker_client

        docker_client()
        return True
    except Exception:  # noqa: BLE001 - any failure means no engine
        return False


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An engine that answers: the one running, or a dockerd started here (and stopped after)."""
    started = None
    if not _engine_answers():
        dockerd = shutil.which("dockerd")
        if dockerd is None or os.geteuid() != 0:
            if os.environ.get("CI"):
                pytest.fail("no Docker engine: CI must install docker.io (scripts/setup with DRILLS_DOCKER=1)")
            pytest.skip("no Docker engine on this machine (install docker.io: scripts/setup with DRILLS_DOCKER=1)")
        log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
        with open(log, "w") as out:  # the child keeps its own copy of the descriptor
            started = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not _engine_answers():
            assert started.poll() is None and time.monotonic() < deadline, f"dockerd did not start: {log.read_text()[-800:]}"
            time.sleep(0.2)
    try:
        yield
    finally:
        if started is not None:
            started.terminate()
            try:
                started.wait(timeout=30)
            except subprocess.TimeoutExpired:
                started.kill()


@pytest.fixture(scope="module")
def images(engine: None) -> Iterator[dict[str, str]]:
    """The local images (built once per machine; `scripts/setup` builds them in CI), used by
    every containers topology of this module."""
    from drills.topology import images as img

    img.build()
    env = img.local_environment()
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def ctopo(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from drills.topology import containers

    base = tmp_path_factory.mktemp("containers") / "env"
    topo = containers.up(state_dir=base)
    try:
        yield topo
    finally:
        containers.down(base)


def labelled(base: str | None = None) -> dict[str, list[str]]:
    """What the engine holds with the topology label (any topology when `base` is None)."""
    flt = f"{LABEL}={base}" if base else LABEL
    out = {}
    for what, argv in (("containers", ["docker", "ps", "-a", "--filter", f"label={flt}", "--format", "{{.Names}}"]),
                       ("networks", ["docker", "network", "ls", "--filter", f"label={flt}", "--format", "{{.Name}}"]),
                       ("volumes", ["docker", "volume", "ls", "--filter", f"label={flt}", "--format", "{{.Name}}"])):
        out[what] = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    return out


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drills", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_env_up_status_down_on_containers(images: dict[str, str], tmp_path: Path) -> None:
    base = tmp_path / "env"
    up = cli("env", "up", "--provider", "containers", "--state-dir", str(base), "--json")
    assert up.returncode == 0, up.stderr
    doc = json.loads(up.stdout)
    assert doc["provider"] == "containers" and doc["boot_s"] < 8
    assert all(s["up"] for s in doc["servers"].values()) and doc["routing"]["up"] and doc["toxiproxy"]["up"]
    assert doc["servers"]["dc2"]["replication"]["io_running"] is True
    names = labelled(str(base.resolve()))["containers"]
    assert len(names) == 4 and {n.rsplit("-", 1)[1] for n in names} == {"dc1", "dc2", "etcd", "toxiproxy"}
    st = cli("env", "status", "--state-dir", str(base))
    assert st.returncode == 0 and "replica of dc1" in st.stdout, st.stdout + st.stderr
    dn = cli("env", "down", "--state-dir", str(base))
    assert dn.returncode == 0, dn.stderr
    assert labelled(str(base.resolve())) == {"containers": [], "networks": [], "volumes": []}
    assert not base.exists()


@pytest.mark.parametrize(("scenario", "failed"), [("dc1-port-change-failover", set()),
                                                  ("sequence-table-filtered", {"sequence_continuity"})])
def test_the_reference_drill_and_its_negative_give_the_local_verdicts(ctopo: Any, tmp_path: Path, scenario: str,
                                                                     failed: set[str]) -> None:
    result = run_scenario(REPO / "scenarios" / f"{scenario}.yaml", out_dir=tmp_path / "run", state_dir=ctopo.state_dir,
                          approve=["failback"], record_history=False)
    assert result["status"] == "passed", result["reasons"]
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    assert {n for n, s in statuses.items() if s == "failed"} == failed
    assert all(s == "passed" for n, s in statuses.items() if n not in failed)


def test_crash_and_hang_go_through_the_engine(ctopo: Any, tmp_path: Path) -> None:
    from drills.journal import read

    for scenario, fault_type in (("dc1-crash", "crash"), ("dc1-hang", "hang")):
        out = tmp_path / scenario
        result = run_scenario(REPO / "scenarios" / f"{scenario}.yaml", out_dir=out, state_dir=ctopo.state_dir,
                              record_history=False)
        assert result["status"] == "passed", (scenario, result["reasons"])
        inject = next(e for e in read(out / "journal.jsonl") if e["kind"] == "fault.inject")
        assert inject["payload"]["type"] == fault_type
        assert inject["payload"]["details"]["container"].endswith("-dc1")
        if fault_type == "hang":
            assert inject["payload"]["details"]["paused"] is True
    # both healed: the container runs, unpaused
    state = json.loads(subprocess.run(["docker", "inspect", f"{inject['payload']['details']['container']}"],
                                      capture_output=True, text=True, check=True).stdout)[0]["State"]
    assert state["Running"] and not state["Paused"]


def test_a_killed_run_leaves_nothing_after_env_down_all(images: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"DRILLS_HOME": str(home)}
    scenario = tmp_path / "long.yaml"
    scenario.write_text("name: long\nworkload: {kind: none}\ncontroller: {kind: none}\n"
                        "stages: [{name: s, steps: [{wait: 120s}]}]\n")
    run = subprocess.Popen([sys.executable, "-m", "drills", "run", str(scenario), "--provider", "containers",
                            "--out", str(tmp_path / "run"), "--no-history"], env={**os.environ, **env},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "run" / "journal.jsonl").exists() or \
                '"step.start"' not in (tmp_path / "run" / "journal.jsonl").read_text():
            assert run.poll() is None and time.monotonic() < deadline, "the drill did not reach its wait"
            time.sleep(0.2)
        state_dir = str((home / f"run-{json.loads((tmp_path / 'run' / 'journal.jsonl').read_text().splitlines()[0])['payload']['run_id']}").resolve())
        assert len(labelled(state_dir)["containers"]) == 4
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        assert len(labelled(state_dir)["containers"]) == 4  # a killed run cleans nothing up itself
        down = cli("env", "down", "--all", env=env)
        assert down.returncode == 0, down.stderr
        assert labelled(state_dir) == {"containers": [], "networks": [], "volumes": []}
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        cli("env", "down", "--all", env=env)


def test_no_engine_is_one_line_with_the_fix(tmp_path: Path) -> None:
    res = cli("env", "up", "--provider", "containers", "--state-dir", str(tmp_path / "env"),
              env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}, timeout=60)
    assert res.returncode == 2
    assert "no Docker engine answers" in res.stderr and "Traceback" not in res.stderr
    assert "DOCKER_HOST" in res.stderr or "dockerd" in res.stderr
    assert not (tmp_path / "env" / "state.json").exists()
