"""Monitoring charts (WH-31) as PNG, drawn by matplotlib with the shipped CJK font.

The same PNG goes into the monitoring PDF and onto the supervisor's screen, so both show the
same picture. matplotlib runs on its Agg backend: no display is needed.
"""

from __future__ import annotations

import functools
import io

import matplotlib

matplotlib.use("Agg")
from matplotlib import font_manager
from matplotlib.figure import Figure

from ..batch.monitoring import MonitoringReport
from ..resources import resource_dir


@functools.cache
def _font() -> str:
    path = resource_dir() / "fonts" / "wqy-microhei.ttc"
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=150)
    fig.set_layout_engine("constrained")
    return fig


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def short_name(name: str) -> str:
    return name if len(name) <= 10 else name[:4] + "…" + name[-5:]


def visits_chart(report: MonitoringReport) -> bytes:
    """Outpatient visits per month for each institution, the month under review marked; an
    institution whose growth is an anomaly is drawn bold."""
    plt_font = _font()
    flagged = {a.institution_code for a in report.anomalies if a.indicator == "visit_growth"}
    fig = _figure(7.0, 3.2)
    ax = fig.add_subplot()
    names = {r.code: r.name for r in report.institutions}
    for code, points in sorted(report.history.items()):
        if not any(v for _, v in points):
            continue
        xs = [f"{m.month:02d}月" if m.month != 1 else f"{m.year}-01" for m, _ in points]
        ax.plot(
            xs,
            [v for _, v in points],
            marker="o",
            linewidth=2.6 if code in flagged else 1.2,
            label=short_name(names[code]) + ("（增长异常）" if code in flagged else ""),
        )
    ax.axvline(len(next(iter(report.history.values()))) - 1, color="grey", linestyle=":", linewidth=1)
    ax.set_title(f"门诊结算人次（{report.period} 及此前各月）", fontfamily=plt_font)
    ax.set_ylabel("人次", fontfamily=plt_font)
    ax.grid(axis="y", alpha=0.3)
    for label in ax.get_xticklabels():
        label.set_fontfamily(plt_font)
    ax.legend(prop={"family": plt_font, "size": 8}, loc="upper left")
    return _png(fig)


def indicators_chart(report: MonitoringReport) -> bytes:
    """Per institution: visit growth and the share of capped payments, against their thresholds."""
    plt_font = _font()
    t = report.thresholds
    rows = [r for r in report.institutions if r.visits or r.previous_visits]
    fig = _figure(7.0, 3.0)
    left, right = fig.subplots(1, 2)
    names = [short_name(r.name) for r in rows]
    growth = [float(r.growth or 0) * 100 for r in rows]  # float only for drawing
    share = [float(r.cap_share or 0) * 100 for r in rows]
    for ax, values, limit, title in (
        (left, growth, t.visit_growth, "人次环比增长 %"),
        (right, share, t.cap_share, "按限额支付占比 %"),
    ):
        colours = ["#c0392b" if v > float(limit) * 100 else "#2e86c1" for v in values]
        ax.barh(names, values, color=colours)
        ax.axvline(float(limit) * 100, color="#c0392b", linestyle="--", linewidth=1)
        ax.set_title(title + f"（阈值 {float(limit) * 100:.0f}%）", fontfamily=plt_font, fontsize=9)
        for label in ax.get_yticklabels():
            label.set_fontfamily(plt_font)
            label.set_fontsize(7)
        ax.grid(axis="x", alpha=0.3)
    right.set_yticklabels([])
    return _png(fig)
