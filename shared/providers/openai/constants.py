"""OpenAI organization Usage/Costs API: endpoints, page sizes and groupings (constants, no I/O)."""

from __future__ import annotations

USAGE_COMPLETIONS_PATH = "/v1/organization/usage/completions"
COSTS_PATH = "/v1/organization/costs"
# The organization's projects (id, name): the Costs API documents no project name, so the costs step reads them here.
PROJECTS_PATH = "/v1/organization/projects"
PROJECTS_PAGE_LIMIT = 100

# The API's maximum page sizes for daily buckets; the largest page means the fewest requests.
USAGE_PAGE_LIMIT = 31
COSTS_PAGE_LIMIT = 180

# Only the dimensions the tables keep; every extra group_by multiplies rows and pages. batch and service_tier are
# priced differently and the API fills them only when grouped by them (else null: every tier at standard prices).
USAGE_GROUP_BY = ("project_id", "model", "batch", "service_tier")
COSTS_GROUP_BY = ("project_id", "line_item")

# The other usage endpoints an org pays for: name → (group_by, the quantity each result measures). Group only
# by dimensions each endpoint accepts; images also by size and source (they are priced by both).
OTHER_USAGE_PREFIX = "/v1/organization/usage/"
OTHER_USAGE = {
    "embeddings": (("project_id", "model"), "input_tokens"),
    "moderations": (("project_id", "model"), "input_tokens"),
    "images": (("project_id", "model", "size", "source"), "images"),
    "audio_speeches": (("project_id", "model"), "characters"),
    "audio_transcriptions": (("project_id", "model"), "seconds"),
    "vector_stores": (("project_id",), "usage_bytes"),
    "code_interpreter_sessions": (("project_id",), "num_sessions"),
    "web_search_calls": (("project_id",), "num_requests"),
    "file_search_calls": (("project_id",), "num_requests"),
}
