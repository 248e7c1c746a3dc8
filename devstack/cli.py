"""`dps`, the admin CLI: run the local stack and the demo, bootstrap, onboard orgs, store credentials."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from shared.platform.settings import REPO_ROOT, Settings, SettingsError, settings_from_env

LOCAL_DIR = Path(os.environ.get("DPS_LOCAL_DIR", REPO_ROOT / ".local"))


def load_cli_settings() -> Settings:
    """Settings from the environment, or from the running local stack's .local/stack.json."""
    if os.environ.get("GCP_PROJECT_ID"):
        return settings_from_env()
    stack_file = LOCAL_DIR / "stack.json"
    if not stack_file.exists():
        raise SettingsError("no GCP_PROJECT_ID in the environment and no local stack: run `make up` first")
    return settings_from_env(json.loads(stack_file.read_text())["env"])


def _emit(args, payload: dict, text: str) -> None:
    print(json.dumps(payload, default=str) if args.json else text)


def cmd_bootstrap(args) -> int:
    from shared.tenancy import onboarding

    tables = onboarding.bootstrap(load_cli_settings())
    _emit(args, {"dataset": "organizations", "tables": tables}, f"organizations: {', '.join(tables)}")
    return 0


def cmd_org_create(args) -> int:
    from shared.tenancy import onboarding

    result = onboarding.create_org(load_cli_settings(), args.slug, args.plan, args.status, args.name)
    _emit(
        args,
        result,
        f"org {result['org_slug']} created ({result['plan']}, {result['status']}), "
        f"dataset {result['dataset']}\nAPI key (shown once, store it now): {result['api_key']}",
    )
    return 0


def cmd_org_key(args) -> int:
    from shared.tenancy import onboarding

    result = onboarding.issue_api_key(load_cli_settings(), args.slug)
    _emit(args, result, f"new API key for {args.slug} (shown once): {result['api_key']}")
    return 0


def cmd_org_status(args) -> int:
    from shared.tenancy import onboarding

    onboarding.set_subscription_status(load_cli_settings(), args.slug, args.status)
    _emit(args, {"org_slug": args.slug, "status": args.status}, f"{args.slug}: subscription {args.status}")
    return 0


def cmd_org_revoke_key(args) -> int:
    from shared.tenancy import onboarding

    onboarding.revoke_api_key(load_cli_settings(), args.slug, args.api_key_id)
    _emit(
        args,
        {"org_slug": args.slug, "api_key_id": args.api_key_id, "is_active": False},
        f"key {args.api_key_id} of {args.slug} revoked (instances drop cached lookups within 30 s)",
    )
    return 0


def cmd_reap(args) -> int:
    from shared.platform.clients import make_bigquery_client
    from shared.runs.reaper import reap_stuck_runs
    from shared.warehouse.adapter import Warehouse

    settings = load_cli_settings()
    result = reap_stuck_runs(Warehouse(make_bigquery_client(settings), settings.project), settings)
    _emit(
        args,
        result,
        f"reaped {result['reaped']} stuck runs; corrected {result['quotas_reconciled']} slot counts",
    )
    return 0


def cmd_credential_set(args) -> int:
    from shared.tenancy import onboarding

    secret = Path(args.secret_file).read_text()
    try:
        metadata = json.loads(args.metadata) if args.metadata else {}
    except json.JSONDecodeError as exc:
        raise onboarding.AdminError(f"--metadata is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise onboarding.AdminError("--metadata must be a JSON object")
    result = onboarding.set_credential(load_cli_settings(), args.slug, args.provider, secret, metadata)
    _emit(args, result, f"{args.provider} credential stored for {args.slug} (encrypted with KMS)")
    return 0


def cmd_price_override(args) -> int:
    from datetime import date

    from shared.tenancy import onboarding

    result = onboarding.add_price_override(
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
    _emit(args, result, f"price override {result['override_id']} stored for {args.slug} ({args.provider})")
    return 0


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
    _emit(args, {"table": table.id, "rows": rows}, f"{rows:,} synthetic export rows written to {table.id}")
    return 0


def _api_url(args) -> str:
    """The api function's base URL: --api-url, DPS_API_URL, or the running local stack's."""
    url = args.api_url or os.environ.get("DPS_API_URL")
    if not url:
        stack_file = LOCAL_DIR / "stack.json"
        if not stack_file.exists():
            raise SettingsError("no --api-url, no DPS_API_URL and no local stack: run `make up` first")
        url = json.loads(stack_file.read_text())["api_url"]
    return url.rstrip("/")


def cmd_trigger(args) -> int:
    from datetime import UTC, datetime

    import httpx

    body: dict = {}
    if args.pipeline:
        body["pipeline_id"] = args.pipeline
    if args.org:
        body["org_slug"] = args.org
    if args.date:
        body["date"] = args.date
    elif args.now:  # as if the schedules fired this instant: each runs the day its firing now would run
        body["scheduled_time"] = datetime.now(UTC).isoformat()
    settings = load_cli_settings()
    response = httpx.post(
        f"{_api_url(args)}/api/v1/scheduler/trigger",
        json=body,
        timeout=300,
        headers={"X-CA-Root-Key": settings.root_key},
    )
    answer = response.json()
    if response.status_code != 200:
        raise SettingsError(f"trigger answered {response.status_code}: {answer.get('error', answer)}")
    lines = [
        f"{p['pipeline_id']} for {p['date']}: {p['queued']} queued, skipped {p['skipped'] or 'none'}"
        for p in answer["pipelines"]
    ]
    _emit(args, answer, "\n".join(lines) or "no scheduled pipelines")
    return 0


def _admin_call(args, method: str, path: str, **kwargs) -> dict:
    """Call an admin route of the api function with the root key; SettingsError naming the refusal."""
    import httpx

    response = httpx.request(
        method,
        f"{_api_url(args)}/api/v1/admin/{path}",
        timeout=300,
        headers={"X-CA-Root-Key": load_cli_settings().root_key},
        **kwargs,
    )
    answer = response.json()
    if response.status_code != 200:
        raise SettingsError(f"{path} answered {response.status_code}: {answer.get('error', answer)}")
    return answer


def cmd_dead_letters_list(args) -> int:
    params = {k: v for k, v in (("provider", args.provider), ("org_slug", args.org)) if v}
    answer = _admin_call(args, "GET", "dead-letters", params={**params, "limit": args.limit})
    lines = [
        f"{d['message_id']}  {d['provider']:<9} {d['org_slug'] or '-':<20} run {d['pipeline_logging_id'] or '-'}"
        f"  {d['run_status'] or '-'}: {d['error_code'] or '-'} (now {d['current_status'] or '-'}, "
        f"replayed {d['replay_count']}x)"
        for d in answer["dead_letters"]
    ]
    _emit(args, answer, "\n".join(lines) or "no dead letters")
    return 0


def cmd_dead_letters_replay(args) -> int:
    if args.message_ids and (args.all or args.provider or args.org):
        raise SettingsError("give message ids, or --all (with --provider/--org), not both")
    if args.message_ids:
        body: dict = {"message_ids": args.message_ids}
    elif args.all:
        body = {"all": True, **{k: v for k, v in (("provider", args.provider), ("org_slug", args.org)) if v}}
    else:
        raise SettingsError("give message ids, or --all")
    answer = _admin_call(args, "POST", "dead-letters/replay", json=body)
    lines = [f"{r['message_id']}: {r['outcome']} {r['error_code'] or ''}".rstrip() for r in answer["results"]]
    _emit(args, answer, "\n".join([*lines, f"replayed {answer['replayed']}"]))
    return 0


def cmd_up(args) -> int:
    from devstack.up import run_up

    return run_up(LOCAL_DIR)


def cmd_demo(args) -> int:
    from devstack.demo import run_demo

    return run_demo(LOCAL_DIR, days=args.days)


def build_parser() -> argparse.ArgumentParser:
    """The dps argument parser."""
    parser = argparse.ArgumentParser(prog="dps", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local stack in the foreground").set_defaults(func=cmd_up)
    demo = sub.add_parser(
        "demo", help="start the stack, run the OpenAI, Anthropic and GCP pipelines for a week, print costs"
    )
    demo.add_argument("--days", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("bootstrap", help="create the central dataset and tables").set_defaults(func=cmd_bootstrap)
    trig = sub.add_parser("trigger", help="run schedules on demand: enqueue every due (org, pipeline, day)")
    when = trig.add_mutually_exclusive_group()
    when.add_argument(
        "--now", action="store_true", help="as if each schedule fired now (default: its last firing)"
    )
    when.add_argument("--date", help="run this day instead, YYYY-MM-DD (a backfill)")
    trig.add_argument(
        "--pipeline", help="one pipeline, e.g. openai/cost/usage_cost (default: every scheduled one)"
    )
    trig.add_argument("--org", help="one org only (default: every org the pipelines are due for)")
    trig.add_argument("--api-url", help="the api function's URL (default: DPS_API_URL or the local stack's)")
    trig.set_defaults(func=cmd_trigger)
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
    org = sub.add_parser("org", help="organisations").add_subparsers(dest="org_command", required=True)
    create = org.add_parser("create", help="onboard an org and print its API key once")
    create.add_argument("slug")
    create.add_argument("--plan", required=True, choices=["starter", "professional", "scale", "enterprise"])
    create.add_argument("--status", default="ACTIVE", choices=["ACTIVE", "TRIAL", "SUSPENDED", "CANCELLED"])
    create.add_argument("--name")
    create.set_defaults(func=cmd_org_create)
    key = org.add_parser("key", help="issue a new API key for an org")
    key.add_argument("slug")
    key.set_defaults(func=cmd_org_key)
    revoke = org.add_parser("revoke-key", help="deactivate one API key of an org")
    revoke.add_argument("slug")
    revoke.add_argument("api_key_id")
    revoke.set_defaults(func=cmd_org_revoke_key)
    sub.add_parser(
        "reap", help="fail runs stuck past their timeout and recount concurrency slots"
    ).set_defaults(func=cmd_reap)
    letters = sub.add_parser("dead-letters", help="run requests Pub/Sub gave up on").add_subparsers(
        dest="dl_command", required=True
    )
    dl_list = letters.add_parser("list", help="drain the dead-letter subscriptions, then list what is stored")
    dl_replay = letters.add_parser(
        "replay", help="re-open the runs and publish them again (COMPLETED: no-op)"
    )
    dl_replay.add_argument("message_ids", nargs="*", help="dead-letter message ids (from `list`)")
    dl_replay.add_argument(
        "--all", action="store_true", help="every stored letter (narrow with --provider/--org)"
    )
    for command in (dl_list, dl_replay):
        command.add_argument("--provider", help="openai, anthropic or gcp")
        command.add_argument("--org", help="one org's letters")
        command.add_argument(
            "--api-url", help="the api function's URL (default: DPS_API_URL or the local stack's)"
        )
    dl_list.add_argument("--limit", type=int, default=100)
    dl_list.set_defaults(func=cmd_dead_letters_list)
    dl_replay.set_defaults(func=cmd_dead_letters_replay)
    status = org.add_parser("status", help="set an org's subscription status")
    status.add_argument("slug")
    status.add_argument("status", choices=["ACTIVE", "TRIAL", "SUSPENDED", "CANCELLED", "PAST_DUE"])
    status.set_defaults(func=cmd_org_status)
    cred = sub.add_parser("credential", help="provider credentials").add_subparsers(
        dest="cred_command", required=True
    )
    cset = cred.add_parser("set", help="store a provider credential, encrypted with KMS")
    cset.add_argument("slug")
    cset.add_argument("provider")
    cset.add_argument(
        "--secret-file", required=True, help="file holding the secret (keeps it out of shell history)"
    )
    cset.add_argument("--metadata", help='JSON object, e.g. {"base_url": "https://gateway.example.com"}')
    cset.set_defaults(func=cmd_credential_set)
    price = sub.add_parser("price", help="LLM prices").add_subparsers(dest="price_command", required=True)
    override = price.add_parser(
        "override", help="store an org's negotiated rate or discount (llm_price_overrides)"
    )
    override.add_argument("slug")
    override.add_argument("provider", choices=["openai", "anthropic"])
    override.add_argument("--from", dest="effective_from", required=True, help="first day, YYYY-MM-DD")
    override.add_argument("--to", dest="effective_to", help="day after the last, YYYY-MM-DD (default: open)")
    override.add_argument("--model", help="default: every model of the provider")
    override.add_argument("--tier", choices=["standard", "batch", "priority"], help="default: every tier")
    override.add_argument("--rate-type", help="input, output, cache_read, ... (default: every rate)")
    group = override.add_mutually_exclusive_group(required=True)
    group.add_argument("--rate", help="negotiated USD per 1M tokens (exact decimal)")
    group.add_argument("--discount", help="fraction off the list rate, e.g. 0.15")
    override.add_argument("--note", help="contract reference")
    override.set_defaults(func=cmd_price_override)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `dps`."""
    from devstack.processes import StartupError
    from shared.tenancy.onboarding import AdminError
    from shared.warehouse.adapter import SchemaDriftError

    parser = build_parser()
    for i, arg in enumerate(argv := list(sys.argv[1:] if argv is None else argv)):
        if arg == "--json":  # accept --json anywhere, as `dps org create x --plan p --json` reads naturally
            argv.pop(i)
            argv.insert(0, "--json")
            break
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (AdminError, SettingsError, FileNotFoundError, StartupError, SchemaDriftError) as exc:
        if args.json:
            print(json.dumps({"error": {"code": "INVALID_REQUEST", "message": str(exc)}}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
