from pathlib import Path

import pytest

from jupyter_mltrack.core.store import Store

from .._server import JupyterServer


@pytest.fixture
def server_store(jp_serverapp):
    """The store the running extension uses."""
    return jp_serverapp.web_app.settings["mltrack_store"]


@pytest.fixture(scope="module")
def module_store(tmp_path_factory, request):
    """One store for a whole test module (in ``<tmp>/store``), for modules whose tests each use runs of their own."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    (folder / "store").mkdir()
    store = Store(folder / "store")
    yield store
    store.close()


@pytest.fixture(scope="module")
def module_server(module_store):
    """A real Jupyter server with the extension on :func:`module_store`, started on first use."""
    folder = Path(module_store.location.path).parent  # the store's folder
    with JupyterServer(folder.parent, str(folder)) as server:
        yield server
