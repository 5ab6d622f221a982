"""Rules that cannot be evaluated with the inputs given are said to be, with why, in every
format; a PASS always says how many rules it covers."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_report_renderers import assert_valid_junit

from drills.audit.engine import run_audit
from drills.audit.output import render_json, render_junit, render_sarif, render_text
from drills.audit.rules import EVALUATED, NOT_EVALUATED, PARTIAL, RULES, AuditContext, coverage, evaluate
from drills.audit.sqldump import parse_dumps
from drills.audit.traffic import Traffic
from drills.audit.units import ActiveActive
from drills.cli import main
from drills.filter_list import FilterList, load

REPO = Path(__file__).parents[2]
F = REPO / "fixtures/audit"
ALL = [r.id for r, _ in RULES]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _ctx(*, dc2: bool = False, traffic: bool = False, offsets: bool = False, same_city: bool = False,
         replica: bool = False, effective: dict[str, FilterList] | None = None, active_active: bool = False) -> AuditContext:
    t = Traffic(sources=["test"])
    if traffic:
        for dc in ("dc1", "dc2"):
            t.add_write("app.job_log", dc)
    return AuditContext(
        filter_list=load(F / "list_ok.yaml"),
        dc1=parse_dumps([F / "app_dc1.sql"]),
        dc2=parse_dumps([F / "app_dc2.sql"], label="dc2") if dc2 else None,
        traffic=t if traffic else None,
        auto_increment={"dc1": (2, 1), "dc2": (2, 2)} if offsets else None,
        same_city=same_city,
        effective=effective if effective is not None else ({"dc2": load(F / "list_ok.yaml")} if replica else None),
        active_active=ActiveActive(central_tables=("app.app_config",)) if active_active else None,
    )


def _states(ctx: AuditContext, only: set[str] | None = None) -> dict[str, str]:
    return {c.rule.id: c.state for c in coverage(ctx, only)}


def test_one_schema_leaves_the_two_sided_rules_not_evaluated() -> None:
    states = _states(_ctx())
    assert {r for r, s in states.items() if s == NOT_EVALUATED} == {"AUD104", "AUD105", "AUD106", "AUD107", "AUD109", "AUD110",
                                                                   "AUD112", "AUD113"}
    assert states["AUD108"] == PARTIAL  # judged from names and structure only
    assert all(states[r] == EVALUATED for r in ("AUD101", "AUD102", "AUD103", "AUD111"))
    why = {c.rule.id: c.reason for c in coverage(_ctx())}
    assert "--dc2-schema" in why["AUD104"] and "--traffic" in why["AUD109"] and "live replica" in why["AUD110"]
    assert "--same-city" in why["AUD107"]
    assert "--mode active-active" in why["AUD112"] and "--mode active-active" in why["AUD113"]


def test_every_rule_is_evaluated_when_every_input_is_given() -> None:
    """The negative case: nothing is reported as missing when nothing is."""
    both_replicas = {"dc1": load(F / "list_ok.yaml"), "dc2": load(F / "list_ok.yaml")}
    states = _states(_ctx(dc2=True, traffic=True, offsets=True, same_city=True, effective=both_replicas, active_active=True))
    assert states == dict.fromkeys(ALL, EVALUATED)


@pytest.mark.parametrize(
    ("kw", "rule", "state", "why"),
    [
        ({"dc2": True}, "AUD104", EVALUATED, ""),
        ({"dc2": True, "traffic": True}, "AUD109", PARTIAL, "offsets unknown"),
        ({"dc2": True, "traffic": True, "offsets": True}, "AUD109", EVALUATED, ""),
        ({"dc2": True}, "AUD107", NOT_EVALUATED, "same-city"),
        ({"effective": {}}, "AUD110", NOT_EVALUATED, "none of the live servers is a replica"),
        ({"active_active": True}, "AUD112", EVALUATED, ""),
        ({"active_active": True}, "AUD109", PARTIAL, "offsets unknown"),
        ({"active_active": True}, "AUD113", NOT_EVALUATED, "--traffic"),
        ({"active_active": True, "traffic": True}, "AUD113", PARTIAL, "were not read"),
    ],
)
def test_each_input_changes_exactly_its_rules(kw: dict[str, object], rule: str, state: str, why: str) -> None:
    [c] = [c for c in coverage(_ctx(**kw)) if c.rule.id == rule]  # type: ignore[arg-type]
    assert c.state == state and why in c.reason


def test_rows_missing_on_one_side(tmp_path: Path) -> None:
    """Two schemas but no seed rows: the env rules cannot compare anything and say so; rows of
    only some candidate tables: evaluated in part, naming one that was skipped."""
    no_rows = tmp_path / "dc2.sql"
    no_rows.write_text("\n".join(line for line in (F / "app_dc2.sql").read_text().splitlines() if not line.startswith("INSERT")))
    ctx = _ctx(dc2=True, same_city=True)
    ctx.dc2 = parse_dumps([no_rows], label="dc2")
    [c] = [c for c in coverage(ctx) if c.rule.id == "AUD106"]
    assert c.state == NOT_EVALUATED and "app.app_config" in c.reason and "data dumps" in c.reason
    extra = tmp_path / "dc1_extra.sql"
    extra.write_text("USE app;\nCREATE TABLE endpoints (name VARCHAR(32) PRIMARY KEY, url VARCHAR(255) NOT NULL);\n")
    both = tmp_path / "dc2_extra.sql"
    both.write_text(extra.read_text())
    ctx = _ctx(dc2=True)
    ctx.dc1 = parse_dumps([F / "app_dc1.sql", extra])
    ctx.dc2 = parse_dumps([F / "app_dc2.sql", both], label="dc2")
    [c] = [c for c in coverage(ctx) if c.rule.id == "AUD106"]
    assert c.state == PARTIAL and "1 of 2" in c.reason and "app.endpoints" in c.reason


def test_rules_not_selected_are_not_evaluated() -> None:
    states = _states(_ctx(dc2=True), {"AUD102"})
    assert states["AUD102"] == EVALUATED and sum(s == NOT_EVALUATED for s in states.values()) == len(ALL) - 1
    [c] = [c for c in coverage(_ctx(), {"AUD102"}) if c.rule.id == "AUD101"]
    assert c.reason == "not selected (--rule AUD102)"


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.sets(st.sampled_from(ALL)))
def test_a_rule_not_evaluated_never_reports_a_finding(dc2: bool, traffic: bool, offsets: bool, same_city: bool,
                                                      replica: bool, active_active: bool, only: set[str]) -> None:
    ctx = _ctx(dc2=dc2, traffic=traffic, offsets=offsets, same_city=same_city, replica=replica, active_active=active_active)
    findings, cover = evaluate(ctx, only or None)
    assert [c.rule.id for c in cover] == ALL
    assert {f.rule.id for f in findings} <= {c.rule.id for c in cover if c.evaluated}


# ---- the formats ----------------------------------------------------------------------------


def test_text_verdict_counts_rules_and_lists_the_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"))
    assert code == 0
    assert out.rstrip().endswith("drills audit: 5 of 13 rules evaluated (1 in part), 8 not evaluated; 1 warning -> PASS (fail-on error)")
    block = out[out.index("NOT EVALUATED (8)"):out.index("EVALUATED IN PART (1)")]
    assert "AUD104 table-missing-on-one-side: needs dc2's schema too" in block and "AUD110 " in block
    assert "AUD108 dual-write-table-replicated: no observed writes" in out
    # the negative case: with every offline input only the live rule and the active-active ones are missing
    code, out, _ = run(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--dc2-schema", str(F / "app_dc2.sql"),
                       "--traffic", str(F / "traffic.yaml"), "--auto-increment", "dc1=2/1", "--auto-increment", "dc2=2/2", "--same-city")
    assert "10 of 13 rules evaluated, 3 not evaluated;" in out and "EVALUATED IN PART" not in out
    assert "NOT EVALUATED (3)\n  AUD110 " in out


def test_json_lists_the_status_of_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--format", "json")
    doc = json.loads(out)
    assert [r["rule"] for r in doc["rules"]] == ALL
    by = {r["rule"]: r for r in doc["rules"]}
    assert by["AUD104"]["status"] == "not evaluated" and "--dc2-schema" in by["AUD104"]["reason"]
    assert by["AUD101"]["status"] == "evaluated" and "reason" not in by["AUD101"]
    assert by["AUD108"]["status"] == "evaluated in part"
    assert (doc["evaluated"], doc["not_evaluated"]) == (5, 8) and doc["passed"] is True
    assert by["AUD101"]["doc"] == "docs/audit-rules/AUD101.md"


def test_junit_skips_rules_not_evaluated_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(F / "list_mistakes.yaml"), "--schema", str(F / "app_dc1.sql"), "--format", "junit")
    root = ET.fromstring(out)
    assert_valid_junit(root)
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.get("classname"): c for c in suite.findall("testcase") if c.get("classname") and c.find("failure") is None}
    skipped = cases["drills.audit.AUD104"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("not evaluated: needs dc2's schema")
    assert suite.get("skipped") == "8"
    # an evaluated rule without findings passes, and a partly evaluated one says what it lacked
    assert cases["drills.audit.AUD111"].find("skipped") is None and not list(cases["drills.audit.AUD111"])
    out_el = cases["drills.audit.AUD108"].find("system-out")
    assert out_el is not None and "evaluated in part" in (out_el.text or "")
    assert "5 of 13 rules evaluated" in (suite.find("system-out").text or "")  # type: ignore[union-attr]


def test_junit_with_a_rule_selection_does_not_pass_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: --rule AUD102 still showed ten passing rules that had not run."""
    _, out, _ = run(capsys, str(F / "list_ok.yaml"), "--schema", str(F / "app_dc1.sql"), "--rule", "AUD102", "--format", "junit")
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None
    passing = [c.get("name") for c in suite.findall("testcase") if not list(c)]
    assert passing == [] and suite.get("skipped") == "12"
    assert [c.get("classname") for c in suite.findall("testcase") if c.find("skipped") is None] == ["drills.audit.AUD102"]


def test_every_format_agrees_on_the_coverage() -> None:
    """One source: the result's coverage; each renderer shows the same rules as not evaluated."""
    result = run_audit(_ctx())
    missing = {c.rule.id for c in result.not_evaluated}
    assert len(missing) == 8
    text = render_text(result)
    assert all(f"  {r} " in text.split("NOT EVALUATED", 1)[1] for r in missing)
    assert {r["rule"] for r in json.loads(render_json(result))["rules"] if r["status"] == "not evaluated"} == missing
    inv = json.loads(render_sarif(result))["runs"][0]["invocations"][0]
    assert {n["associatedRule"]["id"] for n in inv["toolConfigurationNotifications"] if n["descriptor"]["id"] == "not-evaluated"} == missing
    suite = ET.fromstring(render_junit(result)).find("testsuite")
    assert {c.get("classname", "").rsplit(".", 1)[1] for c in suite.iter("testcase") if c.find("skipped") is not None} == missing  # type: ignore[union-attr]
