"""The crash-injection seam: it fires only at the named point, and only in the local environment."""

from __future__ import annotations

import pytest

from shared import faults


class Exited(Exception):
    pass


@pytest.fixture
def exits(monkeypatch):
    """Record os._exit instead of dying (the real exit is exercised by tests/e2e/test_crash_points.py)."""

    def fake_exit(status):
        raise Exited(status)

    monkeypatch.setattr(faults.os, "_exit", fake_exit)
    monkeypatch.delenv(faults.CRASH_ENV, raising=False)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    return monkeypatch


def test_nothing_happens_unless_the_point_is_named(exits):
    faults.crash_point(faults.EXTRACTED, "usage")
    exits.setenv(faults.CRASH_ENV, faults.LOADED)
    faults.crash_point(faults.EXTRACTED, "usage")
    exits.setenv(faults.CRASH_ENV, f"{faults.EXTRACTED}:costs")
    faults.crash_point(faults.EXTRACTED, "usage")


@pytest.mark.parametrize("wanted", ["extracted", "extracted:costs"])
def test_the_named_point_exits_like_a_killed_process(exits, wanted):
    exits.setenv(faults.CRASH_ENV, wanted)
    with pytest.raises(Exited) as caught:
        faults.crash_point(faults.EXTRACTED, "costs")
    assert caught.value.args == (137,)


@pytest.mark.parametrize("environment", ["stage", "prod"])
def test_never_outside_local(exits, environment):
    exits.setenv(faults.CRASH_ENV, faults.EXECUTED)
    exits.setenv("ENVIRONMENT", environment)
    faults.crash_point(faults.EXECUTED)
