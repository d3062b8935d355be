"""A kernel started by a Jupyter server running the extension writes through that server when it would open the
server's store: the kernel never imports the database layer, what it logs is in the store, and a kernel that asks
for another store (or opts out) opens that store itself."""

from __future__ import annotations

import json
import time

import pytest
import requests

from .._server import JupyterServer

jupyter_client = pytest.importorskip("jupyter_client")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("write-through")
    (folder / "store").mkdir()
    with JupyterServer(folder, str(folder / "store")) as s:
        yield s


@pytest.fixture
def kernel(server):
    """A kernel started by the server (``POST /api/kernels``), driven through its connection file."""
    r = requests.post(server.url + "api/kernels", json={"name": "python3"}, headers=server.headers, timeout=60)
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    conn = server.folder / "home" / "runtime" / f"kernel-{kid}.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the connection file, once complete
        try:
            if json.loads(conn.read_text()).get("shell_port"):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    client = jupyter_client.BlockingKernelClient()
    client.load_connection_file(str(conn))
    client.start_channels(hb=False)  # no heartbeat: its first beat may come after the first kernel_info wait
    client.wait_for_ready(timeout=120)

    def run(code: str) -> str:
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else
            "ERROR " + m["content"]["ename"] + ": " + m["content"]["evalue"] if m["msg_type"] == "error" else ""))
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)

    yield run
    client.stop_channels()
    requests.delete(server.url + f"api/kernels/{kid}", headers=server.headers, timeout=60)


def test_a_kernel_of_the_server_writes_through_it_without_the_database_layer(server, kernel):
    out = kernel(
        "import json, sys, jupyter_mltrack as mlt\n"
        "with mlt.start_run('through', project='WT') as r:\n"
        "    r.log_param('lr', 0.1)\n"
        "    r.log_metric('loss', 0.5, step=1)\n"
        "mlt.flush()\n"
        "print(json.dumps({'uri': mlt.get_tracking_uri(), 'run': r.id, 'sqlalchemy': 'sqlalchemy' in sys.modules,"
        " 'requests': 'requests' in sys.modules,"
        " 'store': [m for m in sys.modules if m.startswith('jupyter_mltrack.core.') and m not in ("
        "'jupyter_mltrack.core.errors', 'jupyter_mltrack.core.wire', 'jupyter_mltrack.core.sections',"
        " 'jupyter_mltrack.core.validation', 'jupyter_mltrack.core.location')]}))\n")
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["uri"] == server.url and seen["sqlalchemy"] is False and seen["store"] == []
    assert seen["requests"] is False  # the standard library's http.client sends (client/http.py): ~5 ms, not ~130
    run = requests.get(server.api + f"runs/{seen['run']}", headers=server.headers, timeout=30).json()
    assert (run["name"], run["project"], run["status"], run["params"]) == ("through", "WT", "finished", {"lr": 0.1})
    assert [m["name"] for m in run["metrics"]] == ["loss"]
    assert any(a["name"] == "environment" for a in run["artifacts"])  # defaults on, through the server too


def test_a_kernel_asking_for_another_store_or_opting_out_opens_it_itself(server, kernel, tmp_path):
    out = kernel(
        "import os, jupyter_mltrack as mlt\n"
        "from jupyter_mltrack.client.tracking import get_client\n"
        f"mlt.set_tracking_uri({str(tmp_path / 'other')!r})\n"
        "print(type(get_client().backend).__name__)\n"
        "mlt.set_tracking_uri(None)\n"
        "print(type(get_client().backend).__name__)\n"
        "os.environ['MLTRACK_WRITE_THROUGH_SERVER'] = '0'\n"
        "mlt.set_tracking_uri(None)\n"
        "print(type(get_client().backend).__name__, get_client().backend.store.location.path)\n")
    lines = out.strip().splitlines()
    assert lines[0] == "LocalBackend" and lines[1] == "HttpBackend"
    assert lines[2] == f"LocalBackend {server.folder / 'store' / 'mltrack.db'}"
