"""Diffs between runs: params, metrics, tags and notebook snapshots (nbdime)."""

from __future__ import annotations

import json

import nbformat
import pytest

from jupyter_mltrack.report.diff import notebook_diff, pick_snapshot
from jupyter_mltrack.client.tracking import get_client


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for c in cells:
        if isinstance(c, tuple):
            src, out = c
            cell = nbformat.v4.new_code_cell(src)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out)]
        else:
            cell = nbformat.v4.new_code_cell(c)
        nb.cells.append(cell)
    return json.loads(nbformat.writes(nb))


def test_notebook_diff_cells():
    a = _nb("import numpy as np", ("lr = 0.1\nprint(lr)", "0.1\n"), "train(lr)")
    b = _nb("import numpy as np", ("lr = 0.01\nprint(lr)", "0.01\n"), "train(lr)", "evaluate()")
    cells = notebook_diff(a, b)
    assert [c["change"] for c in cells] == ["unchanged", "modified", "unchanged", "added"]
    mod = cells[1]
    assert "\n-lr = 0.1\n" in mod["source_diff"] and "\n+lr = 0.01\n" in mod["source_diff"] and mod["outputs_changed"]
    assert all(line[:1] in ("-", "+", " ", "@") for line in mod["source_diff"].splitlines())
    assert cells[3]["source_b"] == "evaluate()" and cells[3]["a"] is None and cells[3]["b"] == 3


def test_only_ids_differ_is_no_change():
    a = _nb("x = 1", "y = 2")
    b = json.loads(json.dumps(a))
    for c in b["cells"]:
        c["id"] = c["id"][::-1]
    assert [c["change"] for c in notebook_diff(a, b)] == ["unchanged", "unchanged"]


def test_removed_cells():
    a = _nb("a = 1", "b = 2", "c = 3", "d = 4")
    b = _nb("a = 1", "d = 4")
    cells = notebook_diff(a, b)
    assert sorted(c["change"] for c in cells) == ["removed", "removed", "unchanged", "unchanged"]
    assert {c["source_a"] for c in cells if c["change"] == "removed"} == {"b = 2", "c = 3"}


def _snapshot_run(store, run_id, params, nb, metric):
    data = json.dumps(nb).encode()
    sha, size = store.blobs.put_bytes(data)
    store.write_batch({
        "runs": [{"id": run_id, "project": "D"}],
        "params": [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()],
        "metrics": [{"run_id": run_id, "name": "acc", "values": [metric]}],
        "artifacts": [{"run_id": run_id, "name": "notebook", "type": "notebook",
                       "metadata": {"files": {"history.ipynb": "execution history"}},
                       "files": [{"path": "history.ipynb", "sha256": sha, "size": size}]}],
    })


def test_diff_notebooks_between_runs(tracking):
    R = tracking
    store = get_client().backend.store
    _snapshot_run(store, "ra", {"lr": 0.1, "opt": "adam"}, _nb("lr = 0.1", "fit()"), 0.8)
    _snapshot_run(store, "rb", {"lr": 0.01, "opt": "adam"}, _nb("lr = 0.01", "fit()"), 0.9)
    d = R.diff_notebooks("ra", "rb")
    assert d["params"] == {"lr": {"a": 0.1, "b": 0.01}}
    assert d["metrics"] == {"acc": {"a": 0.8, "b": 0.9}}
    assert d["notebook"]["summary"] == {"unchanged": 1, "modified": 1, "added": 0, "removed": 0}
    assert d["notebook"]["a"]["label"] == "execution history"
    html = d._repr_html_()
    assert "+lr = 0.01" in html and "Params" in html
    assert pick_snapshot(store.get_run("ra"))[1]["path"] == "history.ipynb"


def test_diff_without_snapshot_says_so(tracking):
    R = tracking
    store = get_client().backend.store
    store.write_batch({"runs": [{"id": "x1"}, {"id": "x2"}]})
    d = R.diff_notebooks("x1", "x2")
    assert d["notebook"] is None and "no notebook snapshot" in d["notebook_note"]


async def test_diff_endpoint(jp_fetch, jp_serverapp):
    from tornado.httpclient import HTTPClientError

    store = jp_serverapp.web_app.settings["mltrack_store"]
    _snapshot_run(store, "ra", {"lr": 0.1}, _nb("lr = 0.1"), 0.5)
    _snapshot_run(store, "rb", {"lr": 0.2}, _nb("lr = 0.2"), float("nan"))
    r = json.loads((await jp_fetch("mltrack", "api", "diff", params={"a": "ra", "b": "rb"})).body)
    assert r["params"] == {"lr": {"a": 0.1, "b": 0.2}} and r["metrics"]["acc"]["b"] == "NaN"
    assert r["notebook"]["cells"][0]["change"] == "modified"
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mltrack", "api", "diff", params={"a": "ra"})
    assert e.value.code == 400
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("mltrack", "api", "diff", params={"a": "ra", "b": "nope"})
    assert e.value.code == 404
