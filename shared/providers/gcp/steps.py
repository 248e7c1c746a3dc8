"""Google Cloud's step types (`ps_type` in configs/pipelines/gcp/)."""

from __future__ import annotations

from shared.providers.contract import Processor
from shared.providers.gcp.load import load_billing_export

PROCESSORS: dict[str, Processor] = {
    "gcp.billing_export": Processor(run=load_billing_export),
}
