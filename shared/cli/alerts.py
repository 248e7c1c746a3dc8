"""`dps alerts budget add|list|show|change|delete ORG ...` and `dps alerts webhook set|clear ORG`: an org's
budgets and alert webhook, through the same stores and checks as the API (shared/alerts/)."""

from __future__ import annotations

from shared.cli.common import control_store, emit, load_cli_settings, store_refusals


def _thresholds(values: list[str]) -> list[dict]:
    """--threshold 80 or 100:forecast (repeat) as [{percent, basis}] (bad ones are refused by the store)."""
    result = []
    for value in values:
        percent, _, basis = value.partition(":")
        result.append({"percent": int(percent) if percent.isdigit() else percent, "basis": basis or "actual"})
    return result


def _fields(args) -> dict:
    fields = {name: getattr(args, name) for name in ("name", "currency", "amount", "metric")}
    fields = {name: value for name, value in fields.items() if value is not None}
    if args.provider is not None:
        fields["provider"] = None if args.provider in ("", "all") else args.provider
    if args.threshold:
        fields["thresholds"] = _thresholds(args.threshold)
    return fields


def _summary(budget: dict) -> str:
    limits = ", ".join(f"{t['percent']}% {t['basis']}" for t in budget["thresholds"])
    return (
        f"{budget['budget_id']} v{budget['version']}: {budget['name']} — {budget['amount']} {budget['currency']}"
        f" a month of {budget['metric']}, {budget['provider'] or 'all providers'} ({limits})"
    )


def cmd_add(args) -> int:
    from shared.alerts import budgets

    with store_refusals():
        budget = budgets.create_budget(control_store(), args.slug, _fields(args))
    emit(args, budget, f"added {_summary(budget)}")
    return 0


def cmd_list(args) -> int:
    from shared.alerts import budgets

    with store_refusals():
        listed = budgets.org_budgets(control_store(), args.slug)
    emit(args, {"budgets": listed}, "\n".join(map(_summary, listed)) or f"{args.slug} has no budgets")
    return 0


def cmd_show(args) -> int:
    from shared.alerts import budgets

    with store_refusals():
        budget = budgets.get_budget(control_store(), args.slug, args.budget_id)
    emit(args, budget, _summary(budget))
    return 0


def cmd_change(args) -> int:
    from shared.alerts import budgets

    with store_refusals():
        budget = budgets.change_budget(
            control_store(), args.slug, args.budget_id, _fields(args), args.if_version
        )
    emit(args, budget, f"changed {_summary(budget)}")
    return 0


def cmd_delete(args) -> int:
    from shared.alerts import budgets

    with store_refusals():
        budgets.delete_budget(control_store(), args.slug, args.budget_id, args.if_version)
    emit(args, {"deleted": args.budget_id}, f"deleted {args.budget_id}")
    return 0


def cmd_webhook_set(args) -> int:
    from shared.alerts import webhook
    from shared.platform.clients import make_kms_client

    settings = load_cli_settings()
    body = {"url": args.url, **({"secret": args.secret} if args.secret else {})}
    with store_refusals():
        stored = webhook.set_webhook(control_store(), make_kms_client(settings), settings, args.slug, body)
    shown = f"; signing secret (shown once): {stored['secret']}" if "secret" in stored else ""
    emit(args, stored, f"alerts of {args.slug} go to {stored['url']}{shown}")
    return 0


def cmd_webhook_clear(args) -> int:
    from shared.alerts import webhook

    cleared = webhook.clear_webhook(control_store(), args.slug)
    emit(args, {"cleared": cleared}, f"{args.slug}: " + ("webhook removed" if cleared else "had no webhook"))
    return 0


def add_commands(sub) -> None:
    """Register `dps alerts ...` on the dps subparsers."""
    alerts = sub.add_parser("alerts", help="an org's budgets and alert webhook").add_subparsers(
        dest="alerts_command", required=True
    )
    budget = alerts.add_parser("budget", help="monthly budgets").add_subparsers(
        dest="budget_command", required=True
    )
    add = budget.add_parser(
        "add", help="add a budget (thresholds default to 50/80/100 %% actual, 100 %% forecast)"
    )
    change = budget.add_parser("change", help="change a budget's fields")
    for parser in (add, change):
        parser.add_argument("slug")
        if parser is change:
            parser.add_argument("budget_id")
            parser.add_argument(
                "--if-version", type=int, help="refuse unless the budget is still at this version"
            )
        parser.add_argument("--name", required=parser is add)
        parser.add_argument("--amount", required=parser is add, help="a month's amount, e.g. 1500.00")
        parser.add_argument(
            "--currency", required=parser is add, help="ISO 4217; only rows billed in it count"
        )
        parser.add_argument(
            "--provider", help="a ProviderName (OpenAI, Google Cloud, Slack ...); 'all' or omit"
        )
        parser.add_argument("--metric", choices=("EffectiveCost", "BilledCost"))
        parser.add_argument("--threshold", action="append", help="PERCENT[:actual|forecast] (repeat)")
    add.set_defaults(func=cmd_add)
    change.set_defaults(func=cmd_change)
    listed = budget.add_parser("list", help="the org's budgets")
    listed.add_argument("slug")
    listed.set_defaults(func=cmd_list)
    show = budget.add_parser("show", help="one budget")
    delete = budget.add_parser("delete", help="delete a budget (its alerts stay)")
    for parser in (show, delete):
        parser.add_argument("slug")
        parser.add_argument("budget_id")
    delete.add_argument("--if-version", type=int, help="refuse unless the budget is still at this version")
    show.set_defaults(func=cmd_show)
    delete.set_defaults(func=cmd_delete)
    hook = alerts.add_parser("webhook", help="the signed webhook alerts are POSTed to").add_subparsers(
        dest="webhook_command", required=True
    )
    set_hook = hook.add_parser("set", help="set the URL (and secret; generated and shown once if omitted)")
    set_hook.add_argument("slug")
    set_hook.add_argument("url")
    set_hook.add_argument("--secret", help="24-200 characters")
    set_hook.set_defaults(func=cmd_webhook_set)
    clear = hook.add_parser("clear", help="remove the webhook")
    clear.add_argument("slug")
    clear.set_defaults(func=cmd_webhook_clear)
