"""Fixtures of the fault, delivery and crash tests: the fault provider and the short pipelines."""

from __future__ import annotations

import pytest

from tests.e2e.fault_provider import FaultProvider
from tests.e2e.faultkit import short_config_dir, with_config_dir
from tests.kit.orgs import fault_org


@pytest.fixture(scope="module")
def fault_provider(stack):
    """The scriptable provider stand-in, proxying to the stack's sandbox when no fault is scripted."""
    provider = FaultProvider(stack.sandbox_url)
    yield provider
    provider.close()


@pytest.fixture
def faults(fault_provider):
    """The fault provider with no script and zeroed counts, cleared again after the test."""
    fault_provider.clear()
    yield fault_provider
    fault_provider.clear()


@pytest.fixture(scope="module")
def short_settings(settings, tmp_path_factory):
    """The stack's settings with the short pipelines openai/cost/costs_only and openai/cost/usage_costs."""
    return with_config_dir(settings, short_config_dir(tmp_path_factory.mktemp("short-configs")))


@pytest.fixture(scope="module")
def tenant(short_settings, fault_provider):
    """One org for the fault, delivery and crash tests (onboarding costs seconds): its OpenAI credential is a
    unique key-shaped secret whose base_url is the fault provider."""
    return fault_org(short_settings, fault_provider.url)
