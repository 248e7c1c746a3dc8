"""`dps`, the installed command: the operator's commands (shared.cli) plus development ones: `up`, `demo`, and
those each provider's local half adds (e.g. `gcp-export`)."""

from __future__ import annotations

import sys

from shared.cli.common import LOCAL_DIR


def cmd_up(args) -> int:
    from devstack.up import run_up

    return run_up(LOCAL_DIR)


def cmd_demo(args) -> int:
    from devstack.demo import run_demo

    return run_demo(LOCAL_DIR, days=args.days)


def add_commands(sub) -> None:
    """Register the development commands on the `dps` subparsers."""
    from devstack.providers import LOCAL_PROVIDERS

    sub.add_parser("up", help="start the local stack in the foreground").set_defaults(func=cmd_up)
    demo = sub.add_parser(
        "demo", help="start the stack, run every provider's pipelines for a week, print costs, stop"
    )
    demo.add_argument("--days", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    for local in LOCAL_PROVIDERS.values():
        if local.cli is not None:
            local.cli(sub)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `dps`."""
    from devstack.processes import StartupError
    from shared.cli.main import main as run

    return run(argv, extra=(add_commands,), errors=(StartupError,))


if __name__ == "__main__":
    sys.exit(main())
