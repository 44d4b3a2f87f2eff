"""Charts drawn on the server as SVG: no script, no CDN; each has a title and a text equivalent
(the table beside it) for screen readers."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = 22
GAP = 8
LABEL = 150
WIDTH = 360


def bars(
    title: str, rows: Sequence[tuple[str, float, str]], *, full: float | None = None
) -> Markup:
    """Horizontal bars: (label, value, text shown at the bar's end); `full` is the value of a
    whole bar (default: the largest value)."""
    most = full if full is not None else max((value for _l, value, _t in rows), default=0.0)
    height = len(rows) * (BAR + GAP) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH + LABEL + 60} '
        f'{height}" class="chart"><title>{escape(title)}</title>'
    ]
    for index, (label, value, text) in enumerate(rows):
        y = GAP + index * (BAR + GAP)
        width = 0.0 if most <= 0 else WIDTH * value / most
        parts.append(
            f'<text x="{LABEL - 6}" y="{y + BAR * 0.7:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" class="bar"/>'
            f'<text x="{LABEL + width + 4:.1f}" y="{y + BAR * 0.7:.1f}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Markup:
    """Monthly columns of a rate between 0 and 1; a month without data has no column."""
    step = 44
    top, chart = 16, 90
    width = step * len(labels) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} '
        f'{top + chart + 20}" class="chart"><title>{escape(title)}</title>'
        f'<line x1="0" y1="{top + chart}" x2="{width}" y2="{top + chart}" class="axis"/>'
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = 8 + index * step
        if value is not None:
            height = chart * value
            parts.append(
                f'<rect x="{x}" y="{top + chart - height:.1f}" width="{step - 12}" '
                f'height="{height:.1f}" class="bar"/>'
                f'<text x="{x + (step - 12) / 2:.1f}" y="{top + chart - height - 3:.1f}" '
                f'text-anchor="middle">{value:.0%}</text>'
            )
        parts.append(
            f'<text x="{x + (step - 12) / 2:.1f}" y="{top + chart + 15}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
