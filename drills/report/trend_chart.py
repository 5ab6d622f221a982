"""`drills history --scenario NAME --chart FILE`: the RTO and RPO of a scenario's runs as two
small SVG line charts, each with its objective as a horizontal line, in one HTML file.

The text trend in the terminal shows the direction; a chart shows how close each run came to
the objective, which is what an auditor or a service owner asks. Plain SVG written here (no
plotting library: the harness installs on locked-down hosts, and a 40-point line chart does
not need one); the file is self-contained, no script, no external resource.

The objective drawn is the newest run's (from its result.json, through the shared reader),
else the library scenario's; an objective changed over time is not redrawn per run.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills import masking
from drills.report.run_record import fmt_value, number, write_text

WIDTH, HEIGHT = 520, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36


@dataclass(frozen=True)
class Series:
    title: str
    unit: str
    values: list[float | None]  # one per run, oldest first; None: not measured
    objective: float | None


def objectives(rows: list[Any], scenario: str) -> tuple[float | None, float | None, str]:
    """(RTO objective in seconds, RPO objective in lost writes, where they were read)."""
    from drills.errors import UserError
    from drills.report.run_record import load_run

    for row in rows:  # newest first, as history.runs gives them
        if row.run_dir and Path(row.run_dir, "result.json").is_file():
            try:
                obj = load_run(row.run_dir).objectives
            except UserError:
                continue
            return _seconds(obj.get("rto")), _writes(obj.get("rpo")), f"run {row.run_id}"
    try:
        from drills.scenario.loader import find_scenario, load_scenario

        s = load_scenario(find_scenario(scenario))
    except UserError:
        return None, None, "none found (no readable run directory, no library scenario of that name)"
    rpo = s.objectives.rpo
    return s.objectives.rto, _writes(rpo if isinstance(rpo, int) or rpo is None else rpo.model_dump()), \
        f"scenario file {s.source}"


def _seconds(value: Any) -> float | None:
    return number(value, ("seconds", "value"))


def _writes(value: Any) -> float | None:
    return number(value, ("max_writes",))


def svg(series: Series, labels: list[str]) -> str:
    """One line chart: a point per run (x: run order, y: value from 0), the objective as a
    dashed horizontal line, axis labels at 0 and the top of the scale."""
    known = [v for v in series.values if v is not None]
    top = max([*known, *([series.objective] if series.objective is not None else [])], default=0.0)
    top = top * 1.15 if top > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h

    def y(v: float) -> float:
        return round(base - plot_h * v / top, 2)

    def x(i: int) -> float:
        n = len(series.values)
        return round(LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1)), 2)

    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(series.title)}">',
             f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{esc(series.title)}</text>',
             f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#444"/>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#444"/>',
             f'<text x="{LEFT - 6}" y="{base + 4}" font-size="11" text-anchor="end">0</text>',
             f'<text x="{LEFT - 6}" y="{TOP + 4}" font-size="11" text-anchor="end">'
             f'{esc(fmt_value(round(top, 3), series.unit))}</text>']
    if series.objective is not None:
        oy = y(series.objective)
        parts.append(f'<line class="objective" data-value="{series.objective}" x1="{LEFT}" y1="{oy}" '
                     f'x2="{WIDTH - RIGHT}" y2="{oy}" stroke="#c62828" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{oy - 4}" font-size="11" text-anchor="end" fill="#c62828">'
                     f'objective {esc(fmt_value(series.objective, series.unit))}</text>')
    points = [(x(i), y(v), v, i) for i, v in enumerate(series.values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{px},{py}" for px, py, _, _ in points)
        parts.append(f'<polyline class="trend" points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for px, py, v, i in points:
        over = series.objective is not None and v > series.objective
        parts.append(f'<circle class="point" data-value="{v}" cx="{px}" cy="{py}" r="4" '
                     f'fill="{"#c62828" if over else "#1565c0"}"><title>{esc(labels[i])}: '
                     f'{esc(fmt_value(v, series.unit))}</title></circle>')
    if not points:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" font-size="12" text-anchor="middle">'
                     'not measured in any run</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 10}" font-size="11">oldest</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" font-size="11" text-anchor="end">newest</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render(rows: list[Any], scenario: str, path: str | os.PathLike[str], text_trend: str) -> Path:
    """The HTML file: the two charts beside the text trend. `rows` newest first (history.runs)."""
    ordered = list(reversed(rows))
    rto_obj, rpo_obj, source = objectives(rows, scenario)
    labels = [f"{r.run_id} ({r.status}, {r.started_at or 'no start time'})" for r in ordered]
    charts = [svg(Series(f"RTO of {scenario}", "s", [r.rto_s for r in ordered], rto_obj), labels),
              svg(Series(f"RPO of {scenario} (lost writes)", "", [r.rpo_lost_writes for r in ordered], rpo_obj),
                  labels)]
    esc = html.escape
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>RTO/RPO trend: {esc(scenario)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} .row{{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}}
pre{{background:#f5f5f5;padding:.8em;font-size:12px}}</style></head>
<body><h1>RTO/RPO trend: {esc(scenario)}</h1>
<p>{len(ordered)} run(s), oldest first. Objective lines from {esc(source)}; a red point is over its objective.</p>
<div class="row"><div>{charts[0]}
{charts[1]}</div>
<pre>{esc(text_trend)}</pre></div>
</body></html>
"""
    return write_text(path, doc, masking.masker())
