"""AWS Data Exports constants: names, metadata keys, the federation audience, timeouts."""

from __future__ import annotations

PROVIDER_NAME = "AWS"  # ProviderName, PublisherName and InvoiceIssuerName as the FOCUS 1.0 export writes them
RAW_TABLE = "aws_cost_export"
STATE_TABLE = "aws_export_load_state"
METADATA_KEYS = ("bucket", "prefix", "export_name", "region", "role_arn")
# The `aud` of the Google ID token sent to STS, one per org: AWS maps a Google token's `aud` to the condition key
# accounts.google.com:oaud (and its `azp`, the service account's numeric id, to accounts.google.com:aud), IAM User
# Guide, "Available keys for AWS web identity federation". Every org's runs share the function's identity, so an
# audience common to all would let one org name another customer's role (a confused deputy; web identity takes
# no ExternalId): the customer's trust policy pins oaud to its own org's audience, which no other org's run asks
# Google for.
FEDERATION_AUDIENCE_PREFIX = "sts.amazonaws.com/dps-org/"
SESSION_NAME_PREFIX = "dps-"
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds for one S3 request (connect and each read)
MAX_ATTEMPTS = 2  # botocore "standard" retries: one quick retry; redelivery does the rest
RANGE_BYTES = 8 << 20  # one ranged GET of a data file
