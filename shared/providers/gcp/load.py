"""Step `gcp.billing_export`: reload the export partitions that changed, into gcp_billing_daily and cost_focus."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.platform.errors import TransientError
from shared.platform.logs import log
from shared.providers.contract import StepContext
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.focus import focus_rows
from shared.providers.gcp.incremental import changed_partitions, load_window, partition_groups
from shared.providers.gcp.source import access_mode, open_source, partition_stats, read_rows
from shared.providers.gcp.state import STATE_TABLE, advance_state_sql, read_state
from shared.providers.gcp.transform import raw_rows, source_schema
from shared.providers.kit.focus import FOCUS_TABLE
from shared.warehouse.adapter import Warehouse, slice_condition
from shared.warehouse.schemas import TableSpec, load_table_specs
from shared.warehouse.write_api import (
    StageWriter,
    is_stage_mismatch,
    stage_check_sql,
    stage_select,
    stage_table_ids,
)

RAW_TABLE = "gcp_billing_daily"


def load_billing_export(ctx: StepContext, warehouse: Warehouse) -> int:
    """Reload exactly the export partitions whose max(export_time) or row count changed since the last load, with
    their FOCUS rows and the new state, in one transaction. Returns the rows written (raw + FOCUS)."""
    if access_mode(ctx.credential.metadata) == gcp.GRANTED:
        from shared.providers.gcp.granted import load_granted

        return load_granted(ctx, warehouse)
    source = open_source(ctx)
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    first, last = (
        (ctx.start_date, ctx.end_date) if ctx.exact_window else load_window(ctx.start_date, ctx.end_date)
    )
    stats = partition_stats(source, first, last)
    state = read_state(warehouse, dataset, first, last)
    loaded = {partition: row[:3] for partition, row in state.items()}
    changed = changed_partitions(stats, loaded, source.table.id, ctx.force_refresh)
    message = f"gcp billing: {len(changed)} of {len(stats)} export partitions in {first}..{last} to (re)load"
    log(
        "INFO",
        message,
        org_slug=ctx.org_slug,
        pipeline_logging_id=ctx.run_id,
        partitions=[str(p) for p in changed],
    )
    if not changed:
        return 0
    specs = load_table_specs(ctx.settings.config_dir, "org")
    raw_spec, focus_spec = specs[ctx.destination_table or RAW_TABLE], specs[FOCUS_TABLE]
    audit = {
        "x_source_table": source.table.id,
        "x_pipeline_logging_id": ctx.run_id,
        "x_ingested_at": datetime.now(UTC),
    }
    stages = stage_table_ids(warehouse, dataset, (raw_spec, focus_spec))
    try:
        groups = partition_groups(changed, stats, gcp.READ_CHUNK_ROWS)
        sent = _stage(ctx, warehouse, source, groups, audit, raw_spec, focus_spec, stages)
        rows = sum(sent.values())
        ctx.ensure_time_left(gcp.COMMIT_RESERVE_SECONDS, f"{rows} rows")
        old_days = old_usage_days(state, changed)
        _commit(warehouse, dataset, (raw_spec, focus_spec), stages, sent, changed, old_days, audit)
    finally:
        for stage in stages.values():
            warehouse.client.delete_table(stage, not_found_ok=True)
    return rows


def _stage(ctx, warehouse, source, groups, audit, raw_spec, focus_spec, stages) -> dict[str, int]:
    """Read the changed partitions (a query per group) as Arrow, transform (raw, then FOCUS), stage both through
    the Storage Write API; returns the rows sent per table."""
    import pyarrow as pa

    schema = source_schema(ctx.settings.config_dir)
    raw_stage = StageWriter(warehouse, stages[raw_spec.name], raw_spec)
    focus_stage = StageWriter(warehouse, stages[focus_spec.name], focus_spec)
    for group in groups:
        # One table per group: the transform's fixed costs are paid per group, not per (small) batch.
        batches = [batch for batch in read_rows(source, group) if batch.num_rows]
        if not batches:
            continue
        raw = raw_rows(pa.Table.from_batches(batches).cast(schema), audit)
        raw_stage.write(raw)
        focus_stage.write(focus_rows(raw, ctx.settings.config_dir, ctx.run_id, audit["x_ingested_at"]))
    return {raw_spec.name: raw_stage.rows, focus_spec.name: focus_stage.rows}


def old_usage_days(state: dict, changed: list[date]) -> tuple[date, date] | None:
    """The usage days the changed partitions' rows covered (state is written with them), to prune the deletes."""
    days = [day for p in changed if p in state for day in state[p][3:5] if day is not None]
    return (min(days), max(days)) if days else None


def _commit(
    warehouse: Warehouse,
    dataset: str,
    specs: tuple[TableSpec, TableSpec],
    stages: dict,
    sent: dict[str, int],
    changed: list[date],
    old_days: tuple[date, date] | None,
    audit: dict,
) -> None:
    """One transaction: both stages checked to hold the rows sent (the default stream is at least once); state
    advanced; the changed partitions' old raw and FOCUS rows deleted; the new inserted."""
    from google.api_core import exceptions

    raw_spec, focus_spec = specs
    params = {
        "partitions": changed,
        "raw_rows": sent[raw_spec.name],
        "focus_rows": sent[focus_spec.name],
        **audit,
    }
    deletes, match = delete_sql(warehouse, dataset, raw_spec.name, focus_spec, old_days)
    params.update(match)
    raw, focus = warehouse.table_id(dataset, raw_spec.name), warehouse.table_id(dataset, focus_spec.name)
    names = {spec.name: ", ".join(f"`{name}`" for name in spec.column_names) for spec in specs}
    script = f"""
    BEGIN TRANSACTION;
    {stage_check_sql(stages[raw_spec.name], "raw_rows")}
    {stage_check_sql(stages[focus_spec.name], "focus_rows")}
    {advance_state_sql(warehouse.table_id(dataset, STATE_TABLE), stages[raw_spec.name])}
    {deletes}
    INSERT INTO `{raw}` ({names[raw_spec.name]}) SELECT {stage_select(raw_spec.columns)} FROM `{stages[raw_spec.name]}`;
    INSERT INTO `{focus}` ({names[focus_spec.name]})
      SELECT {stage_select(focus_spec.columns)} FROM `{stages[focus_spec.name]}`;
    COMMIT TRANSACTION;
    """
    try:
        warehouse.execute(script, params)
    except exceptions.BadRequest as exc:
        if not is_stage_mismatch(exc):
            raise
        # Rows lost or doubled on the way in: nothing was committed; the step reads and stages them again.
        raise TransientError("WAREHOUSE_UNAVAILABLE", "Staged GCP rows differ from the rows sent.") from exc


def delete_sql(
    warehouse: Warehouse,
    dataset: str,
    raw_table: str,
    focus_spec: TableSpec,
    old_days: tuple[date, date] | None,
) -> tuple[str, dict]:
    """Statements deleting the reloaded partitions' old raw and FOCUS rows (`@partitions`), and their parameters;
    none when the partitions never had rows (no state for them)."""
    if not old_days:
        return "", {}
    raw, focus = warehouse.table_id(dataset, raw_table), warehouse.table_id(dataset, focus_spec.name)
    # GCP's slice of cost_focus: its rows (ProviderName) from these partitions, bounded by day for pruning.
    focus_where, match = slice_condition(focus_spec, {"ProviderName": gcp.PROVIDER_NAME})
    sql = f"""
    DELETE FROM `{raw}` WHERE partition_date IN UNNEST(@partitions) AND usage_date BETWEEN @slice_start AND @slice_end;
    DELETE FROM `{focus}` WHERE {focus_where} AND x_source_partition IN UNNEST(@partitions);
    """
    return sql, {**match, "slice_start": old_days[0], "slice_end": old_days[1]}
