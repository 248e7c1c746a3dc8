"""Unit tests of shared.providers.kit.scrub: which forms and fragments of a secret are scrubbed, and which not."""

from __future__ import annotations

import pytest

from shared.providers.kit.scrub import MIN_FRAGMENT, REDACTED, scrub
from tests.kit.secrets import echo_forms

SECRET = "sk-admin-Unit-0123456789abcdefXYZ"


@pytest.mark.parametrize("form", sorted(echo_forms(SECRET)))
def test_every_echoed_form_is_scrubbed(form):
    assert scrub(f"key {echo_forms(SECRET)[form]} refused", [SECRET]) == f"key {REDACTED} refused"


def test_partly_escaped_and_mixed_case_echoes_are_scrubbed():
    mixed = "SK%2dadmin\\u002dunit-0123%34567"
    assert scrub(f"got {mixed}!", [SECRET]) == f"got {REDACTED}!"


def test_a_fragment_shorter_than_the_minimum_is_kept_and_the_text_around_is_untouched():
    short = SECRET[14 : 14 + MIN_FRAGMENT - 1]
    assert scrub(f"id {short} seen", [SECRET]) == f"id {short} seen"
    assert scrub(f"id {SECRET[14 : 14 + MIN_FRAGMENT]} seen", [SECRET]) == f"id {REDACTED} seen"
    assert scrub("Invalid value for 'group_by'.", [SECRET]) == "Invalid value for 'group_by'."


def test_no_secret_means_no_change():
    assert scrub("text", []) == "text" and scrub("", [SECRET]) == ""
