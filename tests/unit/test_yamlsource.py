"""The generic YAML loader: every failure is a located ConfigError, never anything else."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from drills.errors import ConfigError
from drills.yamlsource import Duration, format_duration, load_model, load_text, parse, parse_duration

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


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
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
    assert "expands to more than" in error_of(bomb)


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
