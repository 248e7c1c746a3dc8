"""The stack fixtures: a local stack (BigQuery emulator, Pub/Sub emulator, KMS, Tasks, sandbox, functions) on free
ports, for the modules of tests/integration and tests/e2e that need one.

One stack serves the whole session, and each module gets it with an empty warehouse: the stack's processes are
started once (a full start and stop cost ~7 s per module on 2 cores), but its BigQuery emulator is replaced by a
fresh one, bootstrapped, before each module that uses the stack (~2.5 s). A warehouse kept across modules is not
cheaper: the emulator answers every statement more slowly the more tables, query results and jobs it holds (its
per-statement catalog scans), and a restart on the same data does not help. benchmarks/standin_growth.py: after 47
orgs onboarded and run, `SELECT 1` took 96 ms against 48 ms on a fresh emulator and a typical unit of test work 1.6x
as long; with one warehouse for the whole session, late modules ran up to twice as long and the stack tier took
longer than with a fresh stack per module. With a fresh warehouse per module, a module sees no other module's orgs,
runs or rows, so every module passes alone and in any order, as with a stack of its own.

A module marked `own_stack(reason)` gets a fresh stack of its own instead, for what it does to the stack's
processes. Today: tests/e2e/test_warehouse_outage.py (stops and restarts the BigQuery emulator mid-run, an outage
the shared functions should not live through with other modules; a failed restart stays in that module).
DPS_TEST_STACKS=module gives every module a stack of its own (as before; slower), to tell a test's own failure from
one caused by sharing.
"""

from __future__ import annotations

import os

import pytest

from tests.kit.stacks import Stacks

pytest_plugins = ["tests.kit.warehouse_standin"]  # the fast tier's BigQuery stand-in, one per process

# The provider suite's file, whose tests are spread over the workers a provider's case at a time.
SPREAD_BY_CASE = "tests/providers/test_standard_suite.py"


@pytest.hookimpl(tryfirst=True)  # before xdist's own choice of scheduler
def pytest_xdist_make_scheduler(config, log):
    """Whole files per worker (module fixtures stay on one worker, as `--dist loadfile`), except the provider
    suite: its tests go a case at a time (each case's golden run is made once, and the cases spread out)."""
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndCases(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path, _, test = nodeid.partition("::")
            if path == SPREAD_BY_CASE and "[" in test:
                return "case:" + test.split("[", 1)[1].split("-", 1)[0].rstrip("]")  # ids start with the case
            return path

    return FilesAndCases(config, log)


@pytest.fixture(scope="session")
def stacks(tmp_path_factory):
    """Every stack of the session; those still running are stopped at its end."""
    started = Stacks(tmp_path_factory.mktemp("stacks"))
    yield started
    started.close()


@pytest.fixture(scope="module")
def stack(request, stacks):
    """The module's stack: the session's shared one with an empty warehouse, or a fresh one for a module marked
    `own_stack`."""
    own = request.node.get_closest_marker("own_stack")
    if own is not None and not own.args:
        raise pytest.UsageError(f"{request.node.nodeid}: own_stack needs a reason")
    if own is not None or os.environ.get("DPS_TEST_STACKS") == "module":
        with stacks.own(request.node.path.stem) as local, stacks.active(local):
            yield local
    else:
        with stacks.active(stacks.shared()) as local:
            yield local


@pytest.fixture(scope="module")
def settings(stack):
    return stack.settings()


@pytest.fixture(scope="module")
def warehouse(settings):
    from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
    from shared.warehouse.adapter import Warehouse

    return Warehouse(
        make_bigquery_client(settings), settings.project, write_client=make_bigquery_write_client(settings)
    )


@pytest.fixture(scope="module")
def kms(settings):
    from shared.platform.clients import make_kms_client

    return make_kms_client(settings)


@pytest.fixture
def new_org(settings):
    """Factory: onboard a fresh org (unique slug) with an OpenAI credential; returns create_org's result."""
    from tests.kit.orgs import onboard

    def make(**options):
        return onboard(settings, **options)

    return make


@pytest.fixture
def api_only_org(new_org):
    """Factory like `new_org`, for tests of the API alone: the runs they start fail at once (a refused provider
    key) instead of pulling data through every step and loading the shared emulator under later tests."""

    from tests.kit.orgs import REFUSED_PROVIDER_KEY

    def make(**options):
        return new_org(**{"secret": REFUSED_PROVIDER_KEY, **options})

    return make
