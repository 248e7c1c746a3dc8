"""An offline `terraform plan` of the Terraform roots, without the google provider (it cannot be downloaded here).

`write_offline_copy` copies terraform/ into a directory, rewriting every `google_*` resource and data source as
the built-in `terraform_data` (no provider needed): its arguments and nested blocks become one `input` object
(a nested block becomes a list of objects, a `dynamic` block a `for` expression), its computed attributes
(`COMPUTED`: id, email, a function's uri, ...) are added to that object as values unknown until apply, and every
reference `google_x.name.attr` reads `terraform_data.google_x__name.input.attr`. Meta-arguments (`count`,
`for_each`, `depends_on`, `lifecycle`) stay as they are, so the real terraform binary builds and checks the real
graph: a `for_each` whose keys are known only after apply fails the plan with "Invalid for_each argument", as it
would against Google. Data sources become resources too, so their attributes are unknown at plan (stricter than
Google, where a data source is read during the plan). Provider requirements, provider blocks and backends are
dropped. The converter reads `terraform fmt`-formatted files (one argument or block opener per line).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# Attributes a resource type computes (beyond `id`, added to all), by block path ("" for the top level).
COMPUTED: dict[str, dict[str, list[str]]] = {
    "google_service_account": {"": ["email", "name", "member", "unique_id"]},
    "google_cloudfunctions2_function": {"": ["url", "state"], "service_config": ["uri", "service"]},
    "google_project": {"": ["number", "name"]},
    "google_monitoring_alert_policy": {"": ["name"]},
    "google_project_iam_custom_role": {"": ["name"]},
    "google_secret_manager_secret": {"": ["name"]},
    "google_storage_bucket": {"": ["url", "self_link"]},
    "google_pubsub_topic": {"": []},
    "google_storage_bucket_object": {"": ["md5hash", "self_link"]},
}
META = {"count", "for_each", "depends_on", "lifecycle", "provider"}
UNKNOWN = "terraform_data.offline_unknown.id"
_BLOCK_OPEN = re.compile(r'^(?:(dynamic)\s+"(\w+)"|(\w+)((?:\s+"[^"]*")*))\s*\{(.*)$')
_ATTR = re.compile(r"^(\w+)\s*=\s*(.*)$")
_HEREDOC = re.compile(r"<<-?(\w+)\s*$")


def _depth(text: str) -> int:
    """Net bracket depth of `text`, skipping string literals (with their ${...} templates and nested strings)."""
    depth, i, stack = 0, 0, []  # stack: "s" inside a string, "t" inside a template's expression
    while i < len(text):
        ch, nxt = text[i], text[i + 1 : i + 2]
        if stack and stack[-1] == "s":
            if ch == "\\":
                i += 1
            elif ch == '"':
                stack.pop()
            elif ch == "$" and nxt == "{":
                stack.append("t")
                i += 1
        elif ch == '"':
            stack.append("s")
        elif ch == "#" or (ch == "/" and nxt == "/"):
            break
        elif ch in "([{":
            if stack:
                stack.append("(")
            else:
                depth += 1
        elif ch in ")]}":
            if stack and stack[-1] in "t(":
                stack.pop()
            else:
                depth -= 1
        i += 1
    return depth


def _strip_comment(line: str) -> str:
    """The line without a trailing # or // comment (outside strings)."""
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            in_string = not in_string
        if not in_string and (ch == "#" or line[i : i + 2] == "//"):
            return line[:i].rstrip()
    return line.rstrip()


def _items(lines: list[str]) -> list[tuple]:
    """Split a block body into ("attr", name, expression lines) and ("block", kind, labels, body lines)."""
    items, i = [], 0
    while i < len(lines):
        line = _strip_comment(lines[i]).strip()
        i += 1
        if not line:
            continue
        block = _BLOCK_OPEN.match(line)
        if block and not _ATTR.match(line):
            kind = block.group(2) if block.group(1) else block.group(3)
            labels = block.group(1) and "dynamic" or (block.group(4) or "").strip()
            rest, body, depth = block.group(5), [], 1 + _depth(block.group(5))
            if depth <= 0:  # a one-line block: `name {}` or `name { a = 1 }`
                items.append(("block", kind, labels, [rest[: rest.rindex("}")]]))
                continue
            while depth > 0:
                depth += _depth(lines[i])
                body.append(lines[i])
                i += 1
            body[-1] = body[-1][: body[-1].rindex("}")]
            items.append(("block", kind, labels, body))
            continue
        name, expression = _ATTR.match(line).groups()
        collected, heredoc = [expression], _HEREDOC.search(expression)
        if heredoc:
            while lines[i].strip() != heredoc.group(1):
                collected.append(lines[i])
                i += 1
            collected.append(lines[i])
            i += 1
        else:
            depth = _depth(expression)
            while depth > 0:
                depth += _depth(lines[i])
                collected.append(_strip_comment(lines[i]))
                i += 1
        items.append(("attr", name, collected))
    return items


def _object(lines: list[str], computed: dict[str, list[str]], path: str = "", rename=None) -> str:
    """A block body as an HCL object constructor; nested blocks become lists of objects."""
    fields: dict[str, list[str]] = {}
    for item in _items(lines):
        if item[0] == "attr":
            fields.setdefault(item[1], []).append("\n".join(item[2]))
            continue
        _, kind, labels, body = item
        sub = f"{path}.{kind}" if path else kind
        if labels == "dynamic":
            inner = {name: value for name, value in _flat(body)}
            iterator = inner.get("iterator", kind)
            content = next(b for b in _items(body) if b[0] == "block" and b[1] == "content")[3]
            text = _object(content, computed, sub)
            text = re.sub(rf"\b{iterator}\.value\b", "dyn_v", re.sub(rf"\b{iterator}\.key\b", "dyn_k", text))
            fields.setdefault(kind, []).append(f"[for dyn_k, dyn_v in {inner['for_each']} : {text}]")
        else:
            fields.setdefault(kind, []).append(f"[{_object(body, computed, sub)}]")
    pairs = []
    for name, values in fields.items():
        value = values[0] if len(values) == 1 else f"concat({', '.join(values)})"
        pairs.append(f"{name} = {value}")
    pairs += [f"{name} = {UNKNOWN}" for name in computed.get(path, []) if name not in fields]
    return "{\n" + "\n".join(pairs) + "\n}"


def _flat(lines: list[str]) -> list[tuple[str, str]]:
    return [(item[1], "\n".join(item[2])) for item in _items(lines) if item[0] == "attr"]


def _top_blocks(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(header line, body lines, original lines) of every top-level block of a file."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not _strip_comment(line).strip():
            continue
        depth, body = _depth(line), []
        if depth <= 0:
            blocks.append((line, [], [line]))
            continue
        while depth > 0:
            depth += _depth(lines[i])
            body.append(lines[i])
            i += 1
        blocks.append((line, body[:-1], [line, *body]))
    return blocks


def _convert_resource(kind: str, body: list[str]) -> str:
    """The input object and meta-arguments of a terraform_data standing in for a google_* resource."""
    meta, rest = [], []
    for item in _items(body):
        if item[1] in META:
            meta.append(item)
        else:
            rest.append(item)
    computed = {key: list(names) for key, names in COMPUTED.get(kind, {"": []}).items()}
    computed.setdefault("", []).append("id")
    out = []
    for item in meta:
        if item[0] == "attr":
            out.append(f"{item[1]} = " + "\n".join(item[2]))
        else:
            out.append(f"{item[1]} {{\n" + "\n".join(item[3]) + "\n}")
    out.append("input = " + _object(_reassemble(rest), computed))
    return "\n".join(out)


def _reassemble(items: list[tuple]) -> list[str]:
    """Items back into body lines (for _object)."""
    lines = []
    for item in items:
        if item[0] == "attr":
            lines += [f"{item[1]} = {item[2][0]}", *item[2][1:]]
        else:
            opener = f'dynamic "{item[1]}"' if item[2] == "dynamic" else f"{item[1]} {item[2]}".strip()
            lines += [f"{opener} {{", *item[3], "}"]
    return lines


def _rewrite_references(text: str, repeated: set[str]) -> str:
    """google_x.n[...].attr -> terraform_data.google_x__n[...].input.attr (a whole repeated resource: a map)."""

    def replace(match: re.Match) -> str:
        data, kind, name, index = match.group(1) or "", match.group(2), match.group(3), match.group(4) or ""
        target = f"{'data_' if data else ''}{kind}__{name}"
        if index or target not in repeated:
            return f"terraform_data.{target}{index}.input"
        return f"{{for k, v in terraform_data.{target} : k => v.input}}"

    pattern = re.compile(r"(?<![\w.\"])(data\.)?(google_\w+)\.(\w+)(\[[^\]]+\])?")
    out = []
    for line in text.splitlines():
        in_depends = "depends_on" in line
        out.append(
            pattern.sub(
                lambda m, d=in_depends: replace(m) if not d else f"terraform_data.{_target(m)}",
                line,
            )
        )
    return "\n".join(out)


def _target(match: re.Match) -> str:
    return f"{'data_' if match.group(1) else ''}{match.group(2)}__{match.group(3)}"


def convert_file(text: str) -> tuple[str, set[str]]:
    """A .tf file without google_*: converted text, and the names of repeated (count/for_each) stand-ins."""
    out, repeated = [], set()
    for header, body, original in _top_blocks(text):
        head = re.match(r'^(resource|data)\s+"(google_\w+)"\s+"(\w+)"\s*\{', header)
        if head:
            block, kind, name = head.groups()
            target = f"{'data_' if block == 'data' else ''}{kind}__{name}"
            if any(item[1] in ("for_each", "count") for item in _items(body)):
                repeated.add(target)
            out.append(f'resource "terraform_data" "{target}" {{\n{_convert_resource(kind, body)}\n}}')
        elif header.startswith("provider "):
            continue
        elif header.startswith("terraform "):
            kept = [item for item in _items(body) if item[1] not in {"required_providers", "backend"}]
            out.append("terraform {\n" + "\n".join(_reassemble(kept)) + "\n}")
        else:
            out.append("\n".join(original))
    return "\n\n".join(out) + "\n", repeated


def write_offline_copy(terraform_dir: Path, configs_dir: Path, target: Path) -> Path:
    """Copy terraform/ (and a link to configs/) under `target` with every google_* rewritten; its terraform/."""
    copy = target / "terraform"
    shutil.copytree(terraform_dir, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    (target / "configs").symlink_to(configs_dir)
    for directory in sorted({path.parent for path in copy.rglob("*.tf")}):
        converted, repeated = {}, set()
        for path in sorted(directory.glob("*.tf")):
            converted[path], names = convert_file(path.read_text())
            repeated |= names
        for path, text in converted.items():
            path.write_text(_rewrite_references(text, repeated))
        (directory / "offline_unknown.tf").write_text(
            '# A value unknown until apply, standing in for computed attributes.\nresource "terraform_data" '
            '"offline_unknown" {}\n'
        )
    return copy


def plan(root: Path, variables: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess:
    """terraform init (offline: only built-in terraform_data) and plan of one converted root."""
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_DATA_DIR": str(data_dir)}
    init = subprocess.run(
        ["terraform", "init", "-input=false", "-no-color"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode:
        return init
    argv = ["terraform", "plan", "-input=false", "-lock=false", "-no-color"]
    argv += [f"-var={name}={value}" for name, value in variables.items()]
    return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
