"""`local-bigquery serve` with speed fixes for many tables and big appends, and one fidelity fix.

local-bigquery resolves every table a statement names through DuckDB's `duckdb_tables()`, which describes every
table of every attached catalog (size, columns, DDL) before filtering: ~150 ms per call with 20 orgs' datasets,
several calls per statement, so the stand-in slowed as orgs were onboarded (64 % of its CPU in a burst). Reading
DuckLake's own metadata tables answers the same question in ~3 ms, and a query result table (kept in the emulator's
plain DuckDB database) is found by reading it. Each query job also lists temporary tables the same slow way; that
listing reads duckdb_columns() instead, and the two per-table column lookups read DuckLake's column table.
Arrow appends to a committed stream are inserted as Arrow (`bigquery_arrow_appends`), not as JSON. One fidelity
fix: its Storage API gRPC server keeps gRPC's default 4 MiB message limit, where BigQuery takes
AppendRows requests of up to 10 MB; the server is started with BigQuery's limit instead. Everything else is the
package's own behaviour.

Run as `python -m devstack.standins.bigquery_serve serve --host ... --port ...` (the CLI arguments of local-bigquery,
whose pinned 0.3.2 this was written against; the whole test suite runs through it).
"""

from __future__ import annotations

import sys

from devstack.standins import bigquery_arrow_appends


def install() -> None:
    """Replace local_bigquery.engine.database.objects by the catalog-table lookup (idempotent)."""
    from local_bigquery.engine import database

    if getattr(database.objects, "dps_fast", False):
        return
    original = database.objects

    def objects(project_id: str, dataset_id: str, table_id: str | None = None) -> list[tuple[str, str, int]]:
        if project_id not in database._attached:  # the emulator's own database (query results), not DuckLake
            if table_id is None:
                return original(project_id, dataset_id, table_id)
            return _native_table(database, project_id, dataset_id, table_id)
        meta = database.quote(f"__ducklake_metadata_{project_id}")
        return database.fetch(
            f"SELECT t.table_name, 'TABLE', COALESCE(st.record_count, 0) "
            f"FROM {meta}.ducklake_table AS t JOIN {meta}.ducklake_schema AS s ON s.schema_id = t.schema_id "
            f"LEFT JOIN {meta}.ducklake_table_stats AS st ON st.table_id = t.table_id "
            "WHERE s.schema_name = $2 AND t.end_snapshot IS NULL AND s.end_snapshot IS NULL "
            "AND t.table_name = coalesce($3, t.table_name) "
            "UNION ALL SELECT view_name, 'VIEW', 0 FROM duckdb_views() "
            "WHERE database_name = $1 AND schema_name = $2 "
            "AND view_name = coalesce($3, view_name) AND NOT internal ORDER BY 1",
            [project_id, dataset_id, table_id],
        )

    objects.dps_fast = True
    database.objects = objects
    _read_columns_from_the_catalog(database)
    _list_temporary_tables_cheaply()
    _take_requests_as_large_as_bigquery()
    bigquery_arrow_appends.install()


# BigQuery: Quotas and limits, Storage Write API, "Request size: 10 MB" (with room for gRPC's own framing).
GRPC_MAX_REQUEST_BYTES = 10 * 1024 * 1024 + 64 * 1024


def _take_requests_as_large_as_bigquery() -> None:
    """Start the package's gRPC server (same services, same pool) with BigQuery's request size limit."""
    import concurrent.futures

    import grpc
    from local_bigquery.grpc import server

    def start(host: str, port: int) -> tuple[grpc.Server, int]:
        options = [("grpc.max_receive_message_length", GRPC_MAX_REQUEST_BYTES)]
        grpc_server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=16), options=options)
        grpc_server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(n, h) for n, h in server.SERVICES.items()]
        )
        port = grpc_server.add_insecure_port(f"{host}:{port}")
        grpc_server.start()
        return grpc_server, port

    server.start = start


# The two column lookups every statement makes per table it names (NOT NULL columns; the ingestion-time column)
# enumerate every column of every catalog through duckdb_columns(); DuckLake's column table answers directly.
_CATALOG_COLUMNS = (
    "FROM {meta}.ducklake_column AS c JOIN {meta}.ducklake_table AS t ON t.table_id = c.table_id "
    "JOIN {meta}.ducklake_schema AS s ON s.schema_id = t.schema_id "
    "WHERE s.schema_name = ? AND t.table_name = ? AND c.parent_column IS NULL "
    "AND c.end_snapshot IS NULL AND t.end_snapshot IS NULL AND s.end_snapshot IS NULL"
)
COLUMN_LOOKUPS = {
    (
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = ? AND table_name = ? AND NOT is_nullable"
    ): f"SELECT c.column_name {_CATALOG_COLUMNS} AND NOT c.nulls_allowed",
    (
        "SELECT 1 FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = ? AND column_name = ?"
    ): f"SELECT 1 {_CATALOG_COLUMNS} AND c.column_name = ?",
}


def _read_columns_from_the_catalog(database) -> None:
    original = database.fetch

    def fetch(sql: str, params: list | None = None) -> list[tuple]:
        fast = COLUMN_LOOKUPS.get(sql)
        if fast and params and params[0] in database._attached:  # params[0] is the database (project)
            return original(fast.format(meta=database.quote(f"__ducklake_metadata_{params[0]}")), params[1:])
        return original(sql, params)

    database.fetch = fetch


# Every query job lists the session's temporary tables through duckdb_tables() (~150-270 ms with 20 orgs' tables);
# duckdb_columns() names them too, at ~18 ms (a table has at least one column).
_TEMPORARY_TABLES = "SELECT table_name FROM duckdb_tables() WHERE temporary"
_TEMPORARY_TABLES_FAST = "SELECT DISTINCT table_name FROM duckdb_columns() WHERE database_name = 'temp'"


class _CursorListingTemporaryTablesCheaply:
    """A DuckDB cursor, except that the temporary-table listing is answered from duckdb_columns()."""

    def __init__(self, cursor):
        self._cursor = cursor

    def sql(self, query, *args, **kwargs):
        return self._cursor.sql(
            _TEMPORARY_TABLES_FAST if query == _TEMPORARY_TABLES else query, *args, **kwargs
        )

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def _list_temporary_tables_cheaply() -> None:
    from local_bigquery.jobs import query

    original = query.execute

    def execute(cur, *args, **kwargs):
        return original(_CursorListingTemporaryTablesCheaply(cur), *args, **kwargs)

    query.execute = execute


def _native_table(database, project_id: str, dataset_id: str, table_id: str) -> list[tuple[str, str, int]]:
    """One table of a plain DuckDB database (where the emulator keeps query results), found by reading it."""
    import duckdb

    try:
        rows = database.fetch(f"SELECT COUNT(*) FROM {database.quote(project_id, dataset_id, table_id)}")
    except duckdb.CatalogException:
        return []
    return [(table_id, "TABLE", rows[0][0])]


def main() -> None:
    """Patch, then hand over to the package's command line."""
    install()
    from local_bigquery.cli import main as serve

    sys.argv[0] = "local-bigquery"
    serve()


if __name__ == "__main__":
    main()
