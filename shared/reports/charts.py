"""The report's charts as Vega-Lite specs (built with Vega-Altair), and their PNGs (vl-convert). One chart per
billing currency wherever amounts are plotted: currencies never share an axis."""

from __future__ import annotations

from dataclasses import dataclass

from shared.reports import shaping
from shared.reports.shaping import plot_value

VL_VERSION = "6.4"  # the Vega-Lite that Altair 6 writes; the bundle inlined in the page and the PNGs use it
WIDTH = 640


@dataclass(frozen=True)
class Chart:
    """One chart: a file-name-safe key, its title and its Vega-Lite spec."""

    key: str
    title: str
    spec: dict


def daily_cost(rows: list[dict], currency: str) -> Chart:
    """EffectiveCost per charge day, stacked by provider, in one currency."""
    import altair as alt

    values = [
        {"day": r["day"].isoformat(), "provider": r["provider"], "cost": plot_value(r["effective"])}
        for r in shaping.daily_by_provider(rows, currency)
    ]
    chart = (
        alt.Chart(alt.Data(values=values), width=WIDTH, height=260)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(day):O", title="charge day (UTC)", axis=alt.Axis(format="%b %d")),
            y=alt.Y("sum(cost):Q", title=f"EffectiveCost ({currency})", stack="zero"),
            color=alt.Color("provider:N", title="provider"),
            tooltip=[
                alt.Tooltip("utcyearmonthdate(day):T", title="day"),
                "provider:N",
                alt.Tooltip("cost:Q", format=",.2f"),
            ],
        )
    )
    return Chart(f"daily-cost-{currency}", f"Daily cost by provider ({currency})", chart.to_dict())


def top_bars(rows: list[dict], currency: str, key: str, label: str) -> Chart:
    """The largest `key`s (service or model) by EffectiveCost in one currency, coloured by provider."""
    import altair as alt

    values = [
        {"name": r[key], "provider": r["provider"], "cost": plot_value(r["effective"])}
        for r in shaping.top(rows, currency, key)
    ]
    chart = (
        alt.Chart(alt.Data(values=values), width=WIDTH - 160, height=max(60, 24 * len(values)))
        .mark_bar()
        .encode(
            y=alt.Y("name:N", sort="-x", title=label),
            x=alt.X("cost:Q", title=f"EffectiveCost ({currency})"),
            color=alt.Color("provider:N", title="provider"),
            tooltip=["name:N", "provider:N", alt.Tooltip("cost:Q", format=",.2f")],
        )
    )
    slug = "services" if key == "service" else "models"
    return Chart(f"top-{slug}-{currency}", f"Top {label}s ({currency})", chart.to_dict())


def llm_billed_vs_estimated(summary: list[dict], currency: str) -> Chart:
    """Billed against estimated LLM cost per provider over the period, in one currency."""
    import altair as alt

    values = [
        {"provider": r["provider"], "measure": measure, "cost": plot_value(r[field])}
        for r in summary
        if r["currency"] == currency
        for measure, field in (("billed", "billed"), ("estimated", "estimated"))
        if r[field] is not None
    ]
    chart = (
        alt.Chart(alt.Data(values=values), width=WIDTH - 160, height=220)
        .mark_bar()
        .encode(
            x=alt.X("provider:N", title="provider", axis=alt.Axis(labelAngle=0)),
            xOffset="measure:N",
            y=alt.Y("cost:Q", title=f"cost ({currency})"),
            color=alt.Color("measure:N", title=""),
            tooltip=["provider:N", "measure:N", alt.Tooltip("cost:Q", format=",.4f")],
        )
    )
    return Chart(
        f"llm-billed-vs-estimated-{currency}", f"LLM billed vs estimated ({currency})", chart.to_dict()
    )


def budgets(statuses: list[dict]) -> Chart:
    """Each budget's month so far as a percent of its amount (currency-neutral), its run-rate forecast and 100 %."""
    import altair as alt

    values = [
        {
            "budget": f"{s['name']} ({s['currency']})",
            "spent": plot_value(s["percent"]),
            "forecast": plot_value(s["forecast_percent"]),
        }
        for s in statuses
    ]
    base = alt.Chart(alt.Data(values=values), width=WIDTH - 160, height=max(60, 28 * len(values)))
    bars = base.mark_bar().encode(
        y=alt.Y("budget:N", title=None),
        x=alt.X("spent:Q", title="% of the monthly budget"),
        tooltip=[
            "budget:N",
            alt.Tooltip("spent:Q", title="spent %"),
            alt.Tooltip("forecast:Q", title="forecast %"),
        ],
    )
    forecast = base.mark_tick(color="#d62728", thickness=3).encode(y="budget:N", x="forecast:Q")
    limit = alt.Chart(alt.Data(values=[{"limit": 100}])).mark_rule(strokeDash=[4, 3]).encode(x="limit:Q")
    return Chart("budgets", "This month against its budgets", (bars + forecast + limit).to_dict())


def png(chart: Chart) -> bytes:
    """The chart as a PNG (twice the page's size, for chat and e-mail); no data is fetched from anywhere."""
    import vl_convert

    return vl_convert.vegalite_to_png(chart.spec, vl_version=VL_VERSION, scale=2, allowed_base_urls=[])
