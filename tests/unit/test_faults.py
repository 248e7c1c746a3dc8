"""The crash-injection seam: it fires only at the named point, and only in the local environment."""

from __future__ import annotations

import pytest

from shared.worker import crash_points


class Exited(Exception):
    pass


@pytest.fixture
def exits(monkeypatch):
    """Record os._exit instead of dying (the real exit is exercised by tests/e2e/test_crash_points.py)."""

    def fake_exit(status):
        raise Exited(status)

    monkeypatch.setattr(crash_points.os, "_exit", fake_exit)
    monkeypatch.delenv(crash_points.CRASH_ENV, raising=False)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    return monkeypatch


def test_nothing_happens_unless_the_point_is_named(exits):
    crash_points.crash_point(crash_points.EXTRACTED, "usage")
    exits.setenv(crash_points.CRASH_ENV, crash_points.LOADED)
    crash_points.crash_point(crash_points.EXTRACTED, "usage")
    exits.setenv(crash_points.CRASH_ENV, f"{crash_points.EXTRACTED}:costs")
    crash_points.crash_point(crash_points.EXTRACTED, "usage")


@pytest.mark.parametrize("wanted", ["extracted", "extracted:costs"])
def test_the_named_point_exits_like_a_killed_process(exits, wanted):
    exits.setenv(crash_points.CRASH_ENV, wanted)
    with pytest.raises(Exited) as caught:
        crash_points.crash_point(crash_points.EXTRACTED, "costs")
    assert caught.value.args == (137,)


@pytest.mark.parametrize("environment", ["stage", "prod"])
def test_never_outside_local(exits, environment):
    exits.setenv(crash_points.CRASH_ENV, crash_points.EXECUTED)
    exits.setenv("ENVIRONMENT", environment)
    crash_points.crash_point(crash_points.EXECUTED)
