"""Unit tests of the GCP export table's scope: no dataset of this service's own project but the org's own."""

from __future__ import annotations

import pytest

from devstack.providers.gcp.export import demo_service_account_key
from shared.platform.errors import TerminalError
from shared.providers.gcp import PROVIDER
from tests.kit.steps import PROD_ENV, offline_settings

SETTINGS = offline_settings(PROD_ENV)  # project golden-project, environment prod
TABLE = "gcp_billing_export_v1_0AAAAA_BBBBBB_CCCCCC"
KEY = demo_service_account_key("customer-project", "unit")


def _check(table_id: str, org_slug: str | None = "acme") -> None:
    PROVIDER.validate_credential(KEY, {"billing_export_table": table_id}, SETTINGS, org_slug=org_slug)


@pytest.mark.parametrize(
    ("dataset", "why"),
    [
        ("victim_prod", "not the org's own (acme_prod)"),  # another org's dataset
        ("organizations", "central dataset"),
        ("Organizations", "central dataset"),
        ("billing", "not the org's own (acme_prod)"),  # anything else of the service's project
        ("acme_stage", "not the org's own (acme_prod)"),  # the org's own, but another environment's
    ],
)
def test_a_dataset_of_the_services_own_project_is_refused(dataset, why):
    with pytest.raises(TerminalError) as caught:
        _check(f"golden-project.{dataset}.{TABLE}")
    assert caught.value.code == "INVALID_BILLING_EXPORT_TABLE"
    assert why in caught.value.message and "golden-project" in caught.value.message


def test_the_orgs_own_dataset_and_other_projects_are_allowed():
    _check(f"golden-project.acme_prod.{TABLE}")
    _check(f"customer-project.billing.{TABLE}")


def test_without_the_org_every_dataset_of_the_services_project_is_refused():
    with pytest.raises(TerminalError, match="is not the org's own"):
        _check(f"golden-project.acme_prod.{TABLE}", org_slug=None)
