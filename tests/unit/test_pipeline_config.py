"""Pipeline configs: the shipped ones load, and malformed ones are refused with a reason."""

import pytest
from pydantic import ValidationError

from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.worker.pipelines import PipelineConfig, load_pipelines, ordered_steps


def _config(**overrides):
    base = {
        "pipeline_id": "openai/cost/usage_cost",
        "provider": "openai",
        "domain": "cost",
        "pipeline": "usage_cost",
        "steps": [
            {"step_id": "b", "ps_type": "openai.costs", "destination_table": "t", "depends_on": ["a"]},
            {"step_id": "a", "ps_type": "openai.usage_completions", "destination_table": "t"},
        ],
    }
    return {**base, **overrides}


def test_shipped_openai_pipeline_loads_with_every_field():
    config = load_pipelines(DEFAULT_CONFIG_DIR)["openai/cost/usage_cost"]
    assert [s.step_id for s in ordered_steps(config.steps)] == [
        "usage",
        "usage_other",
        "costs",
        "prices",
        "estimate",
        "focus",
    ]
    assert config.max_range_days == 90 and config.timeout_seconds == 900
    assert config.steps[0].retry.max_attempts == 3 and config.steps[0].timeout_seconds == 300


def test_shipped_anthropic_pipeline_loads_and_its_processors_exist():
    from shared.providers.registry import get_processor

    config = load_pipelines(DEFAULT_CONFIG_DIR)["anthropic/cost/usage_cost"]
    steps = ordered_steps(config.steps)
    assert [s.step_id for s in steps] == ["usage", "costs", "prices", "estimate", "focus"]
    assert config.max_range_days == 90 and all(get_processor(s.ps_type) for s in steps)


def test_steps_are_ordered_by_dependency():
    config = PipelineConfig.model_validate(_config())
    assert [s.step_id for s in ordered_steps(config.steps)] == ["a", "b"]


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"unknown_key": 1}, "Extra inputs"),
        ({"pipeline_id": "openai/cost/other"}, "provider/domain/pipeline"),
        ({"steps": []}, "at least 1"),
        (
            {
                "steps": [
                    {"step_id": "a", "ps_type": "openai.costs", "destination_table": "t", "depends_on": ["a"]}
                ]
            },
            "cycle",
        ),
        (
            {
                "steps": [
                    {"step_id": "a", "ps_type": "openai.costs", "destination_table": "t", "depends_on": ["z"]}
                ]
            },
            "unknown steps",
        ),
        (
            {
                "steps": [
                    {
                        "step_id": "a",
                        "ps_type": "openai.costs",
                        "destination_table": "t",
                        "retry": {"tries": 2},
                    }
                ]
            },
            "Extra inputs",
        ),
    ],
)
def test_malformed_configs_are_refused(overrides, reason):
    with pytest.raises(ValidationError, match=reason):
        PipelineConfig.model_validate(_config(**overrides))
