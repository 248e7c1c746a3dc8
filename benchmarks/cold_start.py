"""Cold-start import time of each function's deploy package next to a hello-world function's.

Each package is built with devstack/packaging.py and installed into a clean virtual environment holding only its
requirements (the same environments as tests/integration/test_packages.py, cached under
$TMPDIR/dps-package-venvs). A fresh interpreter then times `import main` (what the runtime does before the first
request) and, separately, importing every module the function's code can reach (the most a first request can
add on top, as clients are imported lazily). Medians over --runs; the machine's load is printed alongside.

    .venv/bin/python benchmarks/cold_start.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.packaging import build_package, function_imports, function_names, package_venv, pinned_versions

VENVS = Path(tempfile.gettempdir()) / "dps-package-venvs"
HELLO = Path(__file__).resolve().parent / "hello" / "main.py"
PROBE = r"""
import importlib, json, sys, time
began = time.perf_counter()
import main
entry = time.perf_counter() - began
for module in json.loads(sys.argv[1]):
    importlib.import_module(module)
print(json.dumps({"entry": entry, "all": time.perf_counter() - began}))
"""
ENV = {
    "GCP_PROJECT_ID": "bench",
    "ENVIRONMENT": "local",
    "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
}


def measure(python: Path, source: Path, modules: list[str], runs: int) -> dict:
    """Median seconds over `runs` fresh interpreters: `import main`, and main plus every reachable module."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [str(python), "-I", "-c", f"import sys; sys.path.insert(0, '.')\n{PROBE}", json.dumps(modules)],
            cwd=source,
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ.get("PATH", ""), **ENV},
        ).stdout
        samples.append(json.loads(out.splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in ("entry", "all")}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dps-cold-start-"))
    hello_dir = work / "hello"
    hello_dir.mkdir()
    (hello_dir / "main.py").write_text(HELLO.read_text())
    hello_python = package_venv(f"functions-framework=={pinned_versions()['functions-framework']}\n", VENVS)
    rows = [("hello", measure(hello_python, hello_dir, [], args.runs), 1)]
    for name in function_names():
        built = build_package(name, work / "dist")
        source = work / name
        with zipfile.ZipFile(built["archive"]) as archive:
            archive.extractall(source)
        python = package_venv((source / "requirements.txt").read_text(), VENVS)
        modules = sorted(function_imports(name).shared) + sorted(
            {m for m, _ in function_imports(name).third_party}
        )
        rows.append((name, measure(python, source, modules, args.runs), len(built["requirements"])))
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.runs} fresh interpreters")
    print(f"{'function':<10} {'requirements':>12} {'import main':>12} {'x hello':>8} {'+ all lazy':>11}")
    base = rows[0][1]["entry"]
    for name, timing, requirements in rows:
        print(
            f"{name:<10} {requirements:>12} {timing['entry']:>11.3f}s {timing['entry'] / base:>7.1f}x "
            f"{timing['all']:>10.3f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
