"""Deploy packages. A function's zip holds exactly what its entry point can reach, computed, never an exclude list:

- main.py (functions/<name>/main.py);
- the .py file of every `shared` module its import graph reaches (an AST walk from main.py through every `shared.*`
  import, lazy imports inside functions included), and the __init__.py of each of their parent packages (Python
  imports those first, so their imports are walked too);
- the data files those modules read beside themselves (MODULE_DATA: today shared/api/openapi.yaml);
- the configs those modules read (CONFIG_READS: which module reads which configs/ paths); a config no reached module
  reads does not ship;
- requirements.txt: exactly the distributions its third-party imports need, pinned as in pyproject.toml.

A graph that reaches devstack/, tests/ or any other top-level folder of the repository but shared/ is refused
(PackagingError), as is a `shared` import that names no file or a dynamic import the walk cannot follow.
Deterministic zips (fixed timestamps, sorted entries), so the content-hashed archive name changes only with content.

    python -m devstack.packaging build/functions            # every function in functions/
    python -m devstack.packaging build/functions api openai # some
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from shared.platform.settings import REPO_ROOT

FUNCTIONS_DIR = REPO_ROOT / "functions"
# Modules code imports directly => the pinned distribution that provides them.
DISTRIBUTIONS = {
    "functions_framework": "functions-framework",
    "google.cloud.bigquery_storage_v1": "google-cloud-bigquery-storage",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "google.cloud.pubsub_v1": "google-cloud-pubsub",
    "google.pubsub_v1": "google-cloud-pubsub",
    "google.cloud.kms_v1": "google-cloud-kms",
    "google.cloud.tasks_v2": "google-cloud-tasks",
    "google.cloud.firestore": "google-cloud-firestore",
    "google.cloud.firestore_v1": "google-cloud-firestore",
    "httpx": "httpx",
    "httpcore": "httpcore",
    "pydantic": "pydantic",
    "yaml": "pyyaml",
    "pyarrow": "pyarrow",
    "cryptography": "cryptography",
    "croniter": "croniter",
    "boto3": "boto3",
    "azure.storage.blob": "azure-storage-blob",
    "azure.identity": "azure-identity",
}
# Imported directly but installed by the distributions above (functions-framework, the google clients).
TRANSITIVE = (
    "werkzeug",
    "google.api_core",
    "google.auth",
    "google.oauth2",
    "google.protobuf",
    "google.rpc",
    "grpc",
    "google_crc32c",
    "botocore",  # installed by boto3
    "azure.core",  # installed by azure-storage-blob
)
# Which configs each module reads (through Settings.config_dir), as globs relative to the repository: the only list.
# A function ships a config exactly when its import graph reaches a module that reads it. A module that reads
# a config must be named here (tests/integration/test_packaging.py scans shared/ for every use of config_dir).
CONFIG_READS: dict[str, tuple[str, ...]] = {
    "shared.worker.pipelines": ("configs/pipelines/*/*/*.yml",),  # load_pipelines
    "shared.warehouse.schemas": ("configs/schemas/*/*.yml",),  # load_table_specs(config_dir, group)
    "shared.pricing.price_table": ("configs/prices/llm_prices.yml",),  # PRICE_FILE
    "shared.providers.kit.focus": ("configs/focus/service_categories.yml",),  # service_categories
    "shared.tenancy.subscriptions": ("configs/plans.yml",),  # PLANS_FILE
}
# Non-Python files a module reads from beside itself (Path(__file__).with_name(...)), relative to the repository.
MODULE_DATA: dict[str, tuple[str, ...]] = {
    "shared.api.openapi": ("shared/api/openapi.yaml",),
}
# The one top-level package deployed code may import; the repository's other top-level folders (devstack, tests,
# benchmarks, functions, ...) never ship.
DEPLOYED_PACKAGE = "shared"
DYNAMIC_IMPORTS = ("import_module", "__import__")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries carry no build time, so equal content => equal archive hash


class PackagingError(RuntimeError):
    """A function reaches something it may not ship or cannot be followed, needs a distribution no pinned
    requirement provides, or a file is missing."""


@dataclass
class Imports:
    """What a function's code imports: our modules, third-party modules, and those it can live without."""

    shared: set[str] = field(default_factory=set)  # reached modules and their parent packages
    third_party: set[tuple[str, str | None]] = field(default_factory=set)  # (module, imported name or None)
    optional: set[tuple[str, str | None]] = field(default_factory=set)  # inside try/except ImportError


def _module_file(module: str) -> Path | None:
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _parents(module: str) -> list[str]:
    """The packages Python imports before `module`: shared.a.b => shared, shared.a."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _optional_nodes(tree: ast.AST) -> set[int]:
    """ids of import nodes guarded by `except ImportError` (the code copes without them)."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            h.type is not None and "ImportError" in ast.unparse(h.type) for h in node.handlers
        ):
            guarded |= {
                id(n)
                for stmt in node.body
                for n in ast.walk(stmt)
                if isinstance(n, ast.Import | ast.ImportFrom)
            }
    return guarded


def _imports_of(path: Path) -> list[tuple[str, str | None, bool]]:
    """(module, name, optional) for every import statement in a file, lazy ones in functions included."""
    tree = ast.parse(path.read_text())
    guarded, found = _optional_nodes(tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, id(node) in guarded) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise PackagingError(
                f"{_relative(path)}: relative import (the walk follows absolute imports only)"
            )
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name, id(node) in guarded) for alias in node.names]
        elif isinstance(node, ast.Call):
            called = (
                node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            )
            if called in DYNAMIC_IMPORTS:
                raise PackagingError(f"{_relative(path)}: {called}() is an import the walk cannot follow")
    return found


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)


def _local_roots() -> set[str]:
    """Top-level names that resolve to this repository's own folders or modules, other than the deployed package."""
    names = {p.name if p.is_dir() else p.stem for p in REPO_ROOT.iterdir() if p.is_dir() or p.suffix == ".py"}
    return {n for n in names if not n.startswith(".")} - {DEPLOYED_PACKAGE}


def function_imports(name: str) -> Imports:
    """Everything reachable from functions/<name>/main.py through shared/: every module its imports (lazy ones
    included) reach, with their parent packages, and the third-party modules they import."""
    result, local = Imports(), _local_roots()
    todo, seen = [FUNCTIONS_DIR / name / "main.py"], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, imported, optional in _imports_of(path):
            root = module.split(".")[0]
            if root == "__future__" or root in sys.stdlib_module_names:
                continue
            if root in local:
                raise PackagingError(
                    f"function {name} reaches {module} (imported by {_relative(path)}): only {DEPLOYED_PACKAGE}/ "
                    "ships; devstack/, tests/ and the repository's other folders never do"
                )
            if root == DEPLOYED_PACKAGE:
                candidates = ([f"{module}.{imported}"] if imported else []) + [module]
                found = next((c for c in candidates if _module_file(c) is not None), None)
                if found is None:
                    raise PackagingError(
                        f"{_relative(path)} imports {module}, which has no file under shared/"
                    )
                for package in [*_parents(found), found]:  # Python imports (runs) each parent package first
                    if (file := _module_file(package)) is not None:
                        result.shared.add(package)
                        todo.append(file)
                continue
            (result.optional if optional else result.third_party).add((module, imported))
    result.third_party -= result.optional
    return result


def module_path(module: str) -> str:
    """The repository-relative file of a reached `shared` module (a package's __init__.py)."""
    file = _module_file(module)
    if file is None:
        raise PackagingError(f"{module} has no file")
    return _relative(file)


def _declared(table: dict[str, tuple[str, ...]], modules: set[str], what: str) -> list[str]:
    """The files the reached modules read according to `table` (each pattern must match at least one file)."""
    files = set()
    for module in sorted(modules & table.keys()):
        for pattern in table[module]:
            matched = [p for p in REPO_ROOT.glob(pattern) if p.is_file()]
            if not matched:
                raise PackagingError(f"{what}[{module!r}]: {pattern} matches no file")
            files |= {_relative(p) for p in matched}
    return sorted(files)


def package_files(name: str) -> list[str]:
    """The repository-relative files a function's zip holds besides main.py and requirements.txt: its reached
    modules (with their parent packages), the data files they read beside them and the configs they read."""
    modules = function_imports(name).shared
    return sorted(
        {module_path(m) for m in modules}
        | set(_declared(MODULE_DATA, modules, "MODULE_DATA"))
        | set(_declared(CONFIG_READS, modules, "CONFIG_READS"))
    )


def pinned_versions() -> dict[str, str]:
    """distribution => version pinned in pyproject.toml's runtime dependencies."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", requirement.strip())
        if not match:
            raise PackagingError(f"runtime dependency {requirement!r} is not pinned with ==")
        pins[match.group(1).lower()] = match.group(2)
    return pins


def _distribution(module: str, imported: str | None) -> str | None:
    for dotted in (f"{module}.{imported}" if imported else module, module):
        for prefix, distribution in DISTRIBUTIONS.items():
            if dotted == prefix or dotted.startswith(prefix + "."):
                return distribution
    return None


def requirements(name: str) -> list[str]:
    """The pinned requirements of one function: exactly the distributions its imports need."""
    pins, needed = pinned_versions(), set()
    for module, imported in function_imports(name).third_party:
        distribution = _distribution(module, imported)
        if distribution is None:
            if not any(module == t or module.startswith(t + ".") for t in TRANSITIVE):
                raise PackagingError(
                    f"function {name} imports {module}: add its distribution to DISTRIBUTIONS"
                )
            continue
        if distribution not in pins:
            raise PackagingError(f"function {name} needs {distribution}, which pyproject.toml does not pin")
        needed.add(distribution)
    return [f"{distribution}=={pins[distribution]}" for distribution in sorted(needed)]


def _entries(name: str) -> list[tuple[str, bytes]]:
    return [
        ("main.py", (FUNCTIONS_DIR / name / "main.py").read_bytes()),
        ("requirements.txt", ("\n".join(requirements(name)) + "\n").encode()),
        *((relative, (REPO_ROOT / relative).read_bytes()) for relative in package_files(name)),
    ]


def build_package(name: str, out_dir: Path) -> dict:
    """Write out_dir/<name>.zip; returns {"function", "archive", "sha256", "bytes", "requirements", "files"}."""
    if not (FUNCTIONS_DIR / name / "main.py").exists():
        raise PackagingError(f"functions/{name}/main.py does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    archive, entries = out_dir / f"{name}.zip", _entries(name)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for relative, data in sorted(entries):
            info = zipfile.ZipInfo(relative, date_time=FIXED_TIME)
            info.external_attr, info.compress_type = 0o644 << 16, zipfile.ZIP_DEFLATED
            zipped.writestr(info, data)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return {
        "function": name,
        "archive": str(archive),
        "sha256": digest,
        "bytes": archive.stat().st_size,
        "requirements": requirements(name),
        "files": len(entries),
    }


def package_venv(requirements_text: str, root: Path) -> Path:
    """The python of a virtual environment under `root` holding exactly these requirements (created from nothing
    once per distinct set, then reused; pip's cache serves the wheels). For tests and benchmarks."""
    import subprocess

    venv = root / hashlib.sha256(requirements_text.encode()).hexdigest()[:16]
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        (venv / "requirements.txt").write_text(requirements_text)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(venv / "requirements.txt"),
            ],
            check=True,
            timeout=900,
        )
        (venv / ".complete").touch()
    return python


def function_names() -> list[str]:
    """Every function in functions/ (a folder with a main.py)."""
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/main.py"))


def main(argv: list[str] | None = None) -> int:
    """Build the packages named (default all) into the directory given; print one JSON line each."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, names = Path(argv[0]), argv[1:] or function_names()
    for name in names:
        print(json.dumps(build_package(name, out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
