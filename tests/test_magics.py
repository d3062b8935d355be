"""%%track_run in a real kernel: a notebook executed with nbclient against a real SQLite store."""

from __future__ import annotations

import json
import os
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from jupyter_mltrack.core.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CELLS = [
    "%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt",
    # a tracked cell with params, tags, metrics, a nested run; its last expression is displayed
    """%%track_run --name ok --project NB --description "two words" --experiment e1 --experiment e2 --param lr=0.1 --param opt=adam --tag who=me
for step in range(5):
    mlt.log_metric("loss", 1.0 / (step + 1), context={"subset": "train"})
mlt.log_metric("acc", 0.9, context={"subset": "val"})
with mlt.start_run("child") as child:
    child.log_metric("inner", 1.5)
assert mlt.active_run().name == "ok"
"result-" + mlt.active_run().id""",
    # the same cell text again makes a new run
    """%%track_run --name again --project NB
mlt.log_metric("x", 1)""",
    """%%track_run --name again --project NB
mlt.log_metric("x", 2)""",
    # a failing cell: run ends failed with the error; the exception still reaches the notebook
    """%%track_run --name bad --project NB
mlt.log_metric("x", 3)
raise ValueError("boom in the cell")""",
    "mlt.active_run() is None",
    "mlt.flush()\ndf = mlt.search_runs(project='NB')\nlen(df)",
]


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for src in CELLS:
        cell = nbformat.v4.new_code_cell(src)
        if "boom" in src:
            cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    return nb


@pytest.fixture
def executed(tmp_path, store_dir, monkeypatch):
    nb = _notebook()
    path = tmp_path / "experiment.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb, Store(store_dir), path


def _outputs_text(cell):
    out = []
    for o in cell.outputs:
        if o.output_type == "execute_result":
            out.append(o.data.get("text/plain", ""))
        elif o.output_type == "stream":
            out.append(o.text)
        elif o.output_type == "error":
            out.append(o.ename + ": " + o.evalue)
    return "\n".join(out)


def test_track_run_in_a_real_kernel(executed):
    nb, store, path = executed
    runs, total = store.search_runs(project="NB", order_by="start_time")
    names = [r["name"] for r in runs]
    assert names == ["ok", "child", "again", "again", "bad"], names
    ok, child, again1, again2, bad = runs

    assert ok["status"] == "finished"
    assert ok["params"] == {"lr": 0.1, "opt": "adam"} and ok["tags"] == {"who": "me"}
    assert ok["experiments"] == ["e1", "e2"] and ok["description"] == "two words"
    assert {m["key"]: m["last"] for m in ok["metrics"]} == {"loss[subset=train]": 0.2, "acc[subset=val]": 0.9}
    assert _outputs_text(nb.cells[1]) == repr("result-" + ok["id"])

    assert child["parent_id"] == ok["id"] and child["status"] == "finished" and child["project"] == "NB"
    assert again1["id"] != again2["id"] and again1["status"] == again2["status"] == "finished"

    assert bad["status"] == "failed"
    bad_full = store.get_run(bad["id"])
    assert "ValueError: boom in the cell" in bad_full["error"]
    assert "ValueError: boom in the cell" in _outputs_text(nb.cells[4])
    assert _outputs_text(nb.cells[5]) == "True"  # no run left active
    assert _outputs_text(nb.cells[6]) == "5"


def test_snapshot_and_environment_artifacts(executed):
    nb, store, path = executed
    runs, _ = store.search_runs(project="NB", filter="name = 'ok'")
    run = store.get_run(runs[0]["id"])
    arts = {a["name"]: a for a in run["artifacts"]}
    assert set(arts) == {"notebook", "environment"}
    snap = arts["notebook"]
    assert snap["type"] == "notebook"
    files = {f["path"]: f for f in snap["files"]}
    assert set(files) == {"history.ipynb", "experiment.ipynb", "cell.py", "cell.ipynb"}
    # the file on disk was saved before the cell ran (nbclient never saves): it does not show this run
    assert snap["metadata"]["stale"] == ["experiment.ipynb"]
    assert snap["metadata"]["identified_by"] == "JPY_SESSION_NAME"
    assert snap["metadata"]["notebook_path"] == str(path)

    history = nbformat.reads(store.blobs.read_bytes(files["history.ipynb"]["sha256"]).decode(), as_version=4)
    nbformat.validate(history)
    sources = [c.source for c in history.cells]
    assert sources[0].startswith("%load_ext jupyter_mltrack")
    assert sources[1].startswith("%%track_run --name ok")
    assert [c.execution_count for c in history.cells] == [1, 2]
    saved = store.blobs.read_bytes(files["experiment.ipynb"]["sha256"])
    assert saved == path.read_bytes()
    # the tracked cell as written, magic line included (a change made only in its options shows)
    assert store.blobs.read_bytes(files["cell.py"]["sha256"]).decode() == CELLS[1]
    # … and with its outputs, as the notebook shows them
    cell_nb = nbformat.reads(store.blobs.read_bytes(files["cell.ipynb"]["sha256"]).decode(), as_version=4)
    nbformat.validate(cell_nb)
    (tracked,) = cell_nb.cells
    assert tracked.source == CELLS[1] and tracked.execution_count == nb.cells[1].execution_count
    assert [(o.output_type, o.data["text/plain"]) for o in tracked.outputs] == \
        [(o.output_type, o.data["text/plain"]) for o in nb.cells[1].outputs]

    env = json.loads(store.blobs.read_bytes(arts["environment"]["files"][0]["sha256"]))
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    from importlib.metadata import version

    assert env["packages"]["packages"]["jupyter_mltrack"] == version("jupyter_mltrack")
    assert env["packages"]["packages"]["numpy"] == version("numpy")
    assert env["host"]["hostname"]

    # the saved notebook is the same bytes in every run: stored once
    again = [store.get_run(r["id"]) for r in store.search_runs(project="NB", filter="name = 'again'")[0]]
    shas = {f["sha256"] for r in again for a in r["artifacts"] if a["name"] == "notebook" for f in a["files"]
            if f["path"] == "experiment.ipynb"}
    assert len(shas) == 1


def test_unknown_notebook_is_said_once_on_the_kernels_stderr(tmp_path, store_dir, monkeypatch, capfd):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt"),
                nbformat.v4.new_code_cell("%%track_run --name a\nmlt.log_metric('m', 1)"),
                nbformat.v4.new_code_cell("%%track_run --name b\nmlt.log_metric('m', 2)")]
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert [c.outputs for c in nb.cells[1:]] == [[], []]  # not in a cell's output
    said = [line for line in capfd.readouterr().err.splitlines() if "could not identify this notebook" in line]
    assert len(said) == 1 and "set_notebook" in said[0]  # the kernel's own stderr (its log), once
    store = Store(store_dir)
    (run,) = store.search_runs(filter="name = 'a'")[0]
    snap = next(a for a in store.get_run(run["id"])["artifacts"] if a["name"] == "notebook")
    assert {f["path"] for f in snap["files"]} == {"history.ipynb", "cell.py", "cell.ipynb"}


def test_keyboard_interrupt_marks_the_run_killed(tmp_path, store_dir, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt"),
                nbformat.v4.new_code_cell("%%track_run --name stop --no-snapshot\nraise KeyboardInterrupt")]
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    store = Store(store_dir)
    (run,) = store.search_runs(filter="name = 'stop'")[0]
    assert run["status"] == "killed"
