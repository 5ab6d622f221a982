"""Colour only for a person at a terminal: NO_COLOR (https://no-color.org), TERM=dumb and
any stream that is not a TTY (pipe, file, CI log) turn it off."""

from __future__ import annotations

import io

from drills.terminal import paint, use_colour, width


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_colour() -> None:
    assert use_colour(FakeTty(), {"TERM": "xterm-256color"}) is True


def test_no_color_set_to_anything_non_empty_turns_it_off() -> None:
    assert use_colour(FakeTty(), {"NO_COLOR": "1"}) is False
    assert use_colour(FakeTty(), {"NO_COLOR": "0"}) is False  # any value, as no-color.org says
    assert use_colour(FakeTty(), {"NO_COLOR": ""}) is True  # empty means unset


def test_a_pipe_a_file_or_a_dumb_terminal_gets_none() -> None:
    assert use_colour(io.StringIO(), {}) is False
    assert use_colour(FakeTty(), {"TERM": "dumb"}) is False
    closed = FakeTty()
    closed.isatty = None  # type: ignore[method-assign]  # a replaced stream without isatty()
    assert use_colour(closed, {}) is False


def test_paint_wraps_only_known_verdicts_and_only_when_asked() -> None:
    assert paint("FAILED", "FAILED", True) == "\033[1;31mFAILED\033[0m"
    assert paint("ok", "ok", True) == "\033[32mok\033[0m"
    assert paint("FAILED", "FAILED", False) == "FAILED"
    assert paint("--", "--", True) == "--"  # a waived check is not a verdict


def test_width_is_unlimited_off_a_terminal() -> None:
    assert width(io.StringIO()) is None
    assert isinstance(width(FakeTty()), int)
