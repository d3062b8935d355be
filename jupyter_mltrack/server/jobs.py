"""REST handlers of jobs: define, list, read, run now, pause, resume, delete, executions and logs.

As thin as the others: parse, call the store on a worker thread with the caller's actor (team mode: viewers read a
project's jobs, contributors define, run, pause and delete them — ``core/jobs.py`` checks), answer JSON. A job's
relative notebook or script path is read from the server's root folder. "Run now" wakes the server's scheduler
(``jupyter_mltrack/jobs/scheduler.py``), which runs the queued executions.
"""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from .base import BaseHandler

_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})"


class JobsBase(BaseHandler):
    def wake_scheduler(self) -> None:
        scheduler = self.settings.get("mltrack_scheduler")
        if scheduler is not None:
            scheduler.wake()


class JobsHandler(JobsBase):
    """``GET jobs?project=`` lists jobs; ``POST jobs`` defines one (or redefines the job of that name)."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"jobs": await self.call(self.store.list_jobs, self.str_arg("project"), self.actor)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_object('a job: {"name": "...", "notebook" or "script": "...", ...}')
        root = self.settings.get("server_root_dir") or None
        self.send(await self.call(self.store.create_job, body, root, self.actor, write=True), 201)


class JobHandler(JobsBase):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str):
        self.send(await self.call(self.store.get_job, name, self.actor))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str):
        await self.call(self.store.delete_job, name, self.actor, write=True)
        self.set_status(204)
        self.finish()


class JobRunHandler(JobsBase):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str):
        executions = await self.call(self.store.run_job, name, self.actor, write=True)
        self.wake_scheduler()
        self.send({"executions": executions}, 201)


class JobPauseHandler(JobsBase):
    paused = True

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str):
        self.send(await self.call(self.store.pause_job, name, self.paused, self.actor, write=True))


class JobResumeHandler(JobPauseHandler):
    paused = False

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str):
        self.send(await self.call(self.store.pause_job, name, self.paused, self.actor, write=True))


class JobExecutionsHandler(JobsBase):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str):
        limit = self.int_arg("limit", 50, 1, 1000)
        self.send({"executions": await self.call(self.store.job_executions, name, limit, self.actor)})


class JobLogHandler(JobsBase):
    """The log of a job's newest execution that has a run (or of ``execution``), as text in JSON."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str):
        execution = self.int_arg("execution", None, 1, 2**62)
        ex, data = await self.call(self.store.job_log, name, execution, self.actor)
        self.send({"execution": ex, "log": data.decode("utf-8", "replace")})


_P = r"mltrack/api/"
JOB_ROUTES = [
    (_P + r"jobs", JobsHandler),
    (_P + r"jobs/" + _NAME, JobHandler),
    (_P + r"jobs/" + _NAME + r"/run", JobRunHandler),
    (_P + r"jobs/" + _NAME + r"/pause", JobPauseHandler),
    (_P + r"jobs/" + _NAME + r"/resume", JobResumeHandler),
    (_P + r"jobs/" + _NAME + r"/executions", JobExecutionsHandler),
    (_P + r"jobs/" + _NAME + r"/log", JobLogHandler),
]
