"""Deploy packages: each function's main.py with shared/ and configs/, and a requirements.txt of only what its
code imports (found by walking its imports, lazy ones included), pinned as in pyproject.toml. Deterministic zips.

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
    "httpx": "httpx",
    "pydantic": "pydantic",
    "yaml": "pyyaml",
    "pyarrow": "pyarrow",
    "cryptography": "cryptography",
    "croniter": "croniter",
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
)
# Imported only on paths a deployed function never takes, so never shipped (none today).
NOT_SHIPPED: tuple[str, ...] = ()
# Stand-ins and tools: never shipped (nothing a function imports may reach them).
EXCLUDED = ("devstack/", "__pycache__/")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries carry no build time, so equal content => equal archive hash


class PackagingError(RuntimeError):
    """A function imports something no pinned requirement provides, or a file is missing."""


@dataclass
class Imports:
    """What a function's code imports: our modules, third-party modules, and those it can live without."""

    shared: set[str] = field(default_factory=set)
    third_party: set[tuple[str, str | None]] = field(default_factory=set)  # (module, imported name or None)
    optional: set[tuple[str, str | None]] = field(default_factory=set)  # inside try/except ImportError


def _module_file(module: str) -> Path | None:
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


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
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.module, alias.name, id(node) in guarded) for alias in node.names]
    return found


def function_imports(name: str) -> Imports:
    """Everything reachable from functions/<name>/main.py through shared/ (a provider's function also runs
    shared.providers.registry.<name>, which the registry imports by name)."""
    result, todo = Imports(), [FUNCTIONS_DIR / name / "main.py"]
    if _module_file(f"shared.providers.registry.{name}"):
        todo.append(_module_file(f"shared.providers.registry.{name}"))
        result.shared.add(f"shared.providers.registry.{name}")
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, imported, optional in _imports_of(path):
            root = module.split(".")[0]
            if root == "__future__" or root in sys.stdlib_module_names:
                continue
            if root == "shared":
                for candidate in ([f"{module}.{imported}"] if imported else []) + [module]:
                    if (file := _module_file(candidate)) is not None:
                        result.shared.add(candidate)
                        todo.append(file)
                        break
                continue
            dotted = f"{module}.{imported}" if imported else module
            unshipped = any(dotted == m or dotted.startswith(m + ".") for m in NOT_SHIPPED)
            (result.optional if optional or unshipped else result.third_party).add((module, imported))
    result.third_party -= result.optional
    leaked = sorted(m for m in result.shared if m.startswith("devstack"))
    if leaked:
        raise PackagingError(f"function {name} reaches the local stand-ins: {leaked}")
    return result


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
    entries = [
        ("main.py", (FUNCTIONS_DIR / name / "main.py").read_bytes()),
        ("requirements.txt", ("\n".join(requirements(name)) + "\n").encode()),
    ]
    for folder in ("shared", "configs"):
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if (
                path.is_file()
                and not any(part in relative + ("/" if path.is_dir() else "") for part in EXCLUDED)
                and path.suffix not in (".pyc",)
            ):
                entries.append((relative, path.read_bytes()))
    return entries


def build_package(name: str, out_dir: Path) -> dict:
    """Write out_dir/<name>.zip; returns {"function", "archive", "sha256", "requirements", "files"}."""
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
