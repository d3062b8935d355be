"""bench/team.py's logging part as a smoke test: client processes, each its own user with its own API key, logging
through a team-mode server into PostgreSQL at the same time lose and double no point (correctness only: no speed is
asserted here; the figures are bench/team.py's)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .._server import JupyterServer

BENCH_TEAM = Path(__file__).resolve().parents[2] / "bench" / "team.py"


def _bench_team():
    spec = importlib.util.spec_from_file_location("bench_team", BENCH_TEAM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_concurrent_clients_through_a_team_server_lose_and_double_nothing(tmp_path, pg_url, monkeypatch):
    from jupyter_mltrack.core.store import Store

    team = _bench_team()
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    store = Store(pg_url)
    try:
        keys = team.team_setup(store, 3)
        with JupyterServer(tmp_path, pg_url, args=team.TEAM_ARGS,
                           env={"MLTRACK_ARTIFACTS": str(tmp_path / "artifacts")}) as server:
            # chunks that do not divide the series: the last one is partial
            r = team.log_concurrently(server, store, keys, 3, 20_000, 3_000, tmp_path)
        assert (r["points"], r["lost"], r["doubled"], r["runs_differing"]) == (60_000, 0, 0, 0)
        assert {m["user"] for m in store.list_members(team.PROJECT)} >= {"client00", "client01", "client02"}
    finally:
        store.close()
