"""benchmarks/scale_model.py: the closed-form fleet model over a profile and the limits table.

Every profile here is synthetic, written by the test (counts chosen to make one limit bind, not measured); the
real profile comes from benchmarks/trace_ops.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from benchmarks import scale_model as sm

REPO = Path(__file__).resolve().parents[2]


def synthetic_profile(**changes) -> dict:
    """A synthetic profile of the new control plane: Firestore state, BigQuery appends, no central DML."""
    per_request = dict.fromkeys(sm.OPS, 0)
    per_request.update(
        {
            "firestore.transaction": 1,
            "firestore.write": 3,
            "firestore.read": 3,
            "firestore.org_document_write": 1,
            "bigquery.query": 1,
            "bigquery.streaming_rows": 2,
            "bigquery.streaming_requests": 1,
            "pubsub.publish": 1,
            "tasks.create": 1,
            "functions.invocation.api": 1,
        }
    )
    per_run = dict.fromkeys(sm.OPS, 0)
    per_run.update(
        {
            "firestore.transaction": 3,
            "firestore.write": 8,
            "firestore.read": 6,
            "firestore.org_document_write": 1,
            "bigquery.query": 8,
            "bigquery.load_job": 2,
            "bigquery.org_dml": 3,
            "bigquery.streaming_rows": 12,
            "bigquery.streaming_requests": 4,
            "functions.invocation.worker": 1,
        }
    )
    data = {
        "source": "synthetic (unit test)",
        "pipelines_per_org": 3,
        "per_request": per_request,
        "per_run": per_run,
        "run_seconds": 6.0,
        "api_seconds": 0.3,
    }
    data.update(changes)
    return data


def scaled(data: dict, factor: float) -> dict:
    """The same profile with every operation count multiplied by `factor` (seconds unchanged)."""
    out = json.loads(json.dumps(data))
    for section in sm.SECTIONS:
        out[section] = {op: count * factor for op, count in out[section].items()}
    return out


def solve(data: dict, **settings) -> sm.Result:
    return sm.solve(sm.parse_profile(data), sm.Settings(**settings))


def test_the_new_control_plane_is_not_bound_by_central_dml():
    result = solve(synthetic_profile())
    assert not result.binding.limit.key.startswith("bq_central")
    central = {v.limit.key: v for v in result.verdicts if v.limit.key.startswith("bq_central")}
    assert set(central) == {"bq_central_dml_rate", "bq_central_serial"}
    assert all(math.isinf(v.max_orgs) for v in central.values())


@pytest.mark.parametrize("latency", [1.0, 5.0])
def test_central_dml_flips_the_binding_limit_to_the_old_ceiling_of_1800_over_l_runs_an_hour(latency):
    """The old BigQuery control plane: a reservation and a completion transaction on the central tables
    per run. One mutating transaction at a time per table: one run every 2 x L seconds, 1,800/L an hour."""
    data = synthetic_profile()
    data["per_request"]["bigquery.dml_central"] = 1
    data["per_run"]["bigquery.dml_central"] = 1
    result = solve(data, dml_seconds=latency)
    assert result.binding.limit.key == "bq_central_serial"
    row = sm.row(result.binding, result)
    assert row["runs_per_hour"] == pytest.approx(1800 / latency)
    # 3 runs per org in 2 hours: the 1,000 orgs need 1.7 h at L = 1 s (so 1,199 fit), 8 h at L = 5 s.
    assert result.max_orgs == math.floor(1800 / latency * result.effective_seconds / 3600 / 3)
    assert solve(synthetic_profile()).max_orgs > 10 * result.max_orgs


def test_the_orgs_allowed_scale_inversely_with_the_operation_counts():
    base = solve(synthetic_profile())
    double = solve(scaled(synthetic_profile(), 2))
    seconds_only = {
        "fn_worker",
        "fn_api",
        "run_region_cpu",
        "ct_dispatch",
        "ct_concurrent",
        "bq_inflight_queries",
        "bq_write_connections",
    }
    by_key = {v.limit.key: v for v in double.verdicts}
    for verdict in base.verdicts:
        if (
            verdict.limit.key in seconds_only
            or verdict.limit.kind == sm.RAMP
            or verdict.limit.scope == sm.ORG
        ):
            continue
        assert by_key[verdict.limit.key].max_orgs == pytest.approx(verdict.max_orgs / 2), verdict.limit.key
    assert double.binding.limit.key == base.binding.limit.key
    assert double.max_orgs in (base.max_orgs // 2, base.max_orgs // 2 - 1)


def test_worker_slots_bind_long_runs_and_raising_max_instances_moves_the_binding_to_the_regional_cpu():
    data = synthetic_profile(run_seconds=600.0)
    for section in sm.SECTIONS:
        data[section] = dict.fromkeys(sm.OPS, 0)
    default = solve(data)
    assert default.binding.limit.key == "fn_worker"
    # 100 instances x 1 run per instance, each of 3 provider functions running one run per org.
    assert default.max_orgs == math.floor(100 * 1 * default.effective_seconds / 600)
    raised = solve(data, instances={"worker": 1000, "api": 1000})
    assert raised.binding.limit.key == "run_region_cpu"
    assert raised.max_orgs > default.max_orgs


def test_staging_through_the_default_stream_lifts_the_load_job_quota_and_pending_streams_would_not():
    """GCP's two stages per run (a third of the runs): load jobs allow 100,000 / 2 orgs; the default stream needs
    no CreateWriteStream; a PENDING stream per stage would need 2 per GCP run, 10,000 an hour per project."""
    loads = synthetic_profile()
    loads["per_run"]["bigquery.load_job"] = 2 / 3
    assert solve(loads).binding.limit.key == "bq_load_jobs_day"
    assert solve(loads).max_orgs == 50_000
    default_stream = synthetic_profile()
    default_stream["per_run"].update(
        {"bigquery.load_job": 0, "bigquery.write_connections": 2 / 3, "bigquery.write_append_requests": 2 / 3}
    )
    by_key = {v.limit.key: v for v in solve(default_stream).verdicts}
    assert math.isinf(by_key["bq_load_jobs_day"].max_orgs)
    assert math.isinf(by_key["bq_write_create_stream"].max_orgs)
    assert by_key["bq_write_connections"].max_orgs > sm.GOAL_ORGS
    pending = json.loads(json.dumps(default_stream))
    pending["per_run"].update({"bigquery.write_create_stream": 2 / 3, "bigquery.write_batch_commit": 1 / 3})
    result = solve(pending)
    assert result.binding.limit.key == "bq_write_create_stream"
    assert result.max_orgs == math.floor(10_000 / 3600 * result.effective_seconds / 2)


def test_a_per_org_limit_either_fits_or_allows_no_org():
    data = synthetic_profile()
    data["per_run"]["firestore.org_document_write"] = 2000  # x 3 runs: 6,000 s of one document at 1/s
    assert solve(data).max_orgs > 0
    data["per_run"]["firestore.org_document_write"] = 3000
    result = solve(data)
    assert result.max_orgs == 0
    assert result.binding.limit.key == "fs_org_document"


def test_the_firestore_ramp_starts_at_500_and_grows_half_again_every_five_minutes():
    assert sm.ramp_capacity(500, 300) == pytest.approx(150_000)
    assert sm.ramp_capacity(500, 600) == pytest.approx(150_000 + 225_000)
    assert sm.ramp_capacity(500, 450) == pytest.approx(150_000 + 750 * 150)


def test_json_output_has_the_fleet_the_binding_limit_the_next_two_and_every_limit_with_its_source(
    tmp_path, capsys
):
    path = tmp_path / "ops_profile.json"
    path.write_text(json.dumps(synthetic_profile()))
    assert sm.main(["--profile", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "profile",
        "window_seconds",
        "pipelines",
        "instances",
        "max_orgs",
        "nightly_runs",
        "goal_orgs",
    ):
        assert key in data
    assert data["window_seconds"] == 7200 and data["pipelines"] == 3 and data["goal_orgs"] == 100_000
    assert data["goal_met"] == (data["max_orgs"] >= 100_000)
    assert data["nightly_runs"] == data["max_orgs"] * 3
    assert len(data["next"]) == 2
    assert len(data["limits"]) == len(sm.LIMITS)
    assert [r["key"] for r in data["limits"][:3]] == [data["binding"]["key"]] + [
        n["key"] for n in data["next"]
    ]
    for row in data["limits"]:
        for key in ("name", "value", "unit", "scope", "source", "read_on", "assumed", "max_orgs", "headroom"):
            assert key in row
        assert row["source"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["read_on"])
    assert data["binding"]["max_orgs"] == data["max_orgs"]
    assert data["raised"]["instances"] == {"worker": 1000, "api": 1000}
    assert data["bounds"] and all(b["source"] for b in data["bounds"])


def test_the_table_names_the_binding_limit_and_the_goal(tmp_path, capsys):
    path = tmp_path / "ops_profile.json"
    path.write_text(json.dumps(synthetic_profile()))
    assert sm.main(["--profile", str(path), "--instances", "worker=50", "--raise-instances", "0"]) == 0
    out = capsys.readouterr().out
    assert "Largest fleet:" in out and "goal 100,000 orgs" in out and "Binding:" in out
    assert "worker 50" in out and "raised" not in out


def test_a_profile_missing_an_operation_is_refused_naming_it(tmp_path, capsys):
    data = synthetic_profile()
    del data["per_run"]["bigquery.load_job"]
    with pytest.raises(sm.ProfileError, match=r"per_run lacks the operation\(s\) bigquery\.load_job"):
        sm.parse_profile(data)
    path = tmp_path / "ops_profile.json"
    path.write_text(json.dumps(data))
    assert sm.main(["--profile", str(path)]) == 2
    assert "per_run lacks the operation(s) bigquery.load_job" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"per_request": {**dict.fromkeys(sm.OPS, 0), "bigquery.dml": 1}}, "unknown operation"),
        ({"run_seconds": -1}, "run_seconds must be a non-negative number"),
        ({"pipelines_per_org": 0}, "pipelines_per_org must be a positive integer"),
        ({"run_seconds": 7200}, "not less than the 7200 s window"),
    ],
)
def test_a_malformed_profile_is_refused_with_a_clear_message(change, message):
    with pytest.raises(sm.ProfileError, match=message):
        solve(synthetic_profile(**change))


def test_a_profile_without_a_key_is_refused():
    data = synthetic_profile()
    del data["api_seconds"]
    with pytest.raises(sm.ProfileError, match="lacks api_seconds"):
        sm.parse_profile(data)


def test_every_limit_is_data_with_a_value_a_unit_and_a_source():
    keys = [limit.key for limit in sm.LIMITS]
    assert len(keys) == len(set(keys))
    for limit in sm.LIMITS:
        assert limit.value > 0 and limit.unit and limit.source
        assert limit.read_on in (sm.READ_ON, sm.WRITE_READ_ON)
        assert limit.kind in (sm.RATE, sm.DAILY, sm.CONCURRENT, sm.INSTANCES, sm.RAMP)
        assert limit.scope in (sm.PROJECT, sm.WORKER_FUNCTION, sm.ORG)
    assert {limit.role for limit in sm.LIMITS if limit.kind == sm.INSTANCES} == set(sm.ROLES)


def test_the_deployment_settings_match_the_terraform_function_module():
    """Concurrency per instance (per role) and vCPU are the deployment's, read from terraform, not platform limits."""
    text = (REPO / "terraform/modules/function/variables.tf").read_text()
    block = re.search(r'variable "cpu" \{(.*?)\n\}', text, re.DOTALL).group(1)
    assert float(re.search(r"default\s*=\s*\"?([\d.]+)\"?", block).group(1)) == sm.Settings().cpu
    service = (REPO / "terraform/modules/service/main.tf").read_text()
    # The first `concurrency = N` after each role's block opens (the worker's description holds "${provider}").
    concurrency = {
        role: int(re.search(rf"{opening}.*?concurrency\s*=\s*(\d+)", service, re.DOTALL).group(1))
        for role, opening in (("api", r"api = \{"), ("worker", r"provider => \{"))
    }
    assert concurrency == dict(sm.Settings().concurrency) == {"api": 8, "worker": 1}
