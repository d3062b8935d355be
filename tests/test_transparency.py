"""A ``%%track_run`` cell behaves as the same cell untracked: a corpus of cells runs in two real kernels (nbclient),
once as written and once each under ``%%track_run``, and every output cell must be the same bytes — display
semantics (``;``, ``display``, rich reprs, ``_``/``Out``), streams, exceptions with their tracebacks (``Cell In[N]``,
the body's line numbers, no frame of the magic), top-level ``await``, cell magics on the body's first line."""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import zlib

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mltrack.core.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _png() -> str:
    """A 2×2 RGB PNG, base64 (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([255, 0, 0, 0, 255, 0]) for _ in range(2))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


#: (name, body, how the tracked run ends)
CORPUS = [
    ("semicolon hides the value", "x = 41\nx + 1;", "finished"),
    ("the value", "x + 1", "finished"),
    ("underscore", "_ * 2", "finished"),
    ("Out", "sorted(Out)[-2:], Out[max(Out)]", "finished"),
    ("semicolon and a comment", "x;  # hidden", "finished"),
    ("a comment after the value", "y = 3\ny  # the value\n# a trailing comment", "finished"),
    ("None is not displayed", "None", "finished"),
    ("an assignment last", "z = 5", "finished"),
    ("a dict", "{'b': 1, 'a': [1, 2, 3], 'c': 'x' * 100}", "finished"),
    ("display", "from IPython.display import HTML, Image, Markdown, display\n"
                "display(HTML('<b>bold</b>'))\ndisplay(Markdown('*md*'), metadata={'k': 1})\n'after display'",
     "finished"),
    ("display ids", "h = display('first', display_id=True)\nh.update('second')\ndisplay('third', display_id='fixed')",
     "finished"),
    ("rich repr", "class Rich:\n    def _repr_html_(self):\n        return '<i>r</i>'\n"
                  "    def _repr_markdown_(self):\n        return '**r**'\n    def __repr__(self):\n        return 'Rich()'\n"
                  "Rich()", "finished"),
    ("a DataFrame", "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [0.5, 0.25]})", "finished"),
    ("an image", f"Image(data=__import__('base64').b64decode('{_png()}'))", "finished"),
    ("an image hidden by ;", f"Image(data=__import__('base64').b64decode('{_png()}'));", "finished"),
    ("streams", "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nfor i in range(3):\n"
                "    print(i)\n'done'", "finished"),
    ("streams around a display", "print('before')\ndisplay(HTML('<p>x</p>'))\nprint('after')", "finished"),
    ("an exception", "def f(n):\n    return 1 / n\n\nf(0)", "failed"),
    ("an exception in an earlier cell's function", "print('partial output')\nf(0)", "failed"),
    ("a syntax error", "def broken(:\n    pass", "failed"),
    ("an exception in a repr", "class Bad:\n    def __repr__(self):\n        raise RuntimeError('no repr')\nBad()",
     "finished"),
    ("KeyboardInterrupt", "raise KeyboardInterrupt", "killed"),
    ("top-level await", "import asyncio\nawait asyncio.sleep(0)\n'awaited'", "finished"),
    ("top-level await hidden by ;", "await asyncio.sleep(0.001)\nasyncio.sleep;", "finished"),
    ("async for", "async def gen():\n    for i in range(3):\n        yield i\n[i async for i in gen()]", "finished"),
    ("%%capture on the first line", "%%capture captured\nprint('hidden')\n7", "finished"),
    ("what %%capture captured", "captured.stdout", "finished"),
    ("%%time on the first line", "%%time\nsum(range(1000))", "finished"),
    ("a line magic", "%who_ls int", "finished"),
    ("the history's last input", "In[-2][:20]", "finished"),
]

#: %%time prints durations: the same cell differs run to run
_DURATION = re.compile(r"\d+(?:\.\d+)?\s*(?:ns|\u00b5s|\u03bcs|us|ms|s)\b")


def _notebook(tracked: bool) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # loaded twice: %reload_ext must not install the hooks twice (each tracked cell would be two runs)
    nb.cells.append(nbformat.v4.new_code_cell("%load_ext jupyter_mltrack\n%reload_ext jupyter_mltrack\nimport jupyter_mltrack as mlt"))
    for i, (_, body, _) in enumerate(CORPUS):
        src = f"%%track_run --name c{i} --project T --no-environment\n{body}" if tracked else body
        nb.cells.append(nbformat.v4.new_code_cell(src))
    return nb


def _outputs(cell) -> str:
    """The cell's outputs as JSON; consecutive stream outputs of one stream are joined, as frontends show them (a
    busy kernel may flush a printed line in two messages)."""
    outs = []
    for o in json.loads(json.dumps(cell.outputs)):
        if o.get("output_type") == "stream":
            o["text"] = _DURATION.sub("T", o["text"])
            if outs and outs[-1].get("output_type") == "stream" and outs[-1]["name"] == o["name"]:
                outs[-1]["text"] += o["text"]
                continue
        outs.append(o)
    return json.dumps(outs, sort_keys=True)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transparency")
    store_dir = tmp / "store"
    env = {"MLTRACK_URI": str(store_dir), "MLTRACK_HOME": str(tmp / "home"),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        out = {}
        for tracked in (False, True):
            nb = _notebook(tracked)
            NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(tmp)}}).execute()
            out[tracked] = nb
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out[False], out[True], Store(store_dir)


@pytest.mark.parametrize("i", range(len(CORPUS)), ids=[c[0] for c in CORPUS])
def test_a_tracked_cell_has_the_untracked_cells_outputs(both, i):
    plain, tracked, _ = both
    a, b = plain.cells[i + 1], tracked.cells[i + 1]
    assert _outputs(b) == _outputs(a)
    assert b.execution_count == a.execution_count


def test_the_corpus_shows_what_it_claims(both):
    """The comparison means something only if the untracked cells do what the corpus names."""
    plain, _, _ = both
    by_name = {name: plain.cells[i + 1] for i, (name, _, _) in enumerate(CORPUS)}
    assert by_name["semicolon hides the value"].outputs == []
    assert by_name["the value"].outputs[0].data["text/plain"] == "42"
    assert by_name["underscore"].outputs[0].data["text/plain"] == "84"
    err = by_name["an exception"].outputs[-1]
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback))
    assert err.output_type == "error" and re.search(r"Cell In\[\d+\], line 4", text)
    assert by_name["top-level await"].outputs[0].data["text/plain"] == "'awaited'"
    assert "image/png" in by_name["an image"].outputs[0].data and by_name["an image hidden by ;"].outputs == []
    assert "text/html" in by_name["a DataFrame"].outputs[0].data


def test_no_frame_of_the_magic_in_a_tracked_traceback(both):
    _, tracked, _ = both
    for cell in tracked.cells:
        for o in cell.outputs:
            if o.output_type == "error":
                text = "\n".join(o.traceback)
                assert "magics.py" not in text and "run_cell_magic" not in text and "track_run" not in text


def test_each_tracked_cell_is_a_run_that_ends_as_the_cell_did(both):
    _, _, store = both
    runs, _ = store.search_runs(project="T", order_by="start_time", limit=1000)
    got = {r["name"]: r for r in runs}
    assert set(got) == {f"c{i}" for i in range(len(CORPUS))}
    assert {n: got[f"c{i}"]["status"] for i, (n, _, _) in enumerate(CORPUS)} == {n: s for n, _, s in CORPUS}
    i = next(i for i, c in enumerate(CORPUS) if c[0] == "an exception")
    error = store.get_run(got[f"c{i}"]["id"])["error"]
    assert "ZeroDivisionError: division by zero" in error and "return 1 / n" in error
    assert "magics.py" not in error and "interactiveshell.py" not in error


def test_a_run_that_cannot_start_keeps_its_body_from_running(tmp_path, store_dir, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt\nran = False"),
                nbformat.v4.new_code_cell(f"%%track_run --project {'p' * 1000}\nran = True"),
                nbformat.v4.new_code_cell("%%track_run --no-such-option\nran = True"),
                nbformat.v4.new_code_cell("ran, mlt.active_run()"),
                # inside another cell magic the line is not dropped: the cell magic runs the body, still tracked
                nbformat.v4.new_code_cell("%%capture cap\n%%track_run --name nested --project N\nmlt.log_metric('m', 1)"),
                nbformat.v4.new_code_cell("mlt.flush()\nlen(mlt.search_runs(project='N'))")]
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    assert nb.cells[1].outputs[-1].output_type == "error" and "could not start the run" in nb.cells[1].outputs[-1].evalue
    assert "UsageError" in nb.cells[2].outputs[-1].text  # IPython prints a UsageError, no traceback
    assert nb.cells[3].outputs[0].data["text/plain"] == "(False, None)"
    assert nb.cells[5].outputs[0].data["text/plain"] == "1"


# -- real notebooks ------------------------------------------------------------------------------------------------

NOTEBOOKS = os.path.join(ROOT, "tests", "notebooks")


def _tracked_copy(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """The notebook with the extension loaded in its first code cell and each cell tagged ``train`` under
    ``%%track_run`` (cell ids, order and execution counts unchanged)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].source = "%load_ext jupyter_mltrack\n" + code[0].source
    for i, c in enumerate(code):
        if "train" in c.metadata.get("tags", []):
            c.source = f"%%track_run --name {stem}-{i} --project Notebooks\n" + c.source
    return nb


@pytest.mark.parametrize("name", ["model_validation.ipynb", "random_forest.ipynb"])
def test_a_real_notebook_tracked_shows_what_it_shows_untracked(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MLTRACK_URI", str(tmp_path / "store"))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    source = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    stem = name.split(".")[0]
    runs = {}
    for tracked in (False, True):
        nb = _tracked_copy(source, stem) if tracked else nbformat.from_dict(json.loads(json.dumps(source)))
        path = tmp_path / f"{int(tracked)}-{name}"
        nbformat.write(nb, path)
        monkeypatch.setenv("JPY_SESSION_NAME", str(path))
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
        runs[tracked] = nb
    plain, tracked = runs[False], runs[True]
    for a, b in zip(plain.cells, tracked.cells):
        if a.cell_type == "code":
            assert _outputs(b) == _outputs(a), a.source
            assert b.execution_count == a.execution_count
    store = Store(tmp_path / "store")
    got, _ = store.search_runs(project="Notebooks", order_by="start_time", limit=100)
    trained = [c for c in source.cells if "train" in c.metadata.get("tags", [])]
    assert len(got) == len(trained)
    expected = ["failed" if "raises-exception" in c.metadata["tags"] else "finished" for c in trained]
    assert [r["status"] for r in got] == expected
    assert all(r["metrics"] or r["status"] == "failed" or "grid.fit" in c.source for r, c in zip(got, trained))
