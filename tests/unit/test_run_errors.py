"""Every run error the code raises is in the run-error catalogue, classified as the catalogue says."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.platform.errors import RUN_ERRORS

SHARED = Path(__file__).resolve().parents[2] / "shared"
TRANSIENT = {"TransientError", "_Retry"}  # _Retry: kit.http's retriable attempt, raised as TransientError
TERMINAL = {"TerminalError", "CredentialRejected"}


def _raised_codes() -> dict[str, set[str]]:
    """code -> the error classes it is raised with, from every literal `XError("CODE", ...)` in shared/."""
    found: dict[str, set[str]] = {}
    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in TRANSIENT | TERMINAL
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.isupper()
            ):
                found.setdefault(node.args[0].value, set()).add(node.func.id)
    return found


def test_every_raised_code_is_catalogued_with_its_class():
    raised = _raised_codes()
    assert len(raised) > 20  # the scan sees the codebase, not nothing
    for code, classes in raised.items():
        assert code in RUN_ERRORS, f"{code} is raised but not in RUN_ERRORS"
        transient = RUN_ERRORS[code].transient
        assert classes <= (TRANSIENT if transient else TERMINAL), f"{code} raised as {classes}"


def test_http_status_codes_of_the_kit_are_catalogued():
    from shared.providers.kit import http

    source = Path(http.__file__).read_text()
    for code in ("PROVIDER_RATE_LIMITED", "PROVIDER_TIMEOUT", "PROVIDER_UNAVAILABLE"):
        assert code in source and RUN_ERRORS[code].transient
