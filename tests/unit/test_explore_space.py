"""Issue 15: a space file is validated like a scenario — located messages, the fault catalogue's
rules for types, targets and parameter ranges, exit 2 without a traceback on the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drills.errors import ConfigError
from drills.explore.space import load_space, load_space_text

REPO = Path(__file__).resolve().parents[2]
SPACES = sorted((REPO / "explore").glob("*.yaml"))

GOOD = """\
name: s
controller: {kind: reference, edge_fencing: false}
faults:
  - {type: hang, targets: [dc1]}
  - type: latency
    targets: ["app:dc1"]
    params: {latency_ms: {min: 50, max: 250, step: 100}, stream: [downstream, upstream]}
switches: [switchover]
"""


def test_sample_spaces_load() -> None:
    assert SPACES, "no sample space files in explore/"
    for path in SPACES:
        space = load_space(path)
        assert space.faults or space.switches


def test_sample_spaces_are_not_collected_as_drills() -> None:
    """The pytest plugin runs every YAML with a top-level `stages:` under scenarios/: a space
    file must not be one."""
    from drills.pytest_plugin import is_scenario_file

    assert not any(is_scenario_file(p) for p in SPACES)


def test_good_space_defaults() -> None:
    space = load_space_text(GOOD, "s.yaml")
    assert space.max_steps == 3 and space.property_checks() is None
    assert space.faults[0].target_list() == ["dc1"]
    assert space.faults[1].params["latency_ms"].values() == 3  # 50, 150, 250


def test_default_targets_are_the_catalogues() -> None:
    space = load_space_text("name: s\nfaults: [{type: crash}]\n")
    assert space.faults[0].target_list() == ["dc1", "dc2", "etcd"]


@pytest.mark.parametrize(("text", "where", "what"), [
    ("name: s\nfaults:\n  - {type: hnag, targets: [dc1]}\n", "s.yaml:3:12", "unknown fault type `hnag`; did you mean `hang`?"),
    ("name: s\nfaults:\n  - {type: hang, targets: [dc1, app:dc1]}\n", "s.yaml:3:33",
     "fault `hang` cannot target `app:dc1`"),
    ("name: s\nfaults:\n  - type: latency\n    targets: [app:dc1]\n    params: {latncy_ms: 5}\n", "s.yaml:5:14",
     "has no parameter `latncy_ms`; did you mean `latency_ms`?"),
    ("name: s\nfaults:\n  - type: latency\n    params: {latency_ms: {min: 10, max: 100000000000}}\n", "s.yaml:4:41",
     "must be at most 86,400,000 ms"),
    ("name: s\nfaults:\n  - type: latency\n    params: {latency_ms: {min: 10.5, max: 20}}\n", "s.yaml:4:32",
     "is a whole number, not 10.5"),
    ("name: s\nfaults:\n  - type: latency\n    params: {stream: [downstream, sideways]}\n", "s.yaml:4:35",
     "must be one of downstream, upstream, both"),
    ("name: s\nfaults:\n  - type: bandwidth\n    targets: [app:dc1]\n", "s.yaml:3:5", "`rate_kbps` is required"),
    ("name: s\nfaults: [{type: hang}]\nduration: {min: 5s, max: 1s}\n", "s.yaml:3:11", "min (5) is above max (1)"),
    ("name: s\nfaults: [{type: hang}]\nat: {min: 0s, max: 1h, step: 1ms}\n", "s.yaml:3:5", "more than 1000 values"),
    ("name: s\nfaults: [{type: hang}]\nmax_stpes: 2\n", "s.yaml:3:1", "unknown key `max_stpes`"),
    ("name: s\nfaults: [{type: hang}]\nproperty: {checks: [split_brian]}\n", "s.yaml:3:21", "split_brain"),
    ("name: s\n", "s.yaml:1:1", "at least one fault"),
    ("name: s\nfaults: [{type: hang}]\nmin_steps: 3\nmax_steps: 2\n", "s.yaml:1:1", "min_steps (3) is above max_steps (2)"),
    ("name: s\ncontroller: {kind: none}\nswitches: [failback]\n", "s.yaml:1:1", "switches need a controller"),
])
def test_bad_space_is_located(text: str, where: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_space_text(text, "s.yaml")
    message = str(info.value)
    assert where in message, message
    assert what in message, message


def test_space_that_makes_no_valid_scenario_is_refused() -> None:
    """What the scenario model refuses (a check both required and waived) is found once, at load."""
    text = ("name: s\nfaults: [{type: hang}]\nproperty: {checks: [rto]}\n"
            "objectives: {checks: {not_judged: {rto: no failover is forced here}}}\n")
    with pytest.raises(ConfigError, match="does not make a valid scenario.*rto cannot be waived"):
        load_space_text(text, "s.yaml")


def test_cli_bad_space_exit_2_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: s\nfaults:\n  - {type: hang, targets: [dc3]}\n")
    res = subprocess.run([sys.executable, "-m", "drills", "explore", str(bad)], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert res.returncode == 2
    assert f"{bad}:3:28: fault `hang` cannot target `dc3`" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


@pytest.mark.parametrize("args", [["--max-examples", "0"], ["--time-budget", "soon"], ["--time-budget", "0s"],
                                  ["--max-examples=-3"], ["--time-budget=-5s"], ["--time-budget", "nan"]])
def test_cli_bad_options_exit_2(args: list[str]) -> None:
    res = subprocess.run([sys.executable, "-m", "drills", "explore", str(SPACES[0]), *args], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("drills: error: --") and "Traceback" not in res.stderr


def test_cli_missing_space_file(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "drills", "explore", str(tmp_path / "nope.yaml")], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert res.returncode == 2 and "no such" in res.stderr and "Traceback" not in res.stderr
