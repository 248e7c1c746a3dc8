"""`dps azure-export`: write a synthetic Cost Management FOCUS export run into the local Azurite."""

from __future__ import annotations

from shared.cli.common import emit, load_cli_settings
from shared.platform.settings import SettingsError


def cmd_azure_export(args) -> int:
    from datetime import date

    from devstack.providers.azure.export import bulk_batches, rows_table, sample_rows
    from devstack.providers.azure.layout import ExportLocation, local_container, write_run

    settings = load_cli_settings()
    endpoint = settings.storage_endpoint("azure")
    if not endpoint:
        raise SettingsError("dps azure-export writes into the local Azurite only (run `make up`)")
    month = date.fromisoformat(f"{args.month}-01")
    location = ExportLocation(args.storage_account, args.container, args.directory, args.export_name)
    batches = bulk_batches(month, args.days, args.rows_per_day, args.seed, args.version)
    if args.with_samples:
        batches = [*rows_table(sample_rows(month), args.version).to_batches(), *batches]
    manifest = write_run(
        local_container(endpoint, args.container),
        location,
        month,
        [batches],
        run_id=args.run_id,
        submitted=args.submitted,
        overwrite=args.mode == "overwrite",
        file_format=args.format,
        version=args.version,
    )
    rows = manifest["dataRowCount"]
    emit(args, manifest, f"{rows:,} rows written as run {args.run_id} of {args.export_name} ({args.month})")
    return 0


def add_commands(sub) -> None:
    """Register `dps azure-export`."""
    export = sub.add_parser(
        "azure-export", help="write a synthetic Azure cost export run into the local Azurite"
    )
    export.add_argument("--month", required=True, help="billing month, YYYY-MM")
    export.add_argument("--days", type=int, default=7, help="days from the month's first")
    export.add_argument("--rows-per-day", type=int, default=1000)
    export.add_argument("--seed", type=int, default=7)
    export.add_argument("--storage-account", default="acmecostexports")
    export.add_argument("--container", default="cost-exports")
    export.add_argument("--directory", default="exports/focus")
    export.add_argument("--export-name", default="acme-focus-daily")
    export.add_argument("--format", choices=("csv.gz", "csv", "parquet"), default="csv.gz")
    export.add_argument("--version", choices=("1.0", "1.2-preview"), default="1.0")
    export.add_argument("--mode", choices=("overwrite", "new-run"), default="overwrite",
                        help="OverwritePreviousReport (same folder) or CreateNewReport (a folder per run)")  # fmt: skip
    export.add_argument("--run-id", default="00000000-0000-4000-8000-000000000001")
    export.add_argument("--submitted", default="2025-11-04T06:00:00.0000000Z", help="runInfo.submittedTime")
    export.add_argument(
        "--with-samples", action="store_true", help="add commitments, credit, refund, tax, EUR"
    )
    export.set_defaults(func=cmd_azure_export)
