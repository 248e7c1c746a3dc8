"""The demo's OpenAI table: per day and model, tokens (usage table) and billed cost (costs table)."""

from __future__ import annotations

from datetime import date


def cost_table(settings, org: str, start: date, end: date) -> list[dict]:
    """Per day and model: tokens from the usage table and billed cost from the costs table."""
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    dataset = f"{settings.project}.{settings.org_dataset(org)}"
    sql = f"""
    WITH usage AS (
      SELECT usage_date AS day, model, SUM(input_tokens) AS input_tokens,
             SUM(input_cached_tokens) AS cached_tokens, SUM(output_tokens) AS output_tokens
      FROM `{dataset}.openai_usage_daily` WHERE usage_date BETWEEN @start AND @end GROUP BY 1, 2),
    costs AS (
      SELECT cost_date AS day, SPLIT(line_item, ', ')[SAFE_OFFSET(0)] AS model, SUM(amount) AS cost
      FROM `{dataset}.openai_costs_daily` WHERE cost_date BETWEEN @start AND @end GROUP BY 1, 2)
    SELECT COALESCE(u.day, c.day) AS day, COALESCE(u.model, c.model) AS model, u.input_tokens, u.cached_tokens,
           u.output_tokens, c.cost
    FROM usage u FULL OUTER JOIN costs c ON u.day = c.day AND u.model = c.model
    ORDER BY day, model
    """
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    params = {"start": start, "end": end}
    return warehouse.query(sql, params)


def print_cost_table(rows: list[dict]) -> None:
    """Print the per-day, per-model table with a total."""
    header = f"{'day':<11} {'model':<28} {'input tok':>11} {'cached':>10} {'output tok':>11} {'cost USD':>14}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(
            f"{r['day']!s:<11} {r['model'] or '(none)':<28} {r['input_tokens'] or 0:>11,} "
            f"{r['cached_tokens'] or 0:>10,} {r['output_tokens'] or 0:>11,} {r['cost'] or 0:>14.6f}"
        )
    total = sum((r["cost"] or 0) for r in rows)
    print("-" * len(header) + f"\n{'total':<76}{total:>14.6f}")
