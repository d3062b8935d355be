"""The writer's thresholds, refused items and problem reports, exactly: when it is woken, what a refused batch's
file holds and is named, what a split batch keeps, what is said on stderr."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_mltrack.client import writer as W
from jupyter_mltrack.client.backend import LocalBackend
from jupyter_mltrack.client.tracking import get_client
from jupyter_mltrack.client.writer import Writer, WriterError


def _passes_after(w: Writer, before: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if w.passes > before:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("path", ["lock-free", "another thread", "bulk"])
def test_the_writer_is_woken_when_exactly_flush_points_are_pending(tracking, path):
    """Not one point sooner (it waits for its interval, a minute here), and at once at the threshold, whichever
    path the points took: the owner's lock-free writes, another thread's locked ones, a bulk write."""
    w = get_client().writer
    w.interval, w.flush_points = 60.0, 100
    run = tracking.start_run("threshold", capture_environment=False)
    run.flush()  # the writer's next wait is the minute-long one

    def log(k: int) -> None:
        if path == "bulk":
            run.log_metric_series("m", np.arange(k, dtype=float))
            return
        if path == "lock-free":
            for i in range(k):
                run.log_metric("m", float(i))
            return
        th = threading.Thread(target=lambda: [run.log_metric("m", float(i)) for i in range(k)])
        th.start()
        th.join()

    if path == "another thread":
        run.log_metric("m", 0.0)  # the series is this thread's: the other thread's points take the lock
        run.flush()
    before = w.passes
    log(99)
    assert not _passes_after(w, before, 0.3)
    log(1)
    assert _passes_after(w, before, 10)
    run.end()


def test_the_step_before_the_last_64_bit_one_is_taken_by_default_on_the_locked_path(tracking, store):
    run = tracking.start_run("edge", capture_environment=False)
    run.log_metric("m", 1.0, step=2**63 - 3)
    th = threading.Thread(target=lambda: [run.log_metric("m", v) for v in (2.0, 3.0)])  # another thread: the lock
    th.start()
    th.join()
    run.end()
    tracking.flush()
    assert store.get_series(run.id, "m")["points"].steps.tolist() == [2**63 - 3, 2**63 - 2, 2**63 - 1]


# ------------------------------------------------------------------------------------------------------------------
# refused batches: the file and the message


def _refuse_one_batch(store, w: Writer) -> None:
    """A batch of one run the store refuses whole: a metric point, a tag and an update with an unknown status."""
    buf = w.series("r", "m", "{}")
    w.add_point(buf, 5, 0.25, 1000.5)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.add("updates", {"run_id": "r", "status": "exploded"})
    with pytest.raises(WriterError):
        w.flush(timeout=30)


def test_a_refused_batch_is_saved_as_indented_json_named_by_time_and_process(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    _refuse_one_batch(store, w)
    home = Path(os.environ["MLTRACK_HOME"])
    (f,) = sorted((home / "rejected").glob("*"))
    assert re.fullmatch(r"\d{8}-\d{6}-%d-\d{1,6}\.json" % os.getpid(), f.name)
    expected = {  # no batch id, no empty section; the metric's arrays as lists
        "tags": [{"run_id": "r", "key": "t", "value": "v"}],
        "updates": [{"run_id": "r", "status": "exploded"}],
        "metrics": [{"run_id": "r", "name": "m", "context": "{}", "steps": [5], "timestamps": [1000.5],
                     "values": [0.25]}],
    }
    assert json.loads(f.read_text()) == expected
    assert f.read_text() == json.dumps(expected, indent=1)
    (msg,) = w.errors
    assert msg == ("jupyter_mltrack: the store refused data: batch: updates.status 'exploded' is not one of running, "
                   f"finished, failed, killed, crashed — the refused items were saved to {f}")


def test_refused_items_are_saved_under_a_home_that_does_not_exist_yet_and_again(store, writers, tmp_path,
                                                                               monkeypatch):
    home = tmp_path / "not" / "yet"
    monkeypatch.setenv("MLTRACK_HOME", str(home))
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    _refuse_one_batch(store, w)
    time.sleep(0.002)  # file names go down to the microsecond
    _refuse_one_batch(store, w)
    assert len(list((home / "rejected").glob("*.json"))) == 2
    assert all("the refused items were saved to " + str(home / "rejected") in m for m in w.errors)


def test_when_refused_items_cannot_be_saved_the_message_says_no_more(store, writers, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MLTRACK_HOME", str(blocked / "home"))
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    _refuse_one_batch(store, w)
    (msg,) = w.errors
    assert msg.endswith("status 'exploded' is not one of running, finished, failed, killed, crashed")


def test_a_problem_is_said_on_stderr_at_once(store, writers, capsys):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    _refuse_one_batch(store, w)
    out = capsys.readouterr()
    assert out.out == "" and out.err == w.errors[0] + "\n"


def test_rejected_values_that_json_cannot_hold_are_written_as_text():
    class Odd:
        def __str__(self):
            return "odd"

    assert json.loads(json.dumps({"a": Odd(), "b": np.arange(2)}, default=W._json_default)) == {"a": "odd",
                                                                                              "b": [0, 1]}


# ------------------------------------------------------------------------------------------------------------------
# a batch split to isolate what the store refuses


def test_a_refused_artifact_costs_only_itself_and_every_run_keeps_its_heartbeat(store, writers):
    store.write_batch({"runs": [{"id": "good"}, {"id": "bad"}]})
    before = {r: store.get_run(r)["heartbeat_at"] for r in ("good", "bad")}
    w = writers(LocalBackend(store), interval=60)
    w.open_runs.update({"good", "bad"})
    w.add("params", {"run_id": "bad", "key": "p", "value": "1"})
    w.add("artifacts", {"run_id": "bad", "name": "weights", "type": "model", "metadata": {},
                        "files": [{"path": "w.bin", "sha256": "0" * 64, "size": 3}]})  # no such blob
    w.add("tags", {"run_id": "good", "key": "t", "value": "v"})
    with pytest.raises(WriterError, match="0000"):
        w.flush(timeout=30)
    assert store.get_run("bad")["params"] == {"p": "1"} and store.get_run("bad")["artifacts"] == []
    assert store.get_run("good")["tags"] == {"t": "v"}
    for r in ("good", "bad"):  # the heartbeat each run's part carried
        assert (store.get_run(r)["heartbeat_at"] or 0) > (before[r] or 0)


# ------------------------------------------------------------------------------------------------------------------
# problems warned about in the user's next call


def _problem(w: Writer) -> None:
    w.report("jupyter_mltrack: something went wrong", raise_later=False)


def test_a_run_started_while_a_problem_waits_warns_about_it_at_its_first_point(tracking):
    w = get_client().writer
    _problem(w)
    from jupyter_mltrack.client.run import Run

    run = Run("r-started-later", client=get_client(), active=True)  # made without start_run's own warning
    with pytest.warns(RuntimeWarning, match="something went wrong"):
        run.log_metric("m", 1.0)
    run.end()


@pytest.mark.parametrize("call", ["run.log_metric", "run.log_param", "mlt.log_metric", "mlt.start_run"])
def test_a_problem_is_warned_about_at_the_users_line(tracking, call):
    import jupyter_mltrack as mlt

    run = tracking.start_run("warned", capture_environment=False)
    _problem(get_client().writer)
    calls = {
        "run.log_metric": lambda: run.log_metric("m", 1.0),
        "run.log_param": lambda: run.log_param("p", 1),
        "mlt.log_metric": lambda: mlt.log_metric("m", 1.0),
        "mlt.start_run": lambda: mlt.start_run("child", capture_environment=False).end(),
    }
    with pytest.warns(RuntimeWarning, match="something went wrong") as caught:
        calls[call]()
    assert [(Path(c.filename).name, c.lineno) for c in caught] == [(Path(__file__).name, _line_of(calls[call]))]
    run.end()


def _line_of(fn) -> int:
    return fn.__code__.co_firstlineno


@pytest.mark.parametrize("call", ["run.log_param", "writer.warn_errors"])
def test_the_warning_s_frame_is_the_first_outside_the_package(tracking, monkeypatch, call):
    """The frame a warning names, as ``warnings.warn`` is asked for it (its ``stacklevel``), is the first frame
    outside the package walking out from ``warn_errors`` — however many of the package's frames the API call went
    through (``run.log_param``) or none (``warn_errors`` called directly). Checked against the frames themselves, so
    it holds whatever else calls in between (the test above checks the user's line exactly)."""
    import warnings

    package = os.path.dirname(os.path.dirname(os.path.abspath(W.__file__))) + os.sep
    asked = []

    def warn(message, category=None, stacklevel=1, **kw):
        frame = sys._getframe(1)  # warn_errors
        assert frame.f_code.co_filename == W.__file__ and "warn_errors" in frame.f_code.co_name
        while frame.f_code.co_filename.startswith(package):
            frame = frame.f_back
        asked.append((sys._getframe(stacklevel), frame, message, category))

    run = tracking.start_run("warned", capture_environment=False)
    w = get_client().writer
    _problem(w)
    monkeypatch.setattr(warnings, "warn", warn)
    run.log_param("p", 1) if call == "run.log_param" else w.warn_errors()
    monkeypatch.undo()
    assert len(asked) == 1
    named, first_outside, message, category = asked[0]
    assert named is first_outside
    assert (message, category) == ("jupyter_mltrack: something went wrong", RuntimeWarning)
    run.end()


def test_a_watcher_is_told_of_each_problem_and_never_told_there_is_none_while_one_waits(store):
    told: list[bool] = []
    watcher = type("Watcher", (), {"writer_alert": lambda self, on: told.append(on)})()
    w = Writer(LocalBackend(store), interval=60)
    w.watch(watcher)
    w.report("jupyter_mltrack: passing", raise_later=False)
    w.report("jupyter_mltrack: an error")
    assert told == [False, True, True]
    with pytest.raises(WriterError, match="an error"):
        w.raise_errors()  # the error said; the passing problem still waits
    assert told == [False, True, True, True]
    with pytest.warns(RuntimeWarning, match="passing"):
        w.warn_errors()
    assert told == [False, True, True, True, False]


def test_a_registered_writer_is_closed_at_exit_and_what_it_held_is_stored(store, monkeypatch):
    monkeypatch.setattr(W, "_writers", [])
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    w = Writer(LocalBackend(store), interval=60)
    assert W.register(w) is w and W._writers == [w]
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    W._close_all()  # what atexit runs
    assert store.get_run("r")["tags"] == {"t": "v"} and not w._thread.is_alive()


def test_points_in_bulk_may_be_plain_sequences(store, writers):
    """``add_points`` takes numpy arrays of any integer or float type, or lists: each is stored as int64 steps and
    float64 values and times (their bytes are copied into the buffer as they are)."""
    store.write_batch({"runs": [{"id": "r", "project": "P"}]})
    w = writers(LocalBackend(store), interval=60)
    buf = w.series("r", "m", "{}")
    w.add_points(buf, np.array([1, 2, 3], dtype=np.int32), [1, 2, 3], [100, 101, 102])
    w.add_points(buf, [4.0, 5.0], np.array([0.5, 1.5], dtype=np.float32), np.array([103, 104], dtype=np.int64))
    w.flush(timeout=30)
    got = store.get_series("r", "m")["points"]
    assert got.steps.tolist() == [1, 2, 3, 4, 5]
    assert got.values.tolist() == [1.0, 2.0, 3.0, 0.5, 1.5]
    assert got.timestamps.tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert buf.last_step == 5


# ------------------------------------------------------------------------------------------------------------------
# the writer's own bookkeeping


class LostResponse:
    """The real backend, whose first answer to each of the first ``lose`` batches is lost on the way back: the batch
    is stored, the writer sees an error and sends it again."""

    def __init__(self, target, lose: int):
        self.target = target
        self.lose = lose
        self.seen: set[str] = set()

    def write(self, batch):
        done = self.target.write(batch)
        if len(self.seen) < self.lose and batch["id"] not in self.seen:
            self.seen.add(batch["id"])
            raise ConnectionError("connection reset")
        return done

    def __getattr__(self, name):
        return getattr(self.target, name)


def test_a_batch_resent_after_a_lost_answer_is_counted_as_a_duplicate_once(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LostResponse(LocalBackend(store), lose=2), interval=60)
    m, n = w.series("r", "m", "{}"), w.series("r", "n", "{}")
    for i in range(3):
        w.add_point(m, None, float(i), 1000.0 + i)
    for i in range(2):
        w.add_point(n, None, float(i), 1000.0 + i)
    w.flush(timeout=30, raise_errors=False)
    assert (w.stats["duplicates"], w.stats["retries"], w.stats["points"]) == (1, 1, 5)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    w.flush(timeout=30, raise_errors=False)
    assert (w.stats["duplicates"], w.stats["retries"]) == (2, 2)
    w.add("tags", {"run_id": "r", "key": "u", "value": "w"})  # answered at once: not a duplicate
    w.flush(timeout=30)
    assert (w.stats["duplicates"], w.stats["retries"], w.stats["points"]) == (2, 2, 5)
    assert store.get_series("r", "m")["points"].values.tolist() == [0.0, 1.0, 2.0]
    assert store.get_run("r")["tags"] == {"t": "v", "u": "w"}


def test_an_item_added_without_a_flush_is_stored_by_the_writer_on_its_own(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=0.05)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})  # starts the writer thread
    deadline = time.monotonic() + 10
    while store.get_run("r")["tags"] != {"t": "v"} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.get_run("r")["tags"] == {"t": "v"}


def test_several_problems_are_raised_together_one_a_line(store, writers):
    store.write_batch({"runs": [{"id": "r"}]})
    w = writers(LocalBackend(store), interval=60)
    w.report("jupyter_mltrack: first")
    w.report("jupyter_mltrack: second")
    with pytest.raises(WriterError) as e:
        w.raise_errors()
    assert str(e.value) == "jupyter_mltrack: first\njupyter_mltrack: second"


def test_a_conflict_that_does_not_say_which_params_refuses_the_params_and_keeps_the_rest(store, writers):
    from jupyter_mltrack.core.errors import Conflict

    store.write_batch({"runs": [{"id": "r"}]})
    real = LocalBackend(store)

    class Vague:
        def write(self, batch):
            if batch.get("params"):
                raise Conflict("a param conflicts")  # no items: which one is not said
            return real.write(batch)

        def __getattr__(self, name):
            return getattr(real, name)

    w = writers(Vague(), interval=60)
    w.add("params", {"run_id": "r", "key": "p", "value": "1"})
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    with pytest.raises(WriterError, match="a param conflicts"):
        w.flush(timeout=30)
    assert store.get_run("r")["tags"] == {"t": "v"} and store.get_run("r")["params"] == {}
    (f,) = sorted((Path(os.environ["MLTRACK_HOME"]) / "rejected").glob("*.json"))
    assert json.loads(f.read_text()) == [{"run_id": "r", "key": "p", "value": "1"}]


def test_runs_started_on_one_thread_while_another_tells_the_runs_lose_nothing(tracking):
    """``Writer.watch`` on a thread starting runs and ``_alerted`` on another (reports and their warnings), with a
    thread switch every microsecond: no error from a set changed while it is read, and every run ends up told."""
    import sys
    import warnings

    from jupyter_mltrack.client.run import Run

    w = get_client().writer
    runs: list = []
    errors: list = []
    stop = threading.Event()

    def start_runs():
        try:
            for i in range(2000):
                runs.append(Run(f"r{i}", client=get_client(), active=True))
        except BaseException as e:  # pragma: no cover - what the test is for
            errors.append(e)
        finally:
            stop.set()

    def report_and_clear():
        try:
            while not stop.is_set():
                w.report("jupyter_mltrack: flapping", raise_later=False)
                w.warn_errors()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    old = sys.getswitchinterval()
    threads = [threading.Thread(target=start_runs), threading.Thread(target=report_and_clear)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sys.setswitchinterval(1e-6)
        try:
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        finally:
            sys.setswitchinterval(old)
    assert errors == [] and len(runs) == 2000
    _problem(w)
    assert all(r._hold for r in runs)
    with pytest.warns(RuntimeWarning):
        w.warn_errors()
    assert not any(r._hold for r in runs)
    for r in runs:
        r.end()


def test_at_exit_a_store_that_keeps_failing_is_given_up_on_and_the_batch_saved(store, writers):
    """Closing with a sink that always fails: the writer retries with growing delays (0.2 s doubling to 5 s), and
    once closing and past 4 s between tries it saves the batch as refused, saying why, rather than hang the exit."""

    class Down:
        def write(self, batch):
            raise ConnectionError("store unreachable")

    w = writers(Down(), interval=0.05)
    w.add("tags", {"run_id": "r", "key": "t", "value": "v"})
    t0 = time.monotonic()
    w.close(timeout=0.5)
    w._thread.join(timeout=20)
    assert not w._thread.is_alive() and time.monotonic() - t0 < 15
    (f,) = sorted((Path(os.environ["MLTRACK_HOME"]) / "rejected").glob("*.json"))
    assert json.loads(f.read_text()) == {"tags": [{"run_id": "r", "key": "t", "value": "v"}]}
    assert any(e.startswith("jupyter_mltrack: the store refused data: gave up at exit: store unreachable")
               for e in w.errors)
