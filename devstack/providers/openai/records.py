"""The OpenAI sandbox's synthetic data: one day's completions usage at the finest grain (project, model, key, batch,
service tier) in the usage object's current shape, and the bill's lines priced at list prices."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

# Project id → its name (served by the Projects API, GET /v1/organization/projects).
PROJECTS = {
    "proj_sandbox_web": "Web storefront",
    "proj_sandbox_support": "Support assistant",
    "proj_sandbox_research": "Research",
}
D = Decimal
# USD per 1M tokens per model and tier, by the price table's rate names (configs/prices/llm_prices.yml): spelled
# out here, so a wrong price on either side shows as a billed-vs-estimated difference. A rate a tier lacks is not
# produced: its usage would be unpriced.
PRICES = {
    "gpt-4o-2024-08-06": {
        "standard": {"input": D("2.50"), "cache_read": D("1.25"), "output": D("10.00")},
        "batch": {"input": D("1.25"), "output": D("5.00")},
        "priority": {"input": D("4.25"), "cache_read": D("2.125"), "output": D("17.00")},
    },
    "gpt-4o-mini-2024-07-18": {
        "standard": {"input": D("0.15"), "cache_read": D("0.075"), "output": D("0.60")},
        "batch": {"input": D("0.075"), "output": D("0.30")},
        "priority": {"input": D("0.25"), "cache_read": D("0.125"), "output": D("1.00")},
    },
    "o3-mini-2025-01-31": {
        "standard": {"input": D("1.10"), "cache_read": D("0.55"), "output": D("4.40")},
        "batch": {"input": D("0.55"), "output": D("2.20")},
    },
    "gpt-4.1-nano-2025-04-14": {
        "standard": {"input": D("0.10"), "cache_read": D("0.025"), "output": D("0.40")},
        "priority": {"input": D("0.20"), "cache_read": D("0.05"), "output": D("0.80")},
    },
    "o3-2025-04-16": {
        "standard": {"input": D("2.00"), "cache_read": D("0.50"), "output": D("8.00")},
        "flex": {"input": D("1.00"), "cache_read": D("0.25"), "output": D("4.00")},
    },
    "gpt-5.6-terra": {
        tier: dict(zip(("input", "cache_read", "cache_write", "output"), map(D, rates), strict=True))
        for tier, rates in {
            "standard": ("2.00", "0.20", "2.50", "12.00"),
            "batch": ("1.00", "0.10", "1.25", "6.00"),
            "flex": ("1.00", "0.10", "1.25", "6.00"),
            "priority": ("4.00", "0.40", "5.00", "24.00"),
        }.items()
    },
    "gpt-realtime-2025-08-28": {
        "standard": {
            "input": D("4.00"),
            "cache_read": D("0.40"),
            "output": D("16.00"),
            "audio_input": D("32.00"),
            "audio_cache_read": D("0.40"),
            "audio_output": D("64.00"),
            "image_input": D("5.00"),
            "image_cache_read": D("0.50"),
        }
    },
    "gpt-image-1": {
        "standard": {
            "input": D("5.00"),
            "cache_read": D("1.25"),
            "image_input": D("10.00"),
            "image_cache_read": D("2.50"),
            "image_output": D("40.00"),
        }
    },
}
# The first day a model is used: from the day its prices above apply (o3's were cut on 2025-06-10), so every day's
# bill is at the price table's list prices.
FIRST_DAY = {
    "o3-2025-04-16": date(2025, 6, 10),
    "gpt-realtime-2025-08-28": date(2025, 8, 28),
    "gpt-image-1": date(2025, 4, 23),
    "gpt-5.6-terra": date(2026, 9, 13),
}
# Rate → (modality, the bill's kind, the usage object's counter).
RATES = {
    "input": ("text", "input", "input_text_tokens"),
    "cache_read": ("text", "cached input", "input_cached_text_tokens"),
    "cache_write": ("text", "cache writes", "input_cache_write_tokens"),
    "output": ("text", "output", "output_text_tokens"),
    "audio_input": ("audio", "input", "input_audio_tokens"),
    "audio_cache_read": ("audio", "cached input", "input_cached_audio_tokens"),
    "audio_output": ("audio", "output", "output_audio_tokens"),
    "image_input": ("image", "input", "input_image_tokens"),
    "image_cache_read": ("image", "cached input", "input_cached_image_tokens"),
    "image_output": ("image", "output", "output_image_tokens"),
}
# What a record of each tier reports: (batch, service_tier). A batch job runs at the default tier.
TIER_FIELDS = {
    "standard": (False, "default"),
    "batch": (True, "default"),
    "flex": (False, "flex"),
    "priority": (False, "priority"),
}
COUNTERS = (
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "input_text_tokens",
    "output_text_tokens",
    "input_cached_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "num_model_requests",
)


def _tokens(rng: random.Random, rates: dict, requests: int) -> dict[str, int]:
    """Tokens of each priced rate: input-like in the thousands to millions, output per request."""
    tokens = {}
    for rate in rates:
        if rate.endswith("output"):
            tokens[rate] = rng.randrange(requests * 20, requests * 600)
        elif rate in ("input", "audio_input", "image_input"):
            tokens[rate] = rng.randrange(20_000, 4_000_000)
        else:  # cache reads and writes: a share of the input
            tokens[rate] = rng.randrange(0, 1_500_000)
        if rate.startswith(("audio", "image")):  # media is a small share of a day's tokens, at dearer rates
            tokens[rate] //= 10
    return tokens


def _record(project: str, index: int, model: str, tier: str, tokens: dict[str, int], requests: int) -> dict:
    """One usage result: the counters the API reports, summed up from each rate's tokens."""
    counters = dict.fromkeys(COUNTERS, 0)
    for rate, count in tokens.items():
        counters[RATES[rate][2]] += count
    counters["input_cached_tokens"] = sum(
        counters[f"input_cached_{m}_tokens"] for m in ("text", "audio", "image")
    )
    counters["input_uncached_tokens"] = sum(counters[f"input_{m}_tokens"] for m in ("text", "audio", "image"))
    counters["input_tokens"] = (
        counters["input_cached_tokens"]
        + counters["input_cache_write_tokens"]
        + counters["input_uncached_tokens"]
    )
    counters["output_tokens"] = sum(counters[f"output_{m}_tokens"] for m in ("text", "audio", "image"))
    counters["num_model_requests"] = requests
    batch, service_tier = TIER_FIELDS[tier]
    dims = {"project_id": project, "model": model, "api_key_id": f"key_sandbox{index}", "user_id": None}
    return {**dims, "batch": batch, "service_tier": service_tier, "tier": tier, "tokens": tokens, **counters}


def day_records(day_start: int) -> list[dict]:
    """The usage of one UTC day at the finest grain (project, model, key, tier), seeded by the date."""
    day = datetime.fromtimestamp(day_start, UTC).date()
    rng = random.Random(f"openai-sandbox:{day.isoformat()}")  # str seeds are stable across processes
    if rng.random() < 0.08:
        return []  # quiet days happen; the real API then returns a bucket with empty results
    records = []
    for index, project in enumerate(PROJECTS):
        for model, tiers in PRICES.items():
            if day < FIRST_DAY.get(model, day):
                continue
            for tier, rates in tiers.items():
                if rng.random() < (0.35 if tier == "standard" else 0.6):
                    continue
                requests = rng.randrange(5, 2_000)
                tokens = _tokens(rng, rates, requests)
                records.append(_record(project, index, model, tier, tokens, requests))
    return records


def line_item(model: str, rate: str, tier: str) -> str:
    """The bill's name of a rate: a model priced in several modalities names the modality of each line."""
    modality, kind, _ = RATES[rate]
    multimodal = any(r.startswith(("audio", "image")) for r in PRICES[model]["standard"])
    head = f"{model} {modality}" if multimodal else model
    return f"{head}, {kind}" + ("" if tier == "standard" else f", {tier}")


def cost_records(usage: Iterable[dict]) -> list[dict]:
    """Billed cost lines consistent with `usage`: each rate's tokens at its tier's list price."""
    lines = []
    for record in usage:
        prices = PRICES[record["model"]][record["tier"]]
        for rate, tokens in record["tokens"].items():
            if tokens:
                lines.append(
                    {
                        "project_id": record["project_id"],
                        "line_item": line_item(record["model"], rate, record["tier"]),
                        "amount": D(tokens) * prices[rate] / 1_000_000,
                        "quantity": tokens,
                    }
                )
    return lines
