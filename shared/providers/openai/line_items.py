"""The Costs API's line items read as SQL: '<model>[ <modality>], <kind>[, <qualifier>]...' → model, token type,
billing tier and context window, the grain where the bill meets the usage estimate."""

from __future__ import annotations

# Line items seen on real bills: "gpt-4o-2024-08-06, input", "gpt-5.6-terra, cached input", "gpt-5.6-terra, cache
# writes", "gpt-image-1 image, output" (the modality follows the model, a text-only model names none),
# "gpt-5.4-2026-03-05, cached input, long context" (qualifiers follow the kind), "whisper" (no kind). OpenAI does
# not document how tiered usage is named; we read a tier as one more qualifier, "o3-2025-04-16, input, batch"
# (also "flex", "priority"), the form the other qualifiers take. A line without one is standard. Older bills
# named audio in the kind ("gpt-4o-audio-preview, audio input"): both forms give token type "audio input".
BILL_TIERS = ("batch", "flex", "priority")
_MODALITIES = ("audio", "image", "text")


def _modality(head: str) -> str:
    cases = " ".join(f"WHEN ENDS_WITH({head}, ' {m}') THEN '{m}'" for m in _MODALITIES)
    return f"CASE {cases} END"


def bill_lines_sql(dataset: str) -> str:
    """openai_costs_daily of the slice with each line item read: model, token_type ('input', 'cached input',
    'cache writes', 'output', 'audio input', 'image cached input', ...), bill_tier and bill_window. A line without a
    kind ('whisper', fine-tuning, none) has no model, its whole line item as token type and no tier."""
    tiers = ", ".join(f"'{tier}'" for tier in BILL_TIERS)
    tier_case = " ".join(f"WHEN '{tier}' IN (q2, q3) THEN '{tier}'" for tier in BILL_TIERS)
    return f"""
      SELECT * EXCEPT (head, kind, modality, q2, q3),
        IF(kind IS NULL, NULL, IF(modality IS NULL, head, SUBSTR(head, 1, LENGTH(head) - LENGTH(modality) - 1)))
          AS model,
        IF(kind IS NULL, line_item, CONCAT(IF(modality IN ('audio', 'image'), CONCAT(modality, ' '), ''), kind))
          AS token_type,
        IF(kind IS NULL, NULL, CASE {tier_case} ELSE 'standard' END) AS bill_tier,
        -- Any other qualifier ("long context") is a context window the usage side does not split by.
        CASE WHEN kind IS NULL THEN NULL WHEN q2 NOT IN ({tiers}) THEN q2 WHEN q3 NOT IN ({tiers}) THEN q3 END
          AS bill_window
      FROM (
        SELECT * EXCEPT (p), p[SAFE_OFFSET(0)] AS head, p[SAFE_OFFSET(1)] AS kind,
          {_modality("p[SAFE_OFFSET(0)]")} AS modality, p[SAFE_OFFSET(2)] AS q2, p[SAFE_OFFSET(3)] AS q3
        FROM (SELECT c.*, SPLIT(IFNULL(c.line_item, ''), ', ') AS p
              FROM `{dataset}.openai_costs_daily` AS c WHERE c.cost_date BETWEEN @slice_start AND @slice_end))
    """
