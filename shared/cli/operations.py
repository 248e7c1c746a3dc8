"""`dps reap`, `dps trigger`, `dps dead-letters ...`: operating the run control plane."""

from __future__ import annotations

from shared.cli.common import admin_call, api_url, emit, load_cli_settings
from shared.platform.settings import SettingsError


def cmd_reap(args) -> int:
    from shared.platform.clients import make_bigquery_client
    from shared.runs.reaper import reap_stuck_runs
    from shared.warehouse.adapter import Warehouse

    settings = load_cli_settings()
    result = reap_stuck_runs(Warehouse(make_bigquery_client(settings), settings.project), settings)
    emit(
        args,
        result,
        f"reaped {result['reaped']} stuck runs; corrected {result['quotas_reconciled']} slot counts; "
        f"appended the held-back history of {result['history_resynced']} runs",
    )
    return 0


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
        f"{api_url(args)}/api/v1/scheduler/trigger",
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
    emit(args, answer, "\n".join(lines) or "no scheduled pipelines")
    return 0


def cmd_dead_letters_list(args) -> int:
    params = {k: v for k, v in (("provider", args.provider), ("org_slug", args.org)) if v}
    answer = admin_call(args, "GET", "dead-letters", params={**params, "limit": args.limit})
    lines = [
        f"{d['message_id']}  {d['provider']:<9} {d['org_slug'] or '-':<20} run {d['pipeline_logging_id'] or '-'}"
        f"  {d['run_status'] or '-'}: {d['error_code'] or '-'} (now {d['current_status'] or '-'}, "
        f"replayed {d['replay_count']}x)"
        for d in answer["dead_letters"]
    ]
    emit(args, answer, "\n".join(lines) or "no dead letters")
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
    answer = admin_call(args, "POST", "dead-letters/replay", json=body)
    lines = [f"{r['message_id']}: {r['outcome']} {r['error_code'] or ''}".rstrip() for r in answer["results"]]
    emit(args, answer, "\n".join([*lines, f"replayed {answer['replayed']}"]))
    return 0


def cmd_migrate_control_state(args) -> int:
    from shared.platform.clients import make_bigquery_client
    from shared.runs.migration import migrate_control_state
    from shared.warehouse.adapter import Warehouse

    settings = load_cli_settings()
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    report = migrate_control_state(warehouse, settings, dry_run=args.dry_run).as_dict()
    verb = "would write" if args.dry_run else "wrote"
    written = ", ".join(f"{n} {kind}" for kind, n in report["written"].items()) or "nothing"
    present = ", ".join(f"{n} {kind}" for kind, n in report["already_present"].items()) or "none"
    emit(
        args,
        report,
        f"{verb} {written}; already in Firestore: {present} (read {', '.join(report['legacy_tables'])})",
    )
    return 0


def add_commands(sub) -> None:
    """Register the operations commands on the `dps` subparsers."""
    from shared.providers.registry import PROVIDERS

    sub.add_parser(
        "reap", help="fail runs stuck past their timeout and recount concurrency slots"
    ).set_defaults(func=cmd_reap)
    migrate = sub.add_parser(
        "migrate-control-state",
        help="once, after upgrading: move quota counters, runs in flight and dead letters from BigQuery to Firestore",
    )
    migrate.add_argument("--dry-run", action="store_true", help="report what would be written, write nothing")
    migrate.set_defaults(func=cmd_migrate_control_state)
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
        command.add_argument("--provider", choices=list(PROVIDERS), help="one provider's letters")
        command.add_argument("--org", help="one org's letters")
        command.add_argument(
            "--api-url", help="the api function's URL (default: DPS_API_URL or the local stack's)"
        )
    dl_list.add_argument("--limit", type=int, default=100)
    dl_list.set_defaults(func=cmd_dead_letters_list)
    dl_replay.set_defaults(func=cmd_dead_letters_replay)
