"""The standard provider suite: what every provider must show, run over every registered provider and the
test-only one (tests/providers/registry.py). A new provider passes it by declaring the contract and registering a
case; nothing here names a provider."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import pytest

from shared.platform.errors import RUN_ERRORS, PipelineError, TerminalError, TransientError
from shared.platform.identifiers import is_path_segment
from shared.providers.contract import Processor
from shared.providers.kit.focus import SERVICE_CATEGORIES, classify_service
from shared.providers.registry import PROVIDERS
from shared.warehouse.schemas import load_table_specs
from shared.worker.pipelines import load_pipelines, ordered_steps
from tests.focus_conformance import violations
from tests.kit.fault_server import FaultServer
from tests.kit.recorded import (
    FAULT_CLASSES,
    RETRY_AFTER_SECONDS,
    FailingClients,
    HttpFault,
    store_fault,
    warehouse_fault,
)
from tests.kit.steps import step_context
from tests.providers.case import expected_tables, golden_slug, run_case
from tests.providers.registry import CASES


def _pipelines(case, settings) -> list:
    return [c for c in load_pipelines(settings.config_dir).values() if c.provider == case.name]


def _no_secret(case, *texts: str) -> None:
    for text in texts:
        for marker in case.markers():
            assert marker not in text, f"a secret of {case.name} was written"


def test_every_registered_provider_has_a_case():
    assert set(PROVIDERS) <= {case.name for case in CASES}


def test_the_declaration_is_complete(case):
    provider = case.provider
    assert is_path_segment(provider.name) and provider.title
    assert provider.source.kind in ("http", "warehouse_table", "object_storage", "org_records")
    identity = provider.focus
    assert identity.provider_name and identity.publisher and identity.invoice_issuer
    assert set(identity.service_categories.values()) <= set(SERVICE_CATEGORIES)
    processors = provider.processors()
    assert processors and all(isinstance(p, Processor) for p in processors.values())
    assert all(ps_type.startswith(f"{provider.name}.") for ps_type in processors)


def test_step_types_resolve_and_every_table_written_has_a_schema(case, suite_settings):
    pipelines = _pipelines(case, suite_settings)
    assert pipelines, f"no pipeline config of {case.name}"
    specs = load_table_specs(suite_settings.config_dir, "org")
    used = set()
    for config in pipelines:
        assert config.needs_credential is case.provider.needs_credential, "the api and the worker disagree"
        for step in config.steps:
            assert step.ps_type.startswith(f"{case.name}.")
            case.provider.processor(step.ps_type)  # KeyError if the provider does not declare it
            assert step.destination_table in specs, f"{step.destination_table} has no schema spec"
            used.add(step.ps_type)
    assert used == set(case.provider.processors()), "a declared step type no pipeline uses"


def test_onboarding_refuses_what_a_run_would_refuse(case, suite_settings):
    if case.provider.needs_credential:  # else onboarding refuses any credential (the cases list what it says)
        case.provider.validate_credential(case.secret, case.metadata, suite_settings)
    for secret, metadata, says in case.invalid_credentials:
        with pytest.raises(TerminalError) as refused:
            case.provider.validate_credential(secret, metadata, suite_settings)
        assert says in refused.value.message
        _no_secret(case, refused.value.message)
    assert case.invalid_credentials, "a case shows at least one refused credential"


def test_recorded_source_becomes_exactly_the_golden_rows(case, golden_run):
    run, logged = golden_run
    assert {status for _, _, status, _ in run.steps} == {"COMPLETED"}
    expected = expected_tables(case)
    assert expected, f"no golden rows for {case.name}: see tests/providers/regenerate.py"
    assert set(run.tables) == set(expected)
    for table, rows in expected.items():
        assert run.tables[table] == rows, f"{case.name}: {table} differs from its golden rows"
    _no_secret(case, json.dumps(run.tables), logged)


def test_every_table_in_the_dataset_has_a_schema(case, golden_run, suite_settings, suite_warehouse):
    dataset = f"{suite_settings.project}.{suite_settings.org_dataset(golden_slug(case))}"
    specs = load_table_specs(suite_settings.config_dir, "org")
    tables = [t.table_id for t in suite_warehouse.client.list_tables(dataset) if t.table_type == "TABLE"]
    assert set(tables) <= set(specs), "a step left a table without a schema (a stage it did not drop?)"


def test_cost_focus_rows_conform_and_carry_the_providers_identity(
    case, golden_run, suite_settings, suite_warehouse
):
    table = suite_warehouse.table_id(suite_settings.org_dataset(golden_slug(case)), "cost_focus")
    rows = suite_warehouse.query(f"SELECT * FROM `{table}`")  # typed as BigQuery gives them, for the rules
    assert rows, f"{case.name} writes no cost_focus rows"
    assert violations(rows) == dict(case.focus_gaps)
    identity = case.provider.focus
    for row in rows:
        if identity.names_per_row:  # each row names its vendor; the slice is the provider's raw table's rows
            assert row["ProviderName"] and row["PublisherName"] and row["InvoiceIssuerName"]
            assert row["x_source_table"] in load_table_specs(suite_settings.config_dir, "org")
        else:
            assert (row["ProviderName"], row["InvoiceIssuerName"]) == (
                identity.provider_name,
                identity.invoice_issuer,
            )
        classified = classify_service(suite_settings.config_dir, identity, row["ServiceName"])
        assert (row["ServiceCategory"], row["ServiceSubcategory"]) == classified


def test_a_rerun_changes_nothing(case, golden_run, suite_settings, suite_warehouse):
    again = run_case(case, suite_warehouse, suite_settings, golden_slug(case))
    assert again.tables == golden_run[0].tables
    if case.provider.source.kind != "http":  # an HTTP report is read whole every run: forcing changes nothing
        # A source read incrementally: a forced re-run reloads what the state says is loaded, and replaces it.
        forced = run_case(case, suite_warehouse, suite_settings, golden_slug(case), force_refresh=True)
        assert forced.tables == golden_run[0].tables


def _first_source_step(case, settings):
    config = next(c for c in _pipelines(case, settings) if c.pipeline_id == case.pipeline_id)
    step = ordered_steps(config.steps)[0]
    return step, case.provider.processor(step.ps_type)


@pytest.mark.parametrize("fault", FAULT_CLASSES)
def test_source_faults_are_classified_as_the_catalogue_says(
    case, fault, suite_settings, suite_warehouse, capsys
):
    step, processor = _first_source_step(case, suite_settings)
    kind = case.provider.source.kind
    options: dict = {"destination_table": step.destination_table, "metadata": dict(case.metadata)}
    with contextlib.ExitStack() as stack:
        if kind == "http":
            options["transport"] = __import__("httpx").MockTransport(HttpFault(fault, case.secret))
        elif kind == "warehouse_table":
            case.seed_source(suite_warehouse, case.metadata, suite_settings)
            options["source_clients"] = FailingClients(warehouse_fault(fault)).pair()
        elif kind == "org_records":  # the control store's client fails as google.api_core raises over gRPC
            options["source_clients"] = FailingClients(store_fault(fault))
        elif kind == "object_storage":  # the provider's SDK meets a real server answering with the fault
            server = stack.enter_context(FaultServer(fault))
            endpoints = ((case.name, server.url),)
            options["settings"] = dataclasses.replace(suite_settings, storage_endpoints=endpoints)
            options["request_timeout"] = 0.5
        else:  # a new source kind brings its own fault injection to the kit
            pytest.fail(f"the suite cannot inject faults into a {kind} source yet")
        options.setdefault("settings", suite_settings)
        ctx = step_context(case.name, case.start, case.end, case.secret, **options)
        with pytest.raises(PipelineError) as failed:
            if processor.run is not None:
                processor.run(ctx, suite_warehouse)
            else:
                processor.transform(processor.extract(ctx), ctx)
    error, (wanted_class, codes) = failed.value, FAULT_CLASSES[fault]
    assert error.code in codes, f"{fault} became {error.code}"
    assert RUN_ERRORS[error.code].transient is (wanted_class == "transient")
    assert isinstance(error, TransientError if wanted_class == "transient" else TerminalError)
    if fault == "429 with Retry-After" and kind == "http":
        assert error.retry_after >= RETRY_AFTER_SECONDS  # the provider's wait is handed to the redelivery
    _no_secret(case, error.message, str(error), capsys.readouterr().out)
