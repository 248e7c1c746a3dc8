"""The providers the standard suite runs over: every registered provider's case, and the test-only provider's.
A new provider registers here with one line (and in shared.providers.registry if it ships)."""

from __future__ import annotations

from tests.providers import anthropic, aws, azure, gcp, openai, saas, seatbill

CASES = [
    openai.CASE,
    anthropic.CASE,
    gcp.CASE,
    aws.CASE,
    azure.CASE,
    saas.CASE,
    seatbill.CASE,  # exists only in the tests: the contract is all a provider needs
]
