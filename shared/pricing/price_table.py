"""The LLM price table (configs/prices/llm_prices.yml): read exactly (Decimal, never float), validated, loaded."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import yaml

from shared.platform.errors import TerminalError

PRICE_FILE = Path("prices") / "llm_prices.yml"
PRICES_TABLE = "llm_prices"
TIERS = ("standard", "batch", "flex", "priority")
RATE_TYPES = (
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "audio_input",
    "audio_output",
    # OpenAI: cache writes (no TTL), cached audio and image input, image input and output.
    "cache_write",
    "audio_cache_read",
    "image_input",
    "image_cache_read",
    "image_output",
)
TOOLS = ("web_search",)
ANY = "*"  # a tool rate applies to every model and tier
# The periods of one price are [effective_from, effective_to); the table's slice spans every possible date.
ALL_DATES = (date(1970, 1, 1), date(9999, 12, 31))
_MODEL_KEYS = {
    "provider",
    "model",
    "context_window",
    "inference_geo",
    "effective_from",
    "effective_to",
    "source",
    *TIERS,
}
# A price for one inference geo only (Anthropic's US-only inference) is the price of the model so named: the name
# the provider's estimate gives that geo's usage, so the estimate's model join meets it and nothing else does.
GEO_MODEL = "{model} (inference_geo {geo})"
_TOOL_KEYS = {"provider", "tool", "effective_from", "effective_to", "usd_per_thousand", "source"}


class _ExactLoader(yaml.SafeLoader):
    """YAML where every number with a fraction is a Decimal from its text: prices never pass through float."""


_ExactLoader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node))
)


def _bad(where: str, message: str) -> TerminalError:
    return TerminalError("PRICE_TABLE_INVALID", f"{PRICE_FILE} {where}: {message}")


def _rate(where: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise _bad(where, f"{value!r} is not a number")
    rate = Decimal(value)
    if not rate.is_finite() or rate < 0:
        raise _bad(where, f"{value!r} is not a non-negative price")
    return rate


def _period(where: str, entry: dict) -> tuple[date, date | None]:
    start, end = entry.get("effective_from"), entry.get("effective_to")
    if type(start) is not date or (end is not None and type(end) is not date):
        raise _bad(where, "effective_from (and effective_to, or null) must be YYYY-MM-DD dates")
    if end is not None and end <= start:
        raise _bad(where, "effective_to must be after effective_from (it is exclusive)")
    return start, end


def _source(where: str, entry: dict, tier: str | None = None) -> dict:
    """The page a price was read from and the day it was read: every entry cites one, or several where tiers were
    read on different pages (`source: [{url, reviewed, tiers: [priority]}, {url, reviewed}]`: the first naming the
    tier, else the first naming none)."""
    sources = entry.get("source")
    sources = sources if isinstance(sources, list) else [sources]
    for source in sources:
        url, reviewed = (
            (source.get("url"), source.get("reviewed")) if isinstance(source, dict) else (None, None)
        )
        tiers = source.get("tiers") if isinstance(source, dict) else None
        if (
            not isinstance(source, dict)
            or set(source) - {"tiers"} != {"url", "reviewed"}
            or not str(url).startswith("https://")
            or type(reviewed) is not date
            or not (tiers is None or (isinstance(tiers, list) and set(tiers) <= set(TIERS)))
        ):
            raise _bad(
                where,
                "source must be {url: https://..., reviewed: YYYY-MM-DD} (optionally tiers: [...]), or a list of "
                "them: the page the price was read from",
            )
    named = [source for source in sources if tier in (source.get("tiers") or ())]
    general = [source for source in sources if source.get("tiers") is None]
    if not general:
        raise _bad(where, "one source must name no tiers: the page of the rates no other source covers")
    chosen = (named or general)[0]
    return {"source_url": chosen["url"], "source_reviewed": chosen["reviewed"]}


def _model_rows(index: int, entry: dict, version: str) -> list[dict]:
    where = f"models[{index}] ({entry.get('provider')}/{entry.get('model')})"
    if not isinstance(entry, dict) or set(entry) - _MODEL_KEYS or "standard" not in entry:
        raise _bad(where, f"keys must be among {sorted(_MODEL_KEYS)}, with standard rates")
    start, end = _period(where, entry)
    _source(where, entry)  # every entry cites a source, even one whose tiers are all cited apart
    model, geo = entry["model"], entry.get("inference_geo")
    if geo is not None:
        if not isinstance(geo, str) or not geo.isidentifier():
            raise _bad(where, f"inference_geo {geo!r} is not a geo name")
        model = GEO_MODEL.format(model=model, geo=geo)
    rows = []
    for tier in TIERS:
        rates = entry.get(tier) or {}
        if not isinstance(rates, dict) or set(rates) - set(RATE_TYPES):
            raise _bad(where, f"{tier} rates must be among {', '.join(RATE_TYPES)}")
        for rate_type, value in rates.items():
            rows.append(
                {
                    "provider": entry["provider"],
                    "model": model,
                    "context_window": entry.get("context_window"),
                    "service_tier": tier,
                    "rate_type": rate_type,
                    "usd_per_million": _rate(f"{where} {tier}.{rate_type}", value),
                    "unit": "tokens",
                    "effective_from": start,
                    "effective_to": end,
                    "price_version": version,
                    **_source(where, entry, tier),
                }
            )
    return rows


def _tool_row(index: int, entry: dict, version: str) -> dict:
    where = f"tools[{index}]"
    if not isinstance(entry, dict) or set(entry) != _TOOL_KEYS or entry["tool"] not in TOOLS:
        raise _bad(where, f"keys must be {sorted(_TOOL_KEYS)} and tool one of {', '.join(TOOLS)}")
    start, end = _period(where, entry)
    source = _source(where, entry)
    per_thousand = _rate(f"{where} usd_per_thousand", entry["usd_per_thousand"])
    return {
        "provider": entry["provider"],
        "model": ANY,
        "context_window": None,
        "service_tier": ANY,
        "rate_type": entry["tool"],
        "usd_per_million": per_thousand * 1000,  # one unit everywhere: USD per 1,000,000 (here requests)
        "unit": "requests",
        "effective_from": start,
        "effective_to": end,
        "price_version": version,
        **source,
    }


def _check_no_overlap(rows: list[dict]) -> None:
    periods: dict[tuple, list[tuple[date, date]]] = {}
    for row in rows:
        key = tuple(row[k] for k in ("provider", "model", "context_window", "service_tier", "rate_type"))
        periods.setdefault(key, []).append((row["effective_from"], row["effective_to"] or date.max))
    for key, spans in periods.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                raise _bad("/".join(str(k) for k in key), f"two prices are in effect on {start}")


def parse_price_table(text: str) -> list[dict]:
    """Every price row of the YAML text (one per provider, model, window, tier, rate and period), validated."""
    try:
        raw = yaml.load(text, Loader=_ExactLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise _bad("", f"is not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("version"), str) or raw.get("currency") != "USD":
        raise _bad("", "needs a version string and currency USD")
    providers = _providers(raw)
    version = raw["version"]
    rows = [row for i, entry in enumerate(raw.get("models") or []) for row in _model_rows(i, entry, version)]
    rows += [_tool_row(i, entry, version) for i, entry in enumerate(raw.get("tools") or [])]
    unnamed = sorted({row["provider"] for row in rows} - set(providers))
    if unnamed:
        raise _bad("providers", f"name the cost_focus ProviderName of {', '.join(unnamed)}")
    _check_no_overlap(rows)
    return rows


def _providers(raw: dict) -> dict[str, str]:
    providers = raw.get("providers")
    if not isinstance(providers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in providers.items()
    ):
        raise _bad("providers", "must map each priced provider to its cost_focus ProviderName")
    return providers


@functools.cache
def priced_providers(config_dir: Path) -> dict[str, str]:
    """provider → its cost_focus ProviderName, for every provider the price table prices."""
    text = (Path(config_dir) / PRICE_FILE).read_text()
    return _providers(yaml.load(text, Loader=_ExactLoader))


@functools.cache
def load_price_table(config_dir: Path) -> tuple[dict, ...]:
    """The shipped price table's rows (read once per process)."""
    return tuple(parse_price_table((Path(config_dir) / PRICE_FILE).read_text()))


def provider_prices(config_dir: Path, provider: str) -> list[dict]:
    """The price rows of one provider."""
    return [dict(row) for row in load_price_table(config_dir) if row["provider"] == provider]


def load_prices_processor(provider: str):
    """A `run` processor replacing the provider's rows of the org's llm_prices table with the current file."""

    def load_prices(ctx, warehouse) -> int:
        from shared.warehouse.schemas import load_table_specs

        spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or PRICES_TABLE]
        audit = {"x_pipeline_logging_id": ctx.run_id, "x_ingested_at": datetime.now(UTC)}
        rows = [{**row, **audit} for row in provider_prices(ctx.settings.config_dir, provider)]
        ctx.ensure_time_left(5.0, "the price table")
        dataset = ctx.settings.org_dataset(ctx.org_slug)
        return warehouse.replace_slice(dataset, spec, rows, *ALL_DATES, match={"provider": provider})

    return load_prices
