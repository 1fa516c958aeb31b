"""``affectscope report SESSION --out DIR``: a self-contained HTML page about one session.

The page (``DIR/report.html``) embeds its plots as PNG data URIs, so it can be mailed or archived
as one file; the same PNGs are written next to it (``timeline.png``, ``timing.png``) for slides.
It shows:

- valence and P(fake) over time on one time axis, a face-present strip under them, markers as
  vertical lines and each segment's mean as a band;
- a table of per-segment figures between markers (frames, face-present rate, valence mean and
  SD, P(fake) mean, latency);
- frame timing: the capture-to-result latency histogram, latency over time, and the intervals
  between recorded frames;
- the session metadata: source, bundle, expression model, created, software, complete or cut off.

Plots are drawn with OpenCV (:mod:`realtime.reporting.charts`), so a default install can render them.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime import __version__
from realtime.reporting.charts import ABSENT, AXIS, BLUE, GREEN, ORANGE, PURPLE, SHADE, TEAL, TEXT, Axes, Figure, legend
from realtime.sessions.folder import Session, read_session

WIDTH = 1000  # logical width of the plots (the PNGs are twice as wide)


@dataclass(frozen=True)
class SegmentStats:
    """Figures of the rows with start_s <= t_s < end_s (the last segment includes its end)."""

    index: int  # 1-based
    label: str  # the marker that opens the segment ("start" for the first one without a marker)
    start_s: float
    end_s: float
    frames: int
    face_rate: float  # fraction of rows with a face (NaN without rows)
    valence_mean: float  # over rows with a valence (NaN if none)
    valence_sd: float
    valence_n: int
    p_fake_mean: float
    p_fake_n: int
    latency_p50_ms: float


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _nanmean(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _nansd(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1)) if v.size > 1 else float("nan")


def _nanpct(v: np.ndarray, q: float) -> float:
    v = v[np.isfinite(v)]
    return float(np.percentile(v, q)) if v.size else float("nan")


def time_range(session: Session) -> tuple[float, float]:
    """(first, last) row time in seconds; (0, 0) for a session without rows."""
    t = session.data["t_s"]
    return (float(t[0]), float(t[-1])) if len(t) else (0.0, 0.0)


def segment_stats(session: Session) -> list[SegmentStats]:
    """Per-segment figures between the session's markers (events at the same time are merged)."""
    t = session.data["t_s"]
    t0, t1 = time_range(session)
    merged: dict[float, list[str]] = {}
    for ts, label in sorted(session.events):
        merged.setdefault(round(ts, 4), []).append(label)
    bounds: list[tuple[float, str]] = []
    for ts, labels in merged.items():
        label = " + ".join(labels)
        if ts <= t0:
            bounds = [(t0, label)]  # a marker at or before the first frame opens the first segment
        elif ts <= t1:
            bounds.append((ts, label))
    if not bounds or bounds[0][0] > t0:
        bounds.insert(0, (t0, "start"))
    out = []
    for k, (start, label) in enumerate(bounds):
        last = k == len(bounds) - 1
        end = t1 if last else bounds[k + 1][0]
        sel = (t >= start) & ((t <= end) if last else (t < end))
        face = session.data["face"][sel]
        val, pf = session.data["valence"][sel], session.data["p_fake"][sel]
        out.append(SegmentStats(
            index=k + 1, label=label, start_s=start, end_s=end, frames=int(sel.sum()),
            face_rate=float(np.mean(face == 1)) if face.size else float("nan"),
            valence_mean=_nanmean(val), valence_sd=_nansd(val), valence_n=int(np.isfinite(val).sum()),
            p_fake_mean=_nanmean(pf), p_fake_n=int(np.isfinite(pf).sum()),
            latency_p50_ms=_nanpct(session.data["latency_ms"][sel], 50),
        ))
    return out


def summary(session: Session) -> dict:
    d = session.data
    t0, t1 = time_range(session)
    fps = float(session.meta.get("source", {}).get("fps") or 0) or 30.0
    lat = d["latency_ms"]
    return {
        "frames": len(session),
        "duration_s": (t1 - t0 + 1.0 / fps) if len(session) else 0.0,
        "face_rate": float(np.mean(d["face"] == 1)) if len(session) else float("nan"),
        "valence_mean": _nanmean(d["valence"]),
        "p_fake_mean": _nanmean(d["p_fake"]),
        "latency_p50_ms": _nanpct(lat, 50),
        "latency_p95_ms": _nanpct(lat, 95),
        "latency_p99_ms": _nanpct(lat, 99),
        "markers": len(session.events),
    }


def status_text(session: Session) -> str:
    """'complete' or 'cut off: <how>'."""
    return "complete" if not session.cut_off else f"cut off: {cut_off_reason(session)}"


def cut_off_reason(session: Session) -> str:
    """How the session was cut off, and how many rows it still has ('' for a complete session)."""
    if not session.cut_off:
        return ""
    parts = []
    if not session.complete:
        parts.append("the recording did not end normally (session.json was never marked complete)")
    if session.truncated_rows:
        parts.append(f"{session.truncated_rows} half-written last row was left out")
    return f"{'; '.join(parts)}; {len(session)} rows readable"


# -- plots --------------------------------------------------------------------------------------
def _typical_dt(t: np.ndarray, fps: float) -> float:
    return float(np.median(np.diff(t))) if len(t) > 2 else 1.0 / fps


def timeline_png(session: Session, segments: list[SegmentStats] | None = None, width: int = WIDTH) -> bytes:
    """Valence and P(fake) over time, face-present strip, markers and per-segment means."""
    segments = segment_stats(session) if segments is None else segments
    d = session.data
    t = d["t_s"]
    fps = float(session.meta.get("source", {}).get("fps") or 30.0)
    dt = _typical_dt(t, fps)
    t0, t1 = time_range(session)
    ev_t = [ts for ts, _ in session.events]
    lo = min([t0, *ev_t]) if len(t) or ev_t else 0.0
    hi = max([t1 + dt, *ev_t]) if len(t) or ev_t else 1.0
    if hi - lo < 1e-6:
        hi = lo + 1.0
    fig = Figure(width, 560)
    left, right = 64, width - 22
    w = right - left
    tags_y = 46
    val = Axes(fig, left, 96, w, 200, (lo, hi), (-1.0, 1.0))
    pf = Axes(fig, left, 334, w, 130, (lo, hi), (0.0, 1.0))
    strip = Axes(fig, left, 494, w, 16, (lo, hi), (0.0, 1.0))
    fig.text("Valence and P(fake) over time", left, 22, 14, (40, 30, 24), anchor="lb", bold=True)
    legend(fig, right, 17, [("valence", BLUE), ("P(fake)", ORANGE), ("segment mean", TEXT),
                            ("marker", PURPLE)])

    # segment shading behind everything
    for s in segments:
        if s.index % 2 == 0:
            for ax in (val, pf):
                ax.span(s.start_s, s.end_s, SHADE)
    val.frame(yticks=[-1, -0.5, 0, 0.5, 1], xlabels=False)
    pf.frame(yticks=[0, 0.5, 1], xlabels=False)
    val.hline(0.0, AXIS, dashed=False)
    pf.hline(0.5, AXIS, dashed=True)
    gap = max(3 * dt, 0.25)
    has_val, has_pf = bool(np.isfinite(d["valence"]).any()), bool(np.isfinite(d["p_fake"]).any())
    if has_val:
        val.series(t, d["valence"], BLUE, 1.6, fill_to=0.0, max_gap_s=gap)
    if has_pf:
        pf.series(t, d["p_fake"], ORANGE, 1.6, fill_to=0.0, fill_alpha=0.10, max_gap_s=gap)
    for s in segments:  # segment means as bands
        for ax, m, ok in ((val, s.valence_mean, has_val), (pf, s.p_fake_mean, has_pf)):
            if ok and math.isfinite(m):
                y = float(ax.py(m))
                x0, x1 = float(ax.px(s.start_s)), float(ax.px(s.end_s))
                fig.dashed(x0 + 2, y, x1 - 2, y, TEXT, 2.0, dash=7, gap=4)

    # face strip
    strip.span(lo, hi, ABSENT)
    face = d["face"] == 1
    for a, b in _true_runs(face):
        strip.span(float(t[a]), float(t[b - 1]) + dt, GREEN)
    fig.text("face", left - 7, strip.y + strip.h / 2, 10, TEXT, anchor="rm")
    strip.frame(yticks=[], xlabel="time (s)")
    rate = float(face.mean()) if face.size else float("nan")
    fig.text(f"face present {rate:.0%}" if math.isfinite(rate) else "no frames", right, strip.y - 6, 10, TEXT,
             anchor="rb")

    # markers: dashed lines through all panels, numbered tags above (staggered when crowded)
    ends = [-1e9, -1e9]
    for k, (ts, label) in enumerate(sorted(session.events), 1):
        x = float(val.px(ts))
        text = f"{k} {label}"[:28]
        tw = fig.text_size(text, 10, bold=True)[0] + 8
        row = next((r for r in (0, 1) if x - 1 > ends[r] + 4 and x + tw < right + 20), None)
        if row is None:
            text = str(k)
            tw = fig.text_size(text, 10, bold=True)[0] + 8
            row = 0 if ends[0] <= ends[1] else 1
        y_tag = tags_y - 22 * row + 4
        val.vline(ts, PURPLE, dashed=True, width=1.2, y0=y_tag + 16, y1=strip.y + strip.h)
        ends[row] = fig.tag(text, x - 1, y_tag, PURPLE, 10)
    if not len(t):
        val.message("no frames were recorded in this session")
    elif not has_val:
        val.message("no valence in this session (the bundle has no valence model, or no face was seen)")
    if len(t) and not has_pf:
        pf.message("no P(fake) in this session (the bundle has no LSTM-PB model, or no face was seen)")
    val.title("Valence", "-1 negative ... +1 positive")
    pf.title("P(fake)", "probability that the expression is posed")
    return fig.png()


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.r_[False, mask.astype(bool), False]
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def timing_png(session: Session, width: int = WIDTH) -> bytes:
    """Latency histogram, latency over time, and intervals between recorded frames."""
    d = session.data
    t, lat = d["t_s"], d["latency_ms"]
    fps = float(session.meta.get("source", {}).get("fps") or 30.0)
    dark = (40, 30, 24)
    fig = Figure(width, 290)
    fig.text("Frame timing", 64, 22, 14, dark, anchor="lb", bold=True)
    y, h = 70, 170
    a_hist = Axes(fig, 64, y, 270, h, (0, 1), (0, 1))
    a_time = Axes(fig, 394, y, 330, h, (0, 1), (0, 1))
    a_int = Axes(fig, 784, y, width - 22 - 784, h, (0, 1), (0, 1))
    finite = lat[np.isfinite(lat)]
    if finite.size:
        p50, p95 = np.percentile(finite, [50, 95])
        top = float(max(np.percentile(finite, 99.5) * 1.08, 1.0))
        edges = np.linspace(0, top, 41)
        counts, _ = np.histogram(np.clip(finite, 0, top), edges)
        a_hist.xlim, a_hist.ylim = (0.0, top), (0.0, float(counts.max()) * 1.2)
        a_hist.frame("Latency", subtitle="capture to result", xlabel="ms")
        a_hist.bars(edges, counts, TEAL)
        for k, (q, v) in enumerate((("p50", p50), ("p95", p95))):
            a_hist.vline(float(v), dark, dashed=True)
            fig.text(f"{q} {v:.0f}", float(a_hist.px(v)) + 4, a_hist.y + 4 + 16 * k, 9.5, dark, anchor="lt")
        ymax = float(max(np.percentile(finite, 99.5) * 1.15, 1.0))
        a_time.xlim = (float(t[0]), float(t[-1]) + 1e-3)
        a_time.ylim = (0.0, ymax)
        a_time.frame("Latency over time", subtitle="ms; dashed: p95", xlabel="time (s)")
        a_time.series(t, np.minimum(lat, ymax), TEAL, 1.2)
        a_time.hline(float(p95), dark, dashed=True)
    else:
        for ax, title in ((a_hist, "Latency"), (a_time, "Latency over time")):
            ax.frame(title, xlabels=False, yticks=[])
            ax.message("no frames")
    iv = np.diff(t) * 1000.0 if len(t) > 1 else np.array([])
    nominal = 1000.0 / fps
    if iv.size:
        step = nominal / 5  # bins centred on multiples of the nominal interval
        top = float(max(np.percentile(iv, 99.5) * 1.1, nominal * 2.5))
        edges = np.r_[0.0, np.arange(step / 2, top + step, step)]
        counts, _ = np.histogram(np.clip(iv, 0, edges[-1] - 1e-9), edges)
        a_int.xlim, a_int.ylim = (0.0, float(edges[-1])), (0.0, float(counts.max()) * 1.2)
        late = int((iv > 1.5 * nominal).sum())
        a_int.frame("Frame interval", subtitle="no gaps" if not late else f"{late} gaps", xlabel="ms")
        a_int.bars(edges, counts, BLUE)
        a_int.vline(nominal, dark, dashed=True)
        fig.text(f"1/fps = {nominal:.1f}", float(a_int.px(nominal)) + 4, a_int.y + 4, 9.5, dark, anchor="lt")
    else:
        a_int.frame("Frame interval", xlabels=False, yticks=[])
        a_int.message("fewer than 2 frames")
    return fig.png()


# -- HTML ---------------------------------------------------------------------------------------
def _f(v: float, fmt: str, dash: str = "—") -> str:
    return dash if v is None or not math.isfinite(v) else format(v, fmt)


_CSS = """
:root { --ink:#18202a; --muted:#5b6675; --line:#e6e9ee; --bg:#f6f7f9; --blue:#2563eb; --orange:#ea580c;
        --green:#16a34a; --amber:#b45309; --purple:#7c3aed; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
header .sub { color: var(--muted); font-size: 14px; }
.badge { display:inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12.5px; font-weight: 600;
         vertical-align: 3px; margin-left: 8px; }
.badge.ok { background:#dcfce7; color:#166534; } .badge.cut { background:#fef3c7; color:#92400e; }
.notice { background:#fffbeb; border:1px solid #fde68a; color:#78350f; border-radius:10px; padding:10px 14px;
          margin: 16px 0 0; font-size: 14px; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(122px, 1fr)); gap: 12px; margin: 22px 0; }
.card { background:#fff; border:1px solid var(--line); border-radius: 12px; padding: 12px 14px; }
.card .k { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 22px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .v small { font-size: 13px; color: var(--muted); font-weight: 500; }
section { background:#fff; border:1px solid var(--line); border-radius: 14px; padding: 18px 20px; margin: 18px 0; }
section h2 { font-size: 17px; margin: 0 0 12px; }
section p.note { color: var(--muted); font-size: 13.5px; margin: 8px 0 0; }
img.plot { width: 100%; height: auto; display:block; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; font-size: 12.5px; text-transform: uppercase; letter-spacing: .03em; }
td.n, th.n { text-align: right; }
tr:last-child td { border-bottom: none; }
table.compact { width: auto; min-width: 360px; }
.seg { display:inline-block; min-width: 22px; padding: 0 6px; border-radius: 6px; background: var(--purple);
       color:#fff; font-weight:600; text-align:center; font-size: 12.5px; }
.seg.start { background:#94a3b8; }
.meta td:first-child { color: var(--muted); width: 210px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
footer { color: var(--muted); font-size: 12.5px; text-align: center; margin-top: 26px; }
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _meta_rows(session: Session) -> list[tuple[str, str]]:
    m = session.meta
    src = m.get("source", {}) or {}
    bundle = m.get("bundle", {}) or {}
    rows = [
        ("session folder", f"<code>{html.escape(str(session.root))}</code>"),
        ("status", html.escape(status_text(session))),
        ("source", html.escape(f"{src.get('kind', '?')}: {src.get('uri', '?')}")),
        ("frame size, rate", html.escape(f"{src.get('width', '?')} × {src.get('height', '?')} px, "
                                         f"{_f(float(src.get('fps') or float('nan')), '.2f')} fps")),
        ("bundle", html.escape(str(bundle.get("name", "—")))
         + (f" <code>sha256 {html.escape(str(bundle['sha256'])[:16])}…</code>" if bundle.get("sha256") else "")),
        ("expression model", html.escape(str(m.get("expression_model") or "—"))),
        ("created (UTC)", html.escape(str(m.get("created", "—")))),
        ("ended (UTC)", html.escape(str(m.get("ended", "— (not recorded: cut off)" if not session.complete else "—")))),
    ]
    if m.get("stopped"):
        rows.append(("stopped because", html.escape(str(m["stopped"]))))
    stats = m.get("stats") or {}
    if stats:
        keys = ("frames_captured", "frames_processed", "frames_with_face", "dropped", "failed")
        rows.append(("pipeline counts", html.escape(", ".join(f"{k.replace('_', ' ')} {stats[k]}" for k in keys
                                                             if k in stats))))
    sw = m.get("software") or {}
    if sw:
        rows.append(("software", html.escape(", ".join(f"{k} {v}" for k, v in sw.items()))))
    if m.get("settings"):
        rows.append(("settings", f"<code>{html.escape(json.dumps(m['settings'], sort_keys=True))}</code>"))
    return rows


def render_html(session: Session, segments: list[SegmentStats], timeline: bytes, timing: bytes) -> str:
    s = summary(session)
    title = session.root.name or str(session.root)
    ok = not session.cut_off
    badge = '<span class="badge ok">complete</span>' if ok else '<span class="badge cut">cut off</span>'
    src = session.meta.get("source", {}) or {}
    sub = (f"{html.escape(str(src.get('kind', '?')))} · {html.escape(str(src.get('uri', '?')))} · "
           f"recorded {html.escape(str(session.meta.get('created', '?')))}")
    notice = "" if ok else f'<div class="notice"><b>This session was cut off:</b> {html.escape(cut_off_reason(session))}.</div>'
    cards = [
        ("duration", f"{s['duration_s']:.1f}<small> s</small>"),
        ("frames", f"{s['frames']}"),
        ("face present", f"{_f(s['face_rate'] * 100, '.0f')}<small> %</small>"),
        ("mean valence", _f(s["valence_mean"], "+.3f")),
        ("mean P(fake)", _f(s["p_fake_mean"], ".3f")),
        ("latency p50/p95", f"{_f(s['latency_p50_ms'], '.0f')}<small> / {_f(s['latency_p95_ms'], '.0f')} ms</small>"),
        ("markers", f"{s['markers']}"),
    ]
    card_html = "".join(f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div></div>' for k, v in cards)
    seg_rows = []
    for g in segments:
        cls = "seg start" if g.label == "start" else "seg"
        seg_rows.append(
            f"<tr><td><span class='{cls}'>{g.index}</span> {html.escape(g.label)}</td>"
            f"<td class='n'>{g.start_s:.2f}</td><td class='n'>{g.end_s:.2f}</td>"
            f"<td class='n'>{g.end_s - g.start_s:.2f}</td><td class='n'>{g.frames}</td>"
            f"<td class='n'>{_f(g.face_rate * 100, '.0f')}{' %' if math.isfinite(g.face_rate) else ''}</td>"
            f"<td class='n'>{_f(g.valence_mean, '+.3f')}</td><td class='n'>{_f(g.valence_sd, '.3f')}</td>"
            f"<td class='n'>{_f(g.p_fake_mean, '.3f')}</td><td class='n'>{_f(g.latency_p50_ms, '.0f')}</td></tr>")
    events = "".join(f"<tr><td class='n'>{k}</td><td class='n'>{ts:.2f}</td><td>{html.escape(label)}</td></tr>"
                     for k, (ts, label) in enumerate(sorted(session.events), 1))
    events_html = (f"<table class='compact'><tr><th class='n'>#</th><th class='n'>t (s)</th><th>label</th></tr>{events}</table>"
                   if events else "<p class='note'>No markers were recorded in this session.</p>")
    meta = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in _meta_rows(session))
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>affectscope session report: {html.escape(title)}</title><style>{_CSS}</style></head>
<body><main>
<header><h1>Session {html.escape(title)}{badge}</h1><div class="sub">{sub}</div>{notice}</header>
<div class="cards">{card_html}</div>
<section id="timeline">{_img(timeline, "valence and P(fake) over time")}
<p class="note">Dashed purple lines are markers; the dashed dark line in each segment is its mean; the strip shows when a face
was present. Gaps in the curves are frames without a face or before a model's first output.</p></section>
<section id="segments"><h2>Segments between markers</h2>
<table><tr><th>segment</th><th class="n">from (s)</th><th class="n">to (s)</th><th class="n">length (s)</th>
<th class="n">frames</th><th class="n">face</th><th class="n">valence mean</th><th class="n">valence SD</th>
<th class="n">P(fake) mean</th><th class="n">latency p50 (ms)</th></tr>{''.join(seg_rows)}</table>
<p class="note">Means are over the frames of the segment that have a value; valence holds its last value between
model updates, so its mean weights each value by how long it was shown.</p></section>
<section id="markers"><h2>Markers</h2>{events_html}</section>
<section id="timing">{_img(timing, "frame timing")}
<p class="note">Latency is the time from a frame's capture to its result: how far the live display lags behind the
camera. Latency p50 {_f(s['latency_p50_ms'], '.1f')} ms, p95 {_f(s['latency_p95_ms'], '.1f')} ms,
p99 {_f(s['latency_p99_ms'], '.1f')} ms.</p></section>
<section id="metadata"><h2>Session</h2><table class="meta">{meta}</table></section>
<footer>affectscope {html.escape(__version__)} · report generated {now}</footer>
</main></body></html>
"""


@dataclass(frozen=True)
class Report:
    html: Path
    pngs: list[Path]
    segments: list[SegmentStats]
    session: Session


class ReportError(ValueError):
    """A report that cannot be written where asked; the message says why."""


def build_report(session: Session | str | Path, out_dir: str | Path) -> Report:
    """Write ``report.html``, ``timeline.png`` and ``timing.png`` into ``out_dir``."""
    session = session if isinstance(session, Session) else read_session(session)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: is a file; --out names a folder for report.html and its plots")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"{out}: cannot create the report folder ({exc.strerror or exc})") from None
    segments = segment_stats(session)
    timeline, timing = timeline_png(session, segments), timing_png(session)
    pngs = [out / "timeline.png", out / "timing.png"]
    pngs[0].write_bytes(timeline)
    pngs[1].write_bytes(timing)
    page = out / "report.html"
    page.write_text(render_html(session, segments, timeline, timing), encoding="utf-8")
    return Report(page, pngs, segments, session)
