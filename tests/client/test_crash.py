"""A killed kernel's run reads ``crashed`` within a minute, with a reason, and no extra write load is needed: an
idle run's writer keeps beating every 10 s; a run without a beat for 45 s reads crashed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from jupyter_mltrack.client.writer import HEARTBEAT_EVERY
from jupyter_mltrack.core import run_shape

from ._helpers import subprocess_env, write_script

IDLE_KERNEL = """
import time
import jupyter_mltrack as mlt
run = mlt.start_run(name="idle", capture_environment=False)
mlt.flush()
print(run.id, flush=True)
time.sleep(600)  # logs nothing more: only the heartbeat writes
"""


@pytest.mark.slow
def test_a_killed_idle_kernel_reads_crashed_within_a_minute(tmp_path, store, store_dir):
    assert HEARTBEAT_EVERY + 1 < run_shape.STALE_AFTER <= 60 - HEARTBEAT_EVERY  # a crash shows within 60 s
    script = write_script(tmp_path, IDLE_KERNEL)
    kernel = subprocess.Popen([sys.executable, str(script)], env=subprocess_env(MLTRACK_URI=str(store_dir)),
                              stdout=subprocess.PIPE, text=True)
    try:
        run_id = kernel.stdout.readline().strip()
        first = store.get_run(run_id)["heartbeat_at"]
        deadline = time.time() + HEARTBEAT_EVERY + 5
        while store.get_run(run_id)["heartbeat_at"] == first and time.time() < deadline:
            time.sleep(0.5)
        beat = store.get_run(run_id)
        assert beat["heartbeat_at"] > first, "an idle run's writer stopped beating"
        assert beat["status"] == "running" and beat["status_reason"] is None
    finally:
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(10)
    last = store.get_run(run_id)["heartbeat_at"]
    assert time.time() - last < HEARTBEAT_EVERY + 2  # the killed kernel's last beat was recent

    def at(seconds_after_last_beat: float):  # as if this long had passed since the last beat
        from sqlalchemy import update

        from jupyter_mltrack.core.schema import runs

        beat = time.time() - seconds_after_last_beat
        store.db.write(lambda conn: conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=beat)))

    at(run_shape.STALE_AFTER - 5)
    assert store.get_run(run_id)["status"] == "running"
    at(run_shape.STALE_AFTER + 1)
    run = store.get_run(run_id)
    assert run["status"] == "crashed"
    assert "stopped" in run["status_reason"] and "heartbeat" in run["status_reason"]
    assert [r["id"] for r in store.search_runs(filter="status = 'crashed'")[0]] == [run_id]


def test_the_reason_of_a_failed_run_is_its_error(tracking, store):
    with pytest.raises(ValueError):
        with tracking.start_run(capture_environment=False) as run:
            raise ValueError("bad shapes")
    tracking.flush()
    got = store.get_run(run.id)
    assert got["status"] == "failed" and "ValueError: bad shapes" in got["status_reason"]
