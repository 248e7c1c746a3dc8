"""`dps saas add|list|show|change|end ORG ...`: an org's SaaS plans, through the same store and checks as the API
(shared/saas/plans.py), as `dps credential set` uses its store directly."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.cli.common import control_store, emit, store_refusals

# CLI flag -> plan field (money and dates stay strings: the store validates them exactly as the API does).
TERM_FLAGS = {
    "vendor": "vendor",
    "product": "product",
    "plan": "plan",
    "seats": "seats",
    "unit_price": "unit_price",
    "currency": "currency",
    "cycle": "billing_cycle",
    "anniversary_day": "anniversary_day",
    "start": "start_date",
    "end": "end_date",
    "discount_percent": "discount_percent",
    "discount_amount": "discount_amount",
    "invoice_issuer": "invoice_issuer",
}


def _terms(args) -> dict:
    terms = {
        field: getattr(args, flag)
        for flag, field in TERM_FLAGS.items()
        if getattr(args, flag, None) is not None
    }
    if getattr(args, "tag", None):
        terms["tags"] = dict(tag.split("=", 1) for tag in args.tag)
    return terms


def _summary(plan: dict) -> str:
    terms = plan["terms"]
    ends = f", ends {terms['end_date']}" if terms.get("end_date") else ""
    return (
        f"{plan['subscription_id']} v{plan['version']}: {terms['vendor']} {terms['product']} {terms['plan']}, "
        f"{terms['seats']} seats x {terms['unit_price']} {terms['currency']} {terms['billing_cycle']}, "
        f"from {terms['start_date']}{ends}"
    )


def cmd_add(args) -> int:
    from shared.saas import plans

    with store_refusals():
        plan = plans.create_plan(control_store(), args.slug, _terms(args))
    emit(args, plan, f"added {_summary(plan)}")
    return 0


def cmd_list(args) -> int:
    from shared.saas import plans

    with store_refusals():
        page, after, listed = None, None, []
        while page is None or after:
            page, after = plans.list_plans(control_store(), args.slug, 100, after)
            listed += page
    emit(
        args, {"subscriptions": listed}, "\n".join(map(_summary, listed)) or f"{args.slug} has no SaaS plans"
    )
    return 0


def cmd_show(args) -> int:
    from shared.saas import plans

    with store_refusals():
        plan = plans.get_plan(control_store(), args.slug, args.subscription_id)
    history = [
        f"  v{v['version']} {v['change']} from {v['effective_date']}: {v['terms']['seats']} seats x "
        f"{v['terms']['unit_price']}"
        for v in plan["versions"]
    ]
    emit(args, plan, "\n".join([_summary(plan), *history]))
    return 0


def _change(args, *, end: bool) -> int:
    from shared.saas import plans
    from shared.saas.terms import PlanInvalid, parse_effective_date

    with store_refusals():
        try:
            effective = parse_effective_date(args.effective, datetime.now(UTC).date())
        except PlanInvalid as error:
            raise plans.invalid(error) from None
        change = {} if end else _terms(args)
        plan = plans.change_plan(
            control_store(), args.slug, args.subscription_id, change, effective, args.if_version, end=end
        )
    emit(args, plan, f"{'ended' if end else 'changed'} {_summary(plan)}")
    return 0


def add_commands(sub) -> None:
    """Register `dps saas ...` on the dps subparsers."""
    saas = sub.add_parser("saas", help="an org's SaaS plans").add_subparsers(
        dest="saas_command", required=True
    )
    add = saas.add_parser("add", help="add a plan (version 1, from its start date)")
    add.add_argument("slug")
    _term_arguments(add, required=True)
    add.set_defaults(func=cmd_add)
    listed = saas.add_parser("list", help="the org's plans")
    listed.add_argument("slug")
    listed.set_defaults(func=cmd_list)
    show = saas.add_parser("show", help="one plan with its versions")
    show.add_argument("slug")
    show.add_argument("subscription_id")
    show.set_defaults(func=cmd_show)
    change = saas.add_parser("change", help="change a plan from --effective (default today UTC)")
    end = saas.add_parser("end", help="end a plan from --effective (default today UTC); history kept")
    for parser in (change, end):
        parser.add_argument("slug")
        parser.add_argument("subscription_id")
        parser.add_argument("--effective", help="first day the change applies, YYYY-MM-DD")
        parser.add_argument("--if-version", type=int, help="refuse unless the plan is still at this version")
    _term_arguments(change, required=False)
    change.set_defaults(func=lambda args: _change(args, end=False))
    end.set_defaults(func=lambda args: _change(args, end=True))


def _term_arguments(parser, *, required: bool) -> None:
    for flag in ("vendor", "product", "plan", "unit_price", "currency", "start"):
        parser.add_argument(f"--{flag.replace('_', '-')}", required=required)
    parser.add_argument("--seats", type=int, required=required)
    parser.add_argument("--cycle", choices=("monthly", "annual"), required=required)
    parser.add_argument(
        "--anniversary-day", type=int, help="monthly: the day cycles start (default: start's day)"
    )
    parser.add_argument("--end", help="exclusive: no cycle starts on or after it")
    parser.add_argument("--discount-percent", help="0-100, off every seat")
    parser.add_argument("--discount-amount", help="off each cycle's price")
    parser.add_argument("--invoice-issuer", help="a reseller invoicing the plan (default: the vendor)")
    parser.add_argument("--tag", action="append", help="key=value (repeat)")
