"""`GET /api/v1/pipelines/runs/{run_id}/costs`: what one run of the caller's org loaded into its cost_focus, per
provider and currency (rows, charge days, billed and effective cost as exact decimal strings). An org's key sees
only its own org's runs and rows: another org's run is 404, as for GET /pipelines/runs/{run_id}."""

from __future__ import annotations

from google.api_core.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from shared.api.app import ApiDeps, json_response
from shared.platform.errors import ApiError
from shared.platform.identifiers import is_run_id
from shared.runs.run_log import RunLog
from shared.tenancy import auth

# Grouped in the warehouse, NUMERIC sums (exact); never summed across currencies. The rows a run wrote carry its
# id (x_pipeline_logging_id); a later run that replaced the same slice owns them from then on.
COSTS_SQL = """
SELECT ProviderName AS provider_name, BillingCurrency AS billing_currency, COUNT(*) AS row_count,
       COUNT(DISTINCT DATE(ChargePeriodStart)) AS charge_days,
       SUM(BilledCost) AS billed_cost, SUM(EffectiveCost) AS effective_cost
FROM `{table}`
WHERE x_pipeline_logging_id = @run_id
GROUP BY provider_name, billing_currency
ORDER BY provider_name, billing_currency
"""


def get_run_costs(request: Request, deps: ApiDeps, run_id: str) -> Response:
    """The run's rows in the org's cost_focus, per ProviderName and BillingCurrency; 404 for another org's run."""
    caller = auth.authenticate_org(deps.warehouse, deps.settings, request.headers.get("X-API-Key"))
    if not is_run_id(run_id):
        raise ApiError("RUN_NOT_FOUND", "No such run.")
    run = RunLog(deps.warehouse, deps.settings).get(caller.org_slug, run_id)
    if run is None:
        raise ApiError("RUN_NOT_FOUND", "No such run.")
    table = deps.warehouse.table_id(deps.settings.org_dataset(caller.org_slug), "cost_focus")
    try:
        rows = deps.warehouse.query(COSTS_SQL.format(table=table), {"run_id": run_id})
    except NotFound:  # an org whose cost_focus is still to be made (its next run creates it): nothing loaded
        rows = []
    return json_response(
        {
            "pipeline_logging_id": run_id,
            "status": run["status"],
            "costs": [
                {
                    "provider_name": row["provider_name"],
                    "billing_currency": row["billing_currency"],
                    "rows": row["row_count"],
                    "charge_days": row["charge_days"],
                    # Positional notation: str() of a Decimal may be "0E-9".
                    "billed_cost": format(row["billed_cost"], "f"),
                    "effective_cost": format(row["effective_cost"], "f"),
                }
                for row in rows
            ],
        }
    )
