"""Each provider's local half (`LOCAL`, see local.py), by name: one explicit mapping beside shared's registry."""

from __future__ import annotations

from devstack.providers import anthropic, aws, azure, gcp, openai, saas
from devstack.providers.local import LocalProvider

LOCAL_PROVIDERS: dict[str, LocalProvider] = {
    local.name: local
    for local in (openai.LOCAL, anthropic.LOCAL, gcp.LOCAL, aws.LOCAL, azure.LOCAL, saas.LOCAL)
}
