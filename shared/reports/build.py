"""Assemble the report: its sections from the data read, the charts among them, and the files written (the page
and a PNG per chart beside it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from shared.reports import charts, shaping
from shared.reports.page import chart_block, document, money, table
from shared.reports.query import ReportData

RUN_COLUMNS = ["created (UTC)", "run", "pipeline", "dates", "status", "trigger", "rows", "slices", "error"]


@dataclass
class Report:
    """The page's HTML and its charts (in page order)."""

    html: str
    charts: list[charts.Chart]


class _Sections:
    """Collects (heading, HTML) sections and the charts they show; a chart's PNG is named after the page."""

    def __init__(self, png_prefix: str | None):
        self.png_prefix, self.sections, self.charts = png_prefix, [], []

    def chart(self, chart: charts.Chart) -> str:
        self.charts.append(chart)
        return chart_block(chart, f"{self.png_prefix}-{chart.key}.png" if self.png_prefix else None)

    def add(self, heading: str, html: str) -> None:
        self.sections.append((heading, html))


def build_report(
    data: ReportData, png_prefix: str | None = None, now: datetime | None = None, script: str | None = None
) -> Report:
    """The report page of `data`; `png_prefix` names the PNG files its charts link to, `script` replaces the Vega
    bundle (tests of the page's content)."""
    out = _Sections(png_prefix)
    costs, currencies = data.costs, shaping.currencies(data.costs)
    empty = '<p class="note">No cost_focus rows in this period.</p>'
    out.add(
        "Daily cost by provider", "".join(out.chart(charts.daily_cost(costs, c)) for c in currencies) or empty
    )
    out.add("Totals", _totals(costs))
    for key, label in (("service", "service"), ("model", "LLM model")):
        parts = [_top(out, costs, c, key, label) for c in currencies if shaping.top(costs, c, key)]
        out.add(f"Top {label}s", "".join(parts) or f'<p class="note">No {label} costs in this period.</p>')
    out.add("LLM cost: billed vs estimated", _llm(out, data))
    out.add(f"Budgets: {data.month.start:%B %Y} to {data.month.as_of}", _budgets(out, data))
    out.add("Runs of the period", _runs(data))
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    intro = f'<p class="note">Charge days {data.start} to {data.end} (UTC), generated {stamp}.</p>'
    title = f"Cost report: {data.org}, {data.start} to {data.end}"
    return Report(document(title, [("Period", intro), *out.sections], script), out.charts)


def _totals(costs: list[dict]) -> str:
    rows = [
        [r["provider"], r["currency"], money(r["billed"]), money(r["effective"])]
        for r in shaping.totals(costs)
    ]
    if not rows:
        return '<p class="note">Nothing to total.</p>'
    note = (
        '<p class="note">Exact sums of cost_focus per provider and currency; currencies are never added.</p>'
    )
    return note + table(["provider", "currency", "BilledCost", "EffectiveCost"], rows, {2, 3}, "totals")


def _top(out: _Sections, costs: list[dict], currency: str, key: str, label: str) -> str:
    top = shaping.top(costs, currency, key)
    rows = [[r[key], r["provider"], money(r["effective"]), money(r["billed"])] for r in top]
    chart = out.chart(charts.top_bars(costs, currency, key, label))
    return chart + table(
        [label, "provider", f"EffectiveCost ({currency})", "BilledCost"], rows, {2, 3}, "top"
    )


def _llm(out: _Sections, data: ReportData) -> str:
    if data.reconciliation is None:
        return '<p class="note">No LLM source has run for this org (no llm_cost_reconciliation view).</p>'
    summary = shaping.reconciliation(data.reconciliation)
    if not summary:
        return '<p class="note">No LLM costs in this period.</p>'
    blocks = [out.chart(charts.llm_billed_vs_estimated(summary, c)) for c in shaping.currencies(summary)]
    rows = [
        [
            r["provider"],
            r["currency"],
            money(r["billed"]),
            money(r["estimated"]),
            money(r["difference"]),
            ", ".join(r["unpriced"]),
        ]
        for r in summary
    ]
    headers = ["provider", "currency", "billed", "estimated (price table)", "difference", "unpriced models"]
    note = (
        '<p class="note">Billed: the provider\'s bill in cost_focus; estimated: usage priced with the reviewed price '
        "table and the org's overrides (llm_cost_reconciliation). n/a: some lines are unpriced.</p>"
    )
    return "".join(blocks) + note + table(headers, rows, {2, 3, 4}, "llm")


def _budgets(out: _Sections, data: ReportData) -> str:
    skipped = "".join(f'<p class="error">Skipped: {escape(s)}</p>' for s in data.budgets_skipped)
    if not data.budgets:
        return '<p class="note budgets-none">No budget set.</p>' + skipped
    statuses = [shaping.budget_status(b, data.month_costs, data.month) for b in data.budgets]
    rows = [
        [
            s["name"],
            s["provider"] or "all providers",
            s["metric"],
            s["currency"],
            money(s["amount"]),
            money(s["spent"]),
            f"{s['percent']} %",
            f"{money(s['forecast'])} ({s['forecast_percent']} %)",
            ", ".join(f"{t['percent']} % {t['basis']}" for t in s["reached"]) or "none",
        ]
        for s in statuses
    ]
    headers = [
        "budget",
        "provider",
        "metric",
        "currency",
        "amount",
        "spent",
        "of budget",
        "run-rate forecast",
        "thresholds reached",
    ]
    return out.chart(charts.budgets(statuses)) + table(headers, rows, {4, 5, 6, 7}, "budgets") + skipped


def _runs(data: ReportData) -> str:
    if not data.runs:
        return '<p class="note">No runs in this period.</p>'
    rows = [
        [
            f"{r['created_at']:%Y-%m-%d %H:%M:%S}" if r.get("created_at") else "",
            r["pipeline_logging_id"],
            r["pipeline_id"],
            f"{r['start_date']} to {r['end_date']}",
            r["status"],
            r.get("trigger_by") or "",
            "" if r.get("rows_written") is None else r["rows_written"],
            f"{r['slices_done']}/{r['slices_total']}" if r.get("slices_total") else "",
            " ".join(filter(None, (r.get("error_code"), r.get("error_message")))),
        ]
        for r in data.runs
    ]
    more = '<p class="note">Only the newest runs are shown.</p>' if data.runs_truncated else ""
    counts = Counter(r["status"] for r in data.runs)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return (
        f'<p class="runs-summary">{len(data.runs)} in all: {escape(summary)}</p>'
        + table(RUN_COLUMNS, rows, {6}, "runs")
        + more
    )


def write_report(report: Report, html_path: Path, png_prefix: str) -> list[Path]:
    """Write each chart's PNG beside the page (`<png_prefix>-<chart>.png`), then the page; each file whole (written
    aside, then renamed), so a failure never leaves a half file. Returns every path written, the page first."""
    html_path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in report.charts:
        path = html_path.with_name(f"{png_prefix}-{chart.key}.png")
        _write_whole(path, charts.png(chart))
        written.append(path)
    _write_whole(html_path, report.html.encode("utf-8"))
    return [html_path, *written]


def _write_whole(path: Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    partial.replace(path)
