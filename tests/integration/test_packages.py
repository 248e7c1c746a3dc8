"""Each function's deploy package, installed into a clean virtual environment with only its declared requirements,
imports its entry point and every module its code can reach (lazy imports included): a deploy never fails on a
missing module. The package holds only its computed graph and what it reads (tests/integration/test_packaging.py checks
that exactly, without installing anything), so this is the proof that the computed graph is complete.

Virtual environments are kept per requirement set under $TMPDIR/dps-package-venvs (created from nothing the first
time, holding exactly those requirements), and pip's own cache serves the wheels, so a re-run takes seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from devstack.packaging import build_package, function_imports, function_names, package_files, package_venv

VENVS = Path(tempfile.gettempdir()) / "dps-package-venvs"
CHECK = r"""
import importlib, json, sys, time
began = time.perf_counter()
import main  # the entry point module, as the runtime imports it
entry_seconds = time.perf_counter() - began
assert callable(getattr(main, sys.argv[1])), "no entry point " + sys.argv[1]
spec = json.loads(sys.argv[2])
for module in spec["shared"]:
    importlib.import_module(module)
for module, name in spec["third_party"]:
    imported = importlib.import_module(module)
    if name and not hasattr(imported, name):
        importlib.import_module(module + "." + name)
print(json.dumps({"entry_import_seconds": round(entry_seconds, 3)}))
"""


@pytest.mark.parametrize("name", function_names())
def test_package_installs_and_imports_its_entry_point(name, tmp_path):
    built = build_package(name, tmp_path / "dist")
    source = tmp_path / "src"
    with zipfile.ZipFile(built["archive"]) as archive:
        archive.extractall(source)
        listed = set(archive.namelist())
    assert listed == {"main.py", "requirements.txt", *package_files(name)}
    assert "shared/platform/settings.py" in listed
    assert not any(path.startswith(("devstack/", "tests/")) for path in listed), (
        "development code must not ship"
    )
    python = package_venv((source / "requirements.txt").read_text(), VENVS)
    freeze = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert freeze.returncode == 0, freeze.stdout
    imports = function_imports(name)
    third_party = sorted(
        imports.third_party, key=lambda item: (item[0], item[1] or "")
    )  # (module, name or None)
    spec = {"shared": sorted(imports.shared), "third_party": third_party}
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "GCP_PROJECT_ID": "package-test",
        "ENVIRONMENT": "local",
        "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
    }
    result = subprocess.run(
        [str(python), "-I", "-c", f"import sys; sys.path.insert(0, '.')\n{CHECK}", name, json.dumps(spec)],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1])["entry_import_seconds"] > 0
