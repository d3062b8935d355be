"""``%%track_run`` snapshots reuse what the previous one stored: the history's cells already encoded, the saved
file while its stat is unchanged (not read, parsed or uploaded again), bytes already stored — with exactly the
artifact a snapshot from scratch gives."""

from __future__ import annotations

import json
import os
import sys
import time

import nbformat
import pytest

from jupyter_mltrack.client import notebook as N

from .test_snapshot_files import _nb_bytes


def reference_history_notebook(cells, kernel_name="python3") -> bytes:
    """The history notebook as one json.dumps of the whole document (what the incremental encoder must equal)."""
    out_cells = []
    for c in cells:
        outputs = []
        if c.get("output") is not None:
            outputs.append({"output_type": "execute_result", "execution_count": c["execution_count"],
                            "data": {"text/plain": c["output"]}, "metadata": {}})
        out_cells.append({"cell_type": "code", "execution_count": c["execution_count"],
                          "id": f"run-{c['execution_count']}", "metadata": {}, "outputs": outputs,
                          "source": c["source"]})
    nb = {"cells": out_cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": kernel_name, "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))},
        "mltrack": {"snapshot": "history", "note": "cells in the order they ran in the kernel, with their execution "
                                                   "counts"}}}
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def test_incremental_history_is_byte_identical():
    cells = [{"source": "a = 1\nb = 'x\\ny'  # ünïcode ✓", "execution_count": 1, "output": None},
             {"source": "a", "execution_count": 2, "output": "1\n{'k': [1, 2]}\t\"q\""},
             {"source": "", "execution_count": 3, "output": ""},
             {"source": "%%track_run\nx = {'nested': {'d': 1}}", "execution_count": 4, "output": "\x00\u2028"}]
    assert N.history_notebook([]) == reference_history_notebook([])
    for n in range(1, len(cells) + 1):  # growing, as the history of a kernel does (and encoded cells reused)
        assert N.history_notebook(cells[:n], "k") == reference_history_notebook(cells[:n], "k")
        assert N.history_notebook(cells[:n]) == reference_history_notebook(cells[:n])
    nbformat.validate(nbformat.reads(N.history_notebook(cells).decode(), as_version=4))


class CountingBackend:
    def __init__(self, inner):
        self.inner, self.puts = inner, []

    def put_bytes(self, data):
        self.puts.append(data)
        return self.inner.put_bytes(data)


def _age(path, seconds=100):
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(N, "_saved_seen", {})
    monkeypatch.setattr(N, "_saved_stored", {})
    monkeypatch.setattr(N, "_ipython", lambda: None)


def _files(store, batch):
    return {a["name"]: {f["path"]: store.blobs.read_bytes(f["sha256"]) for f in a["files"]}
            for a in batch["artifacts"]}


def test_an_unchanged_saved_file_is_reused(store, tmp_path, fresh, monkeypatch):
    from jupyter_mltrack.client.backend import LocalBackend

    path = tmp_path / "exp.ipynb"
    path.write_bytes(_nb_bytes())
    _age(path)
    N.set_notebook(path)
    monkeypatch.setattr(N, "_override", str(path))
    backend = CountingBackend(LocalBackend(store))
    store.write_batch({"runs": [{"id": "r1"}, {"id": "r2"}, {"id": "r3"}]})

    snap1 = N.capture("plot()")
    assert snap1["saved"] is not None and not snap1["saved_reused"]
    first = N.snapshot_artifact("r1", snap1, backend)()
    n_puts = len(backend.puts)

    snap2 = N.capture("plot()")  # nothing changed: the file is not read again
    assert snap2["saved"] is None and snap2["saved_reused"]
    second = N.snapshot_artifact("r2", snap2, backend)()
    assert len(backend.puts) == n_puts  # nothing uploaded again (the same cell, the same file)
    # exactly what a snapshot from scratch stores (tagged cells included)
    scratch = N.snapshot_artifact("r2", dict(snap2, saved=path.read_bytes(), saved_reused=False), LocalBackend(store))()
    assert _files(store, second) == _files(store, scratch) == _files(store, first)
    assert [a["metadata"] for a in second["artifacts"]] == [a["metadata"] for a in scratch["artifacts"]]
    assert {a["name"] for a in second["artifacts"]} == {"notebook", "loss-curve"}  # its own tagged cell only

    # an edit (the same size, an older-looking mtime than now but newer than before) is read again
    nb = nbformat.reads(_nb_bytes().decode(), as_version=4)
    nb.cells[1].metadata["mltrack_name"] = "LOSS-curve"
    path.write_bytes(nbformat.writes(nb).encode())
    _age(path, 50)
    snap3 = N.capture("plot()")
    assert snap3["saved"] is not None and not snap3["saved_reused"]
    third = N.snapshot_artifact("r3", snap3, backend)()
    assert {a["name"] for a in third["artifacts"]} == {"notebook", "LOSS-curve"}
    assert _files(store, third)["notebook"]["exp.ipynb"] == N.slim_notebook(path.read_bytes())


def test_a_file_changed_just_now_is_read(store, tmp_path, fresh, monkeypatch):
    path = tmp_path / "exp.ipynb"
    path.write_bytes(_nb_bytes())
    monkeypatch.setattr(N, "_override", str(path))
    N.capture("x = 1")
    assert N.capture("x = 1")["saved"] is not None  # its mtime is within the timestamps' resolution of now


def test_reuse_is_per_backend(store_dir, tmp_path, fresh, monkeypatch):
    from jupyter_mltrack.client.backend import LocalBackend
    from jupyter_mltrack.core.store import Store

    path = tmp_path / "exp.ipynb"
    path.write_bytes(_nb_bytes())
    _age(path)
    monkeypatch.setattr(N, "_override", str(path))
    a, b = Store(str(tmp_path / "a")), Store(str(tmp_path / "b"))
    for s in (a, b):
        s.write_batch({"runs": [{"id": "r1"}]})
    backend_a = LocalBackend(a)
    N.snapshot_artifact("r1", N.capture("x = 1"), backend_a)()
    batch = N.snapshot_artifact("r1", N.capture("x = 1"), LocalBackend(b))()  # another store: stored there
    b.write_batch(batch)
    (nbart,) = [x for x in b.get_run("r1")["artifacts"] if x["name"] == "notebook"]
    assert {f["path"] for f in nbart["files"]} == {"exp.ipynb", "cell.py"}
    assert all(b.blobs.exists(f["sha256"]) for f in nbart["files"])
