"""The incremental state table (gcp_billing_load_state): read it, and the SQL that advances it with a load."""

from __future__ import annotations

from datetime import date

from shared.warehouse.adapter import Warehouse

STATE_TABLE = "gcp_billing_load_state"


def read_state(warehouse: Warehouse, dataset: str, first: date, last: date) -> dict:
    """partition → (source_table, max_export_time, row_count, min_usage_date, max_usage_date) in [first, last]."""
    rows = warehouse.query(
        f"SELECT partition_date, source_table, max_export_time, row_count, min_usage_date, max_usage_date "
        f"FROM `{warehouse.table_id(dataset, STATE_TABLE)}` WHERE partition_date BETWEEN @first AND @last",
        {"first": first, "last": last},
    )
    return {
        row["partition_date"]: (
            row["source_table"],
            row["max_export_time"],
            row["row_count"],
            row["min_usage_date"],
            row["max_usage_date"],
        )
        for row in rows
    }


def advance_state_sql(state: str, stage: str) -> str:
    """Statements (for the load's transaction) recording, per reloaded partition, what was loaded from the stage:
    max(export_time), rows and usage days, or an empty partition. The new rows go in first, then the old ones are
    deleted: `loaded_at = @x_ingested_at` (one value per load attempt) tells them apart. The emulator cannot run
    MERGE inside a transaction."""
    return f"""
    INSERT INTO `{state}` (partition_date, source_table, max_export_time, row_count, min_usage_date,
                           max_usage_date, x_pipeline_logging_id, loaded_at)
    SELECT p, @x_source_table, s.m, IFNULL(s.n, 0), s.lo, s.hi, @x_pipeline_logging_id, @x_ingested_at
    FROM UNNEST(@partitions) AS p
    LEFT JOIN (SELECT partition_date, MAX(export_time) AS m, COUNT(*) AS n, MIN(usage_date) AS lo,
                      MAX(usage_date) AS hi
               FROM `{stage}` GROUP BY partition_date) AS s ON s.partition_date = p;
    DELETE FROM `{state}` WHERE partition_date IN UNNEST(@partitions) AND loaded_at != @x_ingested_at;
    """
