"""The demo's closing tables: cost_focus per day, provider and currency; then LLM estimated vs billed cost."""

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


def print_focus_table(rows: list[dict]) -> None:
    """Print the table, then totals per provider and currency (amounts in different currencies never add)."""
    header = (
        f"{'day':<11} {'provider':<13} {'cur':<4} {'BilledCost':>14} {'EffectiveCost':>14} "
        f"{'ListCost':>14} {'rows':>6}"
    )
    print("\ncost_focus (FOCUS 1.2), per charge day:\n" + header + "\n" + "-" * len(header))
    totals: dict[tuple, list] = {}
    for r in rows:
        print(
            f"{r['day']!s:<11} {r['ProviderName']:<13} {r['BillingCurrency']:<4} {r['billed']:>14.2f} "
            f"{r['effective']:>14.2f} {r['list']:>14.2f} {r['n']:>6}"
        )
        total = totals.setdefault((r["ProviderName"], r["BillingCurrency"]), [0, 0, 0, 0])
        for index, key in enumerate(("billed", "effective", "list", "n")):
            total[index] += r[key]
    print("-" * len(header))
    for (provider, currency), (billed, effective, listed, n) in sorted(totals.items()):
        print(
            f"{'total':<11} {provider:<13} {currency:<4} {billed:>14.2f} {effective:>14.2f} {listed:>14.2f} {n:>6}"
        )


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
