"""Granted mode of `gcp.billing_export`: the org granted the gcp function's own service account read access to its
export, so nothing secret is stored and the transform runs inside BigQuery (focus_sql.py): one script job reads the
changed partitions and replaces their rows, state included, in one transaction. No export row passes through the
function: it sends SQL and reads back counts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from shared.platform.errors import TerminalError
from shared.platform.logs import log
from shared.providers.contract import StepContext
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.focus_sql import (
    focus_rows_select,
    focus_select,
    lookup_params,
    pools_select,
    raw_select,
)
from shared.providers.gcp.incremental import changed_partitions, load_window
from shared.providers.gcp.load import RAW_TABLE, delete_sql, old_usage_days
from shared.providers.gcp.source import (
    ExportTable,
    Source,
    check_export_scope,
    grant_message,
    parse_export_table,
    partition_stats,
    source_errors,
)
from shared.providers.gcp.sql import partition_filter
from shared.providers.gcp.state import STATE_TABLE, advance_state_sql, read_state
from shared.providers.kit.focus import FOCUS_TABLE
from shared.warehouse.adapter import Warehouse
from shared.warehouse.schemas import load_table_specs


@contextlib.contextmanager
def granted_errors(table: ExportTable, settings) -> Iterator[None]:
    """source_errors, with a refusal saying exactly which grant the org must make."""
    try:
        with source_errors():
            yield
    except TerminalError as error:
        if error.code != "PROVIDER_PERMISSION_DENIED":
            raise
        raise TerminalError("PROVIDER_PERMISSION_DENIED", grant_message(table, settings)) from error


def load_granted(ctx: StepContext, warehouse: Warehouse) -> int:
    """Reload the export partitions whose max(export_time) or row count changed, transformed by BigQuery into
    gcp_billing_daily and cost_focus, with the new load state, in one job. Returns the rows written."""
    table = parse_export_table(ctx.credential.metadata.get(gcp.METADATA_KEY))
    check_export_scope(table, ctx.org_slug, ctx.settings)
    # The pipeline's own identity reads the export (the warehouse's client: jobs run in the service's project).
    source = Source(warehouse.client, None, table)
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    first, last = (
        (ctx.start_date, ctx.end_date) if ctx.exact_window else load_window(ctx.start_date, ctx.end_date)
    )
    with granted_errors(table, ctx.settings):
        stats = partition_stats(source, first, last)
    state = read_state(warehouse, dataset, first, last)
    loaded = {partition: row[:3] for partition, row in state.items()}
    changed = changed_partitions(stats, loaded, table.id, ctx.force_refresh)
    log(
        "INFO",
        f"gcp billing (granted): {len(changed)} of {len(stats)} export partitions in {first}..{last} to (re)load",
        org_slug=ctx.org_slug,
        pipeline_logging_id=ctx.run_id,
        partitions=[str(p) for p in changed],
    )
    if not changed:
        return 0
    specs = load_table_specs(ctx.settings.config_dir, "org")
    raw_spec, focus_spec = specs[ctx.destination_table or RAW_TABLE], specs[FOCUS_TABLE]
    where, params = partition_filter(changed)
    with granted_errors(table, ctx.settings):
        present = {field.name for field in warehouse.client.get_table(table.id).schema}
        units = export_units(warehouse, table, where, params)
    deletes, match = delete_sql(warehouse, dataset, raw_spec.name, focus_spec, old_usage_days(state, changed))
    params.update(
        lookup_params(ctx.settings.config_dir, units),
        **match,
        partitions=changed,
        x_source_table=table.id,
        x_pipeline_logging_id=ctx.run_id,
        x_ingested_at=datetime.now(UTC),
    )
    ctx.ensure_time_left(gcp.COMMIT_RESERVE_SECONDS, f"{len(changed)} partitions")
    with granted_errors(table, ctx.settings):
        counts = warehouse.query(
            load_script(warehouse, dataset, table, present, where, deletes, (raw_spec, focus_spec)),
            params,
            maximum_bytes_billed=gcp.MAX_BYTES_BILLED,
        )[0]
    return counts["raw_rows"] + counts["focus_rows"]


def export_units(warehouse: Warehouse, table: ExportTable, where: str, params: dict) -> list[str]:
    """The distinct usage and pricing units of the partitions to load (a few dozen names): their FOCUS units are
    computed here, by units.focus_unit, and passed to the transform as parameters."""
    rows = warehouse.query(
        f"SELECT DISTINCT unit FROM (SELECT usage.unit AS unit FROM `{table.id}` WHERE {where} "
        f"UNION ALL SELECT usage.pricing_unit FROM `{table.id}` WHERE {where}) WHERE unit IS NOT NULL",
        params,
        maximum_bytes_billed=gcp.MAX_BYTES_BILLED,
    )
    return sorted(row["unit"] for row in rows)


def load_script(warehouse, dataset, table, present, where, deletes, specs) -> str:
    """The one job of a granted load: transform into temporary tables, then in one transaction advance the state,
    delete the partitions' old rows and insert the new; its last statement counts the rows written."""
    raw_spec, focus_spec = specs
    raw, focus = warehouse.table_id(dataset, raw_spec.name), warehouse.table_id(dataset, focus_spec.name)
    names = {spec.name: ", ".join(f"`{name}`" for name in spec.column_names) for spec in specs}
    return f"""
    CREATE TEMP TABLE granted_raw AS {raw_select(table.id, present, where)};
    CREATE TEMP TABLE granted_rows AS {focus_rows_select("granted_raw")};
    CREATE TEMP TABLE granted_pools AS {pools_select("granted_rows")};
    CREATE TEMP TABLE granted_focus AS {focus_select("granted_rows", "granted_pools", focus_spec.column_names)};
    BEGIN TRANSACTION;
    {advance_state_sql(warehouse.table_id(dataset, STATE_TABLE), "granted_raw")}
    {deletes}
    INSERT INTO `{raw}` ({names[raw_spec.name]}) SELECT {names[raw_spec.name]} FROM granted_raw;
    INSERT INTO `{focus}` ({names[focus_spec.name]}) SELECT {names[focus_spec.name]} FROM granted_focus;
    COMMIT TRANSACTION;
    SELECT (SELECT COUNT(*) FROM granted_raw) AS raw_rows, (SELECT COUNT(*) FROM granted_focus) AS focus_rows;
    """
