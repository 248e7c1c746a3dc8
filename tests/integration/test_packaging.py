"""Deploy packages without a stack or a network: each function's zip holds exactly the modules its entry point's
import graph reaches (with their parent packages), the files those modules read beside them and the configs they
read (devstack.packaging.CONFIG_READS), main.py and requirements.txt, and nothing else. The config table is
checked against shared/ itself: a module that reads configs through config_dir and is not in the table fails here.

tests/integration/test_packages.py installs each zip into a clean virtual environment and imports everything the
graph says it reaches: the proof that the graph is complete.
"""

from __future__ import annotations

import ast
import fnmatch
import zipfile
from pathlib import Path

import pytest

from devstack import packaging
from devstack.packaging import (
    CONFIG_READS,
    MODULE_DATA,
    PackagingError,
    build_package,
    function_imports,
    function_names,
    module_path,
    requirements,
)
from shared.platform.settings import REPO_ROOT

# Functions named after a provider folder (shared/providers/<name>/): openai, anthropic, gcp.
PROVIDER_FUNCTIONS = [
    n for n in function_names() if (REPO_ROOT / "shared" / "providers" / n / "__init__.py").exists()
]
# Names through which code reaches the configs folder; shared.platform.settings defines them (reads nothing).
CONFIG_NAMES = {"config_dir", "CONFIG_DIR", "DEFAULT_CONFIG_DIR"}
DEFINES_CONFIG_DIR = "shared.platform.settings"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SHARED = {_module_name(p): p for p in sorted((REPO_ROOT / "shared").rglob("*.py"))}
TREES = {module: ast.parse(path.read_text()) for module, path in SHARED.items()}
ALL_CONFIGS = sorted(
    p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "configs").rglob("*") if p.is_file()
)
LOCAL_ROOTS = ("devstack", "tests", "benchmarks", "functions")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, tuple[dict, set[str], dict[str, bytes]]]:
    """Every function's zip, built once: (build_package's answer, the entry names, the entries' bytes)."""
    out, result = tmp_path_factory.mktemp("dist"), {}
    for name in function_names():
        info = build_package(name, out)
        with zipfile.ZipFile(info["archive"]) as archive:
            result[name] = (info, set(archive.namelist()), {n: archive.read(n) for n in archive.namelist()})
    return result


def _readers_of(path: str, modules: set[str]) -> set[str]:
    """The reached modules whose CONFIG_READS patterns match this config file."""
    return {
        m for m in modules & CONFIG_READS.keys() if any(fnmatch.fnmatch(path, p) for p in CONFIG_READS[m])
    }


@pytest.mark.parametrize("name", function_names())
def test_zip_holds_exactly_the_graph_and_what_it_reads(built, name):
    info, listed, contents = built[name]
    graph = function_imports(name).shared
    assert {"main.py", "requirements.txt"} <= listed
    assert contents["main.py"] == (REPO_ROOT / "functions" / name / "main.py").read_bytes()
    assert contents["requirements.txt"].decode().splitlines() == requirements(name)
    others = {p for p in listed if p not in ("main.py", "requirements.txt")}
    assert all(p.startswith(("shared/", "configs/")) for p in others), sorted(others)
    assert not any(p.startswith(("devstack/", "tests/")) for p in listed)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in listed)
    # Python: exactly the reached modules, each with every parent package's __init__.py.
    python = {p for p in others if p.endswith(".py")}
    assert python == {module_path(m) for m in graph}
    for module in graph:
        for depth in range(1, module.count(".") + 1):
            parent = REPO_ROOT.joinpath(*module.split(".")[:depth], "__init__.py")
            assert not parent.exists() or parent.relative_to(REPO_ROOT).as_posix() in python, module
    # Data beside modules: only what a shipped module declares it reads, and all of it.
    data = {p for p in others if p.startswith("shared/") and not p.endswith(".py")}
    assert data == {f for m in graph & MODULE_DATA.keys() for f in MODULE_DATA[m]}
    # Configs: each one read by a shipped module, and every config a shipped module reads is there.
    configs = {p for p in others if p.startswith("configs/")}
    assert not [p for p in configs if not _readers_of(p, graph)], "a config no shipped module reads"
    assert {p for p in ALL_CONFIGS if _readers_of(p, graph)} == configs
    assert info["files"] == len(listed)


@pytest.mark.parametrize("name", function_names())
def test_shipped_code_imports_only_shipped_modules(built, name):
    """A second look at the graph, from the zip's side: every `shared` import in every shipped file (lazy ones
    included) resolves to a file in the zip."""
    _, listed, contents = built[name]
    for path in sorted(p for p in listed if p.endswith(".py")):
        for node in ast.walk(ast.parse(contents[path])):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from shared.providers import openai` imports the submodule when there is one.
                modules = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in SHARED else node.module
                    for alias in node.names
                ]
            for module in modules:
                assert module.split(".")[0] not in LOCAL_ROOTS, (path, module)
                if module.split(".")[0] == "shared":
                    assert module in SHARED and module_path(module) in listed, (path, module)


@pytest.mark.parametrize("name", PROVIDER_FUNCTIONS)
def test_provider_function_ships_no_other_provider(built, name):
    _, listed, _ = built[name]
    other_folders = tuple(f"shared/providers/{other}/" for other in PROVIDER_FUNCTIONS if other != name)
    reached = {
        m
        for m in function_imports(name).shared
        if m.startswith("shared.providers.")
        and m.split(".")[2] in PROVIDER_FUNCTIONS
        and m.split(".")[2] != name
    }
    assert reached == set(), "a provider function reaches another provider's modules"
    assert not [p for p in listed if p.startswith(other_folders)]
    assert f"shared/providers/{name}/steps.py" in listed  # its own steps, imported lazily by load_processors


def test_no_function_reaches_the_registry_or_the_cli():
    for name in function_names():
        graph = function_imports(name).shared
        assert "shared.providers.registry" not in graph, name
        assert not any(m == "shared.cli" or m.startswith("shared.cli.") for m in graph), name


def test_packages_are_reproducible(tmp_path):
    assert build_package("api", tmp_path / "a")["sha256"] == build_package("api", tmp_path / "b")["sha256"]


def test_config_reads_names_every_module_that_reads_configs():
    """Every use of config_dir (or CONFIG_DIR / DEFAULT_CONFIG_DIR) in shared/ either hands it to a shared function
    whose parameter is `config_dir` (that function's module is checked the same way) or reads from it; a module
    that reads from it must be a CONFIG_READS key, and every key must read."""
    readers = {module for module in SHARED if module != DEFINES_CONFIG_DIR and _reads_config_dir(module)}
    assert readers == set(CONFIG_READS), f"readers in shared/: {sorted(readers)}"


def test_config_reads_cover_every_config_file():
    """A config no table entry names is read by nothing deployed (dead) or by a reader the table misses."""
    assert not [path for path in ALL_CONFIGS if not _readers_of(path, set(CONFIG_READS))]


def test_module_data_names_every_file_read_beside_a_module():
    """Every non-Python file in shared/ is declared by the module that reads it, and every module that looks beside
    itself (__file__) is in MODULE_DATA (or is settings, which locates configs/)."""
    declared = {f for files in MODULE_DATA.values() for f in files}
    data = {
        p.relative_to(REPO_ROOT).as_posix()
        for p in (REPO_ROOT / "shared").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data == declared
    uses_file = {m for m, tree in TREES.items() if any(_named(n, {"__file__"}) for n in ast.walk(tree))}
    assert uses_file == set(MODULE_DATA) | {DEFINES_CONFIG_DIR}
    for module, files in MODULE_DATA.items():
        source = SHARED[module].read_text()
        assert all(Path(f).name in source for f in files), module


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("from devstack.stack import LocalStack\n", "devstack.stack"),
        ("def f():\n    from devstack import demo\n", "devstack"),
        ("import tests.conftest\n", "tests.conftest"),
        ("from shared.no_such_module import thing\n", "no file under shared"),
        ("import importlib\nimportlib.import_module('shared.api.app')\n", "import_module"),
    ],
)
def test_refuses_what_may_not_ship_or_cannot_be_followed(tmp_path, monkeypatch, source, message):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "main.py").write_text(source)
    monkeypatch.setattr(packaging, "FUNCTIONS_DIR", tmp_path)
    with pytest.raises(PackagingError, match=message):
        function_imports("bad")


def _named(node: ast.AST, names: set[str]) -> bool:
    return (isinstance(node, ast.Name) and node.id in names) or (
        isinstance(node, ast.Attribute) and node.attr in names
    )


def _reads_config_dir(module: str) -> bool:
    """Whether any use of the config folder in this module does more than pass it to a shared function's
    `config_dir` parameter."""
    tree = TREES[module]
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not _named(node, CONFIG_NAMES):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Call) and node in parent.args:
            bound = _parameter(module, parent.func, parent.args.index(node), None)
        elif isinstance(parent, ast.keyword) and isinstance(parents.get(parent), ast.Call):
            bound = _parameter(module, parents[parent].func, None, parent.arg)
        else:
            return True
        if bound != "config_dir":
            return True
    return False


def _parameter(module: str, func: ast.expr, position: int | None, keyword: str | None) -> str | None:
    """The parameter name an argument binds to, when `func` is a function of a shared module; else None."""
    if not isinstance(func, ast.Name):
        return None
    target = (module, func.id)
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.ImportFrom) and node.module in SHARED:
            for alias in node.names:
                if (alias.asname or alias.name) == func.id:
                    target = (node.module, alias.name)
    defined = [
        node
        for node in TREES[target[0]].body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == target[1]
    ]
    if not defined:
        return None
    params = [*defined[0].args.posonlyargs, *defined[0].args.args]
    if keyword is not None:
        return keyword if any(p.arg == keyword for p in [*params, *defined[0].args.kwonlyargs]) else None
    return params[position].arg if position is not None and position < len(params) else None
