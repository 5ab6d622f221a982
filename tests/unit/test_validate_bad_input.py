"""`drills validate` on the hostile and careless scenario files of issue 18 (items 5, 6, 7).

Each file in tests/data/bad_scenarios/ holds one bad input; its second line says where the
error must be reported and what it must say (`# expect: LINE:COL text`), computed when the
fixture was written, independently of drills. Every one must give exit 2, that located
message, no traceback, in well under 2 s — with libyaml and with PyYAML's pure-Python
parser alike. The inputs too large to keep as files (50,000 keys, 10,000 stages) are
generated here.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from drills import yamlsource
from drills.cli import main

BAD = Path(__file__).resolve().parents[1] / "data" / "bad_scenarios"
FIXTURES = sorted(BAD.glob("*.yaml"))
EXPECT = re.compile(rb"^# expect: (\d+:\d+) (.+)$", re.MULTILINE)
LOCATED = re.compile(r"^\s*\S+:\d+:\d+: ")


def validate(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    code = main(["validate", *map(str, files)])
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    return code, out, err, elapsed


def expectation(path: Path) -> tuple[str, str]:
    m = EXPECT.search(path.read_bytes())
    assert m, f"{path.name} has no `# expect: LINE:COL text` line"
    return m.group(1).decode(), m.group(2).decode()


@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_bad_scenario_is_refused_at_its_real_line_and_column(
    path: Path, loader: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    if loader == "pure-python":
        monkeypatch.setattr(yamlsource, "_LOADER", yamlsource._make_loader(yaml.SafeLoader))
    where, says = expectation(path)
    code, out, err, elapsed = validate(capsys, path)
    assert code == 2, out + err
    assert "Traceback" not in out + err and out == ""
    located = [line for line in err.splitlines() if LOCATED.match(line)]
    assert len(located) == 1, err  # one bad input, one message (no union noise, no follow-on errors)
    assert located[0].startswith(f"{path}:{where}: ") and says in located[0], err
    assert "https://errors.pydantic.dev" not in err  # never a raw pydantic message with its docs link
    assert len(err) < 2_000
    assert elapsed < 2.0


def test_bel_is_reported_on_line_7_not_at_a_byte_offset(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err, _ = validate(capsys, BAD / "bel-on-line-7.yaml")
    assert code == 2 and ":7:5: control character U+0007 (BEL)" in err and "position" not in err


def test_topology_port_out_of_range_is_one_message_without_union_noise(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err, _ = validate(capsys, BAD / "topology-port-99999.yaml")
    assert code == 2
    assert err.count("\n") == 1 and "lax-or-strict" not in err and "valid path" not in err


# ---- too large to keep as files ----------------------------------------------------------------


def scenario_with_unknown_keys(n: int) -> str:
    return "name: many-keys\nstages: [{name: a, steps: [{wait: 1s}]}]\n" + "".join(f"k{i}: {i}\n" for i in range(n))


def scenario_with_stages(n: int) -> str:
    return "name: many-stages\nstages:\n" + "".join(f"  - name: s{i}\n    steps:\n      - wait: 1s\n" for i in range(n))


def test_50000_unknown_keys_are_capped_counted_and_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "keys.yaml"
    f.write_text(scenario_with_unknown_keys(50_000))
    code, out, err, elapsed = validate(capsys, f)
    lines = err.splitlines()
    assert code == 2 and out == ""
    assert lines[0] == f"{f}: 50,000 problems"
    assert len(lines) == 1 + 50 + 1  # the count, the first 50, one line for the rest
    assert lines[1].strip() == f"{f}:3:1: unknown key `k0` in (top level) (expected one of: name, description, " \
                               "topology, workload, controller, params, stages, objectives)"
    assert lines[50].strip().startswith(f"{f}:52:1: unknown key `k49`")
    assert lines[-1].strip() == f"{f}:53:1: ... and 49,950 more problems from here on (only the first 50 are listed)"
    assert len(err) < 20_000  # was 7.8 MB
    assert elapsed < 2.0  # was 63 s


def test_10000_stages_validate_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "stages.yaml"
    f.write_text(scenario_with_stages(10_000))
    code, out, err, elapsed = validate(capsys, f)
    assert code == 0, err
    assert out == f"ok {f}: many-stages (10000 stages, 10000 steps)\n"
    assert elapsed < 2.0  # was 16 s


def test_10000_stages_with_one_name_repeated_is_refused_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "stages.yaml"
    f.write_text(scenario_with_stages(10_000).replace("name: s9999\n", "name: s17\n"))
    code, _, err, elapsed = validate(capsys, f)
    assert code == 2 and "stage names must be unique; repeated: s17" in err
    assert elapsed < 2.0


def test_many_bad_faults_are_capped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    step = "      - fault: {type: latency, target: 'app:dc1', name: f, latency_ms: 1.0e+20}\n"
    col = step.index("1.0e+20") + 1
    steps = step * 200
    f = tmp_path / "faults.yaml"
    f.write_text(f"name: many-faults\ncontroller: {{kind: reference}}\nstages:\n  - name: a\n    steps:\n{steps}")
    code, _, err, elapsed = validate(capsys, f)
    lines = err.splitlines()
    assert code == 2 and lines[0].endswith(": 200 problems") and len(lines) == 52
    assert lines[1].strip().startswith(f"{f}:6:{col}: fault 'latency': `latency_ms` must be at most")
    assert lines[-1].strip() == f"{f}:56:{col}: ... and 150 more problems from here on (only the first 50 are listed)"
    assert elapsed < 2.0


def test_valid_and_invalid_files_together_exit_2_and_say_which(capsys: pytest.CaptureFixture[str]) -> None:
    good = Path(__file__).resolve().parents[2] / "scenarios" / "dc1-crash.yaml"
    code, out, err, _ = validate(capsys, good, BAD / "wait-1e300.yaml")
    assert code == 2 and out.startswith(f"ok {good}") and "wait-1e300.yaml:11:15:" in err
    assert all(LOCATED.match(line) or line.startswith("  hint:") for line in err.splitlines()), err
