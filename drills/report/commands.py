"""CLI: `drills report RUN_DIR`, `drills verify RUN_DIR`, `drills history`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from drills.errors import EXIT_OK, UserError
from drills.report.allure_results import render_allure
from drills.report.html import DEFAULT_PAPER, PAPERS, render_html
from drills.report.junit import render_junit
from drills.report.markdown import render_summary
from drills.report.pdf import render_pdf
from drills.report.run_record import load_run
from drills.report.verify import verify_run


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="render reports from a run directory (also a killed run)",
                              description="Re-render reports from RUN_DIR/result.json (or, for a killed run, from "
                              "its journal). With no output option, writes report.html and summary.md into RUN_DIR.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--junit", metavar="FILE", help="JUnit XML: one test case per check")
    p.add_argument("--allure-dir", metavar="DIR", help="Allure results directory")
    p.add_argument("--summary", metavar="FILE", help="Markdown summary (also appended to $GITHUB_STEP_SUMMARY)")
    p.add_argument("--html", metavar="FILE", help="self-contained compliance report")
    p.add_argument("--pdf", metavar="FILE", help="compliance report as PDF (headless Chromium)")
    p.add_argument("--paper", choices=sorted(PAPERS), default=DEFAULT_PAPER,
                   help="paper size of the PDF (default a4)")
    p.set_defaults(func=cmd_report)

    v = subparsers.add_parser("verify", help="recompute a run's journal hash chain against result.json",
                              description="Exit 0: intact and matches the sealed hash; 1: tampered (names the line); "
                              "3: chain intact but never sealed (killed run).")
    v.add_argument("run_dir", metavar="RUN_DIR")
    v.add_argument("--json", action="store_true", help="machine-readable: ok, exit_code, lines, hashes, tampered_line")
    v.set_defaults(func=cmd_verify)

    h = subparsers.add_parser("history", help="list recorded runs, or the RTO/RPO trend of one scenario")
    h.add_argument("--scenario", metavar="X", help="show the RTO/RPO trend of scenario X")
    where = h.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="PATH",
                       help="history as a SQLite file (default $DRILLS_HISTORY_URL, else $DRILLS_HISTORY_DB, "
                       "else reports/history.sqlite)")
    where.add_argument("--history-url", metavar="URL",
                       help="history shared by many runners: mysql+pymysql://user:password@host:port/db "
                       "(MySQL/MariaDB) or sqlite:///path; $DRILLS_HISTORY_URL keeps the password off the "
                       "process list")
    h.add_argument("--limit", type=int, default=50, help="how many runs (default 50)")
    h.add_argument("--record", metavar="RUN_DIR", help="add a run directory to the history first")
    h.add_argument("--json", action="store_true", help="machine-readable: the runs as JSON (numbers as numbers)")
    h.add_argument("--chart", metavar="FILE",
                   help="with --scenario: also write the RTO/RPO trend with its objective lines as SVG charts "
                        "in this HTML file")
    h.set_defaults(func=cmd_history)


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    record = load_run(run_dir)
    outputs = {k: getattr(args, k) for k in ("junit", "allure_dir", "summary", "html", "pdf")}
    if not any(outputs.values()):
        outputs["html"] = str(run_dir / "report.html")
        outputs["summary"] = str(run_dir / "summary.md")
    written: list[str] = []
    if outputs["junit"]:
        written.append(str(render_junit(run_dir, outputs["junit"], record=record)))
    if outputs["allure_dir"]:
        files = render_allure(run_dir, outputs["allure_dir"], record=record)
        written.append(f"{outputs['allure_dir']} ({len(files)} results)")
    if outputs["summary"]:
        written.append(str(render_summary(run_dir, outputs["summary"], record=record)))
    if outputs["html"]:
        written.append(str(render_html(run_dir, outputs["html"], record=record)))
    if outputs["pdf"]:
        written.append(str(render_pdf(run_dir, outputs["pdf"], record=record, paper=args.paper)))
    if record.derived:
        print(f"note: {run_dir} has no result.json; rendered an incomplete (aborted) view from its journal",
              file=sys.stderr)
    if not record.verification.ok:
        print(f"warning: journal does not verify: {record.verification.error}", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    result = verify_run(args.run_dir)
    if args.json:
        print(json.dumps({"run_dir": str(args.run_dir), "ok": result.ok, "exit_code": result.exit_code,
                          "lines": result.lines, "final_hash": result.final_hash, "sealed_hash": result.sealed_hash,
                          "tampered_line": result.tampered_line, "messages": result.messages}, indent=2))
        return result.exit_code
    stream = sys.stdout if result.ok else sys.stderr
    for message in result.messages:
        print(message, file=stream)
    return result.exit_code


def cmd_history(args: argparse.Namespace) -> int:
    """List (or first record into) the history wherever it lives; every place named in the
    output is the URL with its password hidden. Imported here: `drills report` and `drills
    verify` need no database library."""
    from drills.report import past_runs as history

    if args.chart and not args.scenario:
        raise UserError("--chart needs --scenario NAME: a trend is of one scenario")
    where = history.store(args.db, args.history_url)
    url = where.url
    if args.record:
        row = history.record(args.record, url=url)
        print(f"recorded {row.run_id} ({row.scenario}, {row.status}) in {where.location}",
              file=sys.stderr if args.json else sys.stdout)
    rows = history.runs(scenario=args.scenario, limit=args.limit, url=url)
    if args.json:
        print(json.dumps({"history": where.location, "scenario": args.scenario,
                          "runs": [dataclasses.asdict(r) for r in rows]}, indent=2))
    elif args.scenario:
        print(history.format_trend(rows, args.scenario))
    elif rows:
        print(history.format_runs(rows))
    else:
        print(f"no runs recorded in {where.location}")
    if args.chart:
        from drills.report.trend_chart import render

        path = render(rows, args.scenario, args.chart, history.format_trend(rows, args.scenario))
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK
