"""load_export: reload the charge days whose billing period has a new delivery, whole, from that delivery: raw and
FOCUS rows staged through the Storage Write API, then one transaction per billing period checks the stages,
advances the load state and replaces the old rows (raw and cost_focus) of those days. Never double-counts: a
restated period's old rows vanish in the transaction that inserts the new ones.

A period's rows dated outside its month (a refund of last month's usage on this month's bill) belong to the
period, not to the window: they are loaded, and their old copies replaced, with the period's first day, whichever
slice holds it, even after the earlier month has left every run's window."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from shared.platform.errors import TransientError
from shared.platform.logs import log
from shared.providers.contract import StepContext
from shared.providers.kit.exports.model import Delivery, ExportSource, ExportSpec
from shared.providers.kit.exports.read import file_batches
from shared.providers.kit.exports.state import (
    advance_state_sql,
    days,
    days_to_load,
    outside_days,
    read_state,
)
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


def load_export(
    ctx: StepContext, warehouse: Warehouse, source: ExportSource, spec: ExportSpec, window: tuple[date, date]
) -> int:
    """Load the charge days `window` (inclusive) from the newest delivery of each billing period, where the state
    says another delivery (or none) was loaded for them, or all of them under force_refresh. Returns rows
    written (raw + FOCUS)."""
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    window_days = days(*window)
    deliveries = source.deliveries(
        *window
    )  # the source first: an unreachable one fails before any warehouse work
    state = read_state(warehouse, warehouse.table_id(dataset, spec.state_table), *window)
    specs = load_table_specs(ctx.settings.config_dir, "org")
    raw_spec, focus_spec = specs[ctx.destination_table or spec.raw_table], specs[FOCUS_TABLE]
    written = 0
    for delivery in deliveries:
        todo = days_to_load(delivery, window_days, state, ctx.force_refresh)
        log(
            "INFO",
            f"{spec.provider_name} export {delivery.billing_period:%Y-%m}: {len(todo)} of {len(window_days)} "
            f"days to (re)load from {len(delivery.files)} files",
            org_slug=ctx.org_slug,
            pipeline_logging_id=ctx.run_id,
            delivery_id=delivery.delivery_id,
        )
        if todo:
            old_outside = outside_days(delivery, todo, state)
            written += _load_delivery(
                ctx, warehouse, source, spec, delivery, todo, old_outside, (raw_spec, focus_spec)
            )
    return written


def _load_delivery(
    ctx,
    warehouse,
    source,
    spec: ExportSpec,
    delivery: Delivery,
    todo: list[date],
    old_outside: list[date],
    specs,
) -> int:
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    audit = {"x_pipeline_logging_id": ctx.run_id, "x_ingested_at": datetime.now(UTC)}
    stages = stage_table_ids(warehouse, dataset, specs)
    try:
        sent, new_outside = _stage(warehouse, source, spec, delivery, todo, specs, stages, audit)
        ctx.ensure_time_left(spec.commit_reserve_seconds, f"{sum(sent.values())} rows")
        replaced = sorted({*todo, *old_outside, *new_outside})
        _commit(warehouse, dataset, spec, specs, stages, sent, delivery, replaced, audit)
    finally:
        for stage in stages.values():
            warehouse.client.delete_table(stage, not_found_ok=True)
    return sum(sent.values())


def _stage(warehouse, source, spec, delivery, todo, specs, stages, audit) -> tuple[dict[str, int], set[date]]:
    """Stream every file of the delivery; keep the rows of the days to load (and, with the period's first day,
    its rows dated outside its month); stage raw and FOCUS rows batch by batch (nothing accumulates across
    batches but the few outside days seen). Returns the rows sent per table and those outside days."""
    raw_spec, focus_spec = specs
    raw_stage = StageWriter(warehouse, stages[raw_spec.name], raw_spec)
    focus_stage = StageWriter(warehouse, stages[focus_spec.name], focus_spec)
    wanted = pa.array(todo, pa.date32())
    period = delivery.billing_period
    with_outside, outside = period in todo, set()
    for file in delivery.files:
        lineage = {**audit, "x_delivery_id": delivery.delivery_id, "x_source_file": file.name}
        for batch in file_batches(source, file, spec):
            charge_days = spec.charge_days(batch)
            keep = pc.fill_null(pc.is_in(charge_days, value_set=wanted), False)
            if with_outside:
                month = pc.and_(
                    pc.equal(pc.year(charge_days), period.year), pc.equal(pc.month(charge_days), period.month)
                )
                elsewhere = pc.fill_null(pc.invert(month), False)
                outside.update(day for day in pc.unique(charge_days.filter(elsewhere)).to_pylist())
                keep = pc.or_(keep, elsewhere)
            batch = batch.filter(keep)
            if not batch.num_rows:
                continue
            raw = _raw_table(spec.to_raw(batch), raw_spec, delivery.billing_period, lineage)
            raw_stage.write(raw)
            focus = spec.to_focus(raw, audit)
            focus_stage.write(focus.select(focus_spec.column_names))
    return {raw_spec.name: raw_stage.rows, focus_spec.name: focus_stage.rows}, outside


def _raw_table(provider_columns: pa.Table, raw_spec: TableSpec, period: date, lineage: dict) -> pa.Table:
    """The provider's columns plus the loader's (billing period and lineage), in the raw table's order."""
    n = provider_columns.num_rows
    columns = {name: provider_columns[name] for name in provider_columns.column_names}
    columns["billing_period"] = pa.repeat(pa.scalar(period, pa.date32()), n)
    for name, value in lineage.items():
        columns[name] = pa.repeat(pa.scalar(value), n)
    return pa.table({name: columns[name] for name in raw_spec.column_names})


def _commit(
    warehouse, dataset, spec, specs, stages, sent, delivery: Delivery, todo: list[date], audit
) -> None:
    """One transaction: both stages hold the rows sent; the state advances; the days' old raw rows of this
    billing period and their FOCUS rows (this ProviderName, this period) go; the new ones come in."""
    from google.api_core import exceptions

    raw_spec, focus_spec = specs
    raw, focus = warehouse.table_id(dataset, raw_spec.name), warehouse.table_id(dataset, focus_spec.name)
    focus_where, match = slice_condition(focus_spec, {"ProviderName": spec.provider_name})
    params = {
        "billing_period": delivery.billing_period,
        "delivery_id": delivery.delivery_id,
        "days": todo,
        "slice_start": min(todo),
        "slice_end": max(todo),
        "raw_rows": sent[raw_spec.name],
        "focus_rows": sent[focus_spec.name],
        **match,
        **audit,
    }
    names = {s.name: ", ".join(f"`{name}`" for name in s.column_names) for s in specs}
    script = f"""
    BEGIN TRANSACTION;
    {stage_check_sql(stages[raw_spec.name], "raw_rows")}
    {stage_check_sql(stages[focus_spec.name], "focus_rows")}
    {advance_state_sql(warehouse.table_id(dataset, spec.state_table), stages[raw_spec.name])}
    DELETE FROM `{raw}` WHERE billing_period = @billing_period AND charge_date IN UNNEST(@days);
    DELETE FROM `{focus}` WHERE {focus_where} AND x_source_partition = @billing_period
      AND DATE(ChargePeriodStart) IN UNNEST(@days);
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
        raise TransientError(
            "WAREHOUSE_UNAVAILABLE", "Staged export rows differ from the rows sent."
        ) from exc
