"""AWS's step types (`ps_type` in configs/pipelines/aws/): `aws.data_export` loads the export through the shared
export loader."""

from __future__ import annotations

from shared.providers.aws import constants as aws
from shared.providers.aws import transform
from shared.providers.aws.s3 import s3_client
from shared.providers.aws.source import S3Export
from shared.providers.aws.transform import focus_transform
from shared.providers.contract import Processor, StepContext
from shared.providers.kit.exports import ExportSpec, export_load_window, load_export


def export_spec(config_dir) -> ExportSpec:
    """How the AWS export is loaded (its raw table, state, ProviderName and transforms)."""
    return ExportSpec(
        raw_table=aws.RAW_TABLE,
        state_table=aws.STATE_TABLE,
        provider_name=aws.PROVIDER_NAME,
        charge_days=transform.charge_days,
        to_raw=transform.to_raw,
        to_focus=focus_transform(config_dir=config_dir),
        csv_types=transform.CSV_TYPES,
    )


def load_data_export(ctx: StepContext, warehouse, token_fetcher=None) -> int:
    """Load the run's charge days (whole billing periods unless the run is a slice) from the org's export."""
    metadata = ctx.credential.metadata
    session = f"{aws.SESSION_NAME_PREFIX}{ctx.org_slug}-{ctx.run_id}"
    client = ctx.source_clients or s3_client(
        metadata, ctx.settings, ctx.request_timeout, session, token_fetcher
    )
    window = (
        (ctx.start_date, ctx.end_date)
        if ctx.exact_window
        else export_load_window(ctx.start_date, ctx.end_date)
    )
    return load_export(
        ctx, warehouse, S3Export(client, metadata), export_spec(ctx.settings.config_dir), window
    )


PROCESSORS: dict[str, Processor] = {
    "aws.data_export": Processor(run=load_data_export),
}
