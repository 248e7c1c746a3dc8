"""Run by the FOCUS validator's own interpreter (tests/kit/focus_validator.py): validate several data files in one
process, each after a `=== job N ===` line, so the validator's start-up (a third of a run) is paid once."""

import json
import sys

from focus_validator.main import setup_logging
from focus_validator.validator import Validator

setup_logging()
for index, job in enumerate(json.loads(sys.argv[1])):
    print(f"=== job {index} ===", flush=True)
    Validator(
        data_filename=job["path"],
        output_destination=None,
        output_type="console",
        rules_version=job["version"],
        rules_block_remote_download=True,
        applicability_criteria=",".join(job["criteria"]) or None,
        focus_dataset="CostAndUsage",  # the CLI's default dataset
    ).validate()
    sys.stdout.flush()
