"""benchmarks/trace_ops.py: its pure helpers (what a SQL text does, which document a Firestore write names) and
the tracer's counting of wrapped calls; no stack."""

from __future__ import annotations

import pytest

from benchmarks import trace_ops as tr

CENTRAL = "organizations"

SLICE_SCRIPT = """
BEGIN TRANSACTION;
DELETE FROM `p.acme_local.cost_focus` WHERE `ChargePeriodStart` >= TIMESTAMP(@slice_start);
INSERT INTO `p.acme_local.cost_focus` (`a`, `b`) SELECT r.`a`, r.`b` FROM UNNEST(@slice_rows) AS r;
COMMIT TRANSACTION;
SELECT COUNT(*) AS n FROM `p.acme_local.cost_focus` WHERE true;
"""


@pytest.mark.parametrize(
    ("sql", "op"),
    [
        ("SELECT 1", tr.QUERY),
        ("SELECT k.org_slug FROM `p.organizations.org_api_keys` AS k WHERE k.key_hash = @h", tr.QUERY),
        ("WITH a AS (SELECT 1) SELECT * FROM a", tr.QUERY),
        ("CREATE OR REPLACE VIEW `p.acme_local.v` AS SELECT 1", tr.QUERY),  # DDL is a query job, not DML
        (SLICE_SCRIPT, tr.ORG_DML),
        ("MERGE `p.acme_local.t` T USING s ON false WHEN NOT MATCHED THEN INSERT ROW", tr.ORG_DML),
        ("UPDATE `p.organizations.org_meta_pipeline_runs` SET status = 'X' WHERE true", tr.DML_CENTRAL),
        ("update p.organizations.org_quotas set running = 0 where true", tr.DML_CENTRAL),
        ("DELETE `p`.`organizations`.`org_meta_pipeline_runs` WHERE true", tr.DML_CENTRAL),
        ("INSERT p.organizations.t (a) VALUES (1)", tr.DML_CENTRAL),
        ("TRUNCATE TABLE `p.acme_local.t`", tr.ORG_DML),
        # A transaction with no target recognised is still DML.
        ("BEGIN TRANSACTION; SELECT 1; COMMIT TRANSACTION;", tr.ORG_DML),
    ],
)
def test_each_statement_is_classified_as_the_profile_counts_it(sql, op):
    assert tr.classify_sql(sql, CENTRAL) == op


@pytest.mark.parametrize(
    "sql",
    [
        "-- DELETE FROM `p.organizations.t`\nSELECT updated_at FROM t",
        "SELECT 'UPDATE p.organizations.t SET a = 1; DELETE FROM x' AS s",
        "/* INSERT INTO t */ SELECT 1 # MERGE t",
    ],
)
def test_comments_strings_and_column_names_are_not_statements(sql):
    assert tr.classify_sql(sql, CENTRAL) == tr.QUERY


def test_dml_targets_names_every_mutated_table():
    assert tr.dml_targets(SLICE_SCRIPT) == ["p.acme_local.cost_focus", "p.acme_local.cost_focus"]
    assert tr.dml_targets("SELECT 1; INSERT INTO `p`.`d`.`t` (a) SELECT 1") == ["p.d.t"]


def test_only_the_org_document_itself_is_an_org_document_write():
    root = "projects/p/databases/(default)/documents"
    assert tr.is_org_document(f"{root}/orgs/acme")
    assert not tr.is_org_document(f"{root}/orgs/acme/runs/r-1")
    assert not tr.is_org_document(f"{root}/orgs/acme/rate/shard-00")
    assert not tr.is_org_document(f"{root}/dead_letters/m-1")


def test_written_document_reads_updates_deletes_and_transforms():
    from google.cloud.firestore_v1.types import write

    name = "projects/p/databases/(default)/documents/orgs/acme"
    update = write.Write(update={"name": name})
    assert tr.written_document(update) == name
    assert tr.written_document(write.Write.pb(update)) == name  # a raw protobuf message too
    assert tr.written_document(write.Write(delete=f"{name}/inflight/fp")) == f"{name}/inflight/fp"
    assert tr.written_document(write.Write(transform={"document": name})) == name


class _Client:
    """A client whose `outer` call makes an `inner` call, as a library may."""

    def inner(self, n):
        return n

    def outer(self, n):
        return self.inner(n) + 1


def test_the_tracer_counts_outermost_calls_inside_a_phase_only():
    tracer = tr.Tracer(CENTRAL)
    original_outer, original_inner = _Client.outer, _Client.inner
    _Client.outer = tracer.wrap(original_outer, tr._inc("outer"))
    _Client.inner = tracer.wrap(original_inner, tr._inc("inner"))
    try:
        client = _Client()
        client.outer(1)  # no phase open: not counted
        with tracer.phase() as counts:
            assert client.outer(1) == 2
            client.inner(1)
        with tracer.phase(counting=False) as uncounted:
            client.outer(1)
    finally:
        _Client.outer, _Client.inner = original_outer, original_inner
    assert counts == {"outer": 1, "inner": 1}  # the inner call made by `outer` is not counted again
    assert uncounted == {}
