"""The `dps` parser and its main: the operator commands, plus any a caller adds (devstack adds its own)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable

from shared.platform.settings import SettingsError

Registrar = Callable[[argparse._SubParsersAction], None]


def build_parser(extra: Iterable[Registrar] = ()) -> argparse.ArgumentParser:
    """The dps argument parser: onboarding and operations commands, then those `extra` registers."""
    from shared.cli import alerts, backfill, operations, saas, tenants
    from shared.cli.report import add_commands as add_report_commands

    parser = argparse.ArgumentParser(prog="dps", description="The cost data pipeline service's command line.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in (
        *extra,
        tenants.add_commands,
        operations.add_commands,
        saas.add_commands,
        alerts.add_commands,
    ):
        register(sub)
    add_report_commands(sub)
    backfill.add_commands(sub)
    return parser


def main(argv: list[str] | None = None, extra: Iterable[Registrar] = (), errors: tuple = ()) -> int:
    """Run one dps command; refusals (`errors` too) print `error: ...` (or a JSON error) and exit 2."""
    from shared.platform.errors import TransientError  # a backend busy or down: say so, not a traceback
    from shared.tenancy.onboarding import AdminError
    from shared.warehouse.adapter import SchemaDriftError

    parser = build_parser(extra)
    for i, arg in enumerate(argv := list(sys.argv[1:] if argv is None else argv)):
        if arg == "--json":  # accept --json anywhere, as `dps org create x --plan p --json` reads naturally
            argv.pop(i)
            argv.insert(0, "--json")
            break
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (AdminError, SettingsError, FileNotFoundError, SchemaDriftError, TransientError, *errors) as exc:
        if args.json:
            print(json.dumps({"error": {"code": "INVALID_REQUEST", "message": str(exc)}}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
