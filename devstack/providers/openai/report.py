"""The demo's OpenAI table: per day, model and tier, tokens (usage table) and billed cost (costs table)."""

from __future__ import annotations

from datetime import date


def cost_table(settings, org: str, start: date, end: date) -> list[dict]:
    """Per day, model and tier: tokens from the usage table and billed cost from the costs table's line items."""
    from shared.platform.clients import make_bigquery_client
    from shared.providers.openai.estimate import SERVICE_TIER_SQL
    from shared.providers.openai.line_items import bill_lines_sql
    from shared.warehouse.adapter import Warehouse

    dataset = f"{settings.project}.{settings.org_dataset(org)}"
    sql = f"""
    WITH usage AS (
      SELECT usage_date AS day, model, {SERVICE_TIER_SQL} AS tier, SUM(input_tokens) AS input_tokens,
             SUM(input_cached_tokens) AS cached_tokens, SUM(output_tokens) AS output_tokens
      FROM `{dataset}.openai_usage_daily` AS u WHERE usage_date BETWEEN @start AND @end GROUP BY 1, 2, 3),
    costs AS (
      SELECT cost_date AS day, model, bill_tier AS tier, SUM(amount) AS cost
      FROM ({bill_lines_sql(dataset)}) GROUP BY 1, 2, 3)
    SELECT COALESCE(u.day, c.day) AS day, COALESCE(u.model, c.model) AS model, COALESCE(u.tier, c.tier) AS tier,
           u.input_tokens, u.cached_tokens, u.output_tokens, c.cost
    FROM usage u FULL OUTER JOIN costs c
      ON u.day = c.day AND IFNULL(u.model, '') = IFNULL(c.model, '') AND u.tier = c.tier
    ORDER BY day, model, tier
    """
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    params = {"start": start, "end": end, "slice_start": start, "slice_end": end}
    return warehouse.query(sql, params)


def print_cost_table(rows: list[dict]) -> None:
    """Print the per-day, per-model, per-tier table with a total."""
    header = f"{'day':<11} {'model':<28} {'tier':<9} {'input tok':>11} {'cached':>10} {'output tok':>11} {'cost USD':>14}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(
            f"{r['day']!s:<11} {r['model'] or '(none)':<28} {r['tier'] or '-':<9} {r['input_tokens'] or 0:>11,} "
            f"{r['cached_tokens'] or 0:>10,} {r['output_tokens'] or 0:>11,} {r['cost'] or 0:>14.6f}"
        )
    total = sum((r["cost"] or 0) for r in rows)
    print("-" * len(header) + f"\n{'total':<86}{total:>14.6f}")
