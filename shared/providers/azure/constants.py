"""Names and rules of the Azure provider: its FOCUS identity, credential metadata, tables and the export layout."""

from __future__ import annotations

import re

# The Azure FOCUS export writes ProviderName, PublisherName and InvoiceIssuerName "Microsoft" for Microsoft's own
# charges (learn.microsoft.com/cloud-computing/finops/focus/metadata: FocusCost 1.0 / 1.2-preview, "Data generator:
# Microsoft").
PROVIDER_NAME = "Microsoft"
METADATA_KEYS = ("storage_account", "container", "directory", "export_name", "tenant_id", "client_id")
RAW_TABLE = "azure_cost_export"
STATE_TABLE = "azure_export_load_state"

# Storage account names: 3-24 characters, lowercase letters and digits only (Azure's naming rules).
STORAGE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
# Container names: 3-63 characters of lowercase letters, digits and single hyphens, starting and ending with a
# letter or digit.
CONTAINER = re.compile(r"(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*")
# The export's directory (rootFolderPath): blob path segments, no empty, "." or ".." segment.
DIRECTORY_SEGMENT = re.compile(r"[A-Za-z0-9._=@+-]{1,255}")
EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Workload identity federation: the function's Google-signed ID token is the client assertion Entra ID exchanges for
# an access token of the app registration (its federated credential trusts Google's issuer and the function's
# subject). Every org's runs share that subject, so the token is asked for the org's own audience, which the
# customer's federated credential lists as its audience (Entra accepts any agreed value there): an org naming
# another customer's tenant and app gets a token that app does not accept.
TOKEN_AUDIENCE_PREFIX = "api://AzureADTokenExchange/dps-org/"
BLOB_URL = "https://{account}.blob.core.windows.net"
# Azurite's development account and its documented public key (the stand-in's; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

MANIFEST = "manifest.json"
COMMIT_RESERVE_SECONDS = 15.0
