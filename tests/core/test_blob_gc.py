"""core/blob_gc.py: reclaiming blobs no artifact references and abandoned temporary uploads (``Store.gc``)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest

from jupyter_mltrack.core import blob_gc
from jupyter_mltrack.core.blobs import INCOMING_PREFIX
from jupyter_mltrack.core.errors import InvalidInput, NotFound
from jupyter_mltrack.core.store import Store

from ._helpers import execute, sql

HOUR = 3600.0


def age(path, hours: float = 2.0) -> None:
    """Make a file look ``hours`` old."""
    t = time.time() - hours * HOUR
    os.utime(path, (t, t))


def orphan(store: Store, data: bytes, hours: float = 2.0) -> str:
    """A blob uploaded ``hours`` ago that no artifact names (its batch never came)."""
    sha, _ = store.blobs.put_bytes(data)
    age(store.blobs.path(sha), hours)
    return sha


def log_artifact(store: Store, run_id: str, data: bytes, name: str = "model") -> str:
    """Upload, then name the blob in a batch — the client's order."""
    sha, size = store.blobs.put_bytes(data)
    store.write_batch({"runs": [{"id": run_id, "project": "p"}],
                       "artifacts": [{"run_id": run_id, "name": name, "files": [
                           {"path": "f.bin", "sha256": sha, "size": size}]}]})
    return sha


def blob_files(store: Store) -> set[str]:
    return {sha for sha, _ in store.blobs.list_blobs()}


def temp_files(store: Store) -> list[str]:
    return sorted(name for name, _ in store.blobs.list_temp_files())


def test_orphans_are_removed_and_their_bytes_reported(store):
    shas = [orphan(store, os.urandom(n)) for n in (10, 2000, 300_000)]
    r = store.gc()
    assert r == {"blobs_removed": 3, "bytes_freed": 302_010, "temp_files_removed": 0, "temp_bytes_freed": 0,
                 "blobs_kept_young": 0, "blob_rows_removed": 0, "dry_run": False}
    assert not blob_files(store) and not any(store.blobs.exists(s) for s in shas)
    assert store.gc()["blobs_removed"] == 0  # nothing left to do
    assert not temp_files(store)  # the blobs were set aside and removed, nothing left over


def test_referenced_blobs_are_kept_whatever_their_age(store):
    kept = log_artifact(store, "r1", b"model weights")
    age(store.blobs.path(kept), 100)
    gone = orphan(store, b"orphan")
    r = store.gc(grace_hours=0)
    assert (r["blobs_removed"], r["bytes_freed"]) == (1, len(b"orphan"))
    assert blob_files(store) == {kept} and not store.blobs.exists(gone)
    art = store.get_run("r1")["artifacts"][0]
    assert store.read_artifact_file(art["id"], "f.bin") == b"model weights"
    assert sql(store, "SELECT sha256 FROM blobs") == [(kept,)]


def test_young_orphans_are_kept_for_the_grace_period(store):
    young = orphan(store, b"young", hours=0.5)
    old = orphan(store, b"old", hours=1.5)
    r = store.gc()  # default: one hour
    assert (r["blobs_removed"], r["blobs_kept_young"]) == (1, 1)
    assert blob_files(store) == {young} and not store.blobs.exists(old)
    r = store.gc(grace_hours=0.25)
    assert (r["blobs_removed"], r["blobs_kept_young"]) == (1, 0) and not blob_files(store)


def test_uploading_stored_bytes_again_restarts_the_grace_period(store):
    """The client uploads a blob right before the batch naming it: an old orphan uploaded again is young again."""
    sha = orphan(store, b"again", hours=5)
    before = os.stat(store.blobs.path(sha)).st_mtime
    assert store.blobs.put_bytes(b"again") == (sha, 5)
    assert os.stat(store.blobs.path(sha)).st_mtime > before + 4 * HOUR
    r = store.gc()
    assert (r["blobs_removed"], r["blobs_kept_young"]) == (0, 1) and store.blobs.exists(sha)


def test_a_blob_refreshed_while_the_collector_decides_is_put_back(store):
    """remove_if_older judges the blob after setting it aside: an upload that refreshed it in between wins, and an
    upload while it is aside puts its own copy in place."""
    sha = orphan(store, b"contended")
    cutoff = time.time() - HOUR
    os.utime(store.blobs.path(sha))  # an upload refreshed it after the collector listed it
    assert store.blobs.remove_if_older(sha, cutoff) is None
    assert store.blobs.read_bytes(sha) == b"contended" and not temp_files(store)
    # an upload that finds the blob set aside (gone from its path) stores it anew
    aside = store.blobs.root / "elsewhere"
    os.replace(store.blobs.path(sha), aside)
    store.blobs.put_bytes(b"contended")
    assert store.blobs.read_bytes(sha) == b"contended"
    assert store.blobs.remove_if_older("0" * 64, cutoff) is None  # nothing there: nothing removed


def test_stale_temporary_files_are_removed_young_ones_kept(store):
    store.blobs.root.mkdir(parents=True, exist_ok=True)
    stale = store.blobs.root / f"{INCOMING_PREFIX}killed"
    stale.write_bytes(b"x" * 3000)
    age(stale)
    live = store.blobs.root / f"{INCOMING_PREFIX}in-progress"
    live.write_bytes(b"y" * 10)
    other = store.blobs.root / "notes.txt"  # not ours: never touched
    other.write_bytes(b"z")
    age(other)
    r = store.gc()
    assert (r["temp_files_removed"], r["temp_bytes_freed"], r["blobs_removed"]) == (1, 3000, 0)
    assert temp_files(store) == [live.name] and other.exists()


def test_dry_run_removes_nothing_and_reports_what_would_go(store):
    store.blobs.root.mkdir(parents=True, exist_ok=True)
    log_artifact(store, "r1", b"kept")
    shas = [orphan(store, b"a" * 100), orphan(store, b"b" * 200)]
    orphan(store, b"young", hours=0)
    tmp = store.blobs.root / f"{INCOMING_PREFIX}x"
    tmp.write_bytes(b"t" * 7)
    age(tmp)
    files = blob_files(store)
    dry = store.gc(dry_run=True)
    assert dry == {"blobs_removed": 2, "bytes_freed": 300, "temp_files_removed": 1, "temp_bytes_freed": 7,
                   "blobs_kept_young": 1, "blob_rows_removed": 0, "dry_run": True}
    assert blob_files(store) == files and tmp.exists() and all(store.blobs.exists(s) for s in shas)
    real = store.gc()
    assert {**real, "dry_run": True} == dry and not real["dry_run"]
    assert blob_files(store) == files - set(shas)


def test_rows_of_unreferenced_blobs_go_with_their_artifacts(store):
    """A ``blobs`` row backs its references; once its artifacts are gone (a run deleted), the row goes at once
    and its file once past the grace period."""
    sha = log_artifact(store, "r1", b"deleted with its run")
    kept = log_artifact(store, "r2", b"still referenced")
    execute(store, "DELETE FROM runs WHERE id = 'r1'")  # cascades to artifacts and artifact_files
    assert sql(store, "SELECT count(*) FROM blobs")[0][0] == 2
    assert store.gc(dry_run=True)["blob_rows_removed"] == 1
    r = store.gc()
    assert (r["blob_rows_removed"], r["blobs_removed"], r["blobs_kept_young"]) == (1, 0, 1)
    assert sql(store, "SELECT sha256 FROM blobs") == [(kept,)] and store.blobs.exists(sha)
    assert store.gc(grace_hours=0)["blobs_removed"] == 1 and blob_files(store) == {kept}


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "1", True, None])
def test_grace_hours_is_checked(store, bad):
    with pytest.raises(InvalidInput, match="grace_hours"):
        store.gc(grace_hours=bad)


def test_an_empty_or_new_store(store):
    assert not store.blobs.root.exists()
    assert store.gc(grace_hours=0)["blobs_removed"] == 0


def test_the_collector_never_removes_a_blob_a_racing_writer_references(store):
    """A writer uploads a new blob and then writes a batch naming it (or, one time in four, abandons it), over and
    over, while the collector runs with no grace period at all. Batches may be refused ("not uploaded": the blob went between upload and batch), but
    every artifact that was written can read its file afterwards. Skipping the re-check under the write lock
    (deciding on the read alone) makes this fail."""
    store.write_batch({"runs": [{"id": "race", "project": "p"}]})
    stop = threading.Event()
    counts = {"written": 0, "refused": 0, "upload_failed": 0, "collections": 0, "removed": 0}
    errors: list[BaseException] = []

    def writer():
        rng = random.Random(7)
        i = 0
        try:
            while not stop.is_set():
                i += 1
                data = f"blob {i} ".encode() * 50
                try:
                    sha, size = store.blobs.put_bytes(data)
                except FileNotFoundError:  # its temporary file was collected mid-upload (grace 0)
                    counts["upload_failed"] += 1
                    continue
                if i % 4 == 0:  # abandoned (its batch never comes): something for the collector to remove
                    continue
                time.sleep(rng.uniform(0, 0.004))  # the batch comes a moment after the upload
                try:
                    store.write_batch({"artifacts": [{"run_id": "race", "name": f"a{i}", "files": [
                        {"path": "f.bin", "sha256": sha, "size": size}]}]})
                    counts["written"] += 1
                except NotFound:
                    counts["refused"] += 1
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def collector():
        try:
            while not stop.is_set():
                counts["removed"] += store.gc(grace_hours=0)["blobs_removed"]
                counts["collections"] += 1
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer), threading.Thread(target=collector)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline and (counts["written"] < 200 or counts["removed"] < 50):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert counts["written"] >= 20 and counts["collections"] >= 20 and counts["removed"] >= 10, counts
    arts = store.get_run("race")["artifacts"]
    assert len(arts) == counts["written"]
    missing = []
    for a in arts:
        try:
            store.read_artifact_file(a["id"], "f.bin")
        except NotFound:
            missing.append(a["name"])
    assert not missing, f"{len(missing)} artifacts lost their file: {missing[:5]} ({counts})"


def test_uploads_of_processes_killed_with_sigkill_are_reclaimed(store, store_uri, spawn_py):
    """Processes upload artifact files (and one more, stuck mid-upload) and are killed with SIGKILL before the
    batch naming them is written: their blobs and temporary files are garbage, reclaimed once past the grace
    period; the artifact a finished run wrote stays."""
    kept = log_artifact(store, "finished", b"a finished run's model")
    code = """
        import os, sys, time
        from jupyter_mltrack.core.store import Store

        store = Store(sys.argv[1])
        store.write_batch({"runs": [{"id": f"killed{sys.argv[2]}", "project": "p"}]})
        for i in range(3):  # uploaded, never named in a batch
            store.blobs.put_bytes(os.urandom(1 << 20))

        class Stuck:  # an upload that stops half-way (a slow network, a stuck disk)
            sent = False
            def read(self, n):
                if self.sent:
                    print("ready", flush=True)
                    time.sleep(3600)
                self.sent = True
                return b"x" * (512 << 10)

        store.blobs.put_stream(Stuck())
    """
    procs = [spawn_py(code, store_uri, k) for k in range(4)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        assert p.returncode == -signal.SIGKILL
    assert len(blob_files(store)) == 13 and len(temp_files(store)) == 4
    assert store.gc() == {"blobs_removed": 0, "bytes_freed": 0, "temp_files_removed": 0, "temp_bytes_freed": 0,
                          "blobs_kept_young": 12, "blob_rows_removed": 0, "dry_run": False}  # too young yet
    for sha in blob_files(store):
        age(store.blobs.path(sha), 100)
    for name in temp_files(store):
        age(store.blobs.root / name, 100)
    r = store.gc()
    assert r == {"blobs_removed": 12, "bytes_freed": 12 << 20, "temp_files_removed": 4,
                 "temp_bytes_freed": 4 * (512 << 10), "blobs_kept_young": 0, "blob_rows_removed": 0,
                 "dry_run": False}
    assert blob_files(store) == {kept} and not temp_files(store)
    art = store.get_run("finished")["artifacts"][0]
    assert store.read_artifact_file(art["id"], "f.bin") == b"a finished run's model"


def test_mltrack_gc_command_and_mlt_gc(tracking, store, store_uri, capsys):
    from jupyter_mltrack.cli import human_bytes, main

    orphan(store, b"x" * (3 << 20))
    orphan(store, b"y" * (3 << 20))
    orphan(store, b"young", hours=0)
    store.blobs.root.joinpath(f"{INCOMING_PREFIX}left").write_bytes(b"t" * 1536)
    age(store.blobs.root / f"{INCOMING_PREFIX}left")

    assert main(["--uri", store_uri, "gc", "--dry-run"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == ("would remove 2 blobs (6.0 MiB) and 1 temporary file (1.5 KiB); kept 1 unreferenced blob "
                   "younger than 1 hour")
    assert len(blob_files(store)) == 3

    assert main(["--uri", store_uri, "gc"]) == 0
    assert capsys.readouterr().out.strip().startswith("removed 2 blobs (6.0 MiB) and 1 temporary file (1.5 KiB)")
    assert len(blob_files(store)) == 1 and not temp_files(store)

    assert main(["--uri", store_uri, "gc", "--grace-hours", "0"]) == 0
    assert capsys.readouterr().out.strip() == "removed 1 blob (5 B) and 0 temporary files (0 B)"
    assert main(["--uri", store_uri, "gc", "--grace-hours", "-2"]) == 2
    assert "grace_hours" in capsys.readouterr().err
    assert (human_bytes(0), human_bytes(1023), human_bytes(564 << 20)) == ("0 B", "1023 B", "564.0 MiB")

    # the Python API, on the tracking client's store
    tracking.set_tracking_uri(store_uri)
    orphan(store, b"z")
    assert tracking.gc(dry_run=True)["blobs_removed"] == 1 and len(blob_files(store)) == 1
    assert tracking.gc(grace_hours=0.5) == {**blob_gc.GcReport(
        blobs_removed=1, bytes_freed=1, temp_files_removed=0, temp_bytes_freed=0, blobs_kept_young=0,
        blob_rows_removed=0, dry_run=False)}
    assert not blob_files(store)
