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
