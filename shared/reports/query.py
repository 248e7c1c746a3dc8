"""What the report reads: the org's cost_focus and LLM reconciliation (in the org's own dataset only), its budgets
(Firestore) and its runs of the period (the run history, as `GET /api/v1/pipelines/runs` reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from shared.platform.settings import Settings
from shared.reports.shaping import Month

MAX_RUNS = 500  # the newest runs of the period shown; the page says when there were more
RUNS_PAGE = 100

# One row per charge day, provider, service, model and currency: the daily chart, the top services, the top
# models and the totals are all shaped from it (money stays NUMERIC; Decimal in Python).
COSTS_SQL = """
SELECT DATE(ChargePeriodStart) AS day, ProviderName AS provider, ServiceName AS service, x_model AS model,
       BillingCurrency AS currency, SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective
FROM `{table}`
WHERE ChargePeriodStart >= TIMESTAMP(@start) AND ChargePeriodStart < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
GROUP BY day, provider, service, model, currency
"""
MONTH_SQL = """
SELECT ProviderName AS provider, BillingCurrency AS currency, SUM(BilledCost) AS billed,
       SUM(EffectiveCost) AS effective
FROM `{table}`
WHERE ChargePeriodStart >= TIMESTAMP(@start) AND ChargePeriodStart < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
GROUP BY provider, currency
"""
RECONCILIATION_SQL = """
SELECT day, provider, currency, billed_cost, estimated_cost, difference, unpriced_models
FROM `{view}` WHERE day BETWEEN @start AND @end
"""


class ReportRefused(ValueError):
    """The report cannot be made as asked (no such org, bad dates): the message says what to fix."""


@dataclass
class ReportData:
    """Everything one report shows, as read."""

    org: str
    start: date
    end: date
    costs: list[dict]
    reconciliation: list[dict] | None  # None: the org has no LLM reconciliation view (no LLM source run yet)
    month: Month
    month_costs: list[dict]
    budgets: list[dict]
    budgets_skipped: list[str] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    runs_truncated: bool = False


def read_report(settings: Settings, org: str, start: date, end: date) -> ReportData:
    """Read the org's report data for charge days [start, end]."""
    from google.api_core.exceptions import NotFound

    from shared.platform.clients import make_bigquery_client
    from shared.pricing.reconciliation import VIEW
    from shared.reports.budgets import read_budgets
    from shared.runs.control import control_db
    from shared.warehouse.adapter import Warehouse

    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    dataset = f"{settings.project}.{settings.org_dataset(org)}"
    try:
        tables = {table.table_id for table in warehouse.client.list_tables(dataset)}
    except NotFound:
        raise ReportRefused(
            f"org {org!r} has no dataset {dataset}: is it onboarded (dps org create)?"
        ) from None
    if "cost_focus" not in tables:
        raise ReportRefused(
            f"org {org!r} has no cost_focus table in {dataset}: onboard it again (dps bootstrap)"
        )
    table = f"{dataset}.cost_focus"
    costs = warehouse.query(COSTS_SQL.format(table=table), {"start": start, "end": end})
    reconciliation = None
    if VIEW in tables:
        view = f"{dataset}.{VIEW}"
        reconciliation = warehouse.query(RECONCILIATION_SQL.format(view=view), {"start": start, "end": end})
    month = Month.of(end)
    budgets, skipped = read_budgets(control_db(settings), org)
    month_costs = (
        warehouse.query(MONTH_SQL.format(table=table), {"start": month.start, "end": month.as_of})
        if budgets
        else []
    )
    runs, truncated = read_runs(warehouse, settings, org, start, end)
    return ReportData(
        org, start, end, costs, reconciliation, month, month_costs, budgets, skipped, runs, truncated
    )


def read_runs(warehouse, settings: Settings, org: str, start: date, end: date) -> tuple[list[dict], bool]:
    """The org's runs whose dates overlap [start, end], newest first (at most MAX_RUNS; True if there were more)."""
    from shared.runs.run_log import RunLog

    run_log, runs, after = RunLog(warehouse, settings), [], None
    while len(runs) < MAX_RUNS:
        page = run_log.list_for_org(org, RUNS_PAGE, start=start, end=end, after=after)
        runs += page
        if len(page) < RUNS_PAGE:
            return runs, False
        after = (page[-1]["created_at"], page[-1]["pipeline_logging_id"])
    return runs[:MAX_RUNS], True
