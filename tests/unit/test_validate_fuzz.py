"""Fuzzing `drills validate` with mutated copies of the shipped scenarios (issue 18, "Done when").

Every mutant is written to a file and validated in-process through the CLI's entry
function. Whatever the mutation, the documented contract must hold:

- exit 0 (the file is valid: one `ok FILE: ...` line, nothing on stderr) or exit 2 (it is
  not: stderr holds only `FILE:LINE:COL: ...` lines, their hints and a problem count);
  exit 1 ("a check failed") has no meaning for `validate`, and no exception escapes;
- no traceback;
- every location is a real position in the file (a line it has, a column within that
  line), and where the mutation put the bad input at a known place (a control character,
  a byte that is not UTF-8, an unknown or repeated key, deep nesting) exactly there;
- each call takes under 2 s.

Bounded in time: 1,100 cases in total, about 10 s on a loaded 2-core machine. `TALLY`
counts cases, kinds, exit codes and violations, for a run that wants the figures.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import re
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.cli import main
from drills.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {p.name: p.read_bytes() for p in sorted((REPO / "scenarios").glob("*.yaml"))}


def _valid(name: str) -> bool:
    try:
        load_scenario(REPO / "scenarios" / name)
    except Exception:  # noqa: BLE001 - a scenario that does not validate is not a base for exact positions
        return False
    return True


VALID = sorted(n for n in SHIPPED if _valid(n))
NAMES = st.sampled_from(sorted(SHIPPED))
VALID_NAMES = st.sampled_from(VALID or sorted(SHIPPED))

TALLY: Counter[str] = Counter()
LIMIT_S = 2.0
LOCATION = re.compile(r"^\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): ")
BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


WORKDIR = Path(tempfile.mkdtemp(prefix="drills-validate-fuzz-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)


@dataclass
class Outcome:
    path: Path
    data: bytes
    code: int | None
    out: str
    err: str
    elapsed: float
    exception: BaseException | None = None

    def located(self) -> list[tuple[int, int, str]]:
        """(line, col, message line) for every located line of stderr."""
        found = []
        for line in self.err.splitlines():
            m = LOCATION.match(line)
            if m and m.group("file") == str(self.path):
                found.append((int(m.group("line")), int(m.group("col")), line))
        return found


def validate(data: bytes, name: str = "mutant.yaml") -> Outcome:
    path = WORKDIR / name
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code, exception = None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["validate", str(path)])
        except BaseException as exc:  # noqa: BLE001 - escaping the CLI at all is the failure recorded
            exception = exc
    return Outcome(path, data, code, out.getvalue(), err.getvalue(), time.perf_counter() - started, exception)


def lines_of(data: bytes) -> list[str]:
    return BREAK.split(data.decode("utf-8", errors="replace"))


def position(text: str, index: int) -> tuple[int, int]:
    """The oracle: 1-based line and column (in characters) of text[index]."""
    before = BREAK.split(text[:index])
    return len(before), len(before[-1]) + 1


def check(outcome: Outcome) -> Outcome:
    """The contract every mutant must keep; tallied before asserting so a run can report."""
    TALLY["cases"] += 1
    TALLY[f"exit {outcome.code}"] += 1
    tb = outcome.exception is not None or "Traceback" in outcome.out + outcome.err
    TALLY["tracebacks"] += tb
    TALLY["slower than 2 s"] += outcome.elapsed >= LIMIT_S
    TALLY["slowest ms"] = max(TALLY["slowest ms"], round(outcome.elapsed * 1000))
    TALLY["wrong exit codes"] += outcome.code not in (0, 2)
    assert outcome.exception is None, repr(outcome.exception)
    assert not tb, outcome.err
    assert outcome.code in (0, 2), (outcome.code, outcome.err)
    assert outcome.elapsed < LIMIT_S, outcome.elapsed
    if outcome.code == 0:
        assert outcome.err == "" and outcome.out.startswith(f"ok {outcome.path}: "), outcome.out + outcome.err
        return outcome
    assert outcome.out == ""
    lines = lines_of(outcome.data)
    for line in outcome.err.splitlines():
        assert (LOCATION.match(line) or line.startswith("  hint: ") or line == f"{outcome.path}: {line.split(': ')[-1]}"
                and line.endswith(" problems")), f"not located: {line!r}"
    located = outcome.located()
    TALLY["unlocated errors"] += not located
    assert located, outcome.err
    for line_no, col, text in located:
        assert 1 <= line_no <= len(lines) + 1, text  # a line the file has (or its very end)
        width = len(lines[line_no - 1]) if line_no <= len(lines) else 0
        assert 1 <= col <= width + 1, (text, width)  # a column within that line, not a byte offset
    assert len(outcome.err.splitlines()) <= 1 + 50 + 1 + 1  # count, first 50, the rest counted, a hint
    return outcome


def assert_first_error_at(outcome: Outcome, line: int, col: int, says: str) -> None:
    assert outcome.code == 2, outcome.out + outcome.err
    first_line, first_col, text = outcome.located()[0]
    TALLY["misplaced errors"] += (first_line, first_col) != (line, col)
    assert (first_line, first_col) == (line, col) and says in text, (line, col, outcome.err)


@dataclass(frozen=True)
class Mutant:
    """A mutated scenario file. `expect` is (line, col, text) when the mutation put the bad
    input at a known place, so the first error must be exactly there."""

    kind: str
    data: bytes
    expect: tuple[int, int, str] | None = None
    keys: int = 0  # unknown keys added


def text_of(name: str) -> str:
    return SHIPPED[name].decode()


# ---- mutations anywhere: the contract only ------------------------------------------------------


@st.composite
def byte_flips(draw: st.DrawFn) -> Mutant:
    data = bytearray(SHIPPED[draw(NAMES)])
    for at, mask in draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=8)):
        data[at % len(data)] ^= mask
    return Mutant("byte flips", bytes(data))


TOKENS = st.sampled_from([":", "- ", " ", "\n", "  ", "[", "]", "{", "}", ",", "'", '"', "#", "&a ", "*a", "${x}",
                          "!!binary ", "!!python/object ", "? ", "|", ">", "%YAML 1.1\n", "---\n", "...\n", "<<: ",
                          "\t", "\\", "~", "2024-02-30", "0x" + "f" * 40, "1:2:3", ".nan", "\ufeff", "\u2028"])


@st.composite
def token_splices(draw: st.DrawFn) -> Mutant:
    text = text_of(draw(NAMES))
    at, cut = draw(st.integers(0, len(text))), draw(st.integers(0, 40))
    return Mutant("token splice", (text[:at] + "".join(draw(st.lists(TOKENS, max_size=6))) + text[at + cut:]).encode())


HUGE = st.one_of(
    st.integers(20, 6_000).map(lambda n: "9" * n),
    st.integers(20, 1_000).map(lambda n: "1" + "0" * n),
    st.integers(300, 5_000).map(lambda n: f"1.0e+{n}"),
    st.integers(20, 1_000).map(lambda n: "-" + "9" * n),
    st.integers(20, 3_000).map(lambda n: "0x" + "f" * n),
    st.integers(1, 400).map(lambda n: "1:" * n + "0"),  # sexagesimal (YAML 1.1)
    st.sampled_from([".inf", "-.inf", ".nan", "1e400", "99999", "-1", "0", "4294967296", "9223372036854775808"]),
)
WRONG_TYPES = st.sampled_from(["[1, 2]", "{a: 1}", "true", "null", "''", '""', "'text'", "1.5", "- x", "&a 1",
                               "!!str 5", "2024-01-01", "[[[]]]", "{}", "[]"])
VALUE_LINE = re.compile(r"^(\s*(?:- )?[A-Za-z_]+: )(\S.*)$")


@st.composite
def values_replaced(draw: st.DrawFn) -> Mutant:
    """A `key: value` line gets a huge number (500 digits, 1 and 400 zeros, 1.0e+300 ...) or
    a value of the wrong type."""
    lines = text_of(draw(NAMES)).split("\n")
    candidates = [i for i, line in enumerate(lines) if VALUE_LINE.match(line) and not line.lstrip().startswith("#")]
    i = draw(st.sampled_from(candidates))
    value = draw(st.one_of(HUGE, WRONG_TYPES))
    lines[i] = VALUE_LINE.sub(lambda m: m.group(1) + value, lines[i])
    return Mutant("huge number or wrong type", "\n".join(lines).encode())


@st.composite
def keys_misplaced(draw: st.DrawFn) -> Mutant:
    lines = text_of(draw(NAMES)).split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    indent = re.match(r"\s*", lines[i]).group()
    key, value = draw(st.sampled_from(["stages", "steps", "objectives", "fault"])), draw(WRONG_TYPES)
    lines.insert(i, f"{indent}{key}: {value}")
    return Mutant("known key misplaced", "\n".join(lines).encode())


# ---- mutations at a known place: the first error must be exactly there --------------------------

CONTROL = st.one_of(st.integers(0, 31).filter(lambda c: c not in (9, 10, 13)), st.just(0x7F),
                    st.integers(0x80, 0x9F).filter(lambda c: c != 0x85), st.sampled_from([0xFFFE, 0xFFFF])).map(chr)
NOT_UTF8 = st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\xaf", b"\xc3", b"\xe4\xb8", b"\xed\xa0\x80",
                            b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xef\xbb"])


@st.composite
def control_characters(draw: st.DrawFn) -> Mutant:
    text, char = text_of(draw(VALID_NAMES)), draw(CONTROL)
    at = draw(st.integers(0, len(text)))
    return Mutant("control character", (text[:at] + char + text[at:]).encode(),
                  (*position(text, at), f"U+{ord(char):04X}"))


@st.composite
def bytes_not_utf8(draw: st.DrawFn) -> Mutant:
    text, bad = text_of(draw(VALID_NAMES)), draw(NOT_UTF8)
    at = draw(st.integers(0, len(text)))  # a character boundary, so these are the first bad bytes
    return Mutant("not UTF-8", text[:at].encode() + bad + text[at:].encode(), (*position(text, at), "not UTF-8 text"))


def top_level_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.split("\n")) if re.match(r"[a-z_]+:", line)]


@st.composite
def unknown_keys(draw: st.DrawFn) -> Mutant:
    text = text_of(draw(VALID_NAMES))
    i = draw(st.sampled_from(top_level_lines(text)))
    key = draw(st.sampled_from(["zz_unknown", "stagse", "worklaod", "objective"]))
    lines = text.split("\n")
    lines.insert(i, f"{key}: 1")
    return Mutant("unknown key", "\n".join(lines).encode(), (i + 1, 1, f"unknown key `{key}`"))


@st.composite
def duplicated_keys(draw: st.DrawFn) -> Mutant:
    text = text_of(draw(VALID_NAMES)).rstrip("\n")
    lines = text.split("\n")
    key = lines[draw(st.sampled_from(top_level_lines(text)))].split(":")[0]
    return Mutant("duplicated key", f"{text}\n{key}: 1\n".encode(), (len(lines) + 1, 1, f"key `{key}` appears twice"))


@st.composite
def deep_nesting(draw: st.DrawFn) -> Mutant:
    """More than 100 levels on the last line: refused on that line (the column is where the
    parser's limit, ours at 100 levels or libyaml's at 1000, is crossed)."""
    text = text_of(draw(VALID_NAMES)).rstrip("\n")
    depth, opener = draw(st.integers(101, 3_000)), draw(st.sampled_from(["[", "{a: "]))
    closer = "]" if opener == "[" else "}"
    return Mutant("deep nesting", f"{text}\nx: {opener * depth}1{closer * depth}\n".encode(),
                  (text.count("\n") + 2, 0, "nest"))


@st.composite
def many_unknown_keys(draw: st.DrawFn) -> Mutant:
    text = text_of(draw(VALID_NAMES)).rstrip("\n")
    n = draw(st.integers(1, 5_000))
    keys = "".join(f"\nunknown_{i}: {i}" for i in range(n))
    return Mutant("many unknown keys", f"{text}{keys}\n".encode(), (text.count("\n") + 2, 1, "unknown key `unknown_0`"),
                  keys=n)


@fuzz(600)
@given(st.one_of(byte_flips(), token_splices(), *(values_replaced() for _ in range(3)), keys_misplaced()))  # weight 3
def test_mutants_keep_the_contract(mutant: Mutant) -> None:
    """Byte flips, token splices, huge numbers, wrong types, keys out of place: valid (exit 0)
    or refused (exit 2) at real positions, without a traceback, in under 2 s."""
    TALLY[f"kind: {mutant.kind}"] += 1
    check(validate(mutant.data))


@fuzz(500)
@given(st.one_of(control_characters(), bytes_not_utf8(), unknown_keys(), duplicated_keys(), deep_nesting(),
                 many_unknown_keys()))
def test_bad_input_at_a_known_place_is_located_exactly_there(mutant: Mutant) -> None:
    TALLY[f"kind: {mutant.kind}"] += 1
    outcome = check(validate(mutant.data))
    line, col, says = mutant.expect
    if mutant.kind == "deep nesting":  # where in the line depends on the parser's own limit; the line does not
        assert outcome.code == 2 and outcome.located()[0][0] == line and says in outcome.err, outcome.err
    else:
        assert_first_error_at(outcome, line, col, says)
    if mutant.keys > 1:  # capped at 50 listed, all counted
        assert f"{mutant.keys:,} problems" in outcome.err
