"""Strict patterns for every identifier that reaches a query or a dataset name."""

from __future__ import annotations

import re

# Dataset names allow letters, digits and '_'; slugs are lower-case so `{slug}_{env}` is always valid.
ORG_SLUG = re.compile(r"^[a-z][a-z0-9_]{2,49}$")
PATH_SEGMENT = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SCHEDULER_TRIGGER = "scheduler"  # trigger_by of scheduled runs; reserved, so an org cannot send it


def is_org_slug(value: str) -> bool:
    """True for a well-formed org slug."""
    return bool(ORG_SLUG.fullmatch(value))


def is_path_segment(value: str) -> bool:
    """True for a well-formed provider, domain or pipeline name."""
    return bool(PATH_SEGMENT.fullmatch(value))


def is_run_id(value: str) -> bool:
    """True for a well-formed pipeline_logging_id (a lower-case UUID)."""
    return bool(RUN_ID.fullmatch(value))
