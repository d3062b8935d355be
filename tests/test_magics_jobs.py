"""``%mltrack jobs`` in a real kernel (nbclient): the jobs as a table, run one now, read its log."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from jupyter_mltrack.core.store import Store
from jupyter_mltrack.jobs.runner import run_here

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mltrack_jobs_magic(tmp_path, store_dir, monkeypatch):
    (tmp_path / "hello.py").write_text("print('hello from the magic job')\n")
    store = Store(store_dir)
    store.create_job({"name": "hello", "script": str(tmp_path / "hello.py"), "schedule": "15 4 * * 1",
                      "timezone": "America/New_York", "project": "Magic"})
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_mltrack"),
                nbformat.v4.new_code_cell("%mltrack jobs"),
                nbformat.v4.new_code_cell("ex = %mltrack jobs run hello\n[(e['job'], e['status']) for e in ex]"),
                nbformat.v4.new_code_cell("%mltrack jobs log hello")]
    monkeypatch.setenv("MLTRACK_URI", str(store_dir))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    table = nb.cells[1].outputs[0]["data"]
    assert "hello" in table["text/plain"] and "15 4 * * 1" in table["text/html"]
    assert "America/New_York" in table["text/html"] and "Magic" in table["text/html"]
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "[('hello', 'queued')]"
    assert nb.cells[3].outputs[0]["text"] == "jupyter_mltrack: job 'hello' has no execution with a run yet\n"
    run_here(store, [e for e in store.job_executions("hello") if e["status"] == "queued"])
    nb2 = nbformat.v4.new_notebook()
    nb2.metadata = nb.metadata
    nb2.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_mltrack"),
                 nbformat.v4.new_code_cell("%mltrack jobs log hello")]
    NotebookClient(nb2, timeout=120, kernel_name="python3").execute()
    assert "hello from the magic job" in nb2.cells[1].outputs[0]["text"]
    store.close()
