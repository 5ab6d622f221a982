"""The compliance report as an auditor reads it, on paper or on screen: the objectives in words,
long key lists as ranges, the footer every printed page carries, why a check reached no verdict.

Each case renders a recorded run from tests/data/runs, some of them copied and edited (a
declared switchover window, 260 keys, a Toxiproxy that answered "git") so that the behaviour
and its negative both show; the printed PDF itself is tested in
tests/integration/test_report_print_layout.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.errors import ConfigError
from drills.report.explain import collapse_key_rows, compact_lists, key_ranges, no_verdict_reason
from drills.report.html import compliance_html, page_css, render_html, server_text
from drills.report.pdf import render_pdf
from drills.report.run_record import load_run
from drills.report.timeline import build_timeline, render_svg

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "tests" / "data" / "runs"
PASSED, FAILED, KILLED, WAIVED = "failover-passed", "sequence-filtered-failed", "crash-killed", "diverged-waived-passed"
REPEAT = "the drill should be repeated"


def edited_run(tmp_path: Path, run: str, edit: Any) -> Path:
    """A copy of a recorded run whose result.json `edit(doc)` changed (the journal, which
    result.json seals, is untouched, so it still verifies)."""
    target = tmp_path / run
    shutil.copytree(RUNS / run, target)
    doc = json.loads((target / "result.json").read_text(encoding="utf-8"))
    edit(doc)
    (target / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    return target


def check_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["name"] == name)


def objective_rows(html: str) -> dict[str, str]:
    """data-objective -> the row's text, from the objectives table."""
    table = html[html.index('<table id="objectives">'):]
    table = table[:table.index("</table>")]
    return {m[1]: unescape(re.sub(r"<[^>]+>", " ", m[2])) for m in
            re.finditer(r"<tr data-objective='([^']+)'>(.*?)</tr>", table, re.S)}


# ---- objectives in plain words ----------------------------------------------------------------

def test_objectives_table_has_one_row_per_objective_in_words_with_units() -> None:
    html = compliance_html(load_run(RUNS / PASSED))
    rows = objective_rows(html)
    assert list(rows)[:2] == ["rto", "rpo"]  # the declared objectives first, then the other checks
    assert set(rows) == {"rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain"}
    rto = " ".join(rows["rto"].split())
    assert "at most 10 s" in rto and "3.43 s for the failover dc1 → dc2" in rto and "0.71 s for the failback dc2 → dc1" in rto
    assert "no acknowledged write lost" in rows["rpo"] and "0 acknowledged write(s) lost" in rows["rpo"]
    assert not re.search(r"[a-z_]=", "".join(rows.values()))  # no key=value, so never `max_span_s=—`
    assert "—" not in "".join(rows.values())
    assert "max_span" not in html[html.index('id="objectives"'):html.index("<h2>Timeline")]
    assert "Objectives as declared by the scenario" not in html  # no raw JSON line under the table


def test_a_declared_switchover_window_gets_its_own_row_judged_by_its_own_switches(tmp_path: Path) -> None:
    def declare_window(doc: dict[str, Any]) -> None:
        doc["objectives"]["switchover_window"] = 0.5
        failback = check_of(doc, "rto")["evidence"]["changes"][1]
        failback.update(objective_name="switchover_window", objective_s=0.5, status="failed")
        check_of(doc, "rto")["status"] = "failed"

    html = compliance_html(load_run(edited_run(tmp_path, PASSED, declare_window)))
    rows = {k: " ".join(v.split()) for k, v in objective_rows(html).items()}
    assert list(rows)[:3] == ["rto", "switchover_window", "rpo"]
    assert "3.43 s for the failover dc1 → dc2" in rows["rto"] and "failback" not in rows["rto"]
    assert rows["rto"].endswith("PASS")  # the failover met the RTO ...
    assert "at most 0.5 s" in rows["switchover_window"] and "0.71 s for the failback dc2 → dc1" in rows["switchover_window"]
    assert rows["switchover_window"].endswith("FAIL")  # ... the failback missed its own window


def test_without_a_declared_window_there_is_no_window_row() -> None:
    # the negative: switchover_window: null in the scenario, so no row pretends it was judged
    rows = objective_rows(compliance_html(load_run(RUNS / PASSED)))
    assert "switchover_window" not in rows
    assert "for every switch (no separate switchover window declared)" in " ".join(rows["rto"].split())


def test_a_declared_objective_nobody_measured_still_has_a_row(tmp_path: Path) -> None:
    def drop_rto(doc: dict[str, Any]) -> None:
        doc["checks"] = [c for c in doc["checks"] if c["name"] != "rto"]

    rows = objective_rows(compliance_html(load_run(edited_run(tmp_path, PASSED, drop_rto))))
    assert "not measured" in rows["rto"] and "NO VERDICT" in rows["rto"]


# ---- long key lists -----------------------------------------------------------------------------

def test_key_ranges() -> None:
    assert key_ranges([1, 2, 3, 7, 9, 10, *range(433, 693)]) == "1–3, 7, 9, 10, 433–692"
    assert key_ranges(["order", 5, 6]) == "order, 5, 6"  # two in a row are shorter written out
    assert key_ranges([[4], [5], [6]]) == "4–6"  # one-column primary keys as the comparison lists them


@given(st.lists(st.integers(-50, 50), max_size=60))
def test_key_ranges_lose_no_key(keys: list[int]) -> None:
    back: list[int] = []
    for part in key_ranges(keys).split(", ") if keys else []:
        m = re.fullmatch(r"(-?\d+)–(-?\d+)", part)
        back += list(range(int(m[1]), int(m[2]) + 1)) if m else [int(part)]
    assert back == keys


def test_collapse_key_rows_folds_only_rows_that_differ_by_a_consecutive_key() -> None:
    same = [{"table": "app.orders", "key": k, "what": "differs"} for k in range(433, 693)]
    assert collapse_key_rows(same) == [{"table": "app.orders", "key": "433–692 (260 keys)", "what": "differs"}]
    mixed = [{"table": "t", "key": 1, "what": "differs"}, {"table": "t", "key": 2, "what": "missing on dc2"},
             {"table": "t", "key": 3, "what": "differs"}]
    assert collapse_key_rows(mixed) == mixed  # different findings stay separate rows
    gap = [{"table": "t", "key": k, "what": "x"} for k in (1, 2, 4, 5)]
    assert collapse_key_rows(gap) == gap


def test_260_keys_print_as_one_range_row_and_the_report_says_where_the_full_list_is(tmp_path: Path) -> None:
    keys = list(range(433, 693))

    def many_keys(doc: dict[str, Any]) -> None:
        check = check_of(doc, "data_consistency")
        check["evidence"]["explained"] = [
            {"table": "app.orders", "key": k, "what": "missing on dc2", "because": "orders lost at a failover (counted by rpo)"}
            for k in keys]
        check["evidence"]["differences"] = [{"table": "app.orders", "missing": {"dc2": {"count": 260, "keys": keys}}}]
        check["measured"]["explained_differences"] = 260

    run = edited_run(tmp_path, FAILED, many_keys)
    html = unescape(render_html(run, tmp_path / "r.html").read_text(encoding="utf-8"))
    table = html[html.index('class="evidence-explained"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 2 and "433–692 (260 keys)" in table  # header row + one range row
    assert "<td class='mono'>434</td>" not in table
    index = [c["name"] for c in json.loads((run / "result.json").read_text())["checks"]].index("data_consistency")
    where = f"{(run / 'result.json').resolve()}</code> under <code>checks[{index}].evidence.explained"
    assert where in html and "260 keys in 1 rows" in html
    assert '"keys": "433–692 (260 values)"' in html  # the folded evidence dump too
    # result.json keeps every key
    assert check_of(json.loads((run / "result.json").read_text()), "data_consistency")["evidence"]["explained"][1]["key"] == 434


def test_compact_lists_leaves_short_and_mixed_lists_alone() -> None:
    assert compact_lists({"keys": [1, 2, 3]}) == {"keys": [1, 2, 3]}
    assert compact_lists({"keys": list(range(30))}) == {"keys": "0–29 (30 values)"}
    mixed = {"keys": [*range(25), "x"]}
    assert compact_lists(mixed) == mixed


# ---- the printed page -----------------------------------------------------------------------------

def test_every_printed_page_carries_run_id_page_count_and_journal_hash() -> None:
    record = load_run(RUNS / PASSED)
    css = page_css(record, "a4")
    assert "size:A4" in css and "@bottom-left" in css and "@bottom-right" in css
    assert record.run_id in css and record.sealed_hash and record.sealed_hash in css
    assert 'counter(page) " of " counter(pages)' in css
    assert "size:letter" in page_css(record, "letter")
    assert "size:" not in page_css(record)  # on screen, a browser's print dialog chooses the sheet


def test_an_unsealed_run_says_so_in_the_footer() -> None:
    record = load_run(RUNS / KILLED)
    css = page_css(record, "a4")
    assert record.sealed_hash is None and "not sealed" in css and record.verification.final_hash in css


def test_footer_text_cannot_break_out_of_the_style_element(tmp_path: Path) -> None:
    def hostile_id(doc: dict[str, Any]) -> None:
        doc["run_id"] = 'x"}</style><script>alert(1)</script>'

    html = compliance_html(load_run(edited_run(tmp_path, PASSED, hostile_id)), paper="a4")
    style = html[html.index("<style>"):html.index("</style>") + len("</style>")]
    assert "<script" not in style and html.count("</style>") == 1
    assert "<script>" not in html


def test_tables_with_a_header_row_have_a_thead_repeated_on_every_page() -> None:
    html = compliance_html(load_run(RUNS / FAILED))
    tables = re.findall(r"<table[^>]*>.*?</table>", html, re.S)
    with_header = [t for t in tables if "<th>" in t and "<thead>" in t]
    assert len(with_header) >= 10
    for t in tables:
        # a header cell outside a <thead> is a key/value table's row label, never a column header row
        body = re.sub(r"<thead>.*?</thead>", "", t, flags=re.S)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
            assert not re.fullmatch(r"(<th>[^<]*</th>)+", row), row
    assert "thead{display:table-header-group}" in html and "tr,svg,.sig,figure{break-inside:avoid}" in html
    assert "details::details-content{content-visibility:visible" in html


def test_pdf_paper_size_is_checked_before_anything_is_printed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--paper 'legal': unknown paper size; choose one of a4, letter"):
        render_pdf(RUNS / PASSED, tmp_path / "r.pdf", paper="legal")
    assert not (tmp_path / "r.pdf").exists()


def test_cli_paper_option_rejects_an_unknown_size_without_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "drills", "report", str(RUNS / PASSED), "--pdf", str(tmp_path / "r.pdf"),
                           "--paper", "legal"], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 2 and "--paper: invalid choice: 'legal'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.pdf").exists()


# ---- versions, integrity, timeline ------------------------------------------------------------------

def test_a_toxiproxy_that_answered_git_is_not_passed_off_as_a_version(tmp_path: Path) -> None:
    def git(doc: dict[str, Any]) -> None:
        doc["environment"]["servers"]["toxiproxy"] = {"version": "git"}

    html = unescape(compliance_html(load_run(edited_run(tmp_path, PASSED, git))))
    row = re.search(r"<th>Server toxiproxy</th><td>(.*?)</td>", html)
    assert row and row[1].startswith("release not recorded") and "pinned version" in row[1]
    assert server_text("v2.12.0 (built by scripts/setup)") == "v2.12.0 (built by scripts/setup)"
    assert re.search(r"<th>Server toxiproxy</th><td>2\.12\.0</td>", compliance_html(load_run(RUNS / PASSED)))


def test_integrity_section_is_one_correct_sentence_with_the_absolute_run_directory() -> None:
    html = unescape(compliance_html(load_run(RUNS / PASSED)))
    run_dir = (RUNS / PASSED).resolve()
    assert f'<pre id="verify-command">drills verify {run_dir}</pre>' in html
    assert f"<code>{run_dir / 'journal.jsonl'}</code>" in html
    assert "To verify this record independently, run the command below." in html
    assert "parent run" not in html


def test_timeline_labels_are_drawn_over_every_guide_line_with_a_halo() -> None:
    svg = render_svg(build_timeline(load_run(RUNS / PASSED)))
    ET.fromstring(svg)
    last_guide = svg.rindex('class="guide"')
    first_label = svg.index('class="label"')
    assert svg.count('class="guide"') == svg.count('class="label"') >= 10
    assert last_guide < first_label  # nothing is drawn after (over) a label but the axis below them
    labels = svg[svg.index('<g class="labels"'):]
    # each label sits on its own white box, drawn just before it, as wide as the label
    pairs = re.findall(r'<rect class="label-box" x="([\d.-]+)" y="[\d.-]+" width="([\d.]+)"[^>]*/><text class="label" '
                       r'x="([\d.-]+)" y="[\d.-]+" text-anchor="(start|end)">([^<]*)</text>', labels)
    assert len(pairs) == svg.count('class="label"')
    for box_x, box_w, tx, anchor, text in pairs:
        left, right = float(box_x), float(box_x) + float(box_w)
        assert float(box_w) >= 5.5 * len(unescape(text))
        assert (left <= float(tx) < right) if anchor == "start" else (left < float(tx) <= right)
    assert "paint-order" not in svg  # a stroked halo would print every label twice into the PDF text
    assert 'class="unavailable"' not in svg[first_label:]


# ---- why no verdict ----------------------------------------------------------------------------------

def test_no_verdict_reason_names_the_cause() -> None:
    broke = {"name": "split_brain", "status": "unknown", "measured": None, "evidence": {"error": "ValueError: x"}}
    assert no_verdict_reason(broke).startswith("Repeating the drill unchanged would not give a verdict: the check broke")
    no_switch = {"name": "rto", "status": "unknown", "measured": None, "evidence": {"routes": [{"epoch": 1}]}}
    reason = no_verdict_reason(no_switch)
    assert "no verdict by design" in reason and "never switched" in reason and "not_judged" in reason
    assert REPEAT not in reason
    blind = {"name": "rto", "status": "unknown", "measured": 3.1, "evidence": {"changes": [], "passed_but": "..."}}
    assert "blind spot" in no_verdict_reason(blind)
    # the negative: a gap a new run may close still asks for a repeat
    unsettled = {"name": "rpo", "status": "unknown", "measured": {"lost_writes": 2}, "evidence": {"changes": [{}]}}
    assert REPEAT in no_verdict_reason(unsettled)


def test_an_unwaived_check_that_cannot_decide_by_design_is_reported_as_such(tmp_path: Path) -> None:
    def unwaive(doc: dict[str, Any]) -> None:
        for name in ("rto", "rpo"):
            check_of(doc, name).pop("waived", None)
        doc["objectives"]["checks"]["not_judged"] = {}

    html = unescape(compliance_html(load_run(edited_run(tmp_path, WAIVED, unwaive))))
    section = html[html.index('id="check-rto"'):html.index('id="check-rpo"')]
    assert "no verdict by design: this drill never switched the active data centre" in section
    assert REPEAT not in section


def test_signature_lines_are_lines_not_boxes() -> None:
    # the sign-off boxes' style once matched the signature lines inside them too, printing each
    # line as a 150-px box
    html = compliance_html(load_run(RUNS / PASSED))
    assert ".sig>div{" in html and ".sig div{" not in html
    assert html.count('<div class="line"></div>') == 4


def test_the_printed_evidence_dump_folds_rows_of_consecutive_keys_too(tmp_path: Path) -> None:
    """The 260 keys of the issue are rows ({"table", "key", ...}), not a bare list of numbers: the
    folded-open evidence dump must not print them one line each over pages."""
    rows = [{"table": "app.orders", "key": k, "what": "differs"} for k in range(433, 693)]
    assert compact_lists({"explained": rows}) == {
        "explained": [{"table": "app.orders", "key": "433–692 (260 keys)", "what": "differs"}]}
    short = rows[:5]
    assert compact_lists({"explained": short}) == {"explained": short}  # a short list stays as recorded
    gappy = [{"table": "t", "key": k, "what": "x"} for k in range(0, 60, 2)]
    assert compact_lists({"explained": gappy}) == {"explained": gappy}  # nothing to fold: unchanged

    def many_keys(doc: dict[str, Any]) -> None:
        check_of(doc, "data_consistency")["evidence"]["explained"] = [
            {"table": "app.orders", "key": k, "what": "differs", "because": "an order lost at a failover"}
            for k in range(433, 693)]

    run = edited_run(tmp_path, FAILED, many_keys)
    html = unescape(render_html(run, tmp_path / "r.html").read_text(encoding="utf-8"))
    dump = html[html.index("<summary>Full evidence", html.index('class="evidence-explained"')):]
    dump = dump[:dump.index("</details>")]
    assert '"key": "433–692 (260 keys)"' in dump
    assert '"key": 434' not in dump
    assert "every value is in" in dump  # the note naming result.json, where every key stays
