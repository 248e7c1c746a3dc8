"""Onboarding a granted-mode GCP org: the dry run as the pipeline's account meets BigQuery's own refusals (a real
HTTP server answering with the error bodies BigQuery sends: 403 accessDenied, 404 notFound), and the credential is
refused with a message naming the missing role, the dataset and the account to grant it to."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.platform.errors import TerminalError
from shared.platform.settings import settings_from_env
from shared.providers.contract import CredentialRejected
from shared.providers.registry import PROVIDERS

EXPORT = "customer-billing.billing_export.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9"
TABLE_DENIED = (
    403,
    "accessDenied",
    (
        "Access Denied: Table customer-billing:billing_export.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9: "
        "User does not have permission to query table customer-billing:billing_export."
        "gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9, or perhaps it does not exist."
    ),
)
JOBS_DENIED = (
    403,
    "accessDenied",
    "Access Denied: Project dps-prod: User does not have bigquery.jobs.create permission in project dps-prod.",
)
NOT_FOUND = (404, "notFound", "Not found: Dataset customer-billing:billing_export")


class BigQueryRefusal:
    """Answer every request as BigQuery does when it refuses: {"error": {code, message, errors, status}}."""

    def __init__(self, answer: tuple[int, str, str]):
        status, reason, message = answer
        body = json.dumps(
            {
                "error": {
                    "code": status,
                    "message": message,
                    "errors": [{"message": message, "domain": "global", "reason": reason}],
                    "status": "PERMISSION_DENIED" if status == 403 else "NOT_FOUND",
                }
            }
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _settings(url: str):
    return settings_from_env(
        {
            "GCP_PROJECT_ID": "dps-prod",
            "ENVIRONMENT": "local",
            "KMS_KEY_NAME": "projects/dps-prod/locations/global/keyRings/dps/cryptoKeys/credentials",
            "BIGQUERY_API_ENDPOINT": url,
            "GCP_EXPORT_READER": "dps-prod-gcp@dps-prod.iam.gserviceaccount.com",
        }
    )


def _onboard(settings, secret: str = "", access: str = "granted") -> None:
    metadata = {"billing_export_table": EXPORT, "access": access}
    PROVIDERS["gcp"].validate_credential(secret, metadata, settings, org_slug="acmecorp")


def test_a_missing_grant_is_refused_naming_the_role_the_dataset_and_the_account():
    with BigQueryRefusal(TABLE_DENIED) as bigquery, pytest.raises(CredentialRejected) as refused:
        _onboard(_settings(bigquery.url))
    assert refused.value.code == "PROVIDER_PERMISSION_DENIED"
    message = refused.value.message
    assert "roles/bigquery.dataViewer" in message
    assert "dataset customer-billing:billing_export" in message
    assert "dps-prod-gcp@dps-prod.iam.gserviceaccount.com" in message


def test_our_own_missing_job_permission_is_told_apart_from_the_orgs_grant():
    with BigQueryRefusal(JOBS_DENIED) as bigquery, pytest.raises(CredentialRejected) as refused:
        _onboard(_settings(bigquery.url))
    assert "roles/bigquery.jobUser" in refused.value.message and "dps-prod" in refused.value.message


def test_an_export_the_account_cannot_see_is_not_found_with_the_grant_to_check():
    with BigQueryRefusal(NOT_FOUND) as bigquery, pytest.raises(CredentialRejected) as refused:
        _onboard(_settings(bigquery.url))
    assert refused.value.code == "BILLING_EXPORT_NOT_FOUND"
    assert "roles/bigquery.dataViewer on dataset customer-billing:billing_export" in refused.value.message


def test_a_granted_credential_takes_no_secret_and_an_unknown_mode_names_the_choices():
    settings = _settings("http://127.0.0.1:9")  # never reached: refused before any request
    with pytest.raises(CredentialRejected, match="takes no secret"):
        _onboard(settings, secret='{"type": "service_account"}')
    with pytest.raises(TerminalError, match="key, granted"):
        _onboard(settings, access="impersonate")
    with pytest.raises(CredentialRejected, match="secret is empty"):
        _onboard(settings, access="key")  # the key mode still needs its key
