"""The generic YAML loader: every failure is a located ConfigError, never anything else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from drills.durations import format_duration, parse_duration
from drills.errors import ConfigError
from drills.yamlsource import Duration, load_model, load_text, parse

LOCATED = re.compile(r"^\s*(\S+):(\d+):(\d+): ", re.MULTILINE)


class Probe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Duration = 0.2
    failures: int = Field(3, ge=1)


class Monitor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    probe: Probe = Probe()
    targets: list[Probe] = []


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(text, Monitor, "m.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2s", 2.0), ("500ms", 0.5), ("1.5m", 90.0), ("1h", 3600.0), (3, 3.0), (0.25, 0.25), ("7", 7.0), (" 10 sec ", 10.0)],
)
def test_durations_are_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["fast", "-1s", "1d", "", True, None, [1], "1e400"])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@given(st.floats(min_value=0, max_value=86_400, allow_nan=False))
def test_duration_round_trips_through_its_format(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-9, abs=1e-6)


def test_misspelled_key_is_located_with_a_suggestion() -> None:
    msg = error_of("kind: x\nprobe:\n  intervall: 2s\n")
    assert msg.startswith("m.yaml:3:3: unknown key `intervall`")
    assert "did you mean `interval`?" in msg
    assert "expected one of: interval, failures" in msg


def test_wrong_value_names_the_line_of_the_value() -> None:
    msg = error_of("kind: x\nprobe:\n  interval: fast\n")
    assert msg.startswith("m.yaml:3:13: probe.interval: expected a duration")


def test_missing_key_points_at_the_mapping() -> None:
    msg = error_of("probe: {}\n")
    assert msg == "m.yaml:1:1: (top level): missing required key `kind`"


def test_errors_in_lists_name_the_item() -> None:
    msg = error_of("kind: a\ntargets:\n  - failures: 0\n  - faliures: 2\n")
    assert "m.yaml:3:15: targets[0].failures: Input should be greater than or equal to 1" in msg
    assert "m.yaml:4:5: unknown key `faliures` in targets[1]; did you mean `failures`?" in msg


def test_yaml_syntax_error_is_located() -> None:
    msg = error_of("kind: [a,\nprobe: {\n")
    assert LOCATED.match(msg) and "not valid YAML" in msg


def test_duplicate_keys_are_an_error_not_a_silent_overwrite() -> None:
    msg = error_of("kind: a\nprobe: {}\nkind: b\n")
    assert msg.startswith("m.yaml:3:1: key `kind` appears twice") and "first at line 1" in msg


def test_alias_bomb_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    assert "more than 200,000 values (or aliases expand to that many)" in error_of(bomb)


def test_top_level_list_says_a_mapping_was_expected() -> None:
    assert error_of("- 1\n") == "m.yaml:1:1: (top level): expected a mapping (key: value lines) (got a list)"


def test_load_model_reads_files_and_reports_missing_ones(tmp_path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("kind: ref\nprobe: {interval: 500ms}\n")
    assert load_model(f, Monitor).probe.interval == 0.5
    with pytest.raises(ConfigError, match="no such file"):
        load_model(tmp_path / "absent.yaml", Monitor)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_model(tmp_path / "bin.yaml", Monitor)


def test_parse_keeps_positions_of_keys_and_values() -> None:
    doc, smap = parse("a:\n  b: [1, 2]\n", "x.yaml")
    assert doc == {"a": {"b": [1, 2]}}
    assert smap.where(("a", "b", 1)) == "x.yaml:2:10"
    assert smap.where(("a", "b"), key=True) == "x.yaml:2:3"


# ---- properties: whatever the text, only a located ConfigError ----------------------------

VALID = "kind: reference\nprobe:\n  interval: 200ms\n  failures: 3\ntargets:\n  - interval: 1s\n  - failures: 2\n"
YAML_CHARS = st.sampled_from(list(":-[]{},#&*!|>'\"%@` \n\t?") + ["kind", "probe", "1", "x", "  ", "- ", ": "])


def assert_only_located_config_error(text: str) -> None:
    try:
        load_text(text, Monitor, "m.yaml")
    except ConfigError as exc:
        assert LOCATED.search(str(exc)), str(exc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_raises_only_located_config_errors(text: str) -> None:
    assert_only_located_config_error(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_CHARS, max_size=60))
def test_yamlish_noise_raises_only_located_config_errors(tokens: list[str]) -> None:
    assert_only_located_config_error("".join(tokens))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(VALID)), st.integers(0, 8), st.lists(YAML_CHARS, max_size=4).map("".join))
def test_mutated_valid_file_raises_only_located_config_errors(at: int, cut: int, insert: str) -> None:
    assert_only_located_config_error(VALID[:at] + insert + VALID[at + cut :])


# ---- issue 18: bad input is located at its real line and column, in bounded time -----------------


def test_durations_are_at_most_a_day_and_huge_numbers_do_not_overflow() -> None:
    assert parse_duration("24h") == 86_400.0 and parse_duration(86_400) == 86_400.0
    for too_long in ("25h", 86_401, 1.0e300, 10**400, "9" * 500 + "s", "1" + "0" * 400):
        with pytest.raises(ValueError, match="at most 24h"):
            parse_duration(too_long)
    for negative in (-1, -(10**400), -1.0e300):
        with pytest.raises(ValueError, match="non-negative"):
            parse_duration(negative)
    with pytest.raises(ValueError, match="non-negative"):
        parse_duration(float("nan"))


def test_a_huge_number_is_quoted_without_being_printed() -> None:
    from drills.durations import shown_value

    assert shown_value(10**5000) == "a number of 5,001 digits" and shown_value(-(10**200) + 1) == "a number of 200 digits"
    assert shown_value("x" * 10**6) == "'" + "x" * 56 + "..."
    assert error_of("kind: x\nprobe: {failures: -" + "9" * 500 + "}\n") == (
        "m.yaml:2:19: probe.failures: Input should be greater than or equal to 1 (got a number of 500 digits)")


@pytest.mark.parametrize(("text", "at", "says"), [
    ("kind: x\nprobe:\n  interval: 2s\n\n\n\nta\argets: []\n", "7:3", "control character U+0007 (BEL)"),
    ("kind: \x00\n", "1:7", "control character U+0000 (NUL)"),
    ("kind: 'dönër \x1b'\n", "1:14", "control character U+001B (ESC)"),
    ("kind: x\r\nprobe: {}\r\n\x7f", "3:1", "control character U+007F (DEL)"),
    ("kind: x\n# \x9b\n", "2:3", "control character U+009B"),
    ("kind: \ufffe\n", "1:7", "character U+FFFE"),
])
def test_characters_yaml_refuses_are_located_by_line_and_column(text: str, at: str, says: str) -> None:
    msg = error_of(text)
    assert msg.startswith(f"m.yaml:{at}: {says} is not allowed in YAML") and "position" not in msg


@pytest.mark.parametrize(("data", "at", "byte"), [
    (b"kind: x\nprobe:\n  interval: \xff2s\n", "3:13", "0xff"),
    ("kind: 'dön".encode() + b"\xe4\xb8'\n", "1:11", "0xe4"),  # column in characters, not bytes
    (b"\xfe\xffkind: x\n", "1:1", "0xfe"),
    ("kind: x\n\n\n\n\n\n# 人工卡点 ".encode() + b"\xc0\xaf\n", "7:8", "0xc0"),
])
def test_bytes_that_are_not_utf8_are_located_by_line_and_column(tmp_path, data: bytes, at: str, byte: str) -> None:
    f = tmp_path / "m.yaml"
    f.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_model(f, Monitor)
    assert str(info.value).startswith(f"{f}:{at}: not UTF-8 text: byte {byte}")


def test_values_yaml_cannot_build_are_located_at_their_node() -> None:
    assert error_of("kind: x\nprobe:\n  failures: " + "1" * 5000 + "\n") == (
        "m.yaml:3:13: not valid YAML: a number of 5,000 characters is too long to be read")
    assert error_of("kind: x\nprobe: {interval: 2024-02-30}\n").startswith(
        "m.yaml:2:19: not valid YAML: cannot read '2024-02-30' as timestamp")


@pytest.mark.parametrize("pure_python", [False, True])
def test_deep_nesting_is_refused_at_the_level_too_deep(monkeypatch: pytest.MonkeyPatch, pure_python: bool) -> None:
    import yaml

    from drills import yamlsource

    if pure_python:  # PyYAML's own composer recurses once per level: RecursionError without the cap
        monkeypatch.setattr(yamlsource, "_LOADER", yamlsource._make_loader(yaml.SafeLoader))
    msg = error_of("kind: " + "[" * 150 + "]" * 150 + "\n")
    assert msg.startswith("m.yaml:1:107: ") and "nested deeper than 100 levels" in msg  # the 101st level
    block = "kind: x\ntargets:\n" + "".join("  " * i + "- \n" for i in range(1, 300))
    assert LOCATED.match(error_of(block))
    assert LOCATED.match(error_of("kind: " + "[" * 100_000))  # libyaml stops at 1000 levels; so does our cap


def test_errors_are_capped_at_50_and_the_rest_counted_from_where_they_start() -> None:
    from drills.yamlsource import MAX_REPORTED

    msg = error_of("kind: x\n" + "".join(f"extra{i}: 1\n" for i in range(5_000)))
    lines = msg.splitlines()
    assert MAX_REPORTED == 50 and lines[0] == "m.yaml: 5,000 problems" and len(lines) == 52
    assert lines[1].strip().startswith("m.yaml:2:1: unknown key `extra0`")
    assert lines[-1].strip() == "m.yaml:52:1: ... and 4,950 more problems from here on (only the first 50 are listed)"


class WithUnion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    where: Path | Probe = Path(".")


def test_a_union_members_wrong_type_complaint_gives_way_to_the_specific_one() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("where: {failures: 0}\n", WithUnion, "u.yaml")
    assert str(info.value) == "u.yaml:1:19: where.failures: Input should be greater than or equal to 1 (got 0)"
    with pytest.raises(ConfigError) as info:
        load_text("where: {failurse: 2}\n", WithUnion, "u.yaml")
    assert str(info.value).startswith("u.yaml:1:9: unknown key `failurse` in where; did you mean `failures`?")
