"""client/notebook.py: history snapshots as valid notebooks; which notebook file this kernel runs."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from jupyter_mltrack.client import notebook as NB


@pytest.fixture(autouse=True)
def _fresh_detection(monkeypatch):
    """No override and no cached answer from another test."""
    monkeypatch.setattr(NB, "_override", None)
    monkeypatch.setattr(NB, "_cache", None)
    monkeypatch.setattr(NB, "_warned", False)


CELLS = [
    {"source": "import numpy as np", "execution_count": 1, "output": None},
    {"source": "x = 41\nx + 1", "execution_count": 2, "output": "42"},
    {"source": "print('hi')", "execution_count": 3},
    {"source": "", "execution_count": 7, "output": "'a'"},
]


def test_history_notebook_is_a_valid_notebook():
    raw = NB.history_notebook(CELLS, kernel_name="python3")
    nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["code"] * 4
    assert [c.execution_count for c in nb.cells] == [1, 2, 3, 7]
    assert nb.cells[1].source == "x = 41\nx + 1"
    assert nb.cells[0].outputs == [] and nb.cells[2].outputs == []
    out = nb.cells[1].outputs
    assert len(out) == 1 and out[0].output_type == "execute_result"
    assert out[0].execution_count == 2 and out[0].data["text/plain"] == "42"
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.mltrack["snapshot"] == "history"
    assert nb.metadata.language_info.name == "python"


def test_history_notebook_of_nothing():
    nb = nbformat.reads(NB.history_notebook([]).decode(), as_version=4)
    nbformat.validate(nb)
    assert nb.cells == []


def test_set_notebook_wins(tmp_path, monkeypatch):
    nb = tmp_path / "analysis.ipynb"
    nb.write_text("{}")
    other = tmp_path / "other.ipynb"
    other.write_text("{}")
    monkeypatch.setenv("MLTRACK_NOTEBOOK", str(other))
    monkeypatch.setenv("JPY_SESSION_NAME", str(other))
    NB.set_notebook(nb)
    assert NB.find_notebook() == (str(nb), "set_notebook")
    NB.set_notebook(None)
    assert NB.find_notebook() == (str(other), "MLTRACK_NOTEBOOK")


def test_set_notebook_makes_relative_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    NB.set_notebook("rel.ipynb")
    assert NB.find_notebook() == (str(tmp_path / "rel.ipynb"), "set_notebook")
    NB.set_notebook(None)


def test_mltrack_notebook_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLTRACK_NOTEBOOK", "sub/nb.ipynb")  # need not exist: the user said so
    assert NB.find_notebook() == (str(tmp_path / "sub" / "nb.ipynb"), "MLTRACK_NOTEBOOK")


def test_jpy_session_name_only_when_the_file_exists(tmp_path, monkeypatch):
    nb = tmp_path / "exists.ipynb"
    nb.write_text("{}")
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    assert NB.find_notebook() == (str(nb), "JPY_SESSION_NAME")

    monkeypatch.setattr(NB, "_cache", None)
    gone = tmp_path / "renamed-since.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(gone))
    path, how = NB.find_notebook()
    assert path is None
    assert f"JPY_SESSION_NAME ({gone} not found)" in how

    monkeypatch.setattr(NB, "_cache", None)
    not_a_notebook = tmp_path / "script.py"
    not_a_notebook.write_text("")
    monkeypatch.setenv("JPY_SESSION_NAME", str(not_a_notebook))
    assert NB.find_notebook()[0] is None


def test_jpy_session_name_relative(tmp_path, monkeypatch):
    (tmp_path / "nb.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", "nb.ipynb")
    assert NB.find_notebook(use_server=False) == (str(tmp_path / "nb.ipynb"), "JPY_SESSION_NAME")


def test_nothing_found_reports_what_was_tried():
    path, how = NB.find_notebook()
    assert path is None
    assert how.startswith("tried ")
    for method in ("set_notebook", "MLTRACK_NOTEBOOK", "VS Code", "JPY_SESSION_NAME"):
        assert method in how
    assert NB.find_notebook(use_server=False) == (None, how)


def test_capture_outside_ipython(tmp_path, capsys):
    nb = tmp_path / "saved.ipynb"
    nb.write_text(json.dumps({"cells": []}))
    NB.set_notebook(nb)
    snap = NB.capture("x = 1")
    assert snap["path"] == str(nb) and snap["how"] == "set_notebook"
    assert snap["saved"] == nb.read_bytes() and snap["history"] == [] and snap["cell"] == "x = 1"
    NB.set_notebook(None)


def test_capture_warns_once_when_no_notebook_is_found(capfd):
    a = NB.capture()
    NB.capture()
    err = capfd.readouterr().err  # sys.__stderr__: the kernel's log, not the running cell's output
    assert a["path"] is None and a["saved"] is None
    assert err.count("could not identify this notebook's file") == 1
    assert "mlt.set_notebook" in err


def test_snapshot_artifact_job(store, tmp_path):
    from jupyter_mltrack.client.backend import LocalBackend

    store.write_batch({"runs": [{"id": "r"}]})
    saved = tmp_path / "history.ipynb"  # the name clashes with the history snapshot's
    saved.write_text('{"cells": []}')
    snap = {"path": str(saved), "how": "set_notebook", "saved": saved.read_bytes(), "history": CELLS,
            "cell": "x + 1", "kernel_name": "python3"}
    extra = NB.snapshot_artifact("r", snap, LocalBackend(store))()
    store.write_batch(extra)
    (art,) = store.get_run("r")["artifacts"]
    assert (art["name"], art["type"]) == ("notebook", "notebook")
    assert art["metadata"]["files"] == {"history.ipynb": "execution history", "saved-history.ipynb": "saved file",
                                        "cell.py": "tracked cell"}
    assert art["metadata"]["identified_by"] == "set_notebook"
    files = {f["path"]: f for f in art["files"]}
    assert files["history.ipynb"]["media_type"] == "application/x-ipynb+json"
    history = nbformat.reads(store.blobs.read_bytes(files["history.ipynb"]["sha256"]).decode(), as_version=4)
    nbformat.validate(history)
    assert [c.execution_count for c in history.cells] == [1, 2, 3, 7]
    assert store.blobs.read_bytes(files["cell.py"]["sha256"]) == b"x + 1"
    empty = {"path": None, "how": "tried …", "saved": None, "history": [], "cell": None, "kernel_name": "python3"}
    assert NB.snapshot_artifact("r", empty, LocalBackend(store))() == {}


def test_current_source_of_a_script(run_py, tmp_path):
    out = run_py("""
        from jupyter_mltrack.client.notebook import current_source
        print(current_source())
    """).stdout.strip()
    assert out.endswith(".py") and os.path.isabs(out) and os.path.dirname(out) == str(tmp_path)


def test_running_servers_are_read_from_runtime_files(tmp_path, monkeypatch):
    """The sessions lookup reads the servers' runtime files itself: only servers whose process is alive."""
    import subprocess
    import sys

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"jpserver-{os.getpid()}.json").write_text(json.dumps({"pid": os.getpid(), "url": "http://a/"}))
    (tmp_path / f"jpserver-{dead.pid}.json").write_text(json.dumps({"pid": dead.pid, "url": "http://b/"}))
    (tmp_path / "jpserver-broken.json").write_text("{")
    (tmp_path / "kernel-x.json").write_text("{}")
    assert [s["url"] for s in NB.running_servers()] == ["http://a/"]


def test_finding_the_notebook_imports_no_jupyter_server(run_py):
    """jupyter_server's import is seconds of CPU on a busy machine: the kernel never pays it to name its notebook."""
    r = run_py("import sys\nfrom jupyter_mltrack.client import notebook as N\nN._from_sessions_api('k')\n"
               "N.find_notebook()\nprint('jupyter_server' in sys.modules)")
    assert r.stdout.strip() == "False"


def test_outputs_from_ipythons_history_images_kept_once_in_the_history_all_in_the_tracked_cell():
    from IPython.core.history import HistoryOutput

    img = {"image/png": "aGVsbG8=", "text/plain": "<Figure>"}
    first = [HistoryOutput("out_stream", {"stream": ["a", "b\n"]}), HistoryOutput("display_data", dict(img))]
    again = [HistoryOutput("display_data", dict(img)), HistoryOutput("execute_result", {"text/plain": "3"}),
             HistoryOutput("display_data", dict(img))]
    assert NB.notebook_outputs(901, first) == [
        {"output_type": "stream", "name": "stdout", "text": "ab\n"},
        {"output_type": "display_data", "data": img, "metadata": {}}]
    history = NB.notebook_outputs(902, again, {"ename": "E", "evalue": "v", "traceback": ["t"]})
    assert [o.get("data", {}).get("text/plain") for o in history] == [
        "[the same image as In[901]]", "3", "[the same image as In[901]]", None]
    assert history[-1] == {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]}
    tracked = nbformat.reads(NB.tracked_cell_notebook({"cell": "%%track_run\nshow()", "cell_count": 902,
                                                       "cell_outputs": again}).decode(), as_version=4)
    nbformat.validate(tracked)
    assert [o.data for o in tracked.cells[0].outputs if o.output_type == "display_data"] == [img, img]
    assert tracked.cells[0].source == "%%track_run\nshow()"
