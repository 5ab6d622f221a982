"""The compliance report: one self-contained HTML file an auditor can read offline and sign.

Self-contained means no request leaves the file: CSS inline, the timeline an inline SVG, no
fonts, scripts or images fetched from anywhere. Every statement in it comes from result.json
and the journal/ledger it seals; the final hash and the command to re-check it are printed so
that the signature covers a record anyone can verify later.
"""

from __future__ import annotations

import json
import os
import shlex
from html import escape
from pathlib import Path
from typing import Any

from drills import __version__
from drills.report.explain import (
    cell,
    collapse_key_rows,
    compact_lists,
    finding,
    highlights,
    measured_lines,
    objective_text,
    purpose,
    rpo_objective_text,
    seconds_text,
    title,
)
from drills.report.run_record import (
    EXPECTED_FAILURE,
    RunRecord,
    check_outcome,
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
.sig>div{border:1px solid #d0d7de;padding:10px 14px;min-height:150px}
.line{border-bottom:1px solid #1b1f23;height:30px;margin-bottom:6px}
.small{font-size:12px;color:#57606a}
figure{margin:6px 0}
ul.measured{margin:0;padding-left:1.1em}
#objectives td:first-child{width:24%}
#objectives code,#filter-list code,td.mono{word-break:normal;overflow-wrap:break-word}
thead{display:table-header-group}
tr,svg,.sig,figure{break-inside:avoid}
@media print{main{padding:0;max-width:none}h2,h3,h4{break-after:avoid}.sig,figure{break-inside:avoid}
.check{break-inside:auto}p,pre{orphans:3;widows:3}
details::details-content{content-visibility:visible;display:block}
details>summary{list-style:none;font-weight:600;margin:8px 0 4px}details>summary::-webkit-details-marker{display:none}
pre{font-size:10px}}
"""

PAPERS = {"a4": "A4", "letter": "letter"}
DEFAULT_PAPER = "a4"


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


def _css_string(text: str) -> str:
    """A CSS string literal: quotes, backslashes and line breaks escaped."""
    return '"' + "".join(c if c.isprintable() and c not in '"\\<>' else f"\\{ord(c):x} " for c in text) + '"'


def page_css(record: RunRecord, paper: str | None = None) -> str:
    """The printed page: every page's footer names the run, its page number out of the total and
    the sealed journal hash (CSS @page margin boxes, which Chromium prints since version 131),
    so a loose page still says which signed record it belongs to. `paper` fixes the sheet size
    (the PDF); without it a browser's own print dialog chooses."""
    sealed = record.sealed_hash
    hash_text = f"Journal SHA-256 {sealed}" if sealed else \
        f"Journal not sealed (run did not finish); chain ends in {record.verification.final_hash}"
    size = f"size:{PAPERS[paper]};" if paper else ""
    return ("@page{" + size + "margin:14mm 13mm 19mm 13mm;"
            "@bottom-left{content:" + _css_string(f"Run {record.run_id}") + ' "\\A " ' + _css_string(hash_text)
            + ";white-space:pre;font:7pt 'DejaVu Sans Mono',monospace;color:#444;vertical-align:top;padding-top:3mm}"
            '@bottom-right{content:"Page " counter(page) " of " counter(pages);font:8pt "DejaVu Sans",Arial,sans-serif;'
            "color:#444;vertical-align:top;padding-top:3mm;white-space:nowrap}}")


def _table(head: list[str], rows: str, attrs: str = "") -> str:
    """A table whose header row is a <thead>, so a printed table repeats it on every page."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table{attrs}><thead><tr>{th}</tr></thead><tbody>{rows}</tbody></table>"


def _kv_table(rows: list[tuple[str, Any]], table_id: str = "") -> str:
    attr = f' id="{table_id}"' if table_id else ""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table{attr}><tbody>{body}</tbody></table>"


def _evidence_html(check: dict[str, Any], result_path: Path, index: int) -> str:
    """The check's highlighted evidence as tables (the lists `explain.highlights` picks; runs of
    consecutive keys as one range row), then everything it recorded, folded away on screen and
    printed open. Every key stays listed in result.json, which the report names."""
    ev = check.get("evidence") if isinstance(check.get("evidence"), dict) else {}
    where = f"checks[{index}].evidence"
    parts = []
    for h in highlights(check):
        shown = collapse_key_rows(h.rows) if "key" in h.columns else h.rows
        rows = "".join("<tr>" + "".join(f"<td class='mono'>{_e(cell(r.get(c)))}</td>" for c in h.columns) + "</tr>"
                       for r in shown)
        count = h.total if h.total is not None else len(h.rows)
        notes = []
        if len(shown) < len(h.rows):
            notes.append(f"Consecutive keys are shown as ranges ({len(h.rows)} keys in {len(shown)} rows); every key "
                         f"is listed in <code>{_e(result_path)}</code> under <code>{_e(where)}.{_e(h.key)}</code>.")
        if count > len(h.rows):
            notes.append(f"The first {len(h.rows)} of {count} are listed; the check records the rest as a count.")
        parts.append(f'<h4>{_e(h.label)} ({count})</h4>'
                     + _table([c.replace("_", " ") for c in h.columns], rows, f' class="evidence-{_e(h.key)}"')
                     + "".join(f'<p class="small">{n}</p>' for n in notes))
    if ev:
        compact = compact_lists(ev)
        note = (f' <span class="small">(long lists of numbers as ranges; every value is in <code>{_e(result_path)}</code> '
                f"under <code>{_e(where)}</code>)</span>") if compact != ev else ""
        parts.append(f'<details class="evidence"><summary>Full evidence (as recorded){note}</summary><pre>'
                     + _e(evidence_text(compact)) + "</pre></details>")
    return "".join(parts)


def server_text(version: str) -> str:
    """A server's recorded version for the reader. A Toxiproxy built with `go install` answers
    its /version API with "git", not its release; runs record the release scripts/setup pinned
    beside the binary instead (drills/runner/result.py), so a bare "git" is an older record
    that never said which release ran — the report says so rather than print "git" as one."""
    if not version:
        return "—"
    if version.strip() == "git":
        return ("release not recorded: the server reported \"git\" (a build from source without a release "
                "number), and this run did not record the pinned version")
    return version


def evidence_text(evidence: dict[str, Any]) -> str:
    """A check's evidence as JSON, one line per list item: the same data as result.json, but a
    printed page holds a dozen writes rather than one write spread over twenty lines."""
    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))

    lines = ["{"]
    items = list(evidence.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"  {one(key)}: [")
            lines += [f"    {one(v)}" + ("," if j < len(value) - 1 else "") for j, v in enumerate(value)]
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {one(key)}: {one(value)}{comma}")
    return "\n".join(lines + ["}"])


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
        rows.append((f"Server {name}", _e(server_text(version))))
    for key, value in sorted(fp["other"].items()):
        rows.append((key.replace("_", " "), _e(fmt_value(value))))
    return rows


# Objectives a scenario declares, the check that judges each, and how the row names it.
_OBJECTIVE_ROWS = (("rto", "rto", "Recovery time after a failure (RTO)"),
                   ("switchover_window", "rto", "Planned switchover / failback window"),
                   ("rpo", "rpo", "Data loss (RPO)"),
                   ("write_availability", "write_availability", "Longest time the application could not write"))


def _combine(statuses: list[str]) -> str:
    if not statuses or "unknown" in statuses:
        return "unknown"
    return "failed" if "failed" in statuses else "passed"


def _switch_lines(changes: list[dict[str, Any]]) -> list[str]:
    lines = []
    for c in changes:
        what = f"{c.get('kind') or 'switch'} {c.get('from')} → {c.get('to')}"
        m = c.get("measured_s")
        lines.append(f"{seconds_text(m)} for the {what}" if isinstance(m, int | float) else
                     f"not measured for the {what}: {c.get('summary') or c.get('status')}")
    return lines


def _objective_row(objective: str, check: dict[str, Any] | None, label: str, declared: Any,
                   record: RunRecord) -> tuple[str, dict[str, Any] | None, str, list[str]]:
    """(label, the check as judged for this row, required, measured lines) for one declared
    objective. RTO and the switchover window are both judged by the rto check, per switch: each
    row shows (and is judged by) the switches held to its own objective."""
    if check is None:
        why = "the run ended before the checks ran" if record.derived or not record.checks else "no check measured it"
        return label, None, _required_text(objective, declared), [f"not measured: {why}"]
    if check.get("name") != "rto":
        return label, check, objective_text(check), measured_lines(check) or [str(check.get("summary") or "not measured")]
    ev = check.get("evidence") if isinstance(check.get("evidence"), dict) else {}
    changes = [c for c in ev.get("changes") or [] if isinstance(c, dict)]
    if not changes:
        return label, check, _required_text(objective, declared if declared is not None else check.get("objective")), \
            [str(check.get("summary") or "not measured")]
    window_declared = record.objectives.get("switchover_window") is not None
    mine = [c for c in changes if (c.get("objective_name") or "rto") == objective] if window_declared else changes
    if not mine:
        kind = "planned switchover or failback" if objective == "switchover_window" else "failover after a failure"
        judged = {**check, "status": "unknown"}
        return label, judged, _required_text(objective, declared), [f"not measured: this run had no {kind}"]
    judged = check if len(mine) == len(changes) else {**check, "status": _combine([str(c.get("status")) for c in mine])}
    bound = declared if declared is not None else mine[0].get("objective_s")
    return label, judged, _required_text(objective, bound, every=not window_declared and len(mine) > 1), \
        _switch_lines(mine)


def _required_text(objective: str, value: Any, *, every: bool = False) -> str:
    if value is None:
        return "no objective declared"
    if objective == "rpo":
        return rpo_objective_text(value)
    bound = seconds_text(value) if isinstance(value, int | float) else fmt_value(value)
    return f"at most {bound}" + (" for every switch (no separate switchover window declared)" if every else "")


def _objectives_table(record: RunRecord) -> str:
    """One row per objective the scenario declares (RTO, switchover window, RPO, write
    availability), then one per other check: what is required and what was measured, in words
    with units."""
    declared = record.objectives
    if not record.checks and not any(declared.get(o) is not None for o, _, _ in _OBJECTIVE_ROWS):
        return '<p class="unk">No check reached a verdict: the run ended before the checks ran.</p>'
    rows = []
    covered: set[str] = set()
    for objective, check_name, label in _OBJECTIVE_ROWS:
        check = record.check(check_name)
        if declared.get(objective) is None and not (check is not None and objective == check_name):
            continue  # neither declared nor measured (a check without a declared objective still gets its row)
        covered.add(check_name)
        rows.append(_objective_row(objective, check, label, declared.get(objective), record) + (objective,))
    for check in record.checks:
        name = str(check.get("name"))
        if name not in covered:
            rows.append((title(name), check, objective_text(check),
                         measured_lines(check) or [str(check.get("summary") or "not measured")], name))
    body = []
    for label, check, required, lines, name in rows:
        measured = "<ul class='measured'>" + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>" if len(lines) > 1 \
            else _e(lines[0])
        verdict = _verdict_cell(check) if check is not None else '<td class="unk">NO VERDICT<br><span class="small">not measured</span></td>'
        body.append(f"<tr data-objective='{_e(name)}'><td>{_e(label)}<br><code>{_e(name)}</code></td>"
                    f"<td>{_e(required)}</td><td>{measured}</td>{verdict}</tr>")
    return _table(["Objective", "Required", "Measured", "Result"], "".join(body), ' id="objectives"')


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
            + "<details><summary>Timeline events</summary>"
            + _table(["#", "time", "who", "what", "source"], legend, ' id="timeline-events"') + "</details>")


def _filter_list_section(record: RunRecord) -> str:
    fl = record.filter_list
    if fl is None or not fl.entries:
        return "<p>No filter list was recorded with this run.</p>"
    rows = "".join(
        f"<tr><td><code>{_e(e.name)}</code></td><td>{'pattern' if e.wildcard else 'table'}</td>"
        f"<td>{_e(e.reason or '(no reason given)')}</td><td>{_e(e.owner or '—')}</td></tr>" for e in fl.entries)
    return ('<p>Tables deliberately <b>not</b> replicated between the data centres during this drill, and why.</p>'
            + _table(["Entry", "Kind", "Reason", "Owner"], rows, ' id="filter-list"'))


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
    run_dir = record.run_dir.resolve()
    rows = [("Run directory", f'<code id="run-dir">{_e(run_dir)}</code>'),
            ("Journal file", f"<code>{_e(run_dir / str(journal))}</code> ({v.lines} lines)"),
            ("Final hash sealed in result.json", f'<code id="journal-hash">{_e(record.sealed_hash or "none")}</code>'),
            ("Final hash recomputed now", f"<code>{_e(v.final_hash)}</code>")]
    return (state + _kv_table(rows, "integrity")
            + "<p>To verify this record independently, run the command below. The path is the run directory this "
            "report was rendered from; if the directory has been moved or copied, give its new path.</p>"
            + f'<pre id="verify-command">drills verify {_e(shlex.quote(str(run_dir)))}</pre>'
            + '<p class="small">Each journal line carries the SHA-256 of the line before it; editing, reordering or removing '
            "any line changes every hash after it. <code>drills verify</code> recomputes the chain and compares its end "
            "with the hash above (exit 0: intact; 1: tampered, naming the line).</p>")


def compliance_html(record: RunRecord, *, paper: str | None = None) -> str:
    """The report as one HTML document; `paper` ("a4" or "letter") fixes the printed sheet."""
    status = record.status
    checks_html = []
    result_path = record.run_dir.resolve() / "result.json"
    for index, check in enumerate(record.checks):
        outcome = check_outcome(check)
        cls = _SECTION_CLASS[_LOOK[outcome.kind][0]]
        name = str(check.get("name"))
        checks_html.append(
            f'<section class="check {cls}" id="check-{_e(name)}"><h3>{_e(title(name))}: {_e(_HEADLINE[outcome.kind])}</h3>'
            f"<p><b>What this proves:</b> {_e(purpose(name))}</p>"
            f'<p class="finding"><b>What we found:</b> {_e(finding(check))}</p>'
            + _evidence_html(check, result_path, index) + "</section>")
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
<style>{CSS}{page_css(record, paper)}</style></head>
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


def render_html(run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *, record: RunRecord | None = None,
                paper: str | None = None) -> Path:
    """Write the self-contained compliance report; returns its path."""
    record = record or load_run(run_dir)
    return write_text(out_path, compliance_html(record, paper=paper), record.masker)
