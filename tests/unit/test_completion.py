"""Shell completion through argcomplete: the shell runs `drills` with COMP_LINE, COMP_POINT
and _ARGCOMPLETE set and reads the candidates from an output stream (argcomplete's fd 8, or
the file named by _ARGCOMPLETE_STDOUT_FILENAME, used here); `drills completion bash|zsh`
prints the script that does that. A normal run still imports only the command's module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drills.cli import main

REPO = Path(__file__).resolve().parents[2]
IFS = "\013"


def complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = {**os.environ, "COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE": "1",
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "PYTHONPATH": str(REPO)}
    env.pop("NO_COLOR", None)
    res = subprocess.run([sys.executable, "-m", "drills"], env=env, capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    return [c.strip() for c in text.split(IFS) if c.strip()]


def test_completing_va_offers_validate(tmp_path: Path) -> None:
    assert complete("drills va", tmp_path) == ["validate"]


def test_completing_h_offers_history_and_a_nonsense_prefix_offers_nothing(tmp_path: Path) -> None:
    assert complete("drills hi", tmp_path) == ["history"]
    assert complete("drills zzz", tmp_path) == []


def test_options_of_a_command_complete_too(tmp_path: Path) -> None:
    assert complete("drills history --ch", tmp_path) == ["--chart"]
    assert {"bash", "zsh"} <= set(complete("drills completion ", tmp_path))


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_prints_the_script_for_the_shell(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "_ARGCOMPLETE" in script and "drills" in script
    if shell == "bash":
        assert "complete " in script and "COMP_LINE" in script
        res = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr  # it parses as bash
    else:
        assert script.startswith("#compdef drills")


def test_completion_for_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["completion", "fish"])
    assert info.value.code == 2 and "invalid choice: 'fish'" in capsys.readouterr().err


def test_a_normal_run_imports_neither_argcomplete_nor_other_areas() -> None:
    code = ("import sys; from drills.cli import main; main(['schema']); "
            "print(sorted(m for m in ('argcomplete', 'drills.runner.session', 'drills.report.commands') "
            "if m in sys.modules), file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr.strip() == "[]", res.stderr


def test_the_entry_point_carries_the_argcomplete_marker() -> None:
    head = (REPO / "drills" / "cli.py").read_bytes()[:1024]
    assert b"PYTHON_ARGCOMPLETE_OK" in head
