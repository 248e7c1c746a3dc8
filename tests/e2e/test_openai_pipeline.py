"""HTTP run request in, rows out: the OpenAI pipeline end to end through Pub/Sub, the worker, KMS and BigQuery."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from shared.providers.openai import PROVIDER as OPENAI
from shared.providers.openai.estimate import TOKEN_TYPES
from shared.runs.run_log import RunLog
from shared.worker.entry import WorkerDeps, handle_run_event
from tests.focus_conformance import violations
from tests.kit.runs import event_for, function_log, get_run, start_run, wait_for_run, wait_until
from tests.kit.totals import sandbox_cost_total, table_facts

START, END = "2025-11-03", "2025-11-05"


def _focus_rows(warehouse, settings, org_slug):
    table = f"{settings.project}.{settings.org_dataset(org_slug)}.cost_focus"
    return warehouse.query(f"SELECT * FROM `{table}` WHERE ProviderName = 'OpenAI'")


def _assert_tokens_match_the_usage_table(warehouse, settings, org_slug, focus):
    """Each FOCUS row counts the tokens its bill line measures, and together they are the usage table's priced
    tokens, each kind once (text, cached, cache writes, audio, image), whatever the tier."""
    dataset = f"{settings.project}.{settings.org_dataset(org_slug)}"
    costs = warehouse.query(
        f"SELECT cost_date, project_id, line_item, quantity FROM `{dataset}.openai_costs_daily`"
    )
    quantity = {(c["cost_date"], c["project_id"], c["line_item"]): c["quantity"] for c in costs}
    assert all(
        r["ConsumedQuantity"] == quantity[(r["ChargePeriodStart"].date(), r["SubAccountId"], r["SkuId"])]
        for r in focus
    )
    columns = " + ".join(f"SUM({column})" for _, _, column in TOKEN_TYPES)
    usage = warehouse.query(f"SELECT {columns} AS n FROM `{dataset}.openai_usage_daily`")[0]["n"]
    assert sum(r["ConsumedQuantity"] for r in focus) == usage


def test_run_end_to_end_then_rerun_leaves_one_copy(stack, settings, warehouse, new_org):
    org = new_org()
    run = wait_for_run(stack, org, start_run(stack, org, {"start_date": START, "end_date": END}))
    assert run["status"] == "COMPLETED", run
    steps = {s["step_id"]: s for s in run["steps"]}
    assert list(steps) == ["usage", "usage_other", "costs", "prices", "estimate", "focus"]
    assert all(s["status"] == "COMPLETED" for s in run["steps"])
    first = table_facts(settings, warehouse, org["org_slug"])
    # One FOCUS row per costs row.
    assert first[0] > 0 and first[2] > 0
    assert (steps["usage"]["rows_written"], steps["costs"]["rows_written"]) == (first[0], first[2])
    assert steps["focus"]["rows_written"] == first[2] and steps["usage_other"]["rows_written"] > 0
    assert first[3] == sandbox_cost_total(stack, START, END)  # exact to the last decimal, never float
    days = warehouse.query(
        f"SELECT DISTINCT cost_date FROM `{settings.project}.{settings.org_dataset(org['org_slug'])}.openai_costs_daily`"
        " ORDER BY cost_date"
    )
    assert [d["cost_date"] for d in days] == [date(2025, 11, 3), date(2025, 11, 4), date(2025, 11, 5)]

    focus = _focus_rows(warehouse, settings, org["org_slug"])
    assert len(focus) == first[2] and sum(r["BilledCost"] for r in focus) == first[3]
    assert violations(focus) == {}
    assert {r["ServiceCategory"] for r in focus} == {"AI and Machine Learning"}
    # Every costs row found its tokens: one per day, project, model, tier and token type in the usage table.
    assert all(r["ConsumedQuantity"] > 0 and r["ConsumedUnit"] == "Tokens" for r in focus)
    _assert_tokens_match_the_usage_table(warehouse, settings, org["org_slug"], focus)
    # The sandbox bills at the price table's rates: the estimate of every line equals its bill.
    dataset = f"{settings.project}.{settings.org_dataset(org['org_slug'])}"
    view = warehouse.query(f"SELECT * FROM `{dataset}.llm_cost_reconciliation` WHERE provider = 'openai'")
    assert len(view) == 3 and all(r["difference"] == 0 and r["unpriced_models"] is None for r in view)
    assert all(r["ListCost"] == r["BilledCost"] for r in focus)

    again = wait_for_run(stack, org, start_run(stack, org, {"start_date": START, "end_date": END}))
    assert again["status"] == "COMPLETED"
    assert table_facts(settings, warehouse, org["org_slug"]) == first
    assert len(_focus_rows(warehouse, settings, org["org_slug"])) == len(focus)  # replaced, not added


def test_another_orgs_run_is_not_found(stack, new_org):
    owner, other = new_org(), new_org()
    run_id = start_run(stack, owner, {"date": START})
    response = get_run(stack, other, run_id)
    assert response.status_code == 404 and response.json()["error"]["code"] == "RUN_NOT_FOUND"
    wait_for_run(stack, owner, run_id)


def test_the_same_message_delivered_twice_runs_once(stack, settings, warehouse, kms, new_org):
    org = new_org()
    run_log = RunLog(warehouse, settings)
    request = run_log.new_request(
        org["org_slug"], "openai/cost/usage_cost", "openai", date(2025, 11, 3), date(2025, 11, 4)
    )
    run_log.create(request)
    event = event_for(request, "m-1")
    deps = WorkerDeps(settings, warehouse, kms)
    with ThreadPoolExecutor(2) as pool:  # two concurrent deliveries of one message
        outcomes = sorted(pool.map(lambda _: handle_run_event(event, OPENAI, deps), range(2)))
    assert outcomes == ["completed", "duplicate"]
    assert handle_run_event(event, OPENAI, deps) == "duplicate"  # and a late third one
    facts = table_facts(settings, warehouse, org["org_slug"])
    steps = run_log.step_logs(org["org_slug"], request.pipeline_logging_id)
    assert [(s["step_id"], s["attempt"]) for s in steps] == [
        (step, 1) for step in ("usage", "usage_other", "costs", "prices", "estimate", "focus")
    ]
    assert facts[3] == sandbox_cost_total(stack, "2025-11-03", "2025-11-04")


def test_pubsub_redelivery_of_a_published_run_does_not_double(stack, settings, warehouse, new_org):
    from google.cloud import pubsub_v1

    org = new_org()
    run_log = RunLog(warehouse, settings)
    request = run_log.new_request(
        org["org_slug"], "openai/cost/usage_cost", "openai", date(2025, 11, 3), date(2025, 11, 3)
    )
    run_log.create(request)
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(settings.project, settings.topic_for("openai"))
    data = json.dumps(request.to_message()).encode()
    for future in [
        publisher.publish(topic, data) for _ in range(3)
    ]:  # three copies through the real emulator
        future.result(timeout=30)
    run = wait_for_run(stack, org, request.pipeline_logging_id)
    assert run["status"] == "COMPLETED"

    def handled():  # what the function did with each copy, once all three were delivered
        messages = [line["message"] for line in function_log(stack, "openai", request.pipeline_logging_id)]
        outcomes = [
            "started" if m == "run started" else "duplicate"
            for m in messages
            if m == "run started" or m.startswith("duplicate delivery ignored")
        ]
        return sorted(outcomes) if len(outcomes) >= 3 else None

    assert wait_until(handled, what="three deliveries of the run") == ["duplicate", "duplicate", "started"]
    steps = run_log.step_logs(org["org_slug"], request.pipeline_logging_id)
    assert len(steps) == 6
    assert table_facts(settings, warehouse, org["org_slug"])[3] == sandbox_cost_total(
        stack, "2025-11-03", "2025-11-03"
    )


def test_a_rejected_provider_key_fails_the_run_with_a_stable_code_and_no_secret(stack, new_org):
    org = new_org(secret="revoked-admin-key-123")  # the sandbox refuses keys that are not sk-...
    run = wait_for_run(stack, org, start_run(stack, org, {"date": START}))
    assert run["status"] == "FAILED" and run["error_code"] == "PROVIDER_AUTH_FAILED"
    assert "revoked-admin-key-123" not in json.dumps(run)
    assert [s["status"] for s in run["steps"]] == ["FAILED"]  # terminal: not retried, later steps never ran
