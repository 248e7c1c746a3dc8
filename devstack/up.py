"""`dps up`: the local stack in the foreground until Ctrl-C, with .local/stack.json describing it."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from devstack.demo_org import onboard_demo_org


def publish_stack_file(stack, path: Path) -> dict:
    """Write stack.json (endpoints, demo org and key, root key, and the env the CLI reuses); owner-only."""
    info = stack.write_stack_json(path)
    info["env"] = stack.env()
    path.write_text(json.dumps(info, indent=2, default=str))
    os.chmod(path, 0o600)
    return info


def run_up(local_dir: Path) -> int:
    """Start everything, print where it is, wait for Ctrl-C or SIGTERM, stop everything."""
    from devstack.stack import LocalStack

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    began = time.monotonic()
    stack = LocalStack(data_dir=local_dir)
    try:
        stack.start()
        onboard_demo_org(stack)
        info = publish_stack_file(stack, local_dir / "stack.json")
        print(f"local stack ready in {time.monotonic() - began:.1f} s")
        print(f"  api            {info['api_url']}")
        print(f"  bigquery       {info['bigquery_url']}")
        print(f"  pubsub         {info['pubsub_emulator_host']}")
        print(f"  kms            {info['kms_endpoint']}")
        print(f"  demo org       {info['demo_org']['slug']} (API key in {local_dir / 'stack.json'})")
        print("Ctrl-C stops everything.")
        while not stopping.wait(1.0):
            pass
        print("stopping ...")
        return 0
    finally:
        stack.stop()
