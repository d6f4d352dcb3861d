"""Hand-written SVG charts: per row, one bar per twin (Rust, Go 1.24, Go 1.26) on
the row's own scale.

Rows in one chart may have different units (seconds, MiB, ms), so each row is
scaled to its own larger value; the numbers are printed next to the bars.
A whisker shows min–max over the repeats.
"""
from xml.sax.saxutils import escape

from .config import LABELS, TWINS

COLORS = {"rust": "#ce422b", "go124": "#00add8", "go126": "#5a3fc0"}
WIDTH, LABEL_W, BAR_H, GAP, ROW_PAD = 980, 360, 14, 3, 14
PLOT_W = WIDTH - LABEL_W - 200


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _bar(y, twin, summary, top, unit):
    if not summary:
        return [f'<text x="{LABEL_W}" y="{y + BAR_H - 3}" class="v">{twin}: no data</text>']
    w = max(1.0, PLOT_W * summary["median"] / top) if top else 1.0
    lo = LABEL_W + PLOT_W * summary["min"] / top if top else LABEL_W
    hi = LABEL_W + PLOT_W * summary["max"] / top if top else LABEL_W
    mid = y + BAR_H / 2
    noisy = " (noisy)" if summary["noisy"] else ""
    return [
        f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
        f'fill="{COLORS[twin]}"><title>{twin}: {fmt(summary["median"])} {escape(unit)}'
        f'</title></rect>',
        f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" class="w"/>',
        f'<text x="{max(LABEL_W + w, hi) + 6:.1f}" y="{y + BAR_H - 3}" class="v">'
        f'{fmt(summary["median"])} {escape(unit)}{noisy}</text>',
    ]


def _wrap(label, width=52):
    """Lines of at most `width` characters where possible, split after a comma,
    colon or semicolon, or before a parenthesis."""
    lines = []
    while len(label) > width:
        cut = max(label.rfind(", ", 0, width), label.rfind(": ", 0, width),
                  label.rfind("; ", 0, width))
        paren = label.rfind(" (", 0, width)
        if cut <= 0 and paren <= 0:
            break
        if cut >= paren:
            lines.append(label[:cut + 1])
            label = label[cut + 2:]
        else:
            lines.append(label[:paren])
            label = label[paren + 1:]
    return lines + [label]


def _row_height(row):
    bars = len(TWINS) * (BAR_H + GAP)
    text = 13 * (len(_wrap(row["label"])) + 1)
    return max(bars, text) + ROW_PAD


def chart(title, rows):
    """An SVG document (str) for `rows` (dicts as built by rows.py)."""
    height = 60 + sum(_row_height(r) for r in rows) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
           '<style>.v{fill:#222}.l{fill:#222}.w{stroke:#222;stroke-width:1}'
           '.t{font-size:15px;font-weight:bold}</style>',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="22" class="t">{escape(title)}</text>']
    for i, twin in enumerate(TWINS):
        x = WIDTH - 90 * len(TWINS) + i * 90
        out.append(f'<rect x="{x}" y="10" width="12" height="12" fill="{COLORS[twin]}"/>'
                   f'<text x="{x + 16}" y="21">{LABELS[twin]}</text>')
    y = 50
    for row in rows:
        summaries = [row.get(t) for t in TWINS]
        top = max((s["max"] for s in summaries if s), default=0)
        arrow = "lower is better" if row["better"] == "lower" else "higher is better"
        lines = _wrap(row["label"])
        for j, line in enumerate(lines):
            out.append(f'<text x="10" y="{y + 10 + 13 * j}" class="l">{escape(line)}</text>')
        out.append(f'<text x="10" y="{y + 10 + 13 * len(lines)}" fill="#777" '
                   f'font-size="10">{escape(row["unit"])}, {arrow}</text>')
        for i, twin in enumerate(TWINS):
            out += _bar(y + i * (BAR_H + GAP), twin, row.get(twin), top, row["unit"])
        y += _row_height(row)
    out.append("</svg>")
    return "\n".join(out) + "\n"
