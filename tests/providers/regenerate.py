"""Regenerate a case's golden rows from what its pipeline writes now: for a reviewed change only (read the diff of
expected/ before committing it; the suite compares against these files).

    .venv/bin/python -m tests.providers.regenerate openai [anthropic ...]
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
from shared.platform.settings import settings_from_env
from shared.warehouse.adapter import Warehouse
from tests.providers.case import golden_slug, run_case, write_expected
from tests.providers.conftest import PROJECT
from tests.providers.registry import CASES


def main(names: list[str]) -> int:
    """Run each named case on a fresh BigQuery stand-in and write its expected/ files."""
    from devstack.processes import free_port
    from devstack.standins.bigquery import launch_bigquery

    cases = [case for case in CASES if case.name in names]
    if len(cases) != len(names):
        print(f"unknown case; known: {', '.join(case.name for case in CASES)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        rest = free_port()
        emulator = launch_bigquery(
            Path(folder),
            rest,
            free_port(taken={rest}),
            PROJECT,
            Path(tempfile.gettempdir()) / "dps-duckdb-home",
        )
        try:
            emulator.wait_ready()
            for case in cases:
                with _standins(case, Path(folder)) as standin_env:
                    settings = settings_from_env(
                        {
                            "GCP_PROJECT_ID": PROJECT,
                            "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                            "BIGQUERY_API_ENDPOINT": emulator.url,
                            "BIGQUERY_STORAGE_API_ENDPOINT": emulator.grpc_address,
                            "CONFIG_DIR": str(case.config_dir(Path(folder))),
                            **standin_env,
                        }
                    )
                    write_client = make_bigquery_write_client(settings)
                    warehouse = Warehouse(make_bigquery_client(settings), PROJECT, write_client=write_client)
                    run = run_case(case, warehouse, settings, golden_slug(case))
                write_expected(case, run)
                print(f"{case.name}: {', '.join(f'{t} {len(r)}' for t, r in run.tables.items())}")
        finally:
            emulator.stop()
    return 0


@contextlib.contextmanager
def _standins(case, folder: Path):
    """Start the case's source stand-ins on free ports (as the suite does); yields their environment."""
    from devstack.processes import free_port

    env, launched = {}, []
    try:
        for standin in case.standins:
            port = free_port()
            launched.append(standin.launch(folder / f"standin-{standin.name}", port))
            launched[-1].wait_ready()
            env.update(standin.env(standin.url(port)))
        yield env
    finally:
        for process in launched:
            process.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
