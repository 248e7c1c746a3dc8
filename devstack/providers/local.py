"""A provider's local half: what the local stack serves and seeds for it, and how the demo onboards and shows it.

The deployed half is `shared.providers.<name>.PROVIDER`; this half lives in `devstack/providers/<name>/` as
`LOCAL`, and the stack, the demo and `dps` read it instead of branching on provider names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devstack.standins.sandbox import Answer
from devstack.standins.source import SourceStandin


@dataclass(frozen=True)
class DemoCredential:
    """What the demo org stores for a provider: its secret and metadata (the source they name is seeded)."""

    secret: str
    metadata: dict


@dataclass(frozen=True)
class LocalProvider:
    """How the local stack runs one provider.

    function_port: the default port of its CloudEvent function (DPS_PORT_<NAME> moves it).
    sandbox: (path prefix, answer) it serves on the shared provider sandbox; the stack then points
        `<NAME>_API_BASE_URL` at the sandbox. None for a provider that reads no HTTP API.
    demo_credential(stack, settings, slug): seeds what the demo org reads (a synthetic export, say) and returns
        the credential to store; None for a provider that needs none (Provider.needs_credential False).
    demo_pipelines: what `make demo` runs for it, in order.
    demo_report(settings, slug, start, end): prints what the demo shows beyond cost_focus (None: nothing).
    cli: registers its own `dps` development commands (None: none).
    standins: the servers its source needs locally (an object store), started by the stack beside the emulators.
    """

    name: str
    function_port: int
    demo_credential: Callable[..., DemoCredential | None]
    demo_pipelines: tuple[str, ...]
    sandbox: tuple[str, Answer] | None = None
    demo_report: Callable[..., None] | None = None
    cli: Callable | None = None
    standins: tuple[SourceStandin, ...] = ()
