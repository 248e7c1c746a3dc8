"""The control plane leaves the central tables append-only: a whole run (request to COMPLETED) runs no UPDATE,
DELETE, MERGE, DML INSERT or transaction on the central dataset, as the BigQuery stand-in's job list shows."""

import re
from datetime import UTC, datetime

from tests.kit.runs import quota_row, start_run, status_changes, wait_for_run

# A statement that changes a table, or opens a transaction (BigQuery locks every table a transaction mutates).
MUTATION = re.compile(r"\b(UPDATE|DELETE|MERGE|INSERT|TRUNCATE|BEGIN\s+TRANSACTION)\b", re.IGNORECASE)


def _jobs_since(warehouse, since: datetime) -> list[str]:
    """The SQL of every query job BigQuery ran since `since` (any user)."""
    jobs = warehouse.client.list_jobs(min_creation_time=since, all_users=True)
    return [job.query for job in jobs if getattr(job, "query", None)]


def _mutations_of(sql: list[str], dataset: str) -> list[str]:
    return [statement for statement in sql if MUTATION.search(statement) and f".{dataset}." in statement]


def test_a_whole_run_mutates_no_central_table(stack, settings, warehouse, new_org):
    org = new_org()  # onboarding (the onboarding service's job) writes central tables: before the window
    began = datetime.now(UTC)
    run = wait_for_run(
        stack, org, start_run(stack, org, {"start_date": "2025-11-03", "end_date": "2025-11-04"})
    )
    assert run["status"] == "COMPLETED", run
    sql = _jobs_since(warehouse, began)
    # The recorder sees the run's work: the org's slices were replaced in its own dataset (one transaction each).
    assert _mutations_of(sql, settings.org_dataset(org["org_slug"])), sql
    assert _mutations_of(sql, settings.central_dataset) == []
    assert quota_row(warehouse, settings, org["org_slug"])["running"] == 0
    # The history was appended without DML: the run's versions and status changes are there.
    history = warehouse.query(
        f"SELECT status, version FROM `{settings.project}.{settings.central_dataset}.org_meta_pipeline_runs` "
        "WHERE pipeline_logging_id = @id ORDER BY version",
        {"id": run["pipeline_logging_id"]},
    )
    # The request path appends nothing: the run's "requested" change waits in its document and goes with the claim.
    assert [(row["status"], row["version"]) for row in history] == [("RUNNING", 2), ("COMPLETED", 3)]
    changes = status_changes(warehouse, settings, run["pipeline_logging_id"])
    assert [(c["from_status"], c["to_status"]) for c in changes] == [
        (None, "PENDING"),
        ("PENDING", "RUNNING"),
        ("RUNNING", "COMPLETED"),
    ]
