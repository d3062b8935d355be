"""Deployments from the kernel: ``mlt.deploy("house@champion", name="house-api")``, ``mlt.deployments()``,
``mlt.undeploy("house-api")``.

- **Remote store** (``http(s)://server/``): the server extension deploys (``POST mltrack/api/deployments``); the
  service's process is the server's, and ``url`` is the server's authenticated path
  ``{base_url}mltrack/serve/{name}`` (``POST …/predict``).
- **Embedded store** (a path or a database URL): the kernel starts the service process itself — the same process
  manager as the server's (``jupyter_mltrack/serving/manager.py``) — and records it in the store, so a Jupyter server
  on that store lists, proxies, stops and adopts it too. The process runs in a session of its own: it outlives the
  kernel until ``mlt.undeploy`` (or a stop from the server). ``url`` is then the service's own loopback address.
"""

from __future__ import annotations

from typing import Any

from ..core.validation import check_deployment_name, parse_ref
from .tracking import get_client


_managers: dict[int, Any] = {}  # one process manager per store of this process: it keeps the processes it started


def local_manager(backend: Any):
    """The process manager of an embedded store's deployments in this process (one per store)."""
    from ..serving.manager import ProcessManager

    m = _managers.get(id(backend.store))
    if m is None or m.store is not backend.store:
        m = _managers[id(backend.store)] = ProcessManager(backend.store)
    return m


def with_url(d: dict, manager) -> dict:
    """A deployment as the Python API answers it: with the URL its service answers at."""
    url = manager.url(d)
    return {**d, "url": url, "service_url": url}


def deploy(model: str, name: str | None = None, project: str | None = None, poll_interval: float | None = None
           ) -> dict:
    """Serve the model ``model`` (``"house@champion"``, ``"house@3"``, ``"house"``) as the deployment ``name``
    (default: the model's name) of ``project`` (default: the one project holding that model name): a process of its
    own answering ``POST …/predict``. Returns the deployment (``status``, ``url``, ``version``…), once it serves —
    or with status ``failed`` and its ``error``."""
    client = get_client()
    client.writer.flush()
    backend = client.backend
    model_name, _, _ = parse_ref("model", model)
    name = name or model_name
    if project is None:
        project = backend.resolve_model(model)["project"]
    if backend.kind != "local":
        body: dict[str, Any] = {"name": name, "project": project, "model": model}
        if poll_interval is not None:
            body["poll_interval"] = poll_interval
        return backend.call("POST", "deployments", json=body)
    from ..serving.spec import ServiceSpec

    kw = {} if poll_interval is None else {"poll_interval": poll_interval}
    manager = local_manager(backend)
    return with_url(manager.deploy(ServiceSpec.for_model(model, name, project, **kw)), manager)


def deployments(project: str | None = None) -> list[dict]:
    """The deployments (of ``project``) with their status, port and the version they serve."""
    backend = get_client().backend
    if backend.kind != "local":
        from urllib.parse import urlencode

        q = "?" + urlencode({"project": project}) if project is not None else ""
        return backend.call("GET", "deployments" + q)["deployments"]
    manager = local_manager(backend)
    return [with_url(d, manager) for d in manager.list(project)]


def get_deployment(name: str) -> dict:
    """One deployment."""
    check_deployment_name("name", name)
    backend = get_client().backend
    if backend.kind != "local":
        return backend.call("GET", f"deployments/{name}")
    manager = local_manager(backend)
    return with_url(manager.get(name), manager)


def undeploy(name: str) -> None:
    """Stop the deployment ``name``'s process (requests in flight finish) and forget the deployment."""
    check_deployment_name("name", name)
    backend = get_client().backend
    if backend.kind != "local":
        backend.call("DELETE", f"deployments/{name}")
        return
    local_manager(backend).delete(name)
