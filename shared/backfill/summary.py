"""A backfill's summary: days loaded, rows written, cost by provider and currency (exact Decimals from the runs'
cost_focus rows, never summed across currencies) and failures with their reasons; as text or one JSON object."""

from __future__ import annotations

from decimal import Decimal

from shared.backfill.plan import BackfillState


def cost_by_provider(costs: list[list[dict]]) -> list[dict]:
    """The runs' cost lines (GET .../runs/{id}/costs) added up per (provider, currency), exactly."""
    totals: dict[tuple[str, str], dict] = {}
    for run_costs in costs:
        for line in run_costs:
            key = (line["provider_name"], line["billing_currency"])
            total = totals.setdefault(key, {"rows": 0, "billed": Decimal(0), "effective": Decimal(0)})
            total["rows"] += line["rows"]
            total["billed"] += Decimal(line["billed_cost"])
            total["effective"] += Decimal(line["effective_cost"])
    return [
        {
            "provider_name": provider,
            "billing_currency": currency,
            "rows": total["rows"],
            # Exact decimal strings in positional notation (str() of a zero sum may be "0E-9").
            "billed_cost": format(total["billed"], "f"),
            "effective_cost": format(total["effective"], "f"),
        }
        for (provider, currency), total in sorted(totals.items())
    ]


def summarize(
    state: BackfillState, costs: list[list[dict]], outcome: str, stopped: dict | None = None
) -> dict:
    """The summary of `state` as it stands; `outcome` COMPLETED, FAILED (some request failed for good),
    INTERRUPTED or STOPPED (`stopped`: the API's {"code", "message"})."""
    completed = [r for r in state.requests if r.status == "COMPLETED"]
    return {
        "outcome": outcome,
        "org": state.org,
        "pipeline": state.pipeline,
        "from": state.first,
        "to": state.last,
        "requests": len(state.requests),
        "requests_completed": len(completed),
        "runs_submitted": sum(len(r.run_ids) for r in state.requests),
        "days_requested": sum(r.days for r in state.requests),
        "days_loaded": sum(r.days for r in completed),
        "rows_written": sum(r.rows or 0 for r in completed),
        "cost_by_provider": cost_by_provider(costs),
        "failures": [
            {"start_date": r.start_date, "end_date": r.end_date, "run_ids": r.run_ids, "reason": r.error}
            for r in state.requests
            if r.failed_for_good()
        ],
        "runs": [
            {
                "start_date": r.start_date,
                "end_date": r.end_date,
                "run_id": r.run_id,
                "status": r.status,
                "rows_written": r.rows,
            }
            for r in state.requests
        ],
        "stopped": stopped,
    }


def as_text(summary: dict) -> str:
    """The summary for a person."""
    lines = [
        f"backfill {summary['org']} {summary['pipeline']} {summary['from']}..{summary['to']}: "
        f"{summary['outcome']}"
        + (f" ({summary['stopped']['code']}: {summary['stopped']['message']})" if summary["stopped"] else ""),
        (
            f"  requests {summary['requests']}: {summary['requests_completed']} COMPLETED, "
            f"{len(summary['failures'])} failed; runs submitted {summary['runs_submitted']}"
        ),
        (
            f"  days loaded {summary['days_loaded']} of {summary['days_requested']}; "
            f"rows written {summary['rows_written']}"
        ),
    ]
    if summary["cost_by_provider"]:
        lines.append("  cost by provider (the runs' rows in cost_focus):")
        lines += [
            f"    {c['provider_name']:<16} {c['billing_currency']}  billed {c['billed_cost']:>16}  "
            f"effective {c['effective_cost']:>16}  ({c['rows']} rows)"
            for c in summary["cost_by_provider"]
        ]
    if summary["failures"]:
        lines.append("  failures:")
        lines += [
            f"    {f['start_date']}..{f['end_date']} (runs {', '.join(f['run_ids'])}): {f['reason']}"
            for f in summary["failures"]
        ]
    return "\n".join(lines)
