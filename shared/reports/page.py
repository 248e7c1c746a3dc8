"""The report as one self-contained HTML page: inline CSS, the Vega bundle inline (no network to open it), each
chart's spec embedded and rendered as SVG, and the amounts as exact decimal text."""

from __future__ import annotations

import functools
import json
import os
from html import escape
from pathlib import Path

from shared.reports.charts import VL_VERSION, Chart
from shared.reports.shaping import exact_text

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.note{color:#666}
.chart{margin:12px 0}.error{color:#b00}.status-FAILED{color:#b00}.status-COMPLETED{color:#070}
"""
# Renders every chart element from its embedded spec; marks each rendered (or failed) for a reader and a test.
RENDER = """
for (const el of document.querySelectorAll('.chart')) {
  const spec = JSON.parse(document.getElementById(el.dataset.spec).textContent);
  vegaEmbed(el, spec, {renderer: 'svg', actions: false})
    .then(() => { el.dataset.rendered = 'yes'; })
    .catch((err) => { el.dataset.rendered = 'failed'; el.textContent = 'chart failed: ' + err; el.className += ' error'; });
}
"""


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script. vl-convert bundles it in seconds, and the result depends on
    its version alone, so it is kept in the user's cache directory (written whole, then renamed into place)."""
    from importlib.metadata import version

    import vl_convert

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dps"
    path = cache / f"vega-bundle-{version('vl-convert-python')}-vl{VL_VERSION}.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(vl_version=VL_VERSION)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass  # a read-only home only costs the next report the bundling again
    return bundle


def table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(), cls: str = "") -> str:
    """An HTML table; cells are escaped, `numeric` columns right-aligned."""

    def cell(tag: str, index: int, value) -> str:
        align = ' class="num"' if index in numeric else ""
        return f"<{tag}{align}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def chart_block(chart: Chart, png_name: str | None) -> str:
    """A chart's element and its spec (JSON in a script element, `</` escaped so the page cannot be broken out of)."""
    spec = json.dumps(chart.spec).replace("</", "<\\/")
    link = f' <a href="{escape(png_name)}">PNG</a>' if png_name else ""
    return (
        f"<h3>{escape(chart.title)}{link}</h3>"
        f'<div class="chart" id="chart-{escape(chart.key)}" data-chart="{escape(chart.key)}" '
        f'data-spec="spec-{escape(chart.key)}"></div>'
        f'<script type="application/json" id="spec-{escape(chart.key)}">{spec}</script>'
    )


def money(value) -> str:
    """An amount cell's text: exact, or 'n/a'."""
    return "n/a" if value is None else exact_text(value)


def document(title: str, sections: list[tuple[str, str]], script: str | None = None) -> str:
    """The whole page: `sections` are (heading, HTML) pairs, in order; `script` renders the charts (default: the
    Vega bundle)."""
    body = "".join(f"<section><h2>{escape(heading)}</h2>{html}</section>" for heading, html in sections)
    bundle = (vega_bundle() if script is None else script).replace("</script", "<\\/script")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}<script>{bundle}</script><script>{RENDER}</script></body></html>"
    )
