"""A provider's case in the standard suite, and the runner that executes its pipeline against recorded source data
in a real warehouse (the BigQuery stand-in), the way a worker runs it: the Executor, the provider's processors,
slice replacement, the FOCUS step."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared.platform.settings import DEFAULT_CONFIG_DIR, Settings
from shared.providers.contract import Credential, Provider
from shared.runs.model import RunRequest
from shared.warehouse.adapter import Warehouse
from shared.warehouse.datasets import ensure_org_dataset
from shared.warehouse.schemas import load_table_specs
from shared.worker.executor import Executor
from shared.worker.pipelines import load_pipelines
from tests.kit.golden import canonical
from tests.kit.recorded import RecordedApi
from tests.kit.steps import StepRecorder

# Columns that name the run or the moment, not the data: a re-run changes them and only them.
VOLATILE_COLUMNS = frozenset({"x_pipeline_logging_id", "x_ingested_at", "loaded_at"})


@dataclass(frozen=True)
class ProviderCase:
    """One provider under the standard suite.

    folder: the case's folder: `pages/` (recorded HTTP pages), `expected/<table>.json` (the golden rows of every
        table the pipeline writes), and optionally `configs/` (pipelines and schemas of a provider that ships them
        itself, laid over the project's configs/).
    pages: for an HTTP source, path -> the file names of its recorded pages, in order.
    seed_source(warehouse, metadata, settings): writes the recorded source where the credential's metadata names
        it: a warehouse-table source into the suite's warehouse, an object-storage source into its stand-in (the
        settings point at it).
    standins: the source stand-ins (devstack SourceStandin) the suite starts for the case; their environment is
        in the case's settings.
    invalid_credentials: (secret, metadata, a fragment of the message onboarding must give) it must refuse.
    secret_markers: strings that must never appear in a log line, an error or a row (besides the secret).
    focus_gaps: FOCUS rules the provider's cost_focus rows are known to break on this data, with the exact number
        of rows (each names the issue that will close it); any other violation fails.
    validator_false_positives: rules the FOCUS validator fails on this data although the data follows the spec
        (the validator applies a rule whose condition it cannot test to every row), each with the reason.
    """

    provider: Provider
    folder: Path
    pipeline_id: str
    start: date
    end: date
    secret: str
    metadata: dict = field(default_factory=dict)
    pages: Mapping[str, list[str]] = field(default_factory=dict)
    seed_source: Callable[[Warehouse, dict, Settings], None] | None = None
    standins: tuple = ()
    invalid_credentials: tuple[tuple[str, dict, str], ...] = ()
    secret_markers: tuple[str, ...] = ()
    focus_gaps: Mapping[str, int] = field(default_factory=dict)
    validator_false_positives: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.provider.name

    def markers(self) -> tuple[str, ...]:
        """What must never be written anywhere."""
        return tuple(marker for marker in (self.secret, *self.secret_markers) if marker)  # "": no secret

    def recorded_api(self) -> RecordedApi:
        """The recorded pages of an HTTP source, served by path and cursor."""
        return RecordedApi(
            {path: [self.folder / "pages" / f for f in files] for path, files in self.pages.items()}
        )

    def config_dir(self, root: Path) -> Path:
        """The project's configs/ with the case's own configs/ laid over it (a copy under `root`)."""
        own = self.folder / "configs"
        if not own.exists():
            return DEFAULT_CONFIG_DIR
        target = root / f"configs-{self.name}"
        if not target.exists():
            shutil.copytree(DEFAULT_CONFIG_DIR, target)
            shutil.copytree(own, target, dirs_exist_ok=True)
        return target


def golden_slug(case: ProviderCase) -> str:
    """The org the golden run loads into: fixed, since the org slug is a column (FOCUS BillingAccountId)."""
    return f"golden_{case.name}"


@dataclass
class Run:
    """What one run of a case left: its outcome, the step attempts, and every table's rows (volatile columns
    removed, canonical order)."""

    rows_written: int
    steps: list
    tables: dict[str, list[dict]]


def table_rows(warehouse: Warehouse, dataset: str, table: str) -> list[dict]:
    """Every row of a table, volatile columns removed, values canonical, in one stable order."""
    rows = [
        {k: canonical(v) for k, v in row.items() if k not in VOLATILE_COLUMNS}
        for row in warehouse.query(f"SELECT * FROM `{warehouse.table_id(dataset, table)}`")
    ]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def run_case(
    case: ProviderCase, warehouse: Warehouse, settings: Settings, slug: str, *, force_refresh: bool = False
) -> Run:
    """Execute the case's pipeline for its days into the org `slug`'s dataset, as a worker would (`force_refresh`:
    reload even what the source says did not change); read back every table of the dataset."""
    config = load_pipelines(settings.config_dir)[case.pipeline_id]
    if case.seed_source:
        case.seed_source(warehouse, case.metadata, settings)
    dataset = ensure_org_dataset(settings, warehouse, slug, case.name)
    recorder = StepRecorder()
    executor = Executor(
        warehouse,
        settings,
        recorder,
        processor_for=case.provider.processor,
        http_transport=case.recorded_api().transport() if case.pages else None,
        sleep=lambda seconds: None,
    )
    request = RunRequest(
        str(uuid.uuid4()),
        slug,
        case.pipeline_id,
        case.name,
        case.start,
        case.end,
        force_refresh=force_refresh,
    )
    written = executor.execute(request, config, Credential(case.name, case.secret, case.metadata))
    specs = load_table_specs(settings.config_dir, "org")
    tables = {
        name: table_rows(warehouse, dataset, name) for name, spec in specs.items() if spec.made_for(case.name)
    }
    return Run(written, recorder.steps, {name: rows for name, rows in tables.items() if rows})


def expected_tables(case: ProviderCase) -> dict[str, list[dict]]:
    """The golden rows of every table the case's pipeline writes (expected/<table>.json)."""
    folder = case.folder / "expected"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def write_expected(case: ProviderCase, run: Run) -> None:
    """Write a run's tables as the case's golden files (for a reviewed regeneration, never from a test)."""
    folder = case.folder / "expected"
    folder.mkdir(exist_ok=True)
    for stale in folder.glob("*.json"):
        stale.unlink()
    for table, rows in run.tables.items():
        (folder / f"{table}.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
