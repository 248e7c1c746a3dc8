"""Which org tables onboarding makes and which wait for an org's first run of their provider."""

from __future__ import annotations

from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.providers.registry import PROVIDERS
from shared.warehouse.schemas import load_table_specs
from shared.worker.pipelines import load_pipelines

SPECS = load_table_specs(DEFAULT_CONFIG_DIR, "org")


def test_a_provider_table_names_a_registered_provider_whose_pipelines_write_it():
    owned = {name: spec.provider for name, spec in SPECS.items() if spec.provider}
    assert set(owned.values()) <= set(PROVIDERS)
    written = {
        (config.provider, step.destination_table)
        for config in load_pipelines(DEFAULT_CONFIG_DIR).values()
        for step in config.steps
    }
    # Each provider-owned raw table is some step of that provider's destination (its state tables ride along).
    raw = {(provider, name) for name, provider in owned.items() if not name.endswith("_load_state")}
    assert raw and raw <= written


def test_onboarding_makes_the_shared_tables_and_a_run_adds_only_its_providers():
    at_onboarding = {name for name, spec in SPECS.items() if spec.made_for(None)}
    for_aws = {name for name, spec in SPECS.items() if spec.made_for("aws")}
    assert "cost_focus" in at_onboarding and "aws_cost_export" not in at_onboarding
    assert for_aws - at_onboarding == {"aws_cost_export", "aws_export_load_state"}
