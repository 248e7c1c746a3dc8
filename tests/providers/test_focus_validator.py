"""The FinOps Foundation's own FOCUS validator over every provider's golden cost_focus rows: no FOCUS 1.2 rule
fails (the validator runs from its own venv: tests/kit/focus_validator.py)."""

from __future__ import annotations

import json

import pytest

from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.warehouse.schemas import load_table_specs
from tests.kit.focus_validator import arrow_table, validate_each
from tests.providers.registry import CASES

FALSE_POSITIVES = {case.name: dict(case.validator_false_positives) for case in CASES}
ROOT = DEFAULT_CONFIG_DIR.parent
# The provider suite's golden rows, and the hand-kept golden cases written as cost_focus rows.
GOLDEN = {
    **{
        case.name: (case.folder / "expected" / "cost_focus.json", case.provider.focus.provider_name)
        for case in CASES
    },
    "gcp (tests/golden)": (ROOT / "tests" / "golden" / "gcp" / "expected_focus_rows.json", "Google Cloud"),
    "openai (tests/golden)": (ROOT / "tests" / "golden" / "openai" / "expected_focus_rows.json", "OpenAI"),
}
BROKEN = (
    "gcp with a made-up ChargeCategory"  # proves a failed rule is seen, so the others cannot pass vacuously
)


@pytest.fixture(scope="module")
def reports():
    spec = load_table_specs(DEFAULT_CONFIG_DIR, "org")["cost_focus"]
    tables = {
        name: (arrow_table(json.loads(path.read_text()), spec), provider)
        for name, (path, provider) in GOLDEN.items()
    }
    broken = [{**row, "ChargeCategory": "Refund"} for row in json.loads(GOLDEN["gcp"][0].read_text())]
    return validate_each({**tables, BROKEN: (arrow_table(broken, spec), "Google Cloud")})


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_cost_focus_rows_fail_no_focus_rule(reports, name):
    report = reports[name]
    # Exactly the case's known validator false positives (each explained in its case), nothing else.
    assert set(report.real_failures()) == set(FALSE_POSITIVES.get(name, {})), report.summary()
    assert report.passed >= 100, f"the validator checked almost nothing: {report.summary()}"


def test_the_validator_reports_a_broken_rule(reports):
    broken = reports[BROKEN].real_failures()
    assert any(rule.startswith("ChargeCategory") for rule in broken), reports[BROKEN].summary()
