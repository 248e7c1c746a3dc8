"""`dps gcp-export`: write a synthetic GCP billing export into the local BigQuery."""

from __future__ import annotations

from shared.cli.common import emit, load_cli_settings
from shared.platform.settings import SettingsError


def cmd_gcp_export(args) -> int:
    from datetime import date

    from devstack.providers.gcp.export import ExportSpec, generate_export, write_export
    from shared.platform.clients import make_bigquery_client
    from shared.platform.errors import TerminalError
    from shared.providers.gcp.source import parse_export_table
    from shared.tenancy.onboarding import AdminError

    settings = load_cli_settings()
    if not settings.bigquery_api_endpoint:
        raise SettingsError(
            "dps gcp-export writes synthetic data into the local BigQuery only (run `make up`)"
        )
    try:
        table = parse_export_table(args.table)
    except TerminalError as error:
        raise AdminError(error.message) from None
    client = make_bigquery_client(settings)
    client.create_dataset(f"{table.project}.{table.dataset}", exists_ok=True)
    spec = ExportSpec(
        start=date.fromisoformat(args.start),
        days=args.days,
        rows_per_day=args.rows_per_day,
        seed=args.seed,
        detailed=table.detailed,
    )
    rows = write_export(client, table.id, generate_export(spec), replace=args.replace)
    emit(args, {"table": table.id, "rows": rows}, f"{rows:,} synthetic export rows written to {table.id}")
    return 0


def add_commands(sub) -> None:
    """Register `dps gcp-export`."""
    export = sub.add_parser("gcp-export", help="write a synthetic GCP billing export into the local BigQuery")
    export.add_argument("table", help="project.dataset.gcp_billing_export_[resource_]v1_XXXXXX_XXXXXX_XXXXXX")
    export.add_argument("--start", required=True, help="first usage day, YYYY-MM-DD")
    export.add_argument("--days", type=int, default=7)
    export.add_argument("--rows-per-day", type=int, default=400)
    export.add_argument("--seed", type=int, default=7)
    export.add_argument(
        "--replace", action="store_true", help="replace the table's rows instead of appending"
    )
    export.set_defaults(func=cmd_gcp_export)
