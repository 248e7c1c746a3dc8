"""The fault table: each provider failure, scripted at a real HTTP stand-in, through the real worker and stack.

Every row runs `handle_run_event` in-process against the local stack (BigQuery, KMS) with the org's credential
pointing at the fault provider; only the waits are recorded instead of slept. The last test scans everything the
suite wrote (logs of this process and of the function processes, run, step and transition rows) for secrets.
"""

from __future__ import annotations

import json

import httpx
import pytest

from shared.platform.logs import TRACE_FIELD
from shared.runs.run_log import RunLog
from tests.e2e.fault_provider import NOT_JSON, RESET, TRUNCATED, hang, status, text
from tests.e2e.faultkit import COSTS_ONLY, DAY
from tests.kit.runs import (
    Recorder,
    deliver,
    event_for,
    function_log,
    get_run,
    new_run,
    wait_until,
    worker_deps,
)
from tests.kit.secrets import echo_forms, leaks
from tests.kit.totals import COSTS_PATH, USAGE_PATH, sandbox_costs, table_costs

REQUESTS_PER_STEP_ATTEMPT = 4  # shared.providers.kit.report_api.MAX_ATTEMPTS_PER_REQUEST
STEP_ATTEMPTS = 3  # the retry policy of the short pipeline's step (as in production)
DELIVERIES = 4  # shared.worker.executor.MAX_RUN_ATTEMPTS

# fault → the code its retries are classified under. Each is scripted for exactly one step attempt (4 requests):
# the request retries absorb 3, the step's retry policy the 4th, and the 5th request reaches the real sandbox.
TRANSIENT = {
    "429 Retry-After": (status(429, "Rate limit reached", Retry_After="1"), "PROVIDER_RATE_LIMITED"),
    "500": (status(500, "The server had an error"), "PROVIDER_UNAVAILABLE"),
    "502": (status(502, "Bad gateway"), "PROVIDER_UNAVAILABLE"),
    "503": (status(503, "Service unavailable", Retry_After="0"), "PROVIDER_UNAVAILABLE"),
    "408": (status(408, "Request timeout"), "PROVIDER_TIMEOUT"),
    "connection reset": (RESET, "PROVIDER_UNREACHABLE"),
    "read timeout": (hang(1.0), "PROVIDER_TIMEOUT"),
    "truncated body": (TRUNCATED, "PROVIDER_UNREACHABLE"),
    "non-JSON body": (NOT_JSON, "PROVIDER_BAD_RESPONSE"),
}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
ECHO_401 = "Incorrect API key provided: {key}. You can find your API key in your settings."
# A provider echoing the key transformed: each form in its own refusal, so no excerpt limit hides one.
ECHO_FORMS = [name for name in echo_forms("sk-x") if name != "key"]
TERMINAL = {
    "401 echoing the key": (status(401, ECHO_401), "PROVIDER_AUTH_FAILED", "store a valid key"),
    "403": (
        status(403, "You have insufficient permissions. Missing scopes: api.usage.read"),
        "PROVIDER_AUTH_FAILED",
        "store an organization admin key",
    ),
}


@pytest.fixture(scope="module")
def written():
    """Everything this module's tests wrote to stdout/stderr (the in-process worker's log lines)."""
    return []


@pytest.fixture(autouse=True)
def _capture(capsys, written):
    yield
    captured = capsys.readouterr()
    written.extend([captured.out, captured.err])


@pytest.fixture
def run(short_settings, warehouse, kms, tenant):
    """Factory: a PENDING costs_only run for the org, with its event, worker and recorded waits."""

    def make():
        recorder = Recorder()
        request = new_run(short_settings, warehouse, tenant["org_slug"], COSTS_ONLY, DAY)
        return request, event_for(request), worker_deps(short_settings, warehouse, kms, recorder), recorder

    return make


def _row(short_settings, warehouse, request) -> tuple[dict, list[tuple]]:
    run_log = RunLog(warehouse, short_settings)
    row = run_log.get(request.org_slug, request.pipeline_logging_id)
    steps = run_log.step_logs(request.org_slug, request.pipeline_logging_id)
    return row, [(s["step_id"], s["attempt"], s["status"], s["error_code"]) for s in steps]


def _request_waits_are_capped_exponential(waits: list[float], floor: float = 0.0) -> bool:
    # shared.providers.kit.http: min(30, 1 * 2**i) with jitter in its upper half; Retry-After raises the floor.
    return all(max(floor, 2**i / 2) <= w <= max(floor, 2**i) for i, w in enumerate(waits))


def _assert_lines_carry_the_run(output: str, request, execution_id: str, trace: str) -> None:
    """Every structured line of the run names org, run, execution and trace; step lines name the step."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines and all(
        (line["org_slug"], line["pipeline_logging_id"], line["execution_id"], line[TRACE_FIELD])
        == (request.org_slug, request.pipeline_logging_id, execution_id, trace)
        for line in lines
    )
    assert all(line["step_id"] == "costs" for line in lines if line["message"].startswith("step "))


@pytest.mark.parametrize("name", TRANSIENT)
def test_transient_fault_is_retried_then_the_run_completes(
    name, stack, short_settings, warehouse, faults, run, capsys, written
):
    fault, code = TRANSIENT[name]
    request, event, deps, recorder = run()
    faults.script(COSTS_PATH, [fault] * REQUESTS_PER_STEP_ATTEMPT)
    capsys.readouterr()  # the lines of this delivery only

    assert deliver(event, deps, DELIVERIES, event_id="ev-7", traceparent=TRACEPARENT) == ["completed"]

    output = capsys.readouterr()
    written.extend(output)
    trace = f"projects/{short_settings.project}/traces/{TRACE_ID}"
    _assert_lines_carry_the_run(output.out, request, "ev-7", trace)

    row, steps = _row(short_settings, warehouse, request)
    assert faults.hits[COSTS_PATH] == REQUESTS_PER_STEP_ATTEMPT + 1  # 4 retries seen at the stand-in
    assert steps == [("costs", 1, "RETRYING", code), ("costs", 2, "COMPLETED", None)]
    assert row["status"] == "COMPLETED" and row["error_code"] is None
    # 3 request retries (capped exponential, jittered, Retry-After honoured) then 1 step retry.
    assert len(recorder.waits) == REQUESTS_PER_STEP_ATTEMPT
    floor = 1.0 if name == "429 Retry-After" else 0.0
    assert _request_waits_are_capped_exponential(recorder.waits[:3], floor)
    assert 0.5 <= recorder.waits[3] <= 1.0  # the step policy: initial 1 s, jittered


def test_a_fault_that_never_clears_goes_back_to_pending_then_fails_after_four_deliveries(
    short_settings, warehouse, faults, run
):
    request, event, deps, recorder = run()
    faults.script(COSTS_PATH, [status(503, "Service unavailable")], repeat=True)
    run_log = RunLog(warehouse, short_settings)

    assert deliver(event, deps, 1) == ["redeliver PROVIDER_UNAVAILABLE"]
    assert run_log.status(request.org_slug, request.pipeline_logging_id) == "PENDING"  # handed back
    assert deliver(event, deps, DELIVERIES) == ["redeliver PROVIDER_UNAVAILABLE"] * 2 + ["failed"]

    row, steps = _row(short_settings, warehouse, request)
    assert faults.hits[COSTS_PATH] == DELIVERIES * STEP_ATTEMPTS * REQUESTS_PER_STEP_ATTEMPT  # 48
    assert [s[2] for s in steps] == ["RETRYING", "RETRYING", "FAILED"] * DELIVERIES
    assert row["status"] == "FAILED" and row["error_code"] == "PROVIDER_UNAVAILABLE"
    assert row["error_message"].startswith("Gave up after 4 attempts: GET 127.0.0.1/v1/organization/costs")
    assert len(recorder.waits) == DELIVERIES * (STEP_ATTEMPTS * 3 + 2)


def test_a_retry_after_longer_than_the_run_budget_is_handed_to_pubsub_at_once(
    stack, short_settings, warehouse, faults, run
):
    request, event, deps, recorder = run()
    faults.script(COSTS_PATH, [status(429, "Rate limit reached", Retry_After="3600")])

    assert deliver(event, deps, 1) == ["redeliver PROVIDER_RATE_LIMITED"]
    row, steps = _row(short_settings, warehouse, request)
    assert row["status"] == "PENDING" and faults.hits[COSTS_PATH] == 1
    assert recorder.waits == []  # neither the request nor the step slept into the run's deadline
    assert steps == [("costs", 1, "FAILED", "PROVIDER_RATE_LIMITED")]

    assert deliver(event, deps, 1) == ["completed"]  # the redelivery, once the limit has passed
    assert table_costs(short_settings, warehouse, request.org_slug, DAY) == sandbox_costs(stack, DAY)


@pytest.mark.parametrize("name", TERMINAL)
def test_terminal_fault_fails_the_run_at_once_with_a_stable_code(
    name, short_settings, warehouse, faults, run, tenant
):
    fault, code, advice = TERMINAL[name]
    request, event, deps, recorder = run()
    faults.script(COSTS_PATH, [fault])

    assert deliver(event, deps, DELIVERIES) == ["failed"]  # acknowledged: no redelivery

    row, steps = _row(short_settings, warehouse, request)
    assert faults.hits[COSTS_PATH] == 1 and recorder.waits == []  # never retried
    assert steps == [("costs", 1, "FAILED", code)]
    assert row["status"] == "FAILED" and row["error_code"] == code
    assert advice in row["error_message"] and tenant["secret"] not in row["error_message"]


@pytest.mark.parametrize("form", ECHO_FORMS)
def test_a_key_echoed_in_another_form_reaches_no_message_answer_or_log(
    form, stack, short_settings, warehouse, faults, run, tenant, capsys, written
):
    request, event, deps, _ = run()
    faults.script(COSTS_PATH, [status(401, f"Incorrect API key provided: {{{form}}}. Check it.")])
    capsys.readouterr()  # the lines of this delivery only

    assert deliver(event, deps, DELIVERIES) == ["failed"]

    log = capsys.readouterr()
    written.extend(log)
    assert len(faults.echoed) == 1  # the stand-in really sent the key back in that form
    row, _ = _row(short_settings, warehouse, request)
    assert row["error_code"] == "PROVIDER_AUTH_FAILED" and "[REDACTED]" in row["error_message"]
    answer = get_run(stack, tenant, request.pipeline_logging_id)
    assert answer.status_code == 200 and answer.json()["error_code"] == "PROVIDER_AUTH_FAILED"
    haystacks = {
        "error_message": row["error_message"],
        "GET run": answer.text,
        "worker log": log.out + log.err,
    }
    assert leaks(haystacks, {"provider key": tenant["secret"]}) == []


def _secrets(settings, tenant) -> dict[str, str]:
    return {
        "provider key": tenant["secret"],
        "provider key body": tenant["secret"].removeprefix("sk-admin-fault-"),
        "org API key": tenant["api_key"],
        "root key": settings.root_key,
        "key pepper": settings.key_pepper,
    }


def _central_rows(settings, warehouse, org_slug: str) -> dict[str, str]:
    """Everything the control plane stored about the org: its history rows in BigQuery and its documents in
    Firestore (quota, runs, duplicate index)."""
    from shared.runs import control

    dataset = f"{settings.project}.{settings.central_dataset}"
    found = {
        table: json.dumps(
            warehouse.query(f"SELECT * FROM `{dataset}.{table}` WHERE org_slug = @org", {"org": org_slug}),
            default=str,
        )
        for table in ("org_meta_pipeline_runs", "org_meta_step_logs", "org_meta_state_transitions")
    }
    db = control.control_db(settings)
    org = control.org_ref(db, org_slug)
    documents = [org.get().to_dict()]
    for collection in org.collections():
        documents += [snapshot.to_dict() for snapshot in collection.stream()]
    found["firestore"] = json.dumps(documents, default=str)
    return found


def _run_through_the_functions(stack, warehouse, short_settings, tenant, faults) -> str:
    """A real run request: API → Pub/Sub → the openai function process, whose provider echoes the key (401)."""
    echo = "Incorrect API key provided: {key_upper} ({key_percent_lower}, prefix {key_prefix12})"
    faults.script(USAGE_PATH, [status(401, echo)], repeat=True)
    response = httpx.post(
        f"{stack.api_url}/api/v1/pipelines/run/{tenant['org_slug']}/openai/cost/usage_cost",
        json={"date": DAY.isoformat()},
        headers={"X-API-Key": tenant["api_key"], "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    run_id, run_log = response.json()["pipeline_logging_id"], RunLog(warehouse, short_settings)
    wait_until(
        lambda: run_log.status(tenant["org_slug"], run_id) in ("FAILED", "COMPLETED"),
        what="the function to settle the run",
        interval=0.3,
    )
    return run_id


def test_no_secret_is_written_anywhere(
    stack, short_settings, warehouse, faults, run, tenant, written, capsys
):
    # Providers that echo the key: in a 500's text body (retried, then refused with a 400 that echoes it too).
    _, event, deps, _ = run()
    faults.script(COSTS_PATH, [text(500, "upstream failed for Bearer {key}"), status(400, "bad key {key}")])
    assert deliver(event, deps, DELIVERIES) == ["failed"]
    run_id = _run_through_the_functions(stack, warehouse, short_settings, tenant, faults)
    assert len(faults.echoed) >= 3  # the stand-ins really did send the key back

    run_row = RunLog(warehouse, short_settings).get(tenant["org_slug"], run_id)
    assert run_row["status"] == "FAILED" and run_row["error_code"] == "PROVIDER_AUTH_FAILED"
    # The function process labelled its lines too: execution id (the CloudEvent id), org, run and step.
    lines = function_log(stack, "openai", run_id)
    assert lines and all(line["org_slug"] == tenant["org_slug"] and line["execution_id"] for line in lines)
    assert {line.get("step_id") for line in lines if line["message"].startswith("step ")} == {"usage"}
    written.extend(capsys.readouterr())  # this test's own lines, besides the earlier tests' ones
    haystacks = {f"captured output {i}": out for i, out in enumerate(written)}
    haystacks |= {
        f"{path.name}": path.read_text(errors="replace") for path in (stack.data_dir / "logs").iterdir()
    }
    haystacks |= _central_rows(short_settings, warehouse, tenant["org_slug"])
    secrets = _secrets(short_settings, tenant)
    for form in echo_forms(tenant["secret"]).values():  # the scan itself would see each form of a leak
        assert leaks({"probe": f"x{form}x"}, {"provider key": tenant["secret"]})
    assert leaks(haystacks, secrets) == []
    assert "[REDACTED]" in haystacks["org_meta_step_logs"]  # echoes were there, and cut
