"""Group-committed reservations against the BigQuery emulator: same decisions and effects as one at a time."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

from shared.platform.settings import central_table
from shared.runs import reservation_batch
from shared.runs.admission import (
    batched_request,
    ensure_quota_row,
    reservation_batcher,
    reserve_batch,
    reserve_run,
)
from shared.runs.group_commit import GroupCommit
from shared.runs.run_log import RunLog
from shared.tenancy.subscriptions import PlanLimits
from tests.kit.orgs import unique_slug

NOON = datetime(2026, 3, 31, 12, 0, 5, tzinfo=UTC)
PIPELINE = "openai/cost/usage_cost"
UNLIMITED = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=None)
CONCURRENT_1 = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=1, requests_per_minute=None)
DAILY_1 = PlanLimits(daily_runs=1, monthly_runs=None, concurrent_runs=None, requests_per_minute=None)
MONTHLY_1 = PlanLimits(daily_runs=None, monthly_runs=1, concurrent_runs=None, requests_per_minute=None)
RATE_1 = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=1)


def _orgs(warehouse, settings, n):
    """Fresh orgs with a zeroed quota row (all a reservation reads of an org)."""
    slugs = [unique_slug() for _ in range(n)]
    for slug in slugs:
        ensure_quota_row(warehouse, settings, slug)
    return slugs


def _request(warehouse, settings, org, day):
    return RunLog(warehouse, settings).new_request(org, PIPELINE, "openai", day, day)


def _item(request, limits, now=NOON):
    return batched_request(request, limits, now)


def _quotas(warehouse, settings, orgs):
    rows = warehouse.query(
        f"SELECT * FROM `{central_table(settings, 'org_usage_quotas')}` WHERE org_slug IN UNNEST(@o)",
        {"o": orgs},
    )
    return {row["org_slug"]: row for row in rows}


def _count(warehouse, settings, table, orgs, where="TRUE"):
    rows = warehouse.query(
        f"SELECT org_slug, COUNT(*) AS n FROM `{central_table(settings, table)}` "
        f"WHERE org_slug IN UNNEST(@o) AND {where} GROUP BY org_slug",
        {"o": orgs},
    )
    return {row["org_slug"]: row["n"] for row in rows}


def test_concurrent_reservations_of_many_orgs_share_transactions_and_decide_as_one_at_a_time(
    warehouse, settings
):
    orgs = _orgs(warehouse, settings, 8)
    plans = [CONCURRENT_1, DAILY_1, MONTHLY_1, RATE_1, UNLIMITED, CONCURRENT_1, DAILY_1, UNLIMITED]
    expected_second = {
        CONCURRENT_1: "CONCURRENCY_LIMIT_REACHED",
        DAILY_1: "QUOTA_DAILY_EXCEEDED",
        MONTHLY_1: "QUOTA_MONTHLY_EXCEEDED",
        RATE_1: "RATE_LIMITED",
        UNLIMITED: "ACCEPTED",
    }
    calls = [
        (org, plan, date(2025, 1, 1) + timedelta(days=k)) for org, plan in zip(orgs, plans) for k in (0, 1)
    ]
    start = threading.Barrier(len(calls))
    batcher = reservation_batcher(warehouse, settings)
    batches_before = batcher.batches

    def reserve(call):
        org, plan, day = call
        start.wait()
        return reserve_run(
            warehouse, settings, _request(warehouse, settings, org, day), plan, now=NOON
        ).decision

    with ThreadPoolExecutor(len(calls)) as pool:
        decisions = list(pool.map(reserve, calls))
    transactions = batcher.batches - batches_before
    assert transactions < len(calls), transactions  # grouped: one transaction decided several orgs
    by_org = {org: sorted(decisions[2 * i : 2 * i + 2]) for i, org in enumerate(orgs)}
    for org, plan in zip(orgs, plans):
        # Whichever of the org's two requests came first, the sequential rules accept it and judge the other.
        assert by_org[org] == sorted(["ACCEPTED", expected_second[plan]]), (org, plan, by_org[org])
    accepted = {org: by_org[org].count("ACCEPTED") for org in orgs}
    quotas = _quotas(warehouse, settings, orgs)
    for org in orgs:
        quota = quotas[org]
        assert quota["running"] == quota["daily_runs"] == quota["monthly_runs"] == accepted[org]
        assert quota["rate_count"] == 2  # every request counted, accepted or refused
    assert _count(warehouse, settings, "org_meta_pipeline_runs", orgs, "slot_held") == accepted
    assert _count(warehouse, settings, "org_meta_state_transitions", orgs) == accepted


def test_one_batch_decides_each_outcome_as_alone(warehouse, settings):
    rated, duplicated, busy, fresh, daily, monthly = _orgs(warehouse, settings, 6)
    unknown = unique_slug()  # no quota row yet: created, and its request decided again
    day = date(2025, 5, 1)
    early = NOON - timedelta(days=3)  # the same month, an earlier day
    for org, limits, now in (
        (rated, RATE_1, NOON),
        (duplicated, UNLIMITED, NOON),
        (busy, CONCURRENT_1, NOON),
        (daily, DAILY_1, NOON),
        (monthly, MONTHLY_1, early),
    ):
        assert reserve_run(
            warehouse, settings, _request(warehouse, settings, org, day), limits, now=now
        ).decision == ("ACCEPTED")
    first_of_duplicated = warehouse.query(
        f"SELECT pipeline_logging_id FROM `{central_table(settings, 'org_meta_pipeline_runs')}` "
        "WHERE org_slug = @o",
        {"o": duplicated},
    )[0]["pipeline_logging_id"]
    other_day = date(2025, 5, 2)
    batch = [
        (rated, other_day, RATE_1, "RATE_LIMITED"),
        (duplicated, day, UNLIMITED, "DUPLICATE"),
        (busy, other_day, CONCURRENT_1, "CONCURRENCY_LIMIT_REACHED"),
        (fresh, day, CONCURRENT_1, "ACCEPTED"),
        (daily, other_day, DAILY_1, "QUOTA_DAILY_EXCEEDED"),
        (monthly, other_day, MONTHLY_1, "QUOTA_MONTHLY_EXCEEDED"),
        (unknown, day, UNLIMITED, "ACCEPTED"),
    ]
    requests = [_request(warehouse, settings, org, d) for org, d, _, _ in batch]
    answers = reserve_batch(warehouse, settings, [_item(r, l) for r, (_, _, l, _) in zip(requests, batch)])
    assert [a.decision for a in answers] == [expected for *_, expected in batch]
    assert (answers[1].existing_id, answers[1].existing_status) == (first_of_duplicated, "PENDING")
    orgs = [org for org, *_ in batch]
    runs = _count(warehouse, settings, "org_meta_pipeline_runs", orgs)
    assert runs == {rated: 1, duplicated: 1, busy: 1, fresh: 1, daily: 1, monthly: 1, unknown: 1}
    written = warehouse.query(
        f"SELECT pipeline_logging_id, status, slot_held, quota_day FROM "
        f"`{central_table(settings, 'org_meta_pipeline_runs')}` WHERE pipeline_logging_id IN UNNEST(@ids)",
        {"ids": [r.pipeline_logging_id for r in requests]},
    )
    assert {row["pipeline_logging_id"] for row in written} == {
        requests[3].pipeline_logging_id,
        requests[6].pipeline_logging_id,
    }
    assert all(
        row["status"] == "PENDING" and row["slot_held"] and row["quota_day"] == NOON.date() for row in written
    )
    quotas = _quotas(warehouse, settings, orgs)
    assert {org: quotas[org]["rate_count"] for org in orgs} == {
        rated: 2,
        duplicated: 2,
        busy: 2,
        fresh: 1,
        daily: 2,
        monthly: 1,
        unknown: 1,
    }  # monthly's first request was another minute; the unknown org's first try wrote nothing
    assert {org: quotas[org]["running"] for org in orgs} == {org: 1 for org in orgs}


def test_a_failing_batch_reaches_every_caller_and_writes_nothing(warehouse, settings, monkeypatch):
    orgs = _orgs(warehouse, settings, 6)
    before = _quotas(warehouse, settings, orgs)
    script = reservation_batch.batch_script
    monkeypatch.setattr(  # fails after every write of the transaction, before its commit
        reservation_batch,
        "batch_script",
        lambda s: script(s).replace(
            "COMMIT TRANSACTION;", "SELECT ERROR('injected failure'); COMMIT TRANSACTION;"
        ),
    )
    first_started, gate = threading.Event(), threading.Event()

    def run_batch(items):  # the first batch waits, so the other callers queue up into one batch behind it
        if not first_started.is_set():
            first_started.set()
            assert gate.wait(30)
        return reserve_batch(warehouse, settings, items)

    batcher = GroupCommit(run_batch)
    requests = [_request(warehouse, settings, org, date(2025, 7, 1)) for org in orgs]

    def reserve(request):
        try:
            return batcher.submit(request.org_slug, _item(request, UNLIMITED))
        except Exception as exc:  # noqa: BLE001 - what each caller got
            return exc

    with ThreadPoolExecutor(len(requests)) as pool:
        leader = pool.submit(reserve, requests[0])
        assert first_started.wait(30)
        followers = [pool.submit(reserve, request) for request in requests[1:]]
        while batcher.queued < len(followers):
            threading.Event().wait(0.01)
        gate.set()
        outcomes = [leader.result(), *(f.result() for f in followers)]
    assert batcher.batches == 2  # the leader's alone, then the five others together
    assert all(isinstance(o, Exception) and "injected failure" in str(o) for o in outcomes), outcomes
    assert _count(warehouse, settings, "org_meta_pipeline_runs", orgs) == {}
    assert _count(warehouse, settings, "org_meta_state_transitions", orgs) == {}
    assert _quotas(warehouse, settings, orgs) == before


def test_two_identical_requests_at_once_give_one_run_and_one_duplicate(warehouse, settings):
    (org,) = _orgs(warehouse, settings, 1)
    requests = [_request(warehouse, settings, org, date(2025, 8, 1)) for _ in range(2)]
    start = threading.Barrier(2)

    def reserve(request):
        start.wait()
        return reserve_run(warehouse, settings, request, UNLIMITED, now=NOON)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(reserve, requests))
    assert sorted(a.decision for a in answers) == ["ACCEPTED", "DUPLICATE"]
    accepted = next(r for r, a in zip(requests, answers) if a.decision == "ACCEPTED")
    duplicate = next(a for a in answers if a.decision == "DUPLICATE")
    assert (duplicate.existing_id, duplicate.existing_status) == (accepted.pipeline_logging_id, "PENDING")
