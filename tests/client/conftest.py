"""Fixtures for the kernel-side client tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _outside_any_git_repository(tmp_path, monkeypatch):
    """Run from a scratch folder, so the git gatherer does not diff the checkout the tests live in."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def gatherers(monkeypatch):
    """A private copy of the environment gatherers: register_gatherer in a test does not leak into others."""
    from jupyter_mltrack.client import environment as E

    monkeypatch.setattr(E, "_gatherers", dict(E._gatherers))
    return E


@pytest.fixture
def writers():
    """Writers made by a test; closed (flushed) at teardown."""
    from jupyter_mltrack.client.writer import Writer

    made: list[Writer] = []

    def make(sink, **kw) -> Writer:
        w = Writer(sink, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close(timeout=10)
