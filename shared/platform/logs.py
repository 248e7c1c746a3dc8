"""Structured logs: one JSON line per event in Cloud Logging's format, with org, run, step and trace if known."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType

TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"

# Fields every line inside a `log_context` carries (org_slug, pipeline_logging_id, step_id, execution_id,
# trace).
# A ContextVar, not a global: each request thread (and each asyncio task) sees only its own run's fields.
_CONTEXT: ContextVar[Mapping[str, object]] = ContextVar("log_context", default=MappingProxyType({}))

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# The span id is a 64-bit unsigned decimal (at most 20 digits): a longer one is malformed, and int() of one over
# 4,300 digits would raise instead.
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?(?:;o=([01]))?$")


@contextmanager
def log_context(**fields) -> Iterator[None]:
    """Add `fields` (None values ignored) to every log line written inside the block, on this thread only."""
    added = {key: value for key, value in fields.items() if value is not None}
    token = _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **added}))
    try:
        yield
    finally:
        _CONTEXT.reset(token)  # a pooled thread must not carry this run's ids into the next request


def current_context() -> dict:
    """The fields the current log context adds (a copy)."""
    return dict(_CONTEXT.get())


def trace_fields(project: str, traceparent: str | None = None, cloud_trace: str | None = None) -> dict:
    """Cloud Logging's trace fields from a W3C traceparent or an X-Cloud-Trace-Context; {} if neither parses."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if match and set(match.group(1)) != {"0"}:  # an all-zero trace id is invalid by the W3C spec
        trace_id, span_hex, flags = match.groups()
        return {
            TRACE_FIELD: f"projects/{project}/traces/{trace_id}",
            SPAN_FIELD: span_hex,
            SAMPLED_FIELD: bool(int(flags, 16) & 1),
        }
    match = _CLOUD_TRACE.match((cloud_trace or "").strip())
    if match:
        trace_id, span_decimal, sampled = match.groups()
        fields: dict = {TRACE_FIELD: f"projects/{project}/traces/{trace_id.lower()}"}
        if (
            span_decimal
        ):  # X-Cloud-Trace-Context gives the span id in decimal; Cloud Logging wants 16 hex digits
            fields[SPAN_FIELD] = f"{int(span_decimal) & (2**64 - 1):016x}"
        if sampled is not None:
            fields[SAMPLED_FIELD] = sampled == "1"
        return fields
    return {}


def log(severity: str, message: str, **fields) -> None:
    """Write one structured log line to stdout (Cloud Logging parses it); never pass secrets in `fields`."""
    entry = {"severity": severity, "message": message, "time": datetime.now(UTC).isoformat()}
    entry.update(_CONTEXT.get())
    entry.update({key: value for key, value in fields.items() if value is not None})
    sys.stdout.write(json.dumps(entry, default=str) + "\n")
    sys.stdout.flush()
