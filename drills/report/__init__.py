"""Reports rendered from a run directory; result.json is the single source of truth.

Each renderer is `render_X(run_dir, out_path)` and reads only result.json and the journal and
ledger it points to, so any report can be rendered again later (`drills report RUN_DIR`),
including for a run that was killed before writing result.json.
"""

from drills.report.allure_results import render_allure
from drills.report.html import render_html
from drills.report.junit import render_junit
from drills.report.markdown import render_summary
from drills.report.pdf import render_pdf
from drills.report.run_record import RunRecord, load_run
from drills.report.verify import verify_run

__all__ = ["RunRecord", "load_run", "render_allure", "render_html", "render_junit", "render_pdf", "render_summary",
           "verify_run"]
