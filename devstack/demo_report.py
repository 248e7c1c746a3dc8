"""The demo's closing tables: cost_focus of every source side by side per day; then LLM estimated vs billed cost."""

from __future__ import annotations

from datetime import date


def focus_table(settings, org: str, start: date, end: date) -> list[dict]:
    """Per charge day, ProviderName and BillingCurrency: BilledCost, EffectiveCost, ListCost and rows."""
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    table = f"{settings.project}.{settings.org_dataset(org)}.cost_focus"
    sql = f"""
    SELECT DATE(ChargePeriodStart) AS day, ProviderName, BillingCurrency, SUM(BilledCost) AS billed,
           SUM(EffectiveCost) AS effective, SUM(ListCost) AS list, COUNT(*) AS n
    FROM `{table}`
    WHERE ChargePeriodStart >= TIMESTAMP(@start) AND ChargePeriodStart < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
    GROUP BY day, ProviderName, BillingCurrency
    ORDER BY day, ProviderName, BillingCurrency
    """
    return Warehouse(make_bigquery_client(settings), settings.project).query(
        sql, {"start": start, "end": end}
    )


def source_titles() -> tuple[dict[str, str], str | None]:
    """Which source a cost_focus row came from, by its ProviderName: each registered provider's own name maps to its
    title; the rows of a provider that names a vendor per row (SaaS plans) carry no name of ours, and map to it."""
    from devstack.providers import LOCAL_PROVIDERS
    from shared.providers.registry import PROVIDERS

    providers = [PROVIDERS[name] for name in LOCAL_PROVIDERS]
    fixed = {p.focus.provider_name: p.title for p in providers if not p.focus.names_per_row}
    per_row = [p.title for p in providers if p.focus.names_per_row]
    return fixed, (per_row[0] if len(per_row) == 1 else None)


def side_by_side(rows: list[dict]) -> tuple[list[tuple[str, str]], dict]:
    """Pivot focus_table's rows: the (source, currency) columns in provider order, and per day and column the sums."""
    fixed, per_row = source_titles()
    order = [*fixed.values(), *([per_row] if per_row else [])]
    cells: dict = {}
    for r in rows:
        source = fixed.get(r["ProviderName"], per_row or r["ProviderName"])
        cell = cells.setdefault((r["day"], (source, r["BillingCurrency"])), [0, 0, 0, 0])
        for index, key in enumerate(("billed", "effective", "list", "n")):
            cell[index] += r[key]
    columns = sorted({column for _, column in cells}, key=lambda c: (_rank(order, c[0]), c[1]))
    return columns, cells


def _rank(order: list[str], source: str) -> int:
    return order.index(source) if source in order else len(order)


def print_focus_table(rows: list[dict]) -> None:
    """Print every source side by side: EffectiveCost per charge day and (source, currency), then the totals of
    BilledCost, EffectiveCost, ListCost and rows (amounts in different currencies never add)."""
    columns, cells = side_by_side(rows)
    widths = [max(len(source), 12) + 2 for source, _ in columns]
    titles = f"{'':<14}" + "".join(f"{source:>{w}}" for (source, _), w in zip(columns, widths, strict=True))
    header = f"{'charge day':<14}" + "".join(
        f"{cur:>{w}}" for (_, cur), w in zip(columns, widths, strict=True)
    )
    print("\ncost_focus (FOCUS 1.2), every source side by side: EffectiveCost per charge day")
    print(titles + "\n" + header + "\n" + "-" * len(header))
    for day in sorted({day for day, _ in cells}):
        line = "".join(
            f"{cells[(day, c)][1]:>{w}.2f}" if (day, c) in cells else " " * w
            for c, w in zip(columns, widths, strict=True)
        )
        print(f"{day!s:<14}{line}")
    print("-" * len(header))
    for index, label in enumerate(("BilledCost", "EffectiveCost", "ListCost", "rows")):
        totals = [sum(cell[index] for (_, c), cell in cells.items() if c == column) for column in columns]
        numbers = "".join(
            f"{t:>{w}}" if index == 3 else f"{t:>{w}.2f}" for t, w in zip(totals, widths, strict=True)
        )
        print(f"{label:<14}{numbers}")


def reconciliation_table(settings, org: str, start: date, end: date) -> list[dict]:
    """The org's llm_cost_reconciliation view over [start, end]."""
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    view = f"{settings.project}.{settings.org_dataset(org)}.llm_cost_reconciliation"
    sql = f"SELECT * FROM `{view}` WHERE day BETWEEN @start AND @end ORDER BY provider, day, currency"
    return Warehouse(make_bigquery_client(settings), settings.project).query(
        sql, {"start": start, "end": end}
    )


def print_reconciliation(rows: list[dict]) -> None:
    """Print estimated (price table) against billed (cost_focus) LLM cost per provider and day."""
    header = f"{'day':<11} {'provider':<10} {'cur':<4} {'billed':>12} {'estimated':>12} {'difference':>12}  unpriced models"
    print("\nLLM cost reconciliation (llm_cost_reconciliation view):\n" + header + "\n" + "-" * len(header))
    for r in rows:
        difference = "n/a" if r["difference"] is None else f"{r['difference']:.6f}"
        print(
            f"{r['day']!s:<11} {r['provider']:<10} {r['currency']:<4} {r['billed_cost']:>12.6f} "
            f"{r['estimated_cost']:>12.6f} {difference:>12}  {r['unpriced_models'] or ''}"
        )


def reconciliation_detail(settings, org: str, start: date, end: date) -> list[dict]:
    """The org's llm_cost_reconciliation_detail view over [start, end], summed per provider, tier and token type."""
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    view = f"{settings.project}.{settings.org_dataset(org)}.llm_cost_reconciliation_detail"
    sql = f"""
    SELECT provider, currency, IFNULL(service_tier, '(one line)') AS tier, token_type, ANY_VALUE(unit) AS unit,
      SUM(quantity) AS quantity, SUM(billed_cost) AS billed_cost, SUM(estimated_cost) AS estimated_cost,
      SUM(difference) AS difference, SUM(lines_unpriced) AS lines_unpriced
    FROM `{view}` WHERE day BETWEEN @start AND @end
    GROUP BY provider, currency, tier, token_type ORDER BY provider, currency, tier, token_type
    """
    return Warehouse(make_bigquery_client(settings), settings.project).query(
        sql, {"start": start, "end": end}
    )


def print_reconciliation_detail(rows: list[dict]) -> None:
    """Print billed against estimated LLM cost per provider, tier and token type over the whole range."""
    header = (
        f"{'provider':<10} {'cur':<4} {'tier':<11} {'token type':<42} {'quantity':>14} {'billed':>12} "
        f"{'estimated':>12} {'difference':>11}"
    )
    print(
        "\nper tier and token type (llm_cost_reconciliation_detail view):\n"
        + header
        + "\n"
        + "-" * len(header)
    )
    for r in rows:
        estimated = "unpriced" if r["estimated_cost"] is None else f"{r['estimated_cost']:.6f}"
        difference = "n/a" if r["difference"] is None else f"{r['difference']:.6f}"
        quantity = "" if r["quantity"] is None else f"{r['quantity']:,} {r['unit'] or ''}"
        print(
            f"{r['provider']:<10} {r['currency']:<4} {r['tier']:<11} {r['token_type'] or '':<42} {quantity:>14} "
            f"{r['billed_cost']:>12.6f} {estimated:>12} {difference:>11}"
        )
