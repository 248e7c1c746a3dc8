"""`dps report ORG [--from YYYY-MM-DD --to YYYY-MM-DD] [--out FILE]`: the org's cost report, one offline HTML page
and a PNG per chart beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from shared.cli.common import emit, load_cli_settings

DEFAULT_DAYS = 30
MAX_DAYS = 366


def report_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The charge days asked for: by default the last 30 full days (to yesterday, UTC); AdminError naming what
    to fix for a date that does not parse, a reversed range or one over MAX_DAYS."""
    from shared.tenancy.onboarding import AdminError

    def parse(value: str, flag: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise AdminError(f"{flag} {value!r}: expected a date YYYY-MM-DD") from None

    last = parse(end, "--to") if end else today - timedelta(days=1)
    first = parse(start, "--from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise AdminError(f"--from {first} is after --to {last}")
    if (last - first).days + 1 > MAX_DAYS:
        raise AdminError(f"{first} to {last} is over {MAX_DAYS} days: report a year or less")
    return first, last


def make_report(settings, org: str, start: date, end: date, out: Path | None = None) -> list[Path]:
    """Read, build and write the org's report for [start, end]; returns the page's path, then the PNGs'."""
    from shared.platform.identifiers import is_org_slug
    from shared.reports.build import build_report, write_report
    from shared.reports.query import ReportRefused, read_report
    from shared.tenancy.onboarding import AdminError

    if not is_org_slug(org):
        raise AdminError(f"{org!r} is not an org slug")
    html_path = Path(out) if out else Path.cwd() / f"report-{org}-{start}-{end}.html"
    try:
        data = read_report(settings, org, start, end)
    except ReportRefused as error:
        raise AdminError(str(error)) from None
    report = build_report(data, png_prefix=html_path.stem)
    try:
        return write_report(report, html_path, html_path.stem)
    except OSError as error:
        raise AdminError(f"cannot write the report to {html_path}: {error.strerror or error}") from None


def cmd_report(args) -> int:
    """`dps report`: write the report and print where (the page, then each chart's PNG)."""
    start, end = report_period(args.start, args.end, datetime.now(UTC).date())
    paths = make_report(load_cli_settings(), args.org, start, end, args.out)
    text = f"wrote {paths[0]}" + "".join(f"\n  chart {path}" for path in paths[1:])
    emit(args, {"html": str(paths[0]), "png": [str(p) for p in paths[1:]]}, text)
    return 0


def add_commands(sub) -> None:
    """Register `dps report` on the dps subparsers."""
    report = sub.add_parser(
        "report", help="an org's cost report: one offline HTML page with charts, and PNGs"
    )
    report.add_argument("org")
    report.add_argument(
        "--from", dest="start", help="first charge day, YYYY-MM-DD (default: 30 days to --to)"
    )
    report.add_argument("--to", dest="end", help="last charge day, YYYY-MM-DD (default: yesterday, UTC)")
    report.add_argument("--out", type=Path, help="the HTML file (default: ./report-ORG-FROM-TO.html)")
    report.set_defaults(func=cmd_report)
