import pytest


@pytest.fixture
def server_store(jp_serverapp):
    """The store the running extension uses."""
    return jp_serverapp.web_app.settings["mltrack_store"]
