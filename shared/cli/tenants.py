"""`dps bootstrap`, `dps org ...`, `dps credential set`, `dps price override`: the onboarding commands."""

from __future__ import annotations

import json
from pathlib import Path

from shared.cli.common import emit, load_cli_settings
from shared.platform.settings import DEFAULT_CONFIG_DIR


def cmd_bootstrap(args) -> int:
    from shared.tenancy import onboarding

    tables = onboarding.bootstrap(load_cli_settings())
    emit(args, {"dataset": "organizations", "tables": tables}, f"organizations: {', '.join(tables)}")
    return 0


def cmd_org_create(args) -> int:
    from shared.tenancy import onboarding

    result = onboarding.create_org(load_cli_settings(), args.slug, args.plan, args.status, args.name)
    emit(
        args,
        result,
        f"org {result['org_slug']} created ({result['plan']}, {result['status']}), "
        f"dataset {result['dataset']}\nAPI key (shown once, store it now): {result['api_key']}",
    )
    return 0


def cmd_org_key(args) -> int:
    from shared.tenancy import onboarding

    result = onboarding.issue_api_key(load_cli_settings(), args.slug)
    emit(args, result, f"new API key for {args.slug} (shown once): {result['api_key']}")
    return 0


def cmd_org_status(args) -> int:
    from shared.tenancy import onboarding

    onboarding.set_subscription_status(load_cli_settings(), args.slug, args.status)
    emit(args, {"org_slug": args.slug, "status": args.status}, f"{args.slug}: subscription {args.status}")
    return 0


def cmd_org_revoke_key(args) -> int:
    from shared.tenancy import onboarding

    onboarding.revoke_api_key(load_cli_settings(), args.slug, args.api_key_id)
    emit(
        args,
        {"org_slug": args.slug, "api_key_id": args.api_key_id, "is_active": False},
        f"key {args.api_key_id} of {args.slug} revoked (instances drop cached lookups within 30 s)",
    )
    return 0


def cmd_credential_set(args) -> int:
    from shared.tenancy import onboarding

    secret = Path(args.secret_file).read_text() if args.secret_file else ""
    try:
        metadata = json.loads(args.metadata) if args.metadata else {}
    except json.JSONDecodeError as exc:
        raise onboarding.AdminError(f"--metadata is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise onboarding.AdminError("--metadata must be a JSON object")
    result = onboarding.set_credential(load_cli_settings(), args.slug, args.provider, secret, metadata)
    emit(args, result, f"{args.provider} credential stored for {args.slug} (encrypted with KMS)")
    return 0


def cmd_price_override(args) -> int:
    from datetime import date

    from shared.pricing import overrides

    result = overrides.add_price_override(
        load_cli_settings(),
        args.slug,
        args.provider,
        date.fromisoformat(args.effective_from),
        usd_per_million=args.rate,
        discount_fraction=args.discount,
        model=args.model,
        service_tier=args.tier,
        rate_type=args.rate_type,
        effective_to=date.fromisoformat(args.effective_to) if args.effective_to else None,
        note=args.note,
    )
    emit(args, result, f"price override {result['override_id']} stored for {args.slug} ({args.provider})")
    return 0


def cmd_grant_worker_access(args) -> int:
    from shared.platform.clients import make_bigquery_client
    from shared.tenancy.worker_access import grant_worker_access_to_org_datasets
    from shared.warehouse.adapter import Warehouse

    settings = load_cli_settings()
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    report = grant_worker_access_to_org_datasets(settings, warehouse, dry_run=args.dry_run)
    verb = "would grant" if args.dry_run else "granted"
    lines = [
        f"{dataset}: {verb} WRITER to {', '.join(added)}" for dataset, added in report["granted"].items()
    ]
    lines += [f"{dataset}: refused (needs bigquery.datasets.update on it)" for dataset in report["refused"]]
    lines.append(
        f"{len(report['granted'])} datasets {'to change' if args.dry_run else 'changed'}, "
        f"{len(report['unchanged'])} already had access, {len(report['absent'])} not created yet, "
        f"{len(report['refused'])} refused"
    )
    emit(args, report, "\n".join(lines))
    return 1 if report["refused"] else 0


def add_commands(sub) -> None:
    """Register the onboarding commands on the `dps` subparsers."""
    from shared.pricing.price_table import TIERS
    from shared.providers.registry import PROVIDERS
    from shared.tenancy.subscriptions import SUBSCRIPTION_STATUSES, load_plans

    plans, statuses = list(load_plans(DEFAULT_CONFIG_DIR)), list(SUBSCRIPTION_STATUSES)
    sub.add_parser(
        "bootstrap", help="create the central dataset, its tables and the run history view"
    ).set_defaults(func=cmd_bootstrap)
    org = sub.add_parser("org", help="organisations").add_subparsers(dest="org_command", required=True)
    create = org.add_parser("create", help="onboard an org and print its API key once")
    create.add_argument("slug")
    create.add_argument("--plan", required=True, choices=plans)
    create.add_argument("--status", default="ACTIVE", choices=statuses)
    create.add_argument("--name")
    create.set_defaults(func=cmd_org_create)
    key = org.add_parser("key", help="issue a new API key for an org")
    key.add_argument("slug")
    key.set_defaults(func=cmd_org_key)
    revoke = org.add_parser("revoke-key", help="deactivate one API key of an org")
    revoke.add_argument("slug")
    revoke.add_argument("api_key_id")
    revoke.set_defaults(func=cmd_org_revoke_key)
    status = org.add_parser("status", help="set an org's subscription status")
    status.add_argument("slug")
    status.add_argument("status", choices=statuses)
    status.set_defaults(func=cmd_org_status)
    cred = sub.add_parser("credential", help="provider credentials").add_subparsers(
        dest="cred_command", required=True
    )
    cset = cred.add_parser("set", help="store a provider credential, encrypted with KMS")
    cset.add_argument("slug")
    cset.add_argument("provider", choices=list(PROVIDERS))
    cset.add_argument("--secret-file", help="file holding the secret (keeps it out of shell history)")
    cset.add_argument("--metadata", help='JSON object, e.g. {"base_url": "https://gateway.example.com"}')
    cset.set_defaults(func=cmd_credential_set)
    price = sub.add_parser("price", help="LLM prices").add_subparsers(dest="price_command", required=True)
    override = price.add_parser(
        "override", help="store an org's negotiated rate or discount (llm_price_overrides)"
    )
    override.add_argument("slug")
    override.add_argument("provider", choices=[name for name, p in PROVIDERS.items() if p.llm_pricing])
    override.add_argument("--from", dest="effective_from", required=True, help="first day, YYYY-MM-DD")
    override.add_argument("--to", dest="effective_to", help="day after the last, YYYY-MM-DD (default: open)")
    override.add_argument("--model", help="default: every model of the provider")
    override.add_argument("--tier", choices=list(TIERS), help="default: every tier")
    override.add_argument("--rate-type", help="input, output, cache_read, ... (default: every rate)")
    group = override.add_mutually_exclusive_group(required=True)
    group.add_argument("--rate", help="negotiated USD per 1M tokens (exact decimal)")
    group.add_argument("--discount", help="fraction off the list rate, e.g. 0.15")
    override.add_argument("--note", help="contract reference")
    override.set_defaults(func=cmd_price_override)
    grant = sub.add_parser(
        "grant-worker-access",
        help="once, after upgrading: WRITER for WORKER_SERVICE_ACCOUNTS on every existing org dataset",
    )
    grant.add_argument("--dry-run", action="store_true", help="report what would be granted, change nothing")
    grant.set_defaults(func=cmd_grant_worker_access)
