"""The compliance report: one self-contained HTML file an auditor can read offline and sign.

Self-contained means no request leaves the file: CSS inline, the timeline an inline SVG, no
fonts, scripts or images fetched from anywhere. Every statement in it comes from result.json
and the journal/ledger it seals; the final hash and the command to re-check it are printed so
that the signature covers a record anyone can verify later.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

from drills import __version__
from drills.report.explain import cell, finding, highlights, purpose, title
from drills.report.run_record import (
    EXPECTED_FAILURE,
    RunRecord,
    check_outcome,
    check_unit,
    fmt_value,
    load_run,
    write_text,
)
from drills.report.timeline import LANE_TITLES, build_timeline, render_svg

CSS = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1b1f23;margin:0;background:#fff;font-size:14px;line-height:1.45}
main{max-width:1000px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:2px solid #d0d7de}
h3{font-size:15px;margin:16px 0 4px}
.sub{color:#57606a;margin:0 0 12px}
.verdict{display:inline-block;padding:6px 14px;border-radius:4px;font-weight:bold;font-size:18px;color:#fff;letter-spacing:.5px}
.s-passed{background:#1a7f37}.s-failed{background:#cf222e}.s-error{background:#8250df}
.s-inconclusive{background:#bf8700}.s-aborted{background:#6e7781}
.banner{border:2px solid #bf8700;background:#fff8c5;padding:10px 14px;margin:14px 0;font-weight:bold}
.banner.bad{border-color:#cf222e;background:#ffebe9}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num{font-family:"DejaVu Sans Mono",monospace;overflow-wrap:anywhere;min-width:7em}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.unk{color:#9a6700;font-weight:bold}
td.expected{color:#0550ae;font-weight:bold}td.waived{color:#57606a;font-weight:bold}
code,.mono{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:12.5px;word-break:break-all}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;font-size:12px;white-space:pre-wrap;word-break:break-all}
.check{border:1px solid #d0d7de;border-left:6px solid #6e7781;padding:8px 12px;margin:10px 0;page-break-inside:avoid}
.check.ok{border-left-color:#1a7f37}.check.bad{border-left-color:#cf222e}.check.unknown{border-left-color:#bf8700}
.check.expected{border-left-color:#0550ae}.check.waived{border-left-color:#8c959f}
.sig{display:grid;grid-template-columns:1fr 1fr;gap:24px;margin-top:12px}
.sig div{border:1px solid #d0d7de;padding:10px 14px;min-height:150px}
.line{border-bottom:1px solid #1b1f23;height:30px;margin-bottom:6px}
.small{font-size:12px;color:#57606a}
figure{margin:6px 0}
@media print{main{padding:0}h2{page-break-after:avoid}.check,.sig,figure{page-break-inside:avoid}}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


# How each kind of outcome looks: (CSS class, verdict word, small note under it). An expected
# failure has its own colour and words: it is the check failing, which the run counts as a
# pass — never a green "PASS". A waived check is grey, not the amber of an inconclusive one.
_LOOK = {
    "passed": ("pass", "PASS", ""),
    "failed": ("fail", "FAIL", ""),
    "expected_failure": ("expected", EXPECTED_FAILURE, ""),
    "unexpected_pass": ("fail", "FAIL", "passed, but the scenario expects it to fail"),
    "waived": ("waived", "NOT JUDGED", "waived by the scenario: {waived}"),
    "inconclusive": ("unk", "NO VERDICT", "inconclusive"),
}
_SECTION_CLASS = {"pass": "ok", "fail": "bad", "unk": "unknown", "expected": "expected", "waived": "waived"}


def _verdict_cell(check: dict[str, Any]) -> str:
    outcome = check_outcome(check)
    cls, word, note = _LOOK[outcome.kind]
    note = note.format(waived=outcome.waived)
    return f'<td class="{cls}">{_e(word)}' + (f'<br><span class="small">{_e(note)}</span>' if note else "") + "</td>"


_HEADLINE = {"passed": "PASSED", "failed": "FAILED", "expected_failure": EXPECTED_FAILURE,
             "unexpected_pass": "FAILED — it passed, but the scenario expects it to fail",
             "waived": "NOT JUDGED — waived by the scenario", "inconclusive": "NO VERDICT"}


def _kv_table(rows: list[tuple[str, Any]], table_id: str = "") -> str:
    attr = f' id="{table_id}"' if table_id else ""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table{attr}>{body}</table>"


def _evidence_html(check: dict[str, Any]) -> str:
    """The check's highlighted evidence as tables (the lists `explain.highlights` picks), then
    everything it recorded, folded away."""
    ev = check.get("evidence") if isinstance(check.get("evidence"), dict) else {}
    parts = []
    for h in highlights(check):
        head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in h.columns)
        rows = "".join("<tr>" + "".join(f"<td class='mono'>{_e(cell(r.get(c)))}</td>" for c in h.columns) + "</tr>"
                       for r in h.rows)
        count = h.total if h.total is not None else len(h.rows)
        more = f'<p class="small">The first {len(h.rows)} of {count} are listed; the check records the rest as a count.</p>' \
            if count > len(h.rows) else ""
        parts.append(f'<h4>{_e(h.label)} ({count})</h4><table class="evidence-{_e(h.key)}"><tr>{head}</tr>{rows}</table>'
                     + more)
    if ev:
        parts.append("<details><summary>Full evidence (as recorded)</summary><pre>"
                     + _e(json.dumps(ev, indent=2, ensure_ascii=False, default=str)) + "</pre></details>")
    return "".join(parts)


def _environment_rows(record: RunRecord) -> list[tuple[str, Any]]:
    fp = record.fingerprint
    rows: list[tuple[str, Any]] = [
        ("Operator (who ran it)", _e(fp["operator"] or "not recorded")),
        ("Host", _e(fp["host"] or "not recorded")),
        ("Started", _e(record.result.get("started_at") or "—")),
        ("Finished", _e(record.result.get("finished_at") or "did not finish")),
        ("Duration", _e(fmt_value(record.duration_s, "s") if record.duration_s is not None else "—")),
        ("Database flavour", _e(fp["flavor"] or "—")),
        ("Topology", _e(fp["topology"] or "—")),
        ("drills version", _e(fp["drills_version"] or "—")),
        ("Scenario file", _e(fp["scenario_file"] or "—")),
        ("Scenario file SHA-256", f'<code>{_e(fp["scenario_sha256"] or "—")}</code>'),
    ]
    for name, version in sorted(fp["servers"].items()):
        rows.append((f"Server {name}", _e(version or "—")))
    for key, value in sorted(fp["other"].items()):
        rows.append((key.replace("_", " "), _e(fmt_value(value))))
    return rows


def _objectives_table(record: RunRecord) -> str:
    if not record.checks:
        return '<p class="unk">No check reached a verdict: the run ended before the checks ran.</p>'
    rows = []
    for check in record.checks:
        unit = check_unit(check)
        name = str(check.get("name"))
        rows.append(f"<tr><td>{_e(title(name))}<br><code>{_e(name)}</code></td>"
                    f"<td class='num'>{_e(fmt_value(check.get('objective'), unit))}</td>"
                    f"<td class='num'>{_e(fmt_value(check.get('measured'), unit))}</td>{_verdict_cell(check)}</tr>")
    declared = record.objectives
    extra = ""
    if declared:
        extra = '<p class="small">Objectives as declared by the scenario: <code>' + _e(
            json.dumps(declared, ensure_ascii=False, default=str)) + "</code></p>"
    return ('<table id="objectives"><tr><th>Objective</th><th>Required</th><th>Measured</th><th>Result</th></tr>'
            + "".join(rows) + "</table>" + extra)


def _timeline_section(record: RunRecord) -> str:
    tl = build_timeline(record)
    svg = render_svg(tl, incomplete=record.derived)
    legend = "".join(
        f"<tr><td>{n}</td><td class='num'>{m.t_s:.3f} s</td><td>{_e(LANE_TITLES[m.lane])}</td><td>{_e(m.label)}</td>"
        f"<td class='small'>{_e(f'journal line {m.line}' if m.line else 'ledger')}</td></tr>"
        for n, m in enumerate(tl.milestones, start=1))
    windows = "".join(
        f"<li>writes unavailable from {w.start_s:.3f} s to "
        + (f"{w.end_s:.3f} s: <b>{w.length_s:.3f} s</b>" if w.end_s is not None and w.length_s is not None
           else "the end of the record: <b>never resumed</b>")
        + f" (after {_e(w.cause)})</li>" for w in tl.windows)
    return (f'<figure id="timeline">{svg}<figcaption class="small">Seconds since the run started (journal clock). '
            "Shaded: the application could not write. Green ticks: writes confirmed; red: writes refused; "
            "orange: outcome unknown.</figcaption></figure>"
            + (f"<ul>{windows}</ul>" if windows else "")
            + '<details><summary>Timeline events</summary><table id="timeline-events"><tr><th>#</th><th>time</th><th>who</th>'
            f"<th>what</th><th>source</th></tr>{legend}</table></details>")


def _filter_list_section(record: RunRecord) -> str:
    fl = record.filter_list
    if fl is None or not fl.entries:
        return "<p>No filter list was recorded with this run.</p>"
    rows = "".join(
        f"<tr><td><code>{_e(e.name)}</code></td><td>{'pattern' if e.wildcard else 'table'}</td>"
        f"<td>{_e(e.reason or '(no reason given)')}</td><td>{_e(e.owner or '—')}</td></tr>" for e in fl.entries)
    return ('<p>Tables deliberately <b>not</b> replicated between the data centres during this drill, and why.</p>'
            f'<table id="filter-list"><tr><th>Entry</th><th>Kind</th><th>Reason</th><th>Owner</th></tr>{rows}</table>')


def _integrity_section(record: RunRecord) -> str:
    v = record.verification
    journal = record.result.get("journal") or "journal.jsonl"
    if record.sealed_hash is None:
        state = ('<p class="unk">The run did not finish, so no final hash was sealed into result.json. The chain below '
                 "proves the lines were not edited, but it cannot prove that nothing was removed from the end.</p>")
    elif v.ok:
        state = '<p class="pass">Verified while rendering: the journal chain is intact and ends in the sealed hash.</p>'
    else:
        state = f'<p class="fail">Verification FAILED while rendering: {_e(v.error)}</p>'
    rows = [("Journal file", f"<code>{_e(journal)}</code> ({v.lines} lines)"),
            ("Final hash sealed in result.json", f'<code id="journal-hash">{_e(record.sealed_hash or "none")}</code>'),
            ("Final hash recomputed now", f"<code>{_e(v.final_hash)}</code>")]
    return (state + _kv_table(rows, "integrity")
            + "<p>To verify this record independently, in the run directory's parent run:</p>"
            + f"<pre>drills verify {_e(record.run_dir.name)}</pre>"
            + '<p class="small">Each journal line carries the SHA-256 of the line before it; editing, reordering or removing '
            "any line changes every hash after it. <code>drills verify</code> recomputes the chain and compares its end "
            "with the hash above (exit 0: intact; 1: tampered, naming the line).</p>")


def compliance_html(record: RunRecord) -> str:
    status = record.status
    checks_html = []
    for check in record.checks:
        outcome = check_outcome(check)
        cls = _SECTION_CLASS[_LOOK[outcome.kind][0]]
        name = str(check.get("name"))
        checks_html.append(
            f'<section class="check {cls}" id="check-{_e(name)}"><h3>{_e(title(name))}: {_e(_HEADLINE[outcome.kind])}</h3>'
            f"<p><b>What this proves:</b> {_e(purpose(name))}</p>"
            f'<p class="finding"><b>What we found:</b> {_e(finding(check))}</p>'
            + _evidence_html(check) + "</section>")
    banners = []
    if record.derived:
        banners.append(f'<div class="banner" id="incomplete">INCOMPLETE RUN — NOT A VERDICT. {_e(record.result.get("incomplete"))}</div>')
    if not record.verification.ok:
        banners.append(f'<div class="banner bad">The journal does not verify: {_e(record.verification.error)}. '
                       "Do not sign this report.</div>")
    for problem in record.problems:
        banners.append(f'<div class="banner">{_e(problem)}</div>')
    params = record.params
    params_html = _kv_table([(k, f"<code>{_e(fmt_value(v))}</code>") for k, v in sorted(params.items())], "params") \
        if params else "<p>None.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DR drill report — {_e(record.scenario)} — {_e(record.run_id)}</title>
<style>{CSS}</style></head>
<body><main>
<header>
<p class="sub">Disaster-recovery drill — compliance report</p>
<h1 id="scenario-name">{_e(record.scenario)}</h1>
<p class="sub">Run <code>{_e(record.run_id)}</code></p>
<span class="verdict s-{_e(status)}" id="verdict">{_e(status.upper())}</span>
</header>
{''.join(banners)}
<h2>Purpose</h2>
<p id="purpose">{_e(record.purpose or "The scenario file does not state its purpose.")}</p>
<h2>Who ran it, when, on what</h2>
{_kv_table(_environment_rows(record), "environment")}
<h2>Objectives and results</h2>
{_objectives_table(record)}
<h2>Timeline</h2>
{_timeline_section(record)}
<h2>Evidence, check by check</h2>
{''.join(checks_html) or "<p>No checks were recorded.</p>"}
<h2>Filter list as drilled</h2>
{_filter_list_section(record)}
<h2>Parameters</h2>
<p class="small">Secret values are masked as <code>***</code>.</p>
{params_html}
<h2>Integrity of the record</h2>
{_integrity_section(record)}
<h2>Sign-off</h2>
<div class="sig" id="signature">
<div><b>Drill operator</b><p class="small">I ran this drill as recorded above.</p>
<div class="line"></div><span class="small">Name</span><div class="line"></div><span class="small">Signature and date</span></div>
<div><b>Reviewer / auditor</b><p class="small">I reviewed the objectives, evidence and journal hash above.</p>
<div class="line"></div><span class="small">Name</span><div class="line"></div><span class="small">Signature and date</span></div>
</div>
<p class="small">Rendered by drills {_e(__version__)} from result.json and the journal it seals.</p>
</main></body></html>
"""


def render_html(run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *, record: RunRecord | None = None) -> Path:
    """Write the self-contained compliance report; returns its path."""
    record = record or load_run(run_dir)
    return write_text(out_path, compliance_html(record), record.masker)
