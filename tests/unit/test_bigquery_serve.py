"""The BigQuery stand-in launcher's speed fixes still match the pinned local-bigquery they patch."""

import ast
import inspect

from devstack.standins import bigquery_serve


def _string_literals(module) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_patched_statements_are_still_the_packages():
    """If an upgrade rewrote these lookups, the patch would silently stop applying: fail here instead."""
    from local_bigquery.engine import database
    from local_bigquery.jobs import query

    assert bigquery_serve._TEMPORARY_TABLES in inspect.getsource(query.execute)
    assert "duckdb_tables()" in inspect.getsource(database.objects)
    from local_bigquery.catalog import tables
    from local_bigquery.sql.rules import partitions

    literals = _string_literals(tables) | _string_literals(partitions)  # adjacent literals parse as one
    for lookup in bigquery_serve.COLUMN_LOOKUPS:
        assert lookup in literals, lookup
    assert list(inspect.signature(database.objects).parameters) == ["project_id", "dataset_id", "table_id"]


def test_the_grpc_server_is_started_as_the_package_starts_it_but_takes_bigquerys_request_size():
    """The launcher re-creates the package's start(): if an upgrade changed it, fail here, not in a test run."""
    from local_bigquery.grpc import server

    source = inspect.getsource(server.start)
    assert "grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=16))" in source
    assert "server.SERVICES" in inspect.getsource(bigquery_serve._take_requests_as_large_as_bigquery)
    assert list(inspect.signature(server.start).parameters) == ["host", "port"]
    assert bigquery_serve.GRPC_MAX_REQUEST_BYTES > 10_000_000  # AppendRows requests of up to 10 MB


def test_arrow_appends_patch_what_the_packages_append_loop_calls():
    """The package's gRPC handler holds `append`; the patch replaces what it calls per request, by name."""
    from local_bigquery.grpc import write

    loop = inspect.getsource(write.append)
    assert "_decoder(request)" in loop and "_append(stream, rows, offset)" in loop
    assert "stream.count += len(rows)" in inspect.getsource(write._append)
    assert list(inspect.signature(write._append).parameters) == ["stream", "rows", "offset"]


def test_install_replaces_the_lookups_once(monkeypatch):
    from local_bigquery.engine import database
    from local_bigquery.jobs import query

    monkeypatch.setattr(database, "objects", database.objects)
    monkeypatch.setattr(query, "execute", query.execute)
    monkeypatch.setattr(database, "fetch", database.fetch)
    from local_bigquery.grpc import server

    monkeypatch.setattr(server, "start", server.start)
    from local_bigquery.grpc import write

    monkeypatch.setattr(write, "_decoder", write._decoder)
    monkeypatch.setattr(write, "_append", write._append)
    bigquery_serve.install()
    patched_objects, patched_execute = database.objects, query.execute
    assert getattr(patched_objects, "dps_fast", False)
    bigquery_serve.install()  # a second call changes nothing (no double wrapping)
    assert (database.objects, query.execute) == (patched_objects, patched_execute)
    assert getattr(write._append, "dps_arrow", False)


def test_the_cursor_rewrites_only_the_temporary_table_listing():
    seen = []

    class Cursor:
        def sql(self, text, *args):
            seen.append(text)

        def execute(self, text):
            seen.append(("execute", text))

    cursor = bigquery_serve._CursorListingTemporaryTablesCheaply(Cursor())
    cursor.sql(bigquery_serve._TEMPORARY_TABLES)
    cursor.sql("SELECT 1")
    cursor.execute("SELECT 2")
    assert seen == [bigquery_serve._TEMPORARY_TABLES_FAST, "SELECT 1", ("execute", "SELECT 2")]
