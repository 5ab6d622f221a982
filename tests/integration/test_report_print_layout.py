"""The compliance report printed by Debian's headless Chromium, read back page by page with pypdf:
every page carries the footer (run id, page x of y, journal hash), no table row is split across
two pages, the folded evidence is printed, and the sheet is A4 unless Letter is asked for.

A row is split when its top and its bottom land on different pages: for each table row of the
HTML, the first words of its first cell and the last words of its longest cell are looked up
(whitespace-blind, as PDF text wraps) on the pages; rows whose words are not unique in the
document are skipped, and the test insists that enough rows were checked. Each checker also
runs on a negative control — the same kind of page printed without the rule under test — and
must find the fault there, so a checker that cannot see a split or a missing footer fails.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from html import unescape
from pathlib import Path

import pytest

pypdf = pytest.importorskip("pypdf", reason="pypdf reads the printed pages (pip install pypdf)")

from drills.report.html import compliance_html  # noqa: E402
from drills.report.pdf import html_to_pdf, render_pdf  # noqa: E402
from drills.report.run_record import load_run  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not any(shutil.which(n) for n in ("chromium", "chromium-browser")),
                                 reason="chromium is not installed")]

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
PASSED, FAILED = "failover-passed", "sequence-filtered-failed"
A4, LETTER = (595, 842), (612, 792)  # points


def _squash(text: str) -> str:
    """Compare text whitespace-blind and ligature-blind (Chromium prints "fi" as one glyph)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pages_text(pdf: Path) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(str(pdf)).pages]


def _cells(row_html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", " ", c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)]


def body_rows(html: str) -> list[list[str]]:
    """The text of each cell of every table body row (header rows repeat on each page by design)."""
    rows = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", html, re.S):
        rows += [_cells(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]
    return rows


def split_rows(html: str, pages: list[str], needle: int = 10) -> tuple[int, list[str]]:
    """(rows checked, rows whose top and bottom are on different pages).

    Each row is looked up in document order as its first and last `needle` characters, no
    further apart than the row's own text plus what a page break inserts (footer, repeated
    header): a short text that also occurs elsewhere — a timeline label, the evidence dump —
    is not mistaken for the row."""
    squashed = [_squash(p) for p in pages]
    starts = [sum(len(p) for p in squashed[:i]) for i in range(len(squashed))]
    whole = "".join(squashed)
    slack = 400  # footer (run id, page x of y, 64-character hash) and a repeated table header

    def page_of(pos: int) -> int:
        return max(i for i, s in enumerate(starts) if s <= pos) + 1

    def locate(text: str, cursor: int) -> tuple[int, int] | None:
        top = whole.find(text[:needle], cursor)
        while top >= 0:
            bottom = whole.find(text[-needle:], top + len(text) - needle)
            if bottom >= 0 and bottom + needle - top <= len(text) + slack:
                return top, bottom + needle
            top = whole.find(text[:needle], top + 1)
        return None

    checked, split, cursor = 0, [], 0
    for cells in body_rows(html):
        text = _squash("".join(cells))
        if len(text) < 2 * needle:
            continue  # too short to tell its top from its bottom
        found = locate(text, cursor)
        if found is None:
            continue  # not found in order (extraction order differs): not counted as checked
        checked += 1
        cursor = found[1]
        first, last = page_of(found[0]), page_of(found[1] - 1)
        if first != last:
            split.append(f"{cells[0].strip()[:40]!r}: top on page {first}, bottom on page {last}")
    return checked, split


def footer_problems(pages: list[str], run_id: str, journal_hash: str) -> list[str]:
    problems = []
    for i, text in enumerate(pages, start=1):
        flat = _squash(text)
        for what in (f"Page{i}of{len(pages)}", f"Run{run_id}", f"JournalSHA-256{journal_hash}"):
            if what not in flat:
                problems.append(f"page {i}: no {what!r}")
    return problems


@pytest.mark.parametrize("run", [PASSED, FAILED])
def test_printed_report_keeps_rows_whole_and_footers_on_every_page(run: str, tmp_path: Path) -> None:
    record = load_run(RUNS / run)
    pdf = render_pdf(RUNS / run, tmp_path / "report.pdf")
    pages = pages_text(pdf)
    assert len(pages) >= 5
    reader = pypdf.PdfReader(str(pdf))
    assert all(tuple(round(float(x)) for x in p.mediabox[2:]) == A4 for p in reader.pages)  # A4 by default

    assert record.sealed_hash
    assert footer_problems(pages, record.run_id, record.sealed_hash) == []

    checked, split = split_rows(compliance_html(record, paper="a4"), pages)
    rows = body_rows(compliance_html(record, paper="a4"))
    long_enough = [r for r in rows if len(_squash("".join(r))) >= 20]  # what split_rows can tell top from bottom in
    assert checked == len(long_enough) and checked >= 0.7 * len(rows), f"{checked} of {len(rows)} rows located"
    assert split == []

    text = _squash("".join(pages))
    # folded sections are printed open: the full evidence of each check and the timeline events
    assert text.count(_squash("Full evidence (as recorded)")) == len(record.checks)
    assert _squash('"changes": [') in text and _squash("journal line 11") in text
    assert "▶" not in "".join(pages)
    # and the objectives in words, never a key=value with a dash
    assert "max_span_s" not in "".join(pages[:3]) and "=—" not in text


def test_letter_paper_on_request(tmp_path: Path) -> None:
    pdf = render_pdf(RUNS / PASSED, tmp_path / "report.pdf", paper="letter")
    reader = pypdf.PdfReader(str(pdf))
    assert all(tuple(round(float(x)) for x in p.mediabox[2:]) == LETTER for p in reader.pages)
    record = load_run(RUNS / PASSED)
    assert footer_problems(pages_text(pdf), record.run_id, str(record.sealed_hash)) == []


def test_the_footer_checker_sees_a_page_without_a_footer(tmp_path: Path) -> None:
    # negative control: the same report without its @page rule prints no footer, and the
    # checker must say so for every page
    record = load_run(RUNS / PASSED)
    html = compliance_html(record, paper="a4")
    bare = re.sub(r"@page\{.*?\}\}", "", html, count=1, flags=re.S)
    assert bare != html
    page = tmp_path / "bare.html"
    page.write_text(bare, encoding="utf-8")
    pages = pages_text(html_to_pdf(page, tmp_path / "bare.pdf"))
    problems = footer_problems(pages, record.run_id, str(record.sealed_hash))
    assert len(problems) >= 2 * len(pages)  # no page x of y, no journal hash (the run id is also in the header)


def _tall_rows_table(avoid: bool) -> str:
    rows = "".join(f"<tr><td>Row {n} begins</td><td>{'<br>'.join(f'line {k} of row {n}' for k in range(9))}"
                   f"<br>Row {n} ends here</td></tr>" for n in range(40))
    rule = "tr{break-inside:avoid}" if avoid else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>@page{{size:A4}}{rule}"
            "td{border:1px solid #999;padding:4px}</style></head><body><table><thead><tr><th>a</th><th>b</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></body></html>")


@pytest.mark.parametrize("avoid", [False, True])
def test_the_split_row_checker_sees_a_split_row(avoid: bool, tmp_path: Path) -> None:
    # negative control: tall rows printed without `break-inside: avoid` are cut at page ends,
    # and the checker must find them; with the rule, it finds none
    html = _tall_rows_table(avoid)
    page = tmp_path / "rows.html"
    page.write_text(html, encoding="utf-8")
    pages = pages_text(html_to_pdf(page, tmp_path / "rows.pdf"))
    checked, split = split_rows(html, pages)
    assert len(pages) >= 3 and checked >= 30
    if avoid:
        assert split == []
    else:
        assert len(split) >= 3, split
