"""Structured logs: Cloud Logging fields, the per-thread log context, and trace ids from HTTP and CloudEvents."""

from __future__ import annotations

import base64
import json
import threading
from datetime import date

from shared.platform.logs import (
    SAMPLED_FIELD,
    SPAN_FIELD,
    TRACE_FIELD,
    current_context,
    log,
    log_context,
    trace_fields,
)
from shared.platform.settings import settings_from_env
from shared.providers.contract import Credential, Processor
from shared.providers.openai import PROVIDER as OPENAI
from shared.runs.model import RunRequest
from shared.worker.entry import WorkerDeps, handle_run_event
from shared.worker.executor import Executor
from shared.worker.pipelines import PipelineConfig

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_one_json_line_per_event_in_cloud_loggings_shape(capsys):
    log("WARNING", "slow", rows=3, skipped=None)
    (line,) = _lines(capsys)
    assert line["severity"] == "WARNING" and line["message"] == "slow" and line["rows"] == 3
    assert line["time"].endswith("+00:00") and "skipped" not in line


def test_the_context_adds_its_fields_nests_and_is_gone_after_the_block(capsys):
    with log_context(org_slug="acme", pipeline_logging_id="r1", execution_id=None):
        with log_context(step_id="usage"):
            log("INFO", "inner")
        log("INFO", "outer", org_slug="explicit wins")
    log("INFO", "after")
    inner, outer, after = _lines(capsys)
    assert (inner["org_slug"], inner["pipeline_logging_id"], inner["step_id"]) == ("acme", "r1", "usage")
    assert "execution_id" not in inner
    assert outer["org_slug"] == "explicit wins" and "step_id" not in outer
    assert not {"org_slug", "pipeline_logging_id", "step_id"} & set(after)
    assert current_context() == {}


def test_the_context_survives_an_exception_only_inside_its_block():
    try:
        with log_context(org_slug="acme"):
            raise ValueError
    except ValueError:
        pass
    assert current_context() == {}


def test_each_thread_sees_only_its_own_context():
    seen = {}
    barrier = threading.Barrier(2)

    def worker(slug):
        with log_context(org_slug=slug):
            barrier.wait()  # both contexts are set at the same time
            seen[slug] = current_context()["org_slug"]

    threads = [threading.Thread(target=worker, args=(slug,)) for slug in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "a", "b": "b"}


def test_trace_from_a_w3c_traceparent():
    assert trace_fields("proj", TRACEPARENT) == {
        TRACE_FIELD: f"projects/proj/traces/{TRACE_ID}",
        SPAN_FIELD: "00f067aa0ba902b7",
        SAMPLED_FIELD: True,
    }
    assert trace_fields("proj", TRACEPARENT[:-2] + "00")[SAMPLED_FIELD] is False


def test_trace_from_x_cloud_trace_context_with_a_decimal_span():
    fields = trace_fields("proj", None, f"{TRACE_ID.upper()}/1;o=1")
    assert fields == {
        TRACE_FIELD: f"projects/proj/traces/{TRACE_ID}",
        SPAN_FIELD: "0000000000000001",
        SAMPLED_FIELD: True,
    }
    assert trace_fields("proj", None, TRACE_ID) == {TRACE_FIELD: f"projects/proj/traces/{TRACE_ID}"}


def test_traceparent_wins_and_garbage_gives_no_trace():
    assert trace_fields("p", TRACEPARENT, f"{'f' * 32}/1")[TRACE_FIELD].endswith(TRACE_ID)
    assert trace_fields("p", "00-" + "0" * 32 + "-00f067aa0ba902b7-01") == {}  # all-zero id is invalid
    assert trace_fields("p", "not a trace", "nor/this") == {} and trace_fields("p") == {}


def test_the_worker_labels_its_lines_with_the_execution_and_trace(capsys):
    deps = WorkerDeps(SETTINGS, warehouse=None, kms_client=None)
    event = {"message": {"data": base64.b64encode(b"not json").decode(), "messageId": "42"}}
    assert handle_run_event(event, OPENAI, deps, event_id="ev-1", traceparent=TRACEPARENT) == "dropped"
    assert handle_run_event(event, OPENAI, deps) == "dropped"
    traced, untraced = _lines(capsys)
    assert traced["execution_id"] == "ev-1" and traced[TRACE_FIELD] == f"projects/p/traces/{TRACE_ID}"
    assert traced["error_code"] == "BAD_MESSAGE" and traced["severity"] == "ERROR"
    assert untraced["execution_id"] == "42" and TRACE_FIELD not in untraced  # the message id, no trace
    assert current_context() == {}


class _Warehouse:
    def replace_slice(self, dataset, spec, rows, start, end):
        log("INFO", "loading")  # a line written deep inside a step
        return len(rows)


class _RunLog:
    def log_step(self, *args, **kwargs):
        pass


def test_every_line_inside_a_step_names_the_step(capsys):
    config = PipelineConfig.model_validate(
        {
            "pipeline_id": "openai/cost/usage_cost",
            "provider": "openai",
            "domain": "cost",
            "pipeline": "usage_cost",
            "steps": [
                {
                    "step_id": "usage",
                    "ps_type": "openai.usage_completions",
                    "destination_table": "openai_usage_daily",
                },
                {
                    "step_id": "costs",
                    "ps_type": "openai.costs",
                    "destination_table": "openai_costs_daily",
                    "depends_on": ["usage"],
                },
            ],
        }
    )
    processor = Processor(extract=lambda ctx: [{"a": 1}], transform=lambda records, ctx: list(records))
    executor = Executor(_Warehouse(), SETTINGS, _RunLog(), processor_for=lambda ps_type: processor)
    request = RunRequest("r1", "acme", config.pipeline_id, "openai", date(2025, 11, 1), date(2025, 11, 1))
    with log_context(org_slug="acme", pipeline_logging_id="r1", execution_id="ev-1"):
        executor.execute(request, config, Credential("openai", "sk-x"))
    lines = _lines(capsys)
    assert [(line["message"], line["step_id"]) for line in lines] == [
        ("loading", "usage"),
        ("step usage attempt 1: COMPLETED", "usage"),
        ("loading", "costs"),
        ("step costs attempt 1: COMPLETED", "costs"),
    ]
    assert all(line["org_slug"] == "acme" and line["execution_id"] == "ev-1" for line in lines)
