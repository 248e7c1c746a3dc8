"""`dps aws-export`: write a synthetic AWS Data Exports delivery (files + manifest) into the local S3."""

from __future__ import annotations

from shared.cli.common import emit, load_cli_settings
from shared.platform.settings import SettingsError


def cmd_aws_export(args) -> int:
    from datetime import date, timedelta

    from devstack.providers.aws.demo import local_s3_client
    from devstack.providers.aws.export import write_month
    from shared.providers.aws.credential import check_bucket
    from shared.providers.contract import CredentialRejected
    from shared.providers.kit.exports.periods import next_month
    from shared.tenancy.onboarding import AdminError

    settings = load_cli_settings()
    if not settings.storage_endpoint("aws"):
        raise SettingsError("dps aws-export writes into the local S3 only (run `make up`)")
    try:
        check_bucket(args.bucket)
    except CredentialRejected as error:
        raise AdminError(error.message) from None
    period = date.fromisoformat(f"{args.period}-01")
    last = min(next_month(period) - timedelta(days=1), period + timedelta(days=args.days - 1))
    client = local_s3_client(settings)
    if args.bucket not in _buckets(client):
        client.create_bucket(Bucket=args.bucket)
    manifest = write_month(client, args.bucket, args.prefix, args.export_name, period, last,
                           rows_per_day=args.rows_per_day, fmt=args.format, seed=args.seed,
                           revision=args.revision)  # fmt: skip
    emit(args, manifest, f"{len(manifest['dataFiles'])} files and the manifest of {args.period} written")
    return 0


def _buckets(client) -> set[str]:
    return {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}


def add_commands(sub) -> None:
    """Register `dps aws-export`."""
    export = sub.add_parser(
        "aws-export", help="write a synthetic AWS Data Exports delivery into the local S3"
    )
    export.add_argument("bucket")
    export.add_argument("--prefix", default="focus")
    export.add_argument("--export-name", default="acme-focus-daily")
    export.add_argument("--period", required=True, help="billing period, YYYY-MM")
    export.add_argument("--days", type=int, default=31, help="days of the period delivered so far")
    export.add_argument("--rows-per-day", type=int, default=400)
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--seed", type=int, default=7)
    export.add_argument("--revision", type=int, default=0, help="a later revision restates the period")
    export.set_defaults(func=cmd_aws_export)
