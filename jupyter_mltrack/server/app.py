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
        )

    def initialize_handlers(self) -> None:
        from .handlers import ROUTES, STATIC_ROUTES

        self.handlers.extend(ROUTES + STATIC_ROUTES)

    async def stop_extension(self) -> None:
        pool = self.settings.get("mltrack_read_pool")
        if pool is not None:
            pool.shutdown(wait=False)
        store = self.settings.get("mltrack_store")
        if store is not None:
            store.close()


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without an /etc/passwd entry)
        return "jupyter"
