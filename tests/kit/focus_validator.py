"""The FinOps Foundation's FOCUS validator (focus-validator 2.2.1, FOCUS 1.2 rules bundled) over cost_focus rows.

It runs as its own program, from its own venv (`make check` installs it into .tools/focus-validator, see
tests/tools/focus-validator.txt), offline (--block-download), from its package folder (it reads its rule files
relative to the working directory), on a parquet file of the rows."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.kit.golden import typed_row

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".tools" / "focus-validator"
FOCUS_VERSION = "1.2"
ARROW_TYPES = {
    "STRING": pa.string(),
    "JSON": pa.string(),
    "NUMERIC": pa.decimal128(38, 9),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "INT64": pa.int64(),
    "BOOL": pa.bool_(),
}
# Rules the validator 2.2.1 cannot apply as written, so it fails spec-compliant data: InvoiceId-C-004-C ("null when
# the charge is on no invoice") and InvoiceId-C-005-C ("not null when it is on one") have their condition only in
# prose, and the validator enforces both unconditionally, so a present InvoiceId column always fails one of them.
# Their parent, InvoiceId-C-003-C (either holds), is what the spec asks; it must pass. Reported upstream as a class
# of defect: finopsfoundation/focus_validator#142, FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec#2394.
EITHER_OR = {"InvoiceId-C-003-C": ("InvoiceId-C-004-C", "InvoiceId-C-005-C")}
# What each provider's data supports, in the validator's terms (--applicability-criteria): the conditional rules of
# a criterion are checked only when it is named (without any, every SubAccountName, ConsumedQuantity, Tags... rule
# is skipped as "not applicable"). Not named, because cost_focus lacks the columns they require: unit prices,
# pricing categories, SubAccountType, ResourceType, capacity reservations.
APPLICABILITY = {
    "Google Cloud": (
        "SUB_ACCOUNT_SUPPORTED",
        "REGION_SUPPORTED",
        "AVAILABILITY_ZONE_SUPPORTED",
        "TAGGING_SUPPORTED",
        "USAGE_MEASUREMENT_SUPPORTED",
    ),
    "OpenAI": ("SUB_ACCOUNT_SUPPORTED", "USAGE_MEASUREMENT_SUPPORTED"),
    "Anthropic": ("SUB_ACCOUNT_SUPPORTED", "USAGE_MEASUREMENT_SUPPORTED"),
    "SeatBill": ("SUB_ACCOUNT_SUPPORTED",),
    "AWS": (
        "SUB_ACCOUNT_SUPPORTED",
        "REGION_SUPPORTED",
        "AVAILABILITY_ZONE_SUPPORTED",
        "TAGGING_SUPPORTED",
        "USAGE_MEASUREMENT_SUPPORTED",
    ),
    # Azure's export names subscriptions, regions, tags and metered quantities (no availability zone in cost data).
    "Microsoft": (
        "SUB_ACCOUNT_SUPPORTED",
        "REGION_SUPPORTED",
        "TAGGING_SUPPORTED",
        "USAGE_MEASUREMENT_SUPPORTED",
    ),
    "SaaS": ("SUB_ACCOUNT_SUPPORTED", "TAGGING_SUPPORTED"),  # rows of every vendor's plans: a plan, its tags
}
_SUMMARY = re.compile(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+) \| Skipped: (\d+)")
_FAILURE = re.compile(r"^❌ (\S+): FAIL\s+\(violations=(\d+), msg=(.*)\)$")


@dataclass
class Report:
    """What the validator said of one file: rule counts, and each failed rule with its message."""

    total: int
    passed: int
    failed: int
    skipped: int
    failures: dict[str, str] = field(default_factory=dict)

    def real_failures(self) -> dict[str, str]:
        """The failed rules less the validator's false positives (EITHER_OR: one of a pair whose parent passed)."""
        failures = dict(self.failures)
        for parent, pair in EITHER_OR.items():
            if parent not in failures and sum(rule in failures for rule in pair) == 1:
                for rule in pair:
                    failures.pop(rule, None)
        return failures

    def summary(self) -> str:
        """One line, as the validator prints it."""
        return f"Total: {self.total} | Pass: {self.passed} | Fail: {self.failed} | Skipped: {self.skipped}"


def arrow_table(rows: list[dict], spec) -> pa.Table:
    """Rows (typed, or as golden JSON holds them) as an Arrow table in the spec's column types and order."""
    schema = pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in spec.columns])
    json_columns = {c.name for c in spec.columns if c.type == "JSON"}
    # Golden JSON holds dates, timestamps and numbers as text; rows read from the warehouse are typed already.
    typed = [
        typed_row({name: _json_text(row.get(name), name in json_columns) for name in schema.names}, spec)
        if isinstance(row.get("ChargePeriodStart"), str)
        else {name: _json_text(row.get(name), name in json_columns) for name in schema.names}
        for row in rows
    ]
    return pa.Table.from_pylist(typed, schema=schema)


def _json_text(value, is_json: bool):
    # A JSON column's value comes as text (from the warehouse) or parsed (golden files): the file holds text.
    return (
        json.dumps(value, sort_keys=True)
        if is_json and value is not None and not isinstance(value, str)
        else value
    )


def _package_dir() -> Path:
    found = sorted(VENV.glob("lib/python3*/site-packages"))
    if not (VENV / "bin" / "focus-validator").exists() or not found:
        raise RuntimeError(f"the FOCUS validator is not installed in {VENV}: run `make check` once")
    return found[0]


def parse_report(output: str) -> Report:
    """The validator's console output → a Report (RuntimeError when it printed no summary: it crashed)."""
    summary = _SUMMARY.search(output)
    if summary is None:
        raise RuntimeError(f"focus-validator printed no summary:\n{output[-3000:]}")
    failures = {m[1]: m[3] for line in output.splitlines() if (m := _FAILURE.match(line.strip()))}
    return Report(*(int(n) for n in summary.groups()), failures=failures)


def validate_each(tables: dict[str, tuple[pa.Table, str]]) -> dict[str, Report]:
    """Run the validator over several (table, ProviderName) pairs, each with its provider's APPLICABILITY, in one
    validator process (tests/kit/focus_validator_batch.py): each run's report follows its `=== job N ===` line."""
    with tempfile.TemporaryDirectory() as folder:
        jobs = []
        for index, (table, provider) in enumerate(tables.values()):
            path = Path(folder) / f"cost_focus_{index}.parquet"
            pq.write_table(table, path)
            jobs.append(
                {"path": str(path), "version": FOCUS_VERSION, "criteria": APPLICABILITY.get(provider, ())}
            )
        done = subprocess.run(
            [
                str(VENV / "bin" / "python"),
                "-P",  # the script's folder (tests/kit, whose focus_validator.py this is) stays off sys.path
                str(Path(__file__).with_name("focus_validator_batch.py")),
                json.dumps(jobs),
            ],
            cwd=_package_dir(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,  # rules that fail are in the reports
        )
    parts = re.split(r"^=== job \d+ ===$", done.stdout, flags=re.MULTILINE)[1:]
    if len(parts) != len(jobs):
        raise RuntimeError(
            f"the validator stopped after {len(parts)} of {len(jobs)} files:\n{done.stderr[-3000:]}"
        )
    return {name: parse_report(part) for name, part in zip(tables, parts, strict=True)}
