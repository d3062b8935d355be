"""mlt.restore_notebook (a run's snapshot written to a new file, never over one) and mlt.diff_notebooks comparing
the tracked cells and the execution histories as well as the saved files."""

from __future__ import annotations

import json

import nbformat
import pytest

from jupyter_mltrack.core.errors import NotFound


def _nb(*cells) -> bytes:
    nb = nbformat.v4.new_notebook()
    for src, out in cells:
        cell = nbformat.v4.new_code_cell(src)
        if out is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out)]
        nb.cells.append(cell)
    return nbformat.writes(nb).encode()


SAVED = _nb(("data = load()", None), ("%%track_run\ntrain(lr)", None))  # the same saved file in both runs


def _run(mlt, name, lr, printed):
    """A run whose snapshot holds the saved file (identical in both runs), its history (what ran, with what it
    printed) and its tracked cell."""
    with mlt.start_run(name, project="Restore", params={"lr": lr}) as run:
        history = _nb(("data = load()", "loaded 100 rows\n"), (f"lr = {lr}", None),
                      ("%%track_run\ntrain(lr)", printed))
        run._log_bytes("notebook", "notebook", [("analysis.ipynb", SAVED), ("history.ipynb", history),
                                                ("cell.py", f"%%track_run\ntrain(lr)  # lr={lr}".encode())],
                       metadata={"notebook_path": "/home/u/analysis.ipynb",
                                 "files": {"analysis.ipynb": "saved file", "history.ipynb": "execution history",
                                           "cell.py": "tracked cell"}})
    return run


def test_restore_notebook_never_overwrites(tracking, tmp_path, monkeypatch):
    mlt = tracking
    monkeypatch.chdir(tmp_path)
    run = _run(mlt, "first", 0.1, "loss 0.5\n")
    first = mlt.restore_notebook(run)
    assert first == tmp_path / f"analysis-{run.id[:8]}.ipynb"
    assert first.read_bytes() == SAVED  # the best snapshot: the saved file (not stale)
    nbformat.validate(nbformat.reads(first.read_text(), as_version=4))
    again = mlt.restore_notebook(run.id)  # the default name taken: a numbered one
    assert again == tmp_path / f"analysis-{run.id[:8]}-1.ipynb" and first.read_bytes() == SAVED
    mine = tmp_path / "mine.ipynb"
    mine.write_text("my work")
    written = mlt.restore_notebook(run, mine)  # an existing path is never replaced either
    assert written == tmp_path / "mine-1.ipynb" and mine.read_text() == "my work"
    with mlt.start_run("bare", project="Restore") as bare:
        pass
    with pytest.raises(NotFound, match="has no notebook snapshot"):
        mlt.restore_notebook(bare)


def test_diff_compares_the_tracked_cell_and_the_history_too(tracking):
    mlt = tracking
    a, b = _run(mlt, "a", 0.1, "loss 0.5\n"), _run(mlt, "b", 0.01, "loss 0.7\n")
    d = mlt.diff_notebooks(a, b)
    assert d["params"] == {"lr": {"a": 0.1, "b": 0.01}}
    # the saved files are the same bytes: no difference there …
    assert d["notebook"]["a"]["label"] == "saved file" and d["notebook"]["summary"]["modified"] == 0
    # … the tracked cells (cell.py) and the histories (what ran, and what it printed) tell what changed
    assert "-%%track_run\n" not in d["cell"]["source_diff"] and "+train(lr)  # lr=0.01\n" in d["cell"]["source_diff"]
    h = d["history"]
    assert (h["a"]["label"], h["b"]["label"]) == ("execution history", "execution history")
    changed = [c for c in h["cells"] if c["change"] != "unchanged" or c["outputs_changed"]]
    assert [(c["change"], c["outputs_changed"]) for c in changed] == [("modified", False), ("modified", True)]
    assert "+lr = 0.01" in changed[0]["source_diff"]
    text = str(d)
    assert "Execution history (execution history / execution history): 2 modified" in text
    assert "outputs changed" in text and "Notebook (saved file / saved file)" in text
    assert "<b>Execution history</b>" in d._repr_html_()
    json.dumps(d)  # the REST answer's shape


def test_two_histories_are_not_compared_twice(tracking):
    mlt = tracking
    runs = []
    for lr in (0.1, 0.2):
        with mlt.start_run(project="Restore", params={"lr": lr}) as run:
            run._log_bytes("notebook", "notebook", [("history.ipynb", _nb((f"lr = {lr}", None)))],
                           metadata={"files": {"history.ipynb": "execution history"}})
        runs.append(run)
    d = mlt.diff_notebooks(*runs)
    assert d["notebook"]["a"]["label"] == "execution history" and d["history"] is None
