"""Issue 18: a secret never leaves in the clear — not whole, not escaped, not in pieces."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from secret_leaks import file_leaks, leaks

from drills import masking
from drills.journal import Journal, verify
from drills.masking import Masker
from drills.runner.session import Drill, DrillParts, RunOptions
from drills.scenario import load_scenario_text

# quotes, backslashes, regex metacharacters, JSON and YAML syntax, non-ASCII, astral plane
SECRET_CHARS = st.sampled_from(list("\"'\\$^*+?.()[]{}|/#%&:;,=<>~`!@ ") + list("aZq7Xkü中Жé€𝄞"))
SECRETS = st.text(SECRET_CHARS, min_size=8, max_size=24)
SCENARIO = """\
name: secret-drill
params: {pw: {secret: true, env: PW}}
stages:
  - name: a
    steps:
      - name: "step ${pw}"
        shell: "printf 'bad: %s\\n' \\"$DRILLS_PARAM_PW\\"; printf '%s' \\"$DRILLS_PARAM_PW\\" >&2; exit 3"
        on_failure: continue
      - {wait: 0}
"""


from test_runner_drill import NoRouteWatch, NoTopology  # noqa: E402 - the runner tests' provider of nothing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=SECRETS)
def test_no_file_of_the_run_and_no_byte_of_the_output_holds_the_secret(tmp_path_factory: pytest.TempPathFactory,
                                                                       secret: str) -> None:
    assume(secret.strip() == secret and "\n" not in secret)
    run_dir = tmp_path_factory.mktemp("run")
    scenario = load_scenario_text(SCENARIO, "s.yaml", environ={"PW": secret}, require_secrets=True)
    out, err = io.StringIO(), io.StringIO()
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        drill = Drill(scenario, run_dir, Journal(run_dir / "journal.jsonl", secrets=scenario.secret_values), "rid",
                      RunOptions(scenario="s", tty=False, stream=err, html=run_dir / "report.html",
                                 junit=run_dir / "junit.xml", summary=run_dir / "summary.md",
                                 allure_dir=run_dir / "allure"),
                      DrillParts(evaluate=lambda *_a: [], make_route_watch=NoRouteWatch), environ={},
                      topology_provider=NoTopology())
        outcome = drill.execute()
    finally:
        sys.stdout, sys.stderr = stdout, stderr
    assert outcome.status == "failed"  # the shell step did fail: its message was shown, masked
    assert "exited with 3" in out.getvalue() + err.getvalue()
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert not file_leaks(secret, path), (path.name, file_leaks(secret, path))
    assert not leaks(secret, out.getvalue()) and not leaks(secret, err.getvalue())
    assert verify(run_dir / "journal.jsonl", json.loads((run_dir / "result.json").read_text())["journal_sha256"]).ok


def test_a_secret_with_quotes_and_backslashes_is_masked_before_the_json_escapes_it(tmp_path: Path) -> None:
    secret = 'Zx9-"SECRET"\\ü-42'
    with Journal(tmp_path / "journal.jsonl", secrets=[secret]) as j:
        j.record("runner", "step.end", error=f"bad: {secret}", nested={"key " + secret: [secret]})
    text = (tmp_path / "journal.jsonl").read_text(encoding="utf-8")
    assert not leaks(secret, text) and not leaks(secret, json.dumps(text))


def test_a_fragment_quoted_by_a_server_is_masked() -> None:
    secret = "Zx9-SECRET-ü-42"
    masking.register(secret)
    message = "You have an error in your SQL syntax ... near '-SECRET-ü-42' at line 1"
    shown = masking.mask(message)
    assert "SECRET" not in shown and "ü-42" not in shown and shown.startswith("You have an error")


def test_hashes_and_clock_readings_are_left_intact() -> None:
    m = Masker(["deadbe-2026-11-30"])
    line = '{"prev": "00deadbe1234", "wall": "2026-11-30T16:24:31.123Z"}'
    assert m.text(line) == line  # pieces of hex digits and clock punctuation only
    assert m.text("x deadbe-2026-11-30 y") == "x *** y"  # the whole value still is masked
