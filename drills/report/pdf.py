"""PDF of the compliance report, printed by Debian's headless Chromium (no network, throwaway profile)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from drills.errors import EnvironmentProblem, MissingBinaryError

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


def render_pdf(run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *, html_path: str | os.PathLike[str] | None = None) -> Path:
    """Render the compliance HTML (or reuse `html_path`) and print it to `out_path`."""
    from drills.report.html import render_html

    if html_path is not None:
        return html_to_pdf(html_path, out_path)
    with tempfile.TemporaryDirectory(prefix="drills-report-") as tmp:
        page = render_html(run_dir, Path(tmp) / "report.html")
        return html_to_pdf(page, out_path)
