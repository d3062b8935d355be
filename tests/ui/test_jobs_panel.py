"""The Jobs panel in JupyterLab: a job's schedule, next run and last status; run now (the server's scheduler runs
it), its log, pause and resume — in Debian's chromium, against a real JupyterLab on a fresh store."""

from __future__ import annotations

import pytest

from .conftest import open_lab, wait_until

pytestmark = pytest.mark.ui


def test_jobs_panel_lists_runs_shows_logs_and_pauses(lab, page):
    (lab.root / "panel_job.py").write_text("print('hello from the panel job', flush=True)\n")
    store = lab.store()
    try:
        store.create_job({"name": "panel-job", "script": str(lab.root / "panel_job.py"), "schedule": "0 4 * * *",
                          "timezone": "Europe/Paris", "project": "Panel"})
        open_lab(page, lab)
        page.click('.jp-SideBar li[data-id="mltrack-jobs"]')
        row = page.locator('#mltrack-jobs li[data-job="panel-job"]')
        row.wait_for(state="visible")
        assert row.locator(".jp-mltrack-job-schedule").inner_text() == "0 4 * * * (Europe/Paris)"
        assert row.locator(".jp-mltrack-job-next").inner_text().startswith("next: ")
        assert row.locator(".jp-mltrack-job-status").inner_text() == "never run"

        row.locator("button.jp-mltrack-job-run").click()
        wait_until(lambda: row.locator(".jp-mltrack-job-status").inner_text() == "finished", 90,
                   "the job run from the panel to finish")
        ex = store.job_executions("panel-job")[0]
        assert ex["status"] == "finished" and store.get_run(ex["run_id"])["project"] == "Panel"

        row.locator("button.jp-mltrack-job-logs").click()
        log = row.locator(".jp-mltrack-job-log-text")
        wait_until(lambda: "hello from the panel job" in log.inner_text(), 30, "the job's log in the panel")

        row.locator("button.jp-mltrack-job-pause").click()
        wait_until(lambda: row.locator(".jp-mltrack-job-next").inner_text() == "paused", 30, "paused")
        assert store.get_job("panel-job")["paused"] is True
        assert row.locator("button.jp-mltrack-job-pause").inner_text() == "Resume"
        row.locator("button.jp-mltrack-job-pause").click()
        wait_until(lambda: row.locator(".jp-mltrack-job-next").inner_text().startswith("next: "), 30, "resumed")
        assert store.get_job("panel-job")["paused"] is False
    finally:
        store.close()


def test_create_a_job_from_the_current_notebook(lab, page):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    params = nbformat.v4.new_code_cell("alpha = 0.1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print('alpha is', alpha)")]
    nbformat.write(nb, lab.root / "train_nb.ipynb")
    store = lab.store()
    try:
        open_lab(page, lab, "train_nb.ipynb")
        page.wait_for_selector(".jp-NotebookPanel", state="visible")
        page.click('.jp-SideBar li[data-id="mltrack-jobs"]')
        page.click("#mltrack-jobs button.jp-mltrack-jobs-create")
        dialog = page.locator(".jp-Dialog")
        dialog.locator("input").wait_for(state="visible")
        assert dialog.locator("input").input_value() == "train_nb"  # the notebook's name, proposed
        dialog.locator("input").fill("nb-job")
        dialog.locator(".jp-mod-accept").click()
        page.locator(".jp-Dialog input").wait_for(state="visible")
        page.locator(".jp-Dialog input").fill("30 1 * * *")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        job = wait_until(lambda: next((j for j in store.list_jobs() if j["name"] == "nb-job"), None), 30,
                         "the job defined from the notebook")
        assert job["notebook"] == str(lab.root / "train_nb.ipynb") and job["schedule"] == "30 1 * * *"
        row = page.locator('#mltrack-jobs li[data-job="nb-job"]')
        row.wait_for(state="visible")

        # once it ran: open the executed notebook, outputs included, as a new notebook
        from jupyter_mltrack.jobs.runner import run_here

        assert run_here(store, store.run_job("nb-job")) == {"nb-job": "finished"}
        row.locator("button.jp-mltrack-job-notebook").click()
        page.wait_for_selector(".jp-NotebookPanel .jp-OutputArea-output:has-text('alpha is 0.1')", timeout=60_000)
        opened = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        assert opened.startswith("mltrack-snapshots/") and opened.endswith(".ipynb")
    finally:
        store.close()
