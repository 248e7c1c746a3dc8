"""Replaying dead letters: re-open each letter's run honestly (quotas included) and publish it once more."""

from __future__ import annotations

from collections import defaultdict

from shared.dead_letters.store import list_letters, mark_replayed
from shared.platform.errors import ApiError
from shared.platform.logs import log
from shared.platform.settings import Settings, central_table
from shared.runs import control
from shared.runs.admission import REOPENED, REQUEUED, reopen_run
from shared.runs.model import RunRequest
from shared.runs.publish import REPLAYED_RUN, PublishFailed, reserve_and_publish
from shared.tenancy.subscriptions import load_plans, subscription_refusal
from shared.warehouse.adapter import Warehouse

MAX_LETTERS = 500  # one replay call handles at most this many letters ("all" included)
REPLAY_RETRY_AFTER_SECONDS = 30
# reopen_run's decisions that leave the run alone, as the outcome reported for each letter.
_NO_OPS = {
    "ALREADY_COMPLETED": "already_completed",
    "IN_FLIGHT": "in_flight",
    "CANCELLED": "cancelled",
    "DUPLICATE": "duplicate_in_flight",
    "RUN_NOT_FOUND": "run_not_found",
}


def replay(
    warehouse: Warehouse,
    settings: Settings,
    publisher,
    *,
    message_ids: list[str] | None = None,
    provider: str | None = None,
    org: str | None = None,
) -> dict:
    """Replay the named letters (or every stored one, filtered by provider/org); one outcome per letter.

    Several letters of one run replay it once. 429 when every run that needed a slot was refused one and none
    was replayed; 503 when no publish succeeded.
    """
    db = control.control_db(settings)
    letters = list_letters(db, provider=provider, org=org, message_ids=message_ids, limit=MAX_LETTERS)
    found = {letter["message_id"] for letter in letters}
    results = [_result({"message_id": m}, "not_found") for m in (message_ids or []) if m not in found]
    by_run: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for letter in letters:
        if letter["pipeline_logging_id"] and letter["org_slug"]:
            by_run[(letter["org_slug"], letter["pipeline_logging_id"])].append(letter)
        else:
            results.append(_result(letter, "undecodable"))
    runs = _runs(db, list(by_run))
    subscriptions = _subscriptions(warehouse, settings, sorted({org for org, _ in by_run}))
    replayed = []
    for (org_slug, run_id), group in by_run.items():
        outcome, code = _replay_run(
            warehouse, settings, publisher, runs.get(run_id), subscriptions.get(org_slug)
        )
        results += [_result(letter, outcome, code) for letter in group]
        if outcome == "replayed":
            replayed += [letter["message_id"] for letter in group]
    mark_replayed(db, replayed)
    return _answer(results)


def _result(letter: dict, outcome: str, code: str | None = None) -> dict:
    return {
        "message_id": letter["message_id"],
        "provider": letter.get("provider"),
        "org_slug": letter.get("org_slug"),
        "pipeline_logging_id": letter.get("pipeline_logging_id"),
        "outcome": outcome,
        "error_code": code,
    }


def _answer(results: list[dict]) -> dict:
    """The summary, or the 429/503 when nothing could be replayed for a reason worth retrying."""
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result["outcome"]] += 1
    refused = [
        r for r in results if r["outcome"] == "refused" and r["error_code"] == "CONCURRENCY_LIMIT_REACHED"
    ]
    if refused and not counts["replayed"]:
        runs = ", ".join(sorted({r["pipeline_logging_id"] for r in refused}))
        raise ApiError(
            "CONCURRENCY_LIMIT_REACHED",
            f"The org is at its concurrent-run limit; nothing was replayed (runs {runs}). Retry later.",
            headers={"Retry-After": str(REPLAY_RETRY_AFTER_SECONDS)},
        )
    if counts["publish_failed"] and not counts["replayed"]:
        raise ApiError(
            "BACKEND_UNAVAILABLE", "Pub/Sub refused the replay; the runs are FAILED and replayable."
        )
    return {"replayed": counts["replayed"], "outcomes": dict(sorted(counts.items())), "results": results}


def _replay_run(
    warehouse, settings, publisher, run: dict | None, subscription: dict | None
) -> tuple[str, str | None]:
    """Re-open one run and publish it; (outcome, error code)."""
    if run is None:
        return "run_not_found", None
    refusal = subscription_refusal(subscription and subscription["status"])
    limits = load_plans(settings.config_dir).get((subscription or {}).get("plan") or "")
    if refusal or limits is None:
        return "refused", refusal or "SUBSCRIPTION_INACTIVE"
    org, run_id = run["org_slug"], run["pipeline_logging_id"]
    request = RunRequest.from_message(
        {**run, "start_date": str(run["start_date"]), "end_date": str(run["end_date"])}
    )
    try:
        reservation = reserve_and_publish(
            warehouse,
            settings,
            publisher,
            request,
            reserve=lambda: reopen_run(
                warehouse, settings, org, run_id, limits, reason=f"replayed (was {run['status']})"
            ),
            if_unqueued=REPLAYED_RUN,
        )
    except PublishFailed:  # not queued: FAILED again, the slot just taken released; it can be replayed later
        return "publish_failed", "BACKEND_UNAVAILABLE"
    decision = reservation.decision
    if decision == "CONCURRENCY_LIMIT_REACHED":
        return "refused", decision
    if decision not in (REOPENED, REQUEUED):
        return _NO_OPS.get(decision, decision.lower()), None
    log(
        "INFO",
        f"dead-lettered run replayed (was {reservation.prior_status})",
        org_slug=org,
        pipeline_logging_id=run_id,
    )
    return "replayed", None


def _runs(db, keys: list[tuple[str, str]]) -> dict[str, dict]:
    """The live documents of the letters' runs (org, run id), by run id."""
    if not keys:
        return {}
    snapshots = db.get_all([control.run_ref(db, org, run_id) for org, run_id in keys])
    return {s.id: control.from_document(s.to_dict()) for s in snapshots if s.exists}


def _subscriptions(warehouse: Warehouse, settings: Settings, orgs: list[str]) -> dict[str, dict]:
    if not orgs:
        return {}
    rows = warehouse.query(
        f"SELECT org_slug, plan, status FROM `{central_table(settings, 'org_subscriptions')}` "
        "WHERE org_slug IN UNNEST(@orgs)",
        {"orgs": orgs},
    )
    return {row["org_slug"]: row for row in rows}
