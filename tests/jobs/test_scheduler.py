"""The job scheduler (jupyter_mltrack/jobs/scheduler.py) with a controllable clock: cron ticks fire on time and once,
in the job's time zone; one leader among schedulers sharing a store; the missed-run policies; DAGs scheduled as a
whole; and, for real, executions dispatched to the local executor within the limits."""

from __future__ import annotations

import calendar
import os
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.jobs.executors import LocalExecutor
from jupyter_mltrack.jobs.scheduler import MISSED_AFTER, Scheduler

from .._subprocess import REPO


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


class Recorder:
    """An executor that runs nothing: it records what it is handed (and ends it at once when asked to)."""

    def __init__(self, store: Store | None = None, finish: bool = False):
        self.store, self.finish, self.got = store, finish, []

    def submit(self, claimed):
        self.got.append(claimed["execution"]["job"])
        if self.finish:
            self.store.finish_execution(claimed["execution"]["id"], "finished")
        f: Future = Future()
        f.set_result("finished")
        return f

    def close(self):
        pass


def utc(s: str) -> float:
    return float(calendar.timegm(time.strptime(s, "%Y-%m-%d %H:%M:%S")))


FOLDERS: dict[int, Path] = {}  # a store object's test folder (where its jobs' files are)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch):
    """The jobs' definitions, executions and the scheduler's lease in a SQLite file or a real PostgreSQL database."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    if request.param == "sqlite":
        s = Store(tmp_path / "store")
    else:
        monkeypatch.setenv("MLTRACK_ARTIFACTS", str(tmp_path / "artifacts"))
        s = Store(request.getfixturevalue("pg_url"))
    FOLDERS[id(s)] = tmp_path
    (tmp_path / "job.py").write_text("print('ran')\n")
    yield s
    FOLDERS.pop(id(s), None)
    s.close()


def define(store: Store, name: str, schedule: str = "* * * * *", defined_at: float | None = None, **kw):
    job = store.create_job({"name": name, "script": str(_folder(store) / "job.py"), "schedule": schedule, **kw})
    if defined_at is not None:  # as if defined then
        from sqlalchemy import update

        from jupyter_mltrack.core import schema as S

        store.db.write(lambda conn: conn.execute(update(S.jobs).where(S.jobs.c.id == job["id"]).values(
            updated_at=defined_at, created_at=defined_at)))
    return job


def _folder(store):
    return FOLDERS[id(store)]


def executions(store, name):
    return [(e["trigger_id"], e["status"], e["scheduled_for"]) for e in reversed(store.job_executions(name))]


def test_an_every_minute_schedule_fires_on_each_minute_once(store):
    t0 = utc("2027-01-05 10:00:20")
    clock, rec = Clock(t0), Recorder(store, finish=True)
    define(store, "every", defined_at=t0)
    s = Scheduler(store, rec, clock=clock)
    s.tick()
    assert store.job_executions("every") == []  # 10:00:20: nothing due yet
    clock.t = utc("2027-01-05 10:00:59")
    s.tick()
    assert store.job_executions("every") == []
    for minute in (1, 2, 3):
        clock.t = utc(f"2027-01-05 10:0{minute}:00")
        s.tick()
        s.tick()  # the same tick seen again: nothing more
        clock.t += 30
        s.tick()
    assert [e[0] for e in executions(store, "every")] == [f"schedule:{utc(f'2027-01-05 10:0{m}:00'):.0f}"
                                                          for m in (1, 2, 3)]
    assert rec.got == ["every"] * 3
    assert store.get_job("every")["next_run"] is not None


def test_a_schedule_is_read_in_the_job_s_time_zone(store):
    t0 = utc("2027-07-01 00:00:00")
    clock, rec = Clock(t0), Recorder()
    define(store, "paris", "30 2 * * *", defined_at=t0, timezone="Europe/Paris")  # 02:30 in Paris = 00:30 UTC
    s = Scheduler(store, rec, clock=clock)
    clock.t = utc("2027-07-01 00:29:59")
    s.tick()
    assert store.job_executions("paris") == []
    clock.t = utc("2027-07-01 00:30:00")
    s.tick()
    assert [e[2] for e in executions(store, "paris")] == [utc("2027-07-01 00:30:00")]


def test_one_leader_among_schedulers_sharing_a_store_and_no_double_runs(store, tmp_path):
    t0 = utc("2027-01-05 10:00:30")
    define(store, "every", defined_at=t0)
    other = Store(store.location.url)  # a second server's store object
    try:
        clock = Clock(t0)
        a = Scheduler(store, Recorder(store, finish=True), clock=clock)
        b = Scheduler(other, Recorder(other, finish=True), clock=clock)
        a.tick()
        b.tick()
        assert a.leader and not b.leader
        clock.t = utc("2027-01-05 10:01:00")
        b.tick()
        a.tick()
        assert len(store.job_executions("every")) == 1 and a.executor.got == ["every"] and b.executor.got == []
        # the leader stops: the other takes over once the lease is released (or expired) and fires the next tick
        a.stop()
        clock.t = utc("2027-01-05 10:02:00")
        b.tick()
        assert b.leader and len(store.job_executions("every")) == 2 and b.executor.got == ["every"]
        # two schedulers that both believe they lead still fire a tick once (the tick is claimed in the store)
        a2 = Scheduler(store, Recorder(), clock=clock)
        a2.leader, a2._renew_at = True, time.monotonic() + 60
        clock.t = utc("2027-01-05 10:03:00")
        a2.fire_due(clock.t)
        b.fire_due(clock.t)
        assert len(store.job_executions("every")) == 3
    finally:
        other.close()


@pytest.mark.parametrize("policy", ["run_once", "skip"])
def test_runs_missed_while_no_server_ran(store, policy):
    t0 = utc("2027-01-05 10:00:30")
    define(store, "hourly", "0 * * * *", defined_at=t0)
    clock = Clock(utc("2027-01-05 13:20:00"))  # 11:00, 12:00 and 13:00 were missed
    s = Scheduler(store, Recorder(), clock=clock, missed=policy)
    s.tick()
    got = executions(store, "hourly")
    if policy == "run_once":
        assert [e[2] for e in got] == [utc("2027-01-05 13:00:00")]  # the latest, once
    else:
        assert got == []
    clock.t = utc("2027-01-05 14:00:00")  # on time again: runs under either policy
    s.tick()
    assert executions(store, "hourly")[-1][2] == utc("2027-01-05 14:00:00")
    clock.t = utc("2027-01-05 14:00:00") + MISSED_AFTER + 1  # a tick seen too late is missed too
    s.tick()
    assert len(executions(store, "hourly")) == (2 if policy == "run_once" else 1)


def test_paused_jobs_do_not_fire_and_resume_from_now(store):
    t0 = utc("2027-01-05 10:00:30")
    define(store, "every", defined_at=t0, paused=True)
    clock = Clock(utc("2027-01-05 10:05:00"))
    s = Scheduler(store, Recorder(), clock=clock)
    s.tick()
    assert store.job_executions("every") == []
    store.pause_job("every", False)  # resumed now (real time): the next minute after it
    clock.t = time.time() + 61
    s.tick()
    assert len(store.job_executions("every")) == 1


def test_a_scheduled_dag_runs_downstream_after_upstream(store):
    t0 = utc("2027-01-05 10:00:30")
    define(store, "extract", defined_at=t0)
    define(store, "load", "", after=["extract"])
    clock, rec = Clock(utc("2027-01-05 10:01:00")), Recorder(store, finish=True)
    s = Scheduler(store, rec, clock=clock)
    s.tick()  # extract claimed and finished; load queued
    s.tick()
    assert rec.got == ["extract", "load"]
    assert {e["job"]: e["trigger_id"] for n in ("extract", "load") for e in store.job_executions(n)} == {
        "extract": f"schedule:{clock.t:.0f}", "load": f"schedule:{clock.t:.0f}"}


def test_the_local_executor_runs_within_the_limits(store, tmp_path):
    (tmp_path / "sleep.py").write_text("import time; time.sleep(1.5)\n")
    store.create_job({"name": "a", "script": str(tmp_path / "sleep.py"), "max_concurrent": 2})
    store.create_job({"name": "b", "script": str(tmp_path / "sleep.py")})
    for _ in range(3):
        store.run_job("a")
        store.run_job("b")
    s = Scheduler(store, LocalExecutor(store, 3), limit=3)
    try:
        s.tick()
        running = [e["job"] for n in "ab" for e in store.job_executions(n) if e["status"] == "running"]
        assert sorted(running) == ["a", "a", "b"]  # a: its limit of 2; b: 1; the scheduler's 3 in all
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s.tick()
            if all(e["status"] == "finished" for n in "ab" for e in store.job_executions(n)):
                break
            time.sleep(0.2)
        assert [e["status"] for n in "ab" for e in store.job_executions(n)] == ["finished"] * 6
    finally:
        s.stop()


def test_stopping_the_scheduler_kills_running_jobs(store, tmp_path):
    (tmp_path / "long.py").write_text("import time; print('up', flush=True); time.sleep(600)\n")
    store.create_job({"name": "long", "script": str(tmp_path / "long.py")})
    store.run_job("long")
    s = Scheduler(store, LocalExecutor(store, 1))
    s.tick()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not store.job_executions("long")[0]["run_id"]:
        time.sleep(0.1)
    s.stop()
    ex = store.job_executions("long")[0]
    assert ex["status"] == "killed" and "shut down" in ex["reason"]
    assert store.get_run(ex["run_id"])["status"] == "killed"
