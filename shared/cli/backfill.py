"""`dps backfill ORG PIPELINE --from --to`: a long date range loaded through the public run API with the org's
key, as run requests the pipeline allows, with progress, waits on quotas, and a state file to resume from."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import date
from pathlib import Path

from shared.cli.common import LOCAL_DIR, api_url, emit
from shared.platform.settings import SettingsError

EXIT = {"COMPLETED": 0, "FAILED": 1, "STOPPED": 2, "INTERRUPTED": 130}
KEY_VARIABLES = ("ORG_API_KEY", "DPS_API_KEY")


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{flag} {value!r}: expected a date, YYYY-MM-DD") from None


def _api_key(args) -> str:
    """--api-key, $ORG_API_KEY, $DPS_API_KEY, or the local stack's demo org's key for that org."""
    key = args.api_key or next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
    stack_file = LOCAL_DIR / "stack.json"
    if not key and stack_file.exists():
        demo = json.loads(stack_file.read_text()).get("demo_org") or {}
        key = demo.get("api_key") if demo.get("slug") == args.org else None
    if not key:
        raise SettingsError(f"no API key for {args.org}: pass --api-key or set ORG_API_KEY")
    return key


def _pipeline(pipeline_id: str):
    from shared.platform.settings import DEFAULT_CONFIG_DIR
    from shared.worker.pipelines import load_pipelines

    pipelines = load_pipelines(DEFAULT_CONFIG_DIR)
    if pipeline_id not in pipelines:
        raise SettingsError(f"no pipeline {pipeline_id!r}; known: {', '.join(sorted(pipelines))}")
    return pipelines[pipeline_id]


def _interrupt_on_sigterm() -> None:
    """SIGTERM stops the backfill as Ctrl-C does: the state is kept, the same command resumes."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _open_state(args, config):
    """The backfill's state: resumed from its file when it holds this same backfill, else planned anew."""
    from shared.backfill.plan import PlanError, default_state_path, load_or_plan, split_range

    first, last = _day(args.first, "--from"), _day(args.last, "--to")
    days_per_run = args.days_per_run or config.max_range_days
    identity = {
        "org": args.org,
        "pipeline": args.pipeline,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "days_per_run": days_per_run,
        "api_url": api_url(args),
    }
    path = args.state or default_state_path(LOCAL_DIR, args.org, args.pipeline, first, last)
    try:
        return load_or_plan(path, identity, split_range(first, last, days_per_run, config.max_range_days))
    except PlanError as error:
        raise SettingsError(str(error)) from None


def cmd_backfill(args) -> int:
    from shared.backfill.client import RunApi
    from shared.backfill.progress import BarProgress, LineProgress
    from shared.backfill.runner import Backfill, BackfillStopped
    from shared.backfill.summary import as_text, summarize

    config = _pipeline(args.pipeline)
    state = _open_state(args, config)
    api = RunApi(state.api_url, _api_key(args))
    bars = not args.json and sys.stdout.isatty()
    progress = (BarProgress if bars else LineProgress)(state, config.slice_days)
    backfill = Backfill(api, state, progress, poll_seconds=args.poll_seconds)
    _interrupt_on_sigterm()
    stopped, costs = None, []
    try:
        backfill.run()
        outcome = "FAILED" if any(r.failed_for_good() for r in state.requests) else "COMPLETED"
        completed = [r for r in state.requests if r.status == "COMPLETED"]
        costs = [backfill.patiently(lambda r=r: api.costs(r.run_id)) for r in completed]
    except KeyboardInterrupt:
        outcome = "INTERRUPTED"  # the runs already sent go on; the same command awaits them
    except BackfillStopped as error:
        outcome, stopped = "STOPPED", {"code": error.code, "message": error.message}
    finally:
        state.save()
        progress.close()
        api.close()
    summary = summarize(state, costs, outcome, stopped)
    emit(args, summary, as_text(summary))
    if outcome == "INTERRUPTED":
        print(
            f"backfill: interrupted; run the same command again to resume (state: {state.path})",
            file=sys.stderr,
        )
    return EXIT[outcome]


def add_commands(sub) -> None:
    """Register `dps backfill` on the dps subparsers."""
    parser = sub.add_parser(
        "backfill", help="load a date range through the run API: quota-aware, resumable, with progress"
    )
    parser.add_argument("org")
    parser.add_argument("pipeline", help="provider/domain/pipeline, e.g. openai/cost/usage_cost")
    parser.add_argument("--from", dest="first", required=True, help="first charge day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", required=True, help="last charge day (inclusive), YYYY-MM-DD")
    parser.add_argument("--days-per-run", type=int, help="days per run request (default: max_range_days)")
    parser.add_argument("--api-url", help="the api's base URL (default: $DPS_API_URL or the local stack's)")
    parser.add_argument("--api-key", help="the org's key (default: $ORG_API_KEY or $DPS_API_KEY)")
    parser.add_argument("--state", type=Path, help="state file (default: .local/backfills/<org>-...json)")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="how often runs in flight are read")
    parser.set_defaults(func=cmd_backfill)
