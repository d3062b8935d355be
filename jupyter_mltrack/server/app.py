"""The extension application: configuration, the store, the executors, the routes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Int, Unicode


class MLTrackApp(ExtensionApp):
    """Serves ``{base_url}mltrack/api/…`` over one store.

    Configure with ``c.MLTrackApp.store_uri = "…"`` (default: ``MLTRACK_URI`` or ``~/.mltrack/mltrack.db``);
    ``c.MLTrackApp.access_control = True`` for team mode."""

    name = "jupyter_mltrack"
    load_other_extensions = True

    store_uri = Unicode(
        "", config=True, help="Where the store lives: a path, a SQLAlchemy URL; empty = MLTRACK_URI or the default."
    )
    read_threads = Int(4, config=True, help="Threads serving database reads (writes always use one thread).")
    access_control = Bool(
        False, config=True, help="Team mode: users, API keys and project members with the roles owner, contributor "
        "and viewer, checked on every route and every row. Off: single-user, everything is the Jupyter user's.")
    token_user = Unicode(
        "", config=True, help="Team mode: the user that requests authenticated by this server's own token or password "
        "act as (JupyterHub users arrive with their own names); empty = the user running the server.")
    jobs_scheduler = Bool(
        True, config=True, help="Run the job scheduler in this server: cron ticks fire, queued jobs run (one server "
        "of those sharing a store leads, through a lease in the store).")
    jobs_executor = Unicode(
        "local", config=True, help="Where jobs run: 'local' (subprocesses of this server) or 'dask' (the Dask "
        "cluster at jobs_dask_address; its workers open the same store).")
    kernels_write_through = Bool(
        True, config=True, help="Kernels, terminals and jobs this server starts write through it when they would "
        "open its store (the store's work then stays out of their interpreter); False: they open it themselves.")
    jobs_dask_address = Unicode("", config=True, help="The Dask scheduler's address, e.g. tcp://127.0.0.1:8786.")
    jobs_max_concurrent = Int(4, config=True, help="Job executions this server runs at once (each job also has its "
                              "own max_concurrent).")
    jobs_missed = Unicode(
        "run_once", config=True, help="Scheduled runs missed while no server ran: 'run_once' (the latest missed "
        "time runs once, on start) or 'skip'.")

    def initialize_settings(self) -> None:
        from ..core.store import Store

        self.store = Store(self.store_uri or None)
        if self.access_control and not self.store.blobs.location:
            self.store.close()
            raise RuntimeError(  # refuse to start half-working: every artifact would be refused
                f"jupyter_mltrack: team mode on {self.store!r} needs a shared artifact location: set "
                "MLTRACK_ARTIFACTS=s3://bucket/prefix (or a folder every server of the team shares)")
        self.log.info("jupyter_mltrack: store %r%s", self.store,
                      " — team mode (access control on)" if self.access_control else "")
        self.settings.update(
            mltrack_store=self.store,
            mltrack_access_control=self.access_control,
            mltrack_token_user=self.token_user or _login_name(),
            mltrack_read_pool=ThreadPoolExecutor(self.read_threads, thread_name_prefix="mltrack-read"),
            # the store's one write thread: every write request runs there (core/db.py)
            mltrack_write_pool=self.store.write_executor,
            mltrack_scheduler=self._start_scheduler() if self.jobs_scheduler else None,
        )
        self._start_deployments()
        if self.kernels_write_through:
            from .children import tell_children

            self._untell_children = tell_children(self.serverapp, self.store)

    def _start_scheduler(self):
        from ..jobs.executors import make_executor
        from ..jobs.scheduler import Scheduler

        executor = make_executor(self.jobs_executor, self.store, self.jobs_max_concurrent, self.jobs_dask_address)
        self.log.info("jupyter_mltrack: job scheduler on (%s executor, missed runs: %s)", self.jobs_executor,
                      self.jobs_missed)
        return Scheduler(self.store, executor, limit=self.jobs_max_concurrent, missed=self.jobs_missed).start()

    def _start_deployments(self) -> None:
        """The deployments' process manager; the services recorded running are adopted when their process still
        answers, else recorded stopped (``serving/manager.py``)."""
        from ..serving.manager import ProcessManager
        from .serving import make_client

        manager = ProcessManager(self.store)
        adopted, stopped = manager.adopt()
        if adopted or stopped:
            self.log.info("jupyter_mltrack: deployments adopted: %s; recorded stopped: %s",
                          ", ".join(adopted) or "none", ", ".join(stopped) or "none")
        self.settings.update(
            mltrack_deployments=manager,
            # starting a service waits for its /health: never on the store's read or write threads
            mltrack_serving_pool=ThreadPoolExecutor(8, thread_name_prefix="mltrack-serving"),
            mltrack_serve_client=make_client(),
        )

    def initialize_handlers(self) -> None:
        from .handlers import ROUTES, STATIC_ROUTES
        from .serving import SERVE_ROUTES

        self.handlers.extend(ROUTES + STATIC_ROUTES + SERVE_ROUTES)

    _untell_children = None

    async def stop_extension(self) -> None:
        if self._untell_children is not None:
            self._untell_children()
        scheduler = self.settings.get("mltrack_scheduler")
        if scheduler is not None:  # its running jobs are terminated and end killed
            import asyncio

            await asyncio.get_running_loop().run_in_executor(None, scheduler.stop)
        pool = self.settings.get("mltrack_read_pool")
        if pool is not None:
            pool.shutdown(wait=False)
        # the deployments' processes keep serving: a server started again adopts them
        serving_pool = self.settings.get("mltrack_serving_pool")
        if serving_pool is not None:
            serving_pool.shutdown(wait=False)
        client = self.settings.get("mltrack_serve_client")
        if client is not None:
            client.close()
        store = self.settings.get("mltrack_store")
        if store is not None:
            store.close()


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without an /etc/passwd entry)
        return "jupyter"
