"""Azure's step type (`ps_type` in configs/pipelines/azure/): the export load through the shared export loader."""

from __future__ import annotations

from shared.providers.azure import constants as az
from shared.providers.azure.focus import focus_rows
from shared.providers.azure.source import AzureExportSource
from shared.providers.azure.transform import charge_days, csv_types, to_raw
from shared.providers.azure.window import load_window
from shared.providers.contract import Processor, StepContext
from shared.providers.kit.exports import ExportSpec, load_export


def export_spec(config_dir) -> ExportSpec:
    """How the Azure export is loaded (tables, ProviderName, transforms bound to the configs)."""

    def raw(batch):
        return to_raw(batch, config_dir)

    def focus(raw_rows, audit):
        return focus_rows(raw_rows, audit, config_dir)

    return ExportSpec(
        raw_table=az.RAW_TABLE,
        state_table=az.STATE_TABLE,
        provider_name=az.PROVIDER_NAME,
        charge_days=charge_days,
        to_raw=raw,
        to_focus=focus,
        csv_types=csv_types(config_dir),
        commit_reserve_seconds=az.COMMIT_RESERVE_SECONDS,
    )


def load_cost_export(ctx: StepContext, warehouse) -> int:
    """Reload the charge days whose billing month has a newer complete export run. Returns rows written."""
    window = (ctx.start_date, ctx.end_date) if ctx.exact_window else load_window(ctx.start_date, ctx.end_date)
    source = AzureExportSource(ctx)
    source.deliveries(*window)  # the source first: its faults are the run's error, not a missing dataset's
    return load_export(ctx, warehouse, source, export_spec(ctx.settings.config_dir), window)


PROCESSORS: dict[str, Processor] = {"azure.cost_export": Processor(run=load_cost_export)}
