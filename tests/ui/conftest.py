"""A real JupyterLab (subprocess) on a fresh store, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "ui" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, root: Path, store: Path, port: int, token: str, proc: subprocess.Popen, log: Path):
        self.root, self.store_dir, self.port, self.token, self.proc, self.log = root, store, port, token, proc, log
        self.url = f"http://127.0.0.1:{port}/"

    def api(self, path: str, **kw):
        r = requests.get(self.url + path, headers={"Authorization": f"token {self.token}"}, timeout=10, **kw)
        r.raise_for_status()
        return r.json()

    def store(self):
        from jupyter_mltrack.core.store import Store

        return Store(self.store_dir)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = launch_lab(tmp_path_factory.mktemp("lab"))
    yield lab
    stop_lab(lab)


def launch_lab(base: Path, args: tuple[str, ...] = ()) -> Lab:
    """JupyterLab on a fresh store under ``base``, with more command-line options ``args`` (team mode's, say)."""
    if shutil.which("jupyter-lab") is None and not (Path(sys.executable).parent / "jupyter-lab").exists():
        pytest.fail("jupyter-lab is not installed")
    root = base / "root"
    root.mkdir()
    store = base / "store"
    home = base / "home"
    home.mkdir()
    port = _free_port()
    token = "uitesttoken"
    env = dict(os.environ)
    env.update(MLTRACK_URI=str(store), MLTRACK_HOME=str(home), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("JPY_SESSION_NAME", None)
    log = base / "lab.log"
    cmd = [
        str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True",
        "--ServerApp.allow_unauthenticated_access=False",
        '--ServerApp.jpserver_extensions={"jupyter_mltrack": True}', *args,
    ]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(root, store, port, token, proc, log)
    deadline = time.time() + 60
    while True:
        try:
            lab.api("mltrack/api/status")
            break
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + log.read_text()[-4000:])
            time.sleep(0.3)
    return lab


def stop_lab(lab: Lab) -> None:
    os.killpg(lab.proc.pid, signal.SIGTERM)
    try:
        lab.proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(lab.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium); make test installs it")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def new_page(browser, lab, name: str, clipboard: bool = False):
    """A fresh browser context and page for ``lab`` (with clipboard access when asked); a screenshot named ``name``
    is kept when it closes."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    if clipboard:
        ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url.rstrip("/"))
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(SHOTS / f"{name}.png"))
        except Exception:
            pass
        ctx.close()


@pytest.fixture
def page(browser, lab, request):
    with new_page(browser, lab, request.node.name) as p:
        yield p


def wait_until(predicate, timeout: float = 60.0, what: str = "condition", every: float = 0.3):
    """Poll ``predicate`` until it returns a true value (returned), or fail after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def open_sidebar(page):
    """Open the mltrack sidebar panel of an open JupyterLab page."""
    page.click('.jp-SideBar li[data-id="mltrack-sidebar"]')
    page.wait_for_selector("#mltrack-sidebar", state="visible")


def open_lab(page, lab, path: str = ""):
    # ?reset: start from an empty workspace (JupyterLab restores the previous test's tabs otherwise)
    page.goto(f"{lab.url}lab/tree/{path}?reset&token={lab.token}" if path else f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined", timeout=60_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    # until the layout is restored, JupyterLab may still replace what a click opens (a loaded machine showed it: the
    # lineage graph opened from the sidebar's run detail never appeared)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    if path:
        page.wait_for_function(
            "(p) => { const w = window.jupyterapp.shell.currentWidget; return w && w.context && w.context.path === p; }",
            arg=path, timeout=60_000)
        if path.endswith(".ipynb"):
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget; return w.content && w.content.widgets"
                " && w.content.widgets.length > 0 && w.context.isReady; }", timeout=60_000)


def run_all_cells(page):
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """Browser tests run their own JupyterLab; pytest-jupyter's per-test server cleanup (which closes the current
    event loop — Playwright's, here) must not run."""
    yield


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """A private loop: pytest-jupyter's would take (and close) the thread's current loop, Playwright's."""
    import asyncio

    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
