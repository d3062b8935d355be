import pytest
from traitlets.config import Config


@pytest.fixture
def jp_server_config(store_dir):
    return Config({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mltrack": True},
            "allow_unauthenticated_access": False,
        },
        "MLTrackApp": {"store_uri": str(store_dir)},
    })


@pytest.fixture
def server_store(jp_serverapp):
    """The store the running extension uses."""
    return jp_serverapp.web_app.settings["mltrack_store"]
