"""`drills audit` end to end offline: formats, exit codes, baseline, bad input, litemall."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from test_report_renderers import assert_valid_junit

from drills.audit.live import parse_dsn
from drills.cli import main
from drills.errors import ConfigError

REPO = Path(__file__).parents[2]
F = REPO / "fixtures/audit"
LITEMALL = REPO.parent / "shared/realdata/litemall"
SCHEMA = ["--schema", str(F / "app_dc1.sql"), "--dc2-schema", str(F / "app_dc2.sql")]
MISTAKES = [str(F / "list_mistakes.yaml"), *SCHEMA]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_list_passes_and_mistakes_fail(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(F / "list_ok.yaml"), *SCHEMA)
    assert code == 0 and "-> PASS" in out
    code, out, _ = run(capsys, *MISTAKES)
    assert code == 1 and "1 critical, 2 error -> FAIL (fail-on error)" in out
    # grouped by severity, most severe first, each with why and fix
    assert out.index("CRITICAL (1)") < out.index("ERROR (2)")
    assert "AUD101 sequence-table-filtered: `app.id_sequence`" in out and "fix: Remove the entry" in out


def test_fail_on_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    only_errors = [str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--dc2-schema", str(F / "app_dc2.sql"),
                   "--traffic", str(F / "traffic.yaml")]
    assert run(capsys, *only_errors)[0] == 0  # only a warning (pattern matching nothing)
    assert run(capsys, *only_errors, "--fail-on", "warning")[0] == 1
    assert run(capsys, *MISTAKES, "--fail-on", "never")[0] == 0
    assert run(capsys, *MISTAKES, "--fail-on", "critical")[0] == 1
    assert run(capsys, *MISTAKES, "--fail-on", "critical", "--rule", "AUD102")[0] == 0


def test_sarif_points_at_the_filter_list_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *MISTAKES, "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run0 = doc["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(rule_ids) and "AUD101" in rule_ids
    by_rule = {r["ruleId"]: r for r in run0["results"]}
    seq = by_rule["AUD101"]
    assert seq["level"] == "error" and seq["properties"]["severity"] == "critical"
    loc = seq["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("fixtures/audit/list_mistakes.yaml") and loc["region"]["startLine"] == 5
    assert rule_ids[seq["ruleIndex"]] == "AUD101"
    # a finding without an entry points at the CREATE TABLE in the dump
    env = by_rule["AUD106"]["locations"][0]["physicalLocation"]
    assert env["artifactLocation"]["uri"].endswith("app_dc1.sql") and env["region"]["startLine"] == 22


def test_junit_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, *MISTAKES, "--format", "junit")
    root = ET.fromstring(out)
    assert_valid_junit(root)  # Jenkins' JUnit schema, as the drill reports are checked
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "3" and int(suite.get("tests") or 0) == len(suite.findall("testcase"))
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert "sequence-table-filtered: app.id_sequence" in failed
    passed_rule = [c for c in suite.findall("testcase") if c.get("name") == "replicated-table-without-primary-key"]
    assert passed_rule and passed_rule[0].find("failure") is None
    _, out, _ = run(capsys, *MISTAKES, "--format", "json")
    doc = json.loads(out)
    assert doc["passed"] is False and doc["summary"] == {"critical": 1, "error": 2, "warning": 0, "info": 0}
    assert doc["findings"][0]["entry"]["line"] == 5 and doc["findings"][0]["rule"] == "AUD101"


def test_baseline_accepts_known_findings_with_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "baseline.yaml"
    code, _, err = run(capsys, *MISTAKES, "--write-baseline", str(base), "--format", "json")
    assert code == 1 and "fill in each `reason:`" in err
    code, _, err = run(capsys, *MISTAKES, "--baseline", str(base))
    assert code == 2 and "has no reason" in err and f"{base}:" in err  # an accepted finding needs a reason
    run(capsys, *MISTAKES, "--write-baseline", str(base), "--reason", "tracked in DBA-123")
    code, out, _ = run(capsys, *MISTAKES, "--baseline", str(base))
    assert code == 0 and "3 accepted in baseline" in out
    # a new finding still fails; the stale entry is pointed out
    code, out, _ = run(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--baseline", str(base),
                       "--auto-increment", "dc1=1/1", "--auto-increment", "dc2=1/1", "--traffic", str(F / "binlog_dc2.txt"),
                       "--server-id", "1=dc1", "--server-id", "2=dc2")
    assert "no longer matches a finding" in out
    _, out, _ = run(capsys, *MISTAKES, "--baseline", str(base), "--format", "sarif")
    suppressed = [r for r in json.loads(out)["runs"][0]["results"] if r.get("suppressions")]
    assert len(suppressed) == 3 and suppressed[0]["suppressions"][0]["justification"] == "tracked in DBA-123"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.yaml", "--schema", str(F / "app_dc1.sql")], "missing.yaml: cannot read filter list"),
        ([str(F / "list_ok.yaml")], "nothing to audit against"),
        ([str(F / "list_ok.yaml"), "--schema", "nope.sql"], "nope.sql: cannot read schema dump"),
        ([str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--dsn", "mysql://u:p@127.0.0.1:1"], "not both"),
        ([str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--rule", "AUD999"], "no such rule"),
        ([str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--auto-increment", "dc1"], "expected DC=INCREMENT/OFFSET"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_unparsable_sql_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("USE app;\nCREATE TABLE t (\n  id INT,\n  PRIMARY (id)\n);\n")
    code, _, err = run(capsys, str(F / "list_ok.yaml"), "--schema", str(bad))
    assert code == 2 and f"{bad}:4: expected KEY after PRIMARY" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_named_and_password_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    code, out, err = run(capsys, str(F / "list_ok.yaml"), "--dsn", f"mysql://drill:s3cr3t-pw@127.0.0.1:{port}")
    assert code == 2 and f"cannot connect to dc1 (mysql://drill@127.0.0.1:{port})" in err
    assert "s3cr3t-pw" not in out + err


def test_dsn_parsing() -> None:
    dsn = parse_dsn("mysql://repl:p%40ss@127.0.0.1:3307/app")
    assert (dsn.user, dsn.password, dsn.host, dsn.port, dsn.database) == ("repl", "p@ss", "127.0.0.1", 3307, "app")
    assert "p@ss" not in dsn.masked()
    with pytest.raises(ConfigError) as exc:
        parse_dsn("postgres://u:hunter2@h:1")
    assert "hunter2" not in str(exc.value)
    # issue 18: the port is out of range, not "not a number"; the same parser as check consistency
    with pytest.raises(ConfigError, match=r"port 99999 is out of range \(1-65535\)") as exc:
        parse_dsn("mysql://u:hunter2@h:99999")
    assert "hunter2" not in str(exc.value)


@pytest.mark.skipif(not LITEMALL.is_dir(), reason=f"litemall dump not present at {LITEMALL}")
def test_litemall_with_its_realistic_filter_list(capsys: pytest.CaptureFixture[str]) -> None:
    dumps = [str(LITEMALL / "litemall_table.sql"), str(LITEMALL / "litemall_data.sql")]
    argv = [str(REPO / "fixtures/litemall_filter_list.yaml"), "--schema", dumps[0], "--schema", dumps[1],
            "--dc2-schema", dumps[0], "--dc2-schema", dumps[1], "--format", "json"]
    code, out, _ = run(capsys, *argv)
    doc = json.loads(out)
    assert code == 0, doc["findings"]
    # only the two patterns that cannot match today: DBA backups (none yet) and the BI schema not in this dump
    assert sorted((f["rule"], f["subject"], f["severity"]) for f in doc["findings"]) == [
        ("AUD102", "litemall.tmp_%", "warning"), ("AUD102", "litemall_report.%", "warning")]
    # the classic mistakes on the same real schema are caught
    bad = REPO / "fixtures/audit/litemall_mistakes.yaml"
    code, out, _ = run(capsys, str(bad), "--schema", dumps[0], "--schema", dumps[1], "--format", "json")
    got = {(f["rule"], f["subject"]) for f in json.loads(out)["findings"]}
    assert code == 1
    assert ("AUD103", "litemall.litemall_order%") in got  # meant for order backups, also takes orders
    assert ("AUD102", "litemall.litemall_systen") in got  # typo of litemall_system


def test_list_rules_names_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--list-rules")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines() if line.startswith("AUD")] == [f"AUD{n}" for n in range(101, 114)]
