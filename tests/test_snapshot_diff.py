"""Snapshots and diffs of a tracked cell edited and re-run in one real kernel (nbclient): the history keeps streams,
images (an image shown again kept once, big outputs capped) and errors; the diff compares the tracked cells first
(source with its ``%%track_run`` line, outputs), ignores the saved file when it is older than the run, pairs history
cells on their cell ids, and reads as text and HTML — on an edit of the code only and of a param only."""

from __future__ import annotations

import json
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.report.diff import diff_html, diff_text, run_diff

from .test_transparency import _png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRACKED = ("%%track_run --name train --project D --param n=1000\n"
           "n = mlt.active_run().params['n']\nscore = sum(data) / n\nprint('score', score)\nscore")
EDITED_CODE = TRACKED.replace("score = sum(data) / n", "score = sum(data) * 2 / n")
EDITED_PARAM = EDITED_CODE.replace("--param n=1000", "--param n=100")

CELLS = [
    "%load_ext jupyter_mltrack\nimport base64\nimport jupyter_mltrack as mlt\nfrom IPython.display import Image, display",
    "data = list(range(100))\nprint('prepared', len(data))",
    f"png = base64.b64decode('{_png()}')\ndisplay(Image(data=png))\ndisplay(Image(data=png))",
    "print('x' * 600_000)",
    "1 / 0",
    TRACKED,
]


def _as_jupyterlab(client):
    """Execute cells as JupyterLab does: each execute_request names its cell (``metadata.cellId``), which nbclient
    leaves out."""
    session, current = client.kc.session, {}
    plain_msg = session.msg

    def msg(msg_type, content=None, parent=None, header=None, metadata=None):
        if msg_type == "execute_request" and current.get("id"):
            metadata = dict(metadata or {}, cellId=current["id"])
        return plain_msg(msg_type, content, parent, header, metadata)

    session.msg = msg

    def run(cell, index):
        current["id"] = cell.id
        return client.execute_cell(cell, index)

    return run


@pytest.fixture(scope="module")
def reruns(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reruns")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    path = tmp / "analysis.ipynb"
    nbformat.write(nb, path)
    env = {"MLTRACK_URI": str(tmp / "store"), "MLTRACK_HOME": str(tmp / "home"), "MLTRACK_NOTEBOOK": str(path),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(tmp)}})
        with client.setup_kernel():
            run = _as_jupyterlab(client)
            for i, cell in enumerate(nb.cells):
                run(cell, i)
            nb.cells[5].source = EDITED_CODE  # edit the code only, run again
            run(nb.cells[5], 5)
            run(nb.cells[1], 1)  # a cell run in between
            nb.cells[5].source = EDITED_PARAM  # edit the param only, run again
            run(nb.cells[5], 5)
            nb.cells.append(nbformat.v4.new_code_cell("mlt.flush()"))
            run(nb.cells[6], 6)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    store = Store(tmp / "store")
    runs, _ = store.search_runs(project="D", order_by="start_time")
    full = [store.get_run(r["id"]) for r in runs]
    return store, full, nb


def _file(store, run, path):
    art = next(a for a in run["artifacts"] if a["name"] == "notebook")
    return store.read_artifact_file(art["id"], path)


def _diff(store, a, b):
    return run_diff(a, b, store.read_artifact_file)


def test_the_history_snapshot_keeps_streams_images_and_errors(reruns):
    store, (first, _, _), _ = reruns
    history = nbformat.reads(_file(store, first, "history.ipynb").decode(), as_version=4)
    nbformat.validate(history)
    by_count = {c.execution_count: c for c in history.cells}
    assert by_count[2].outputs == [{"output_type": "stream", "name": "stdout", "text": "prepared 100\n"}]
    images = by_count[3].outputs
    assert len(images) == 2 and images[0].data["image/png"] == _png()
    assert images[1].data == {"text/plain": "[the same image as In[3]]"}  # shown again: kept once
    (big,) = by_count[4].outputs
    assert "was left out of this snapshot" in big.text and len(big.text) < 1000  # capped
    assert by_count[5].outputs[0].output_type == "error" and by_count[5].outputs[0].ename == "ZeroDivisionError"
    # the tracked cell with its outputs, and every cell names the notebook cell it ran
    assert [o.get("text") or o.data["text/plain"] for o in by_count[6].outputs] == ["score 4.95\n", "4.95"]
    assert all(c.metadata["mltrack"]["cell_id"] for c in history.cells)


def test_an_edit_of_the_code_only(reruns):
    store, (first, second, _), _ = reruns
    d = _diff(store, first, second)
    assert d["params"] == {} and d["metrics"] == {}
    cell = d["cell"]  # the tracked cells, compared first
    assert "-score = sum(data) / n\n" in cell["source_diff"] and "+score = sum(data) * 2 / n\n" in cell["source_diff"]
    assert cell["outputs_changed"] and "-score 4.95" in cell["outputs_diff"] and "+score 9.9" in cell["outputs_diff"]
    # the saved file never changed (nbclient does not save): it is stale, the histories are compared instead
    assert d["notebook"]["a"]["label"] == d["notebook"]["b"]["label"] == "execution history"
    assert d["notebook"]["summary"] == {"unchanged": 5, "modified": 1, "added": 0, "removed": 0}
    (changed,) = [c for c in d["notebook"]["cells"] if c["change"] != "unchanged"]
    assert changed["source_a"] == TRACKED and changed["source_b"] == EDITED_CODE
    text = diff_text(d)
    assert "Params: no difference" in text and "Tracked cell: source changed" in text
    assert "  +score = sum(data) * 2 / n" in text and "outputs changed" in text and len(text) < 3000
    html = diff_html(d)
    assert '<span class="mltrack-diff-add">+score = sum(data) * 2 / n</span>' in html


def test_an_edit_of_a_param_only(reruns):
    store, (_, second, third), _ = reruns
    d = _diff(store, second, third)
    assert d["params"] == {"n": {"a": 1000, "b": 100}}
    cell = d["cell"]
    assert cell["source_diff"].count("\n-") == 1 and "-%%track_run --name train --project D --param n=1000\n" in \
        cell["source_diff"] and "+%%track_run --name train --project D --param n=100\n" in cell["source_diff"]
    assert "+score 99.0" in cell["outputs_diff"]
    # the cell run in between pairs with itself: one modified cell, nothing added
    assert d["notebook"]["summary"] == {"unchanged": 5, "modified": 1, "added": 0, "removed": 0}
    text = diff_text(d)
    assert "  n: 1000 → 100" in text and "  +%%track_run --name train --project D --param n=100" in text
    assert "<td>n</td><td>1000</td><td>100</td>" in diff_html(d)


def test_the_notebook_shows_a_diff_as_text(reruns):
    from jupyter_mltrack.client.queries import RunDiff

    store, (first, second, _), _ = reruns
    d = RunDiff(_diff(store, first, second))
    assert str(d) == diff_text(d) and d._repr_html_() == diff_html(d)
    from IPython.lib.pretty import pretty

    assert pretty(d) == diff_text(d)  # the notebook's text/plain form, not a dict
    assert json.loads(json.dumps(dict(d)))["cell"]["source_b"] == EDITED_CODE


def test_the_report_shows_the_tracked_cell_its_outputs_and_the_figures(reruns):
    from jupyter_mltrack.report.export import build_report

    store, (first, _, _), _ = reruns
    html = build_report([first], store.read_artifact_file, lambda rid, name, ctx: store.get_series(rid, name, ctx, 100))
    tracked = html[html.index("Tracked cell"):]
    assert "score 4.95" in tracked and "--param n=1000" in tracked  # the cell as written, with its outputs
    assert f"data:image/png;base64,{_png()}" in html  # the history's figures
    assert re.search(r"<td>Duration</td><td>\d+ ms</td>", html)  # a short run in ms, not "0.0 s"
