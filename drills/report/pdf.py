"""PDF of the compliance report, printed by Debian's headless Chromium (no network, throwaway profile)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from drills.errors import ConfigError, EnvironmentProblem, MissingBinaryError
from drills.report.html import DEFAULT_PAPER, PAPERS, render_html
from drills.report.run_record import RunRecord, load_run

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str:
    configured = os.environ.get("DRILLS_CHROMIUM")
    for name in ((configured,) if configured else ()) + CHROMIUM_NAMES:
        found = shutil.which(name) if name else None
        if found:
            return found
    raise MissingBinaryError("chromium not found: the PDF is printed by headless Chromium",
                             hint="apt-get install chromium (or set DRILLS_CHROMIUM to its path)")


def chromium_command(binary: str, profile: str, *extra: str) -> list[str]:
    """The flags that keep Chromium offline and stateless: a report render must not phone home."""
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", *extra]


def html_to_pdf(html_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *, timeout_s: float = 60.0) -> Path:
    binary = find_chromium()
    src, out = Path(html_path).resolve(), Path(out_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="drills-chromium-") as profile:
        cmd = chromium_command(binary, profile, "--no-pdf-header-footer", f"--print-to-pdf={out}", src.as_uri())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise EnvironmentProblem(f"chromium did not print {src.name} within {timeout_s:g} s") from None
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise EnvironmentProblem(f"chromium failed to print {src.name} (exit {proc.returncode}): " + " | ".join(tail))
    return out


def render_pdf(run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *, record: RunRecord | None = None,
               paper: str = DEFAULT_PAPER) -> Path:
    """Render the compliance HTML for print and print it to `out_path` on `paper` (a4|letter).

    The printed HTML is the screen one with the sheet size fixed; its print CSS opens every
    folded section, repeats table headers and puts run id, page x of y and the journal hash
    in each page's footer (CSS @page margin boxes: Chromium's command line has no footer
    template, and since Chromium 131 margin boxes print without a DevTools session)."""
    if paper not in PAPERS:
        raise ConfigError(f"--paper {paper!r}: unknown paper size; choose one of {', '.join(PAPERS)}")
    record = record or load_run(run_dir)
    with tempfile.TemporaryDirectory(prefix="drills-report-") as tmp:
        page = render_html(run_dir, Path(tmp) / "report.html", record=record, paper=paper)
        return html_to_pdf(page, out_path)
