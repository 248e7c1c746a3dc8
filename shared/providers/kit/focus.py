"""What every provider's FOCUS mapping shares: the cost_focus table name and the ServiceCategory data."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

FOCUS_TABLE = "cost_focus"
# FOCUS 1.2 allowed values (specification/columns/*.md); the conformance test checks rows against these too.
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)


@functools.cache
def service_categories(config_dir: Path, provider: str) -> tuple[dict[str, str], str]:
    """(ServiceName → ServiceCategory, default) of one provider, from configs/focus/service_categories.yml."""
    raw = yaml.safe_load((Path(config_dir) / "focus" / "service_categories.yml").read_text())
    mapping = dict(raw["providers"].get(provider, {}))
    unknown = sorted(set(mapping.values()) - set(SERVICE_CATEGORIES))
    if unknown or raw["default"] not in SERVICE_CATEGORIES:
        raise ValueError(f"service_categories.yml: not FOCUS service categories: {unknown or raw['default']}")
    return mapping, raw["default"]
