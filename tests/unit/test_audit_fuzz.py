"""Issue 18, "Done when" (the audit half): Hypothesis mutates filter lists and dumps and
drives `drills audit` in-process through its CLI entry point.

Every call must end with an exit code that means what the documentation says (0: PASS
printed, 1: FAIL printed, 2: one `drills: error:` line naming an input file and a line in
it), never a traceback, and within 2 s. A watchdog turns a hang into a failure instead of
a stuck suite. Mutations: seed files (the reference lists and dumps) with bytes inserted,
deleted, duplicated (up to 200 times), truncated, or spliced with hostile snippets (the
ones issue 18 names: runs of `%`, escapes, deep nesting, alias bombs, invalid UTF-8,
control characters, duplicate keys, huge and exponent numbers, every dump literal form).

DRILLS_FUZZ_EXAMPLES raises the number of examples for a longer local run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import time
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.cli import main

REPO = Path(__file__).parents[2]
F = REPO / "fixtures/audit"
EXAMPLES = int(os.environ.get("DRILLS_FUZZ_EXAMPLES", "300"))
CALL_LIMIT_S = 2.0
WATCHDOG_S = 20

LIST_SEEDS = {
    "list_ok.yaml": (F / "list_ok.yaml").read_bytes(),
    "list_mistakes.yaml": (F / "list_mistakes.yaml").read_bytes(),
    "filter_list.yaml": (REPO / "fixtures/filter_list.yaml").read_bytes(),
    "plain.txt": b"# plain list\napp.job_log\napp.app_config  # env\napp.tmp\\_%\n%.bak_%\n",
}
DUMP_SEEDS = {
    "app_dc1.sql": (F / "app_dc1.sql").read_bytes(),
    "app_dc2.sql": (F / "app_dc2.sql").read_bytes(),
    "literals.sql": (REPO / "tests/data/audit/literals.sql").read_bytes(),
}
SNIPPETS = [
    b"%%%%%%%%%%%%z", b"app.%%%%%%%%%%zzz", b"\\_", b"\\%", b"\\", b"[" * 300, b"]", b"{", b"\xff\xfe", b"\xc3", b"\xe9",
    b"\x07", b"\x00", b"\x0c", b"\r\n", b"\t", b"\xc3\xa9", b"filter_list:\n", b"---\n", b"&a [x, x, x, x]\n", b"*a", b"*nope",
    b"9" * 600, b"1e400", b"-1.5e-10", b"0x616263", b"X'6162'", b"b'101'", b"0b11", b"_binary 'x'", b"_utf8mb4'y' COLLATE utf8mb4_bin",
    b"N'n'", b"'", b"`", b'"', b"\\'", b"''", b"DELIMITER ;;\n", b"/*!40101 ", b"/*M!999999\\- enable the sandbox mode */", b"*/",
    b"(", b")", b",", b";", b"\n", b"  - table: app.x\n", b"  - pattern: app.%\n", b"  - table: app.job_log\n", b"table: ", b"pattern: ",
    b"reason: ", b"CREATE TABLE t (id int);\n", b"INSERT INTO t VALUES (1);\n", b"USE app;\n", b"USE `a``b`;\n", b"#", b"-- ",
    b"AUTO_INCREMENT=99999999999999999999999", b"AUTO_INCREMENT=1e400", b"CREATE VIEW v AS SELECT 1;\n", b"ST_GeomFromText('POINT(1 1)')",
]

_position = st.floats(min_value=0, max_value=1)
_mutation = st.one_of(
    st.tuples(st.just("insert"), _position, st.one_of(st.sampled_from(SNIPPETS), st.binary(min_size=1, max_size=16))),
    st.tuples(st.just("delete"), _position, st.integers(1, 64)),
    st.tuples(st.just("repeat"), _position, st.tuples(st.integers(1, 40), st.integers(2, 200))),
    st.tuples(st.just("replace"), _position, st.binary(min_size=1, max_size=1)),
    st.tuples(st.just("truncate"), _position, st.none()),
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    for kind, where, arg in mutations:
        i = int(where * len(data))
        if kind == "insert":
            data = data[:i] + arg + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + arg:]
        elif kind == "repeat":
            length, times = arg
            data = data[:i] + data[i:i + length] * times + data[i + length:]
        elif kind == "replace":
            data = data[:i] + arg + data[i + 1:]
        else:
            data = data[:i]
    return data


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang(f"drills audit still running after {WATCHDOG_S} s")


STATS = {"cases": 0, "exit": {0: 0, 1: 0, 2: 0}, "slowest_s": 0.0}


def run_audit(argv: list[str]) -> tuple[int, str, str, float]:
    """One in-process CLI call; an exception escaping `main` (what a user would see as a
    traceback) or a hang fails the test with the traceback."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(WATCHDOG_S)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["audit", *argv])
    except BaseException as exc:  # noqa: BLE001 - the point is to catch anything that escapes
        if isinstance(exc, KeyboardInterrupt):
            raise
        pytest.fail(f"drills audit {' '.join(argv)} escaped with a traceback:\n{traceback.format_exc()}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    STATS["cases"] += 1
    STATS["exit"][code] = STATS["exit"].get(code, 0) + 1
    STATS["slowest_s"] = max(STATS["slowest_s"], elapsed)
    return code, out.getvalue(), err.getvalue(), elapsed


def check(code: int, out: str, err: str, elapsed: float, fmt: str, inputs: dict[Path, bytes]) -> None:
    assert elapsed < CALL_LIMIT_S, f"took {elapsed:.2f} s"
    assert "Traceback" not in out + err
    assert code in (0, 1, 2), code
    if code == 2:
        assert not out and err.startswith("drills: error: ") and len(err) < 2000, err
        located = [(p, int(m.group(1))) for p in inputs for m in re.finditer(re.escape(str(p)) + r":(\d+)", err)]
        assert located, f"exit 2 without file:line of an input: {err}"
        p, line = located[0]
        assert 1 <= line <= inputs[p].count(b"\n") + 1, f"line {line} is not in {p.name}: {err}"
        return
    assert not err, err
    if fmt == "json":
        assert json.loads(out)["passed"] is (code == 0)
    else:
        assert out.rstrip().splitlines()[-1].endswith("-> PASS (fail-on error)" if code == 0 else "-> FAIL (fail-on error)"), out[-300:]


_fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit-fuzz")


@_fuzz
@given(seed=st.sampled_from(sorted(LIST_SEEDS)), mutations=st.lists(_mutation, min_size=1, max_size=4),
       fmt=st.sampled_from(["text", "json"]))
def test_mutated_filter_lists(workdir: Path, seed: str, mutations: list[tuple], fmt: str) -> None:
    listing = workdir / ("mutated" + Path(seed).suffix)
    listing.write_bytes(mutate(LIST_SEEDS[seed], mutations))
    dc1, dc2 = F / "app_dc1.sql", F / "app_dc2.sql"
    code, out, err, elapsed = run_audit([str(listing), "--schema", str(dc1), "--dc2-schema", str(dc2), "--format", fmt])
    check(code, out, err, elapsed, fmt, {listing: listing.read_bytes(), dc1: dc1.read_bytes(), dc2: dc2.read_bytes()})


@_fuzz
@given(seed=st.sampled_from(sorted(DUMP_SEEDS)), mutations=st.lists(_mutation, min_size=1, max_size=4),
       fmt=st.sampled_from(["text", "json"]), as_dc2=st.booleans())
def test_mutated_dumps(workdir: Path, seed: str, mutations: list[tuple], fmt: str, as_dc2: bool) -> None:
    dump = workdir / "mutated.sql"
    dump.write_bytes(mutate(DUMP_SEEDS[seed], mutations))
    listing, dc1 = F / "list_mistakes.yaml", F / "app_dc1.sql"
    sides = ["--schema", str(dc1), "--dc2-schema", str(dump)] if as_dc2 else ["--schema", str(dump)]
    code, out, err, elapsed = run_audit([str(listing), *sides, "--format", fmt])
    check(code, out, err, elapsed, fmt, {listing: listing.read_bytes(), dc1: dc1.read_bytes(), dump: dump.read_bytes()})


def test_zz_fuzz_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints what the fuzz tests above ran (with -s), so the figures can be quoted."""
    with capsys.disabled():
        print(f"\naudit fuzz: {STATS['cases']} calls, exit codes {STATS['exit']}, slowest {STATS['slowest_s']:.3f} s")
