"""The compliance report in a real browser: Debian's headless Chromium loads the file, and
the elements an auditor signs (objectives, timeline picture, journal hash) are in the DOM
it built and on the screenshot it took; the PDF prints."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from drills.report.html import render_html
from drills.report.pdf import chromium_command, find_chromium, render_pdf
from drills.report.run_record import load_run

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not any(shutil.which(n) for n in ("chromium", "chromium-browser")),
                                 reason="chromium is not installed")]

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="drills-test-chromium-") as profile:
        return subprocess.run(chromium_command(find_chromium(), profile, *args), capture_output=True, text=True,
                              timeout=90, check=False)


def test_chromium_renders_the_key_elements(tmp_path: Path) -> None:
    page = render_html(RUNS / "failover-passed", tmp_path / "report.html")
    dom = _chromium("--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    html = dom.stdout
    sealed = load_run(RUNS / "failover-passed").sealed_hash
    assert re.search(r'<table id="objectives">.*PASS', html, re.S)
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="timeline-svg"' in html
    assert html.count('class="milestone"') >= 10 and 'class="unavailable"' in html
    assert f'<code id="journal-hash">{sealed}</code>' in html

    shot = tmp_path / "report.png"
    run = _chromium("--window-size=1100,1800", f"--screenshot={shot}", page.resolve().as_uri())
    assert run.returncode == 0 and shot.exists(), run.stderr[-500:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank page compresses to almost nothing; the rendered report (tables, SVG) does not
    assert len(data) > 50_000


def test_chromium_shows_an_expected_failure_as_a_failure_with_the_checks_own_finding(tmp_path: Path) -> None:
    # the incident run: the browser must show "FAILED — as the scenario expects" (not a green
    # PASS) beside the sequence check's own summary, never a finding the check did not make
    page = render_html(RUNS / "sequence-filtered-failed", tmp_path / "report.html")
    dom = _chromium("--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    html = dom.stdout
    assert re.search(r'<td class="expected">FAILED — as the scenario expects</td>', html)
    section = html[html.index('id="check-sequence_continuity"'):html.index('id="check-filter_tables"')]
    assert "22 write(s) hit a duplicate-key error (first: ID 1 in op 36, already used by op 1)" in section
    assert 'class="evidence-duplicate_key_errors"' in section
    assert "No order number was handed out twice" not in html


def test_pdf_prints(tmp_path: Path) -> None:
    pdf = render_pdf(RUNS / "sequence-filtered-failed", tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 20_000
    assert b"Tr0ub4dor" not in data
