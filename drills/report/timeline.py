"""The drill's timeline, from journal and ledger only: milestones, write-unavailable windows, and
an SVG picture of them for people who will not read a table of nanoseconds.

Times are seconds since the journal's first line, on the journal's monotonic clock (the
ledger shares it), so the picture and the RTO check cannot disagree about durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from drills import events
from drills.report.run_record import RunRecord

LANES = ("fault", "controller", "routing", "workload")
LANE_TITLES = {"fault": "Faults", "controller": "Monitor", "routing": "Routing", "workload": "Application"}
LANE_COLOURS = {"fault": "#c0392b", "controller": "#8e44ad", "routing": "#1f6fb2", "workload": "#1e8449"}
WRITE_FUNCTIONS = ("write_order", "alloc_segment", "write_job_log")
DISRUPTIONS = (events.FAULT_INJECT, events.WRITE_BAN)


@dataclass(frozen=True)
class Milestone:
    t_s: float
    lane: str
    label: str
    kind: str
    line: int | None  # journal line (1-based) it comes from; None for ledger-derived ones


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float | None  # None: writes never resumed before the record ends
    cause: str

    @property
    def length_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s


@dataclass
class Timeline:
    milestones: list[Milestone] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    writes: list[tuple[float, str]] = field(default_factory=list)  # (t, ok|fail|info)
    end_s: float = 0.0


def _label(kind: str, p: dict[str, Any]) -> tuple[str, str] | None:
    """(lane, label) for the journal kinds the picture shows; None for the rest."""
    frm, to = p.get("from", "?"), p.get("to", "?")
    table = {
        events.FAULT_INJECT: ("fault", f"fault: {p.get('type', '?')} on {p.get('target', '?')}"),
        events.FAULT_HEAL: ("fault", f"healed: {p.get('name') or p.get('target', '?')}"),
        events.SIGNAL: ("fault", f"signal {p.get('signal', '?')}"),
        events.DC_FAILED: ("controller", f"detected: {p.get('dc', '?')} {p.get('verdict', 'failed')}"),
        events.FAILOVER_START: ("controller", f"failover {frm}→{to}"),
        events.FAILOVER_REFUSED: ("controller", f"failover refused: {p.get('reason', '')}"),
        events.SWITCHOVER_START: ("controller", f"{p.get('kind', 'switchover')} {frm}→{to}"),
        events.WRITE_BAN: ("controller", f"write ban on {p.get('dc', '?')}"),
        events.FENCE: ("controller", f"fence {p.get('dc', '?')}" + ("" if p.get("ok", True) else " (failed)")),
        events.PROMOTE: ("controller", f"promote {p.get('dc', '?')}"),
        events.LINK_REVERSED: ("controller", f"link {p.get('source', '?')}→{p.get('replica', '?')}"),
        events.ROUTE_PUBLISHED: ("routing", f"route → {to} (epoch {p.get('epoch', '?')})"),
        events.ROUTE_CHANGED: ("routing", f"key unusable: {p.get('problem')}" if p.get("problem") else
                               f"observed active={p.get('active', '?')} (epoch {p.get('epoch', '?')})"),
        events.CONTROLLER_EVENT: ("controller", f"{p.get('phase', '?')}" + (f" {p['dc']}" if p.get("dc") else "")
                                  + " (controller's own)"),
        events.CONTROLLER_MONITOR: ("controller", f"monitor exited ({p.get('exit_status')})")
        if p.get("action") == "exited" else None,
        events.WORKLOAD_ROUTE: ("workload", f"client on {p.get('active', '?')}"),
    }
    return table.get(kind) or None


def build_timeline(record: RunRecord) -> Timeline:
    tl = Timeline()
    if not record.events:
        return tl
    for e in record.events:
        payload = e.get("payload") or {}
        entry = _label(str(e.get("kind")), payload)
        if entry:
            at = payload.get("at_mono_ns") if e.get("kind") == events.CONTROLLER_EVENT else None
            at = at if isinstance(at, int) and not isinstance(at, bool) else e["mono_ns"]  # a controller's own clock
            tl.milestones.append(Milestone(record.rel_s(at), entry[0], entry[1], e["kind"], int(e.get("seq", 0)) + 1))
    completions = sorted(
        (r for r in record.ledger if r.get("f") in WRITE_FUNCTIONS and r.get("type") in ("ok", "fail", "info")),
        key=lambda r: r.get("mono_ns", 0),
    )
    tl.writes = [(record.rel_s(r["mono_ns"]), str(r["type"])) for r in completions if "mono_ns" in r]
    ends = [record.rel_s(record.events[-1]["mono_ns"])] + [t for t, _ in tl.writes]
    tl.end_s = max(ends) if ends else 0.0

    routes = [e for e in record.events if e.get("kind") in (events.ROUTE_PUBLISHED, events.ROUTE_CHANGED)]
    starts = [e for e in record.events if e.get("kind") in DISRUPTIONS]
    windows: list[Window] = []
    for s in starts:
        s_ns = int(s["mono_ns"])
        if windows and windows[-1].end_s is not None and record.rel_s(s_ns) <= windows[-1].end_s:
            continue  # already inside a window (a second fault during the same outage)
        if windows and windows[-1].end_s is None:
            break
        later_starts = [int(x["mono_ns"]) for x in starts if int(x["mono_ns"]) > s_ns]
        horizon = min(later_starts) if later_starts else None
        route = next((r for r in routes if int(r["mono_ns"]) > s_ns and (horizon is None or int(r["mono_ns"]) < horizon)), None)
        if route is not None:
            rp = route.get("payload") or {}
            new_dc = rp.get("to") or rp.get("active")
            after = int(route["mono_ns"])
            ack = next((r for r in completions if r.get("type") == "ok" and int(r["mono_ns"]) >= after
                        and (new_dc is None or r.get("dc") == new_dc)), None)
        else:
            ack = next((r for r in completions if r.get("type") == "ok" and int(r["mono_ns"]) > s_ns), None)
            # a fault that never stopped writes (latency, a fault on the link) is no outage
            failed_between = any(r.get("type") in ("fail", "info") and s_ns < int(r["mono_ns"]) <= int((ack or {}).get("mono_ns", 1 << 62))
                                 for r in completions)
            if ack is not None and not failed_between:
                continue
        cause = _label(s["kind"], s.get("payload") or {})
        windows.append(Window(record.rel_s(s_ns), record.rel_s(ack["mono_ns"]) if ack else None,
                              cause[1] if cause else s["kind"]))
        if ack is not None:
            tl.milestones.append(Milestone(record.rel_s(ack["mono_ns"]), "workload",
                                           f"first write on {ack.get('dc', '?')}", "first_write", None))
    tl.windows = windows
    tl.milestones.sort(key=lambda m: (m.t_s, LANES.index(m.lane)))
    return tl


def _ticks(end_s: float) -> list[float]:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if end_s / step <= 12:
            break
    n = int(end_s // step) + 1
    return [i * step for i in range(n + 1)]


LABEL_CHAR_W = 5.6  # DejaVu Sans at 10 px: above the widest average advance measured in Chromium (5.45)


def _label_width(n: int, m: Milestone) -> float:
    return LABEL_CHAR_W * len(f"{n}. {m.label}") + 12


def _label_rows(tl: Timeline, x: Any, right_edge: float) -> tuple[list[int], dict[str, int]]:
    """Greedy placement: each label goes to the first row of its lane where it does not overlap
    (labels that would run off the right edge are drawn to the left of their marker)."""
    rows: list[int] = []
    ends: dict[str, list[float]] = {lane: [] for lane in LANES}
    for n, m in enumerate(tl.milestones, start=1):
        cx, width = x(m.t_s), _label_width(n, m)
        span_start = cx if cx + width <= right_edge else cx - width
        lane_ends = ends[m.lane]
        row = next((r for r, end in enumerate(lane_ends) if span_start >= end), None)
        if row is None:
            row = len(lane_ends)
            lane_ends.append(0.0)
        lane_ends[row] = span_start + width
        rows.append(row)
    return rows, {lane: len(e) for lane, e in ends.items()}


def render_svg(tl: Timeline, *, width: int = 960, incomplete: bool = False) -> str:
    """The timeline as an inline SVG: one lane per actor, outage windows shaded, writes as a strip."""
    left, right, top = 110, 20, 30
    plot_w = width - left - right
    end = max(tl.end_s, 1.0)
    ticks = _ticks(end)
    end = max(end, ticks[-1])

    def x(t: float) -> float:
        return round(left + plot_w * (t / end), 1)

    rows, rows_per_lane = _label_rows(tl, x, width - 4)
    lane_top: dict[str, float] = {}
    lane_h: dict[str, float] = {}
    y = float(top)
    for lane in LANES:
        lane_top[lane] = y
        lane_h[lane] = max(44.0, 24 + 12 * rows_per_lane[lane] + (16 if lane == "workload" else 0))
        y += lane_h[lane]
    axis_y = y
    height = int(axis_y + 30)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline-svg" role="img" viewBox="0 0 {width} {height}" '
           f'width="100%" font-family="DejaVu Sans, Arial, sans-serif" aria-label="Drill timeline: faults, detection, fence, promote, route change, first write">',
           "<title>Drill timeline</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    for i, lane in enumerate(LANES):
        fill = "#f7f9fb" if i % 2 == 0 else "#ffffff"
        out.append(f'<rect x="{left}" y="{lane_top[lane]}" width="{plot_w}" height="{lane_h[lane]}" fill="{fill}"/>')
        out.append(f'<text x="{left - 8}" y="{lane_top[lane] + 16}" text-anchor="end" font-size="12" '
                   f'font-weight="bold" fill="{LANE_COLOURS[lane]}">{LANE_TITLES[lane]}</text>')
    for w in tl.windows:
        x0 = x(w.start_s)
        x1 = x(w.end_s if w.end_s is not None else end)
        length = "never resumed" if w.length_s is None else f"{w.length_s:.2f} s"
        out.append(f'<rect class="unavailable" x="{x0}" y="{top}" width="{max(x1 - x0, 1.5)}" height="{axis_y - top}" '
                   f'fill="#e74c3c" fill-opacity="0.13" stroke="#e74c3c" stroke-dasharray="4 3">'
                   f"<title>writes unavailable: {escape(length)} (from {escape(w.cause)})</title></rect>")
        out.append(f'<text x="{(x0 + x1) / 2}" y="{top - 8}" text-anchor="middle" font-size="11" fill="#c0392b">'
                   f"writes unavailable {escape(length)}</text>")
    # the application's writes: one thin tick per completion, at the bottom of its lane
    colours = {"ok": "#27ae60", "fail": "#e74c3c", "info": "#f39c12"}
    wy = lane_top["workload"] + lane_h["workload"] - 14
    for t, outcome in tl.writes:
        out.append(f'<line x1="{x(t)}" y1="{wy}" x2="{x(t)}" y2="{wy + 10}" stroke="{colours.get(outcome, "#999")}" '
                   'stroke-width="1" stroke-opacity="0.7"/>')
    # Three passes, so nothing is drawn across a label: the guide lines down to the time axis
    # first, then the markers, then the labels on top, each on a white box that masks any guide
    # line or window edge passing behind it (a box, not a stroked halo: a halo prints each label
    # twice into the PDF's text, and a search or copy finds it doubled).
    guides, marks, labels = [], [], []
    for n, (m, row) in enumerate(zip(tl.milestones, rows, strict=True), start=1):
        cx = x(m.t_s)
        base_y = lane_top[m.lane]
        colour = LANE_COLOURS[m.lane]
        shape = (f'<rect x="{cx - 5}" y="{base_y + 5}" width="10" height="10" fill="{colour}" transform="rotate(45 {cx} {base_y + 10})"/>'
                 if m.kind in (events.FAULT_INJECT, "first_write") else
                 f'<circle cx="{cx}" cy="{base_y + 10}" r="5" fill="{colour}"/>')
        where = f"journal line {m.line}" if m.line else "ledger"
        flip = cx + _label_width(n, m) > width - 4
        tx, anchor = (cx - 7, "end") if flip else (cx + 7, "start")
        guides.append(f'<line class="guide" x1="{cx}" y1="{top}" x2="{cx}" y2="{axis_y}" stroke="{colour}" stroke-opacity="0.18"/>')
        marks.append(f'<g class="milestone" data-kind="{escape(m.kind)}"><title>{escape(m.label)} at {m.t_s:.3f} s ({where})</title>'
                     f"{shape}</g>")
        text = f"{n}. {m.label}"
        box_w = round(LABEL_CHAR_W * len(text) + 4, 1)
        ty = base_y + 26 + row * 12
        box_x = tx - 2 if anchor == "start" else tx - box_w + 2
        labels.append(f'<rect class="label-box" x="{box_x}" y="{ty - 9}" width="{box_w}" height="12" fill="#ffffff" '
                      f'fill-opacity="0.92"/><text class="label" x="{tx}" y="{ty}" text-anchor="{anchor}">{escape(text)}</text>')
    out.extend(guides)
    out.extend(marks)
    out.append('<g class="labels" font-size="10" fill="#222">' + "".join(labels) + "</g>")
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#555"/>')
    for t in ticks:
        out.append(f'<line x1="{x(t)}" y1="{axis_y}" x2="{x(t)}" y2="{axis_y + 5}" stroke="#555"/>'
                   f'<text x="{x(t)}" y="{axis_y + 18}" font-size="11" text-anchor="middle" fill="#333">{t:g} s</text>')
    if incomplete:
        out.append(f'<text x="{left + plot_w - 4}" y="{top + 14}" text-anchor="end" font-size="13" font-weight="bold" '
                   'fill="#b9770e">RECORD ENDS HERE (run killed)</text>')
    out.append("</svg>")
    return "\n".join(out)
