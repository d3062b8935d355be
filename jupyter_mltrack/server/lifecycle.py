"""REST handlers of the model lifecycle: the registry (register, resolve, aliases, stages), datasets (list,
resolve, diff) and lineage.

As thin as the others: parse, call the store on a worker thread with the caller's actor, answer JSON. Writes are
batches (``aliases``, ``stages``, ``models`` sections) on the store's write thread; the rules — which version an
alias may name, who may move it (a contributor of the project), cycles — live in the core (``core/registry.py``,
``core/datasets.py``, ``core/lineage.py``, ``core/access.py``).
"""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..core.errors import InvalidInput
from ..core.validation import LINEAGE_DIRECTIONS, MAX_LINEAGE_DEPTH
from .base import ApiError, BaseHandler


class ModelsHandler(BaseHandler):
    """``GET models?project=&name=``: registered versions, newest first; ``POST models``: register one."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"models": await self.call(self.store.list_models, self.str_arg("project"), self.actor,
                                             self.str_arg("name"))})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_object('{"project": "...", "name": "...", "artifact_id": 1, "stage": "", "description": ""}')
        store, actor = self.store, self.actor

        def work():  # validated as a batch's models item: one set of rules
            v = store.write_batch({"models": [body]}, actor)["registered"][0]
            return v.get("existing", False), store.resolve_model(f"{v['name']}@{v['version']}", v["project"], actor)

        existing, version = await self.call(work, write=True)
        self.send(version, 200 if existing else 201)


class ModelResolveHandler(BaseHandler):
    """``GET models/resolve?ref=house@champion&project=``: the version a reference names."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        ref = self.str_arg("ref")
        if ref is None:
            raise ApiError(InvalidInput("query parameter 'ref' (name, name@alias or name@version) is required"))
        self.send(await self.call(self.store.resolve_model, ref, self.str_arg("project"), self.actor))


class AliasesHandler(BaseHandler):
    """``PUT aliases`` points an alias of a model or dataset at a version; ``DELETE
    aliases?project=&name=&alias=&kind=model|dataset`` removes it."""

    @tornado.web.authenticated
    @authorized
    async def put(self):
        body = self.json_object('{"project": "...", "model": "...", "alias": "champion", "version": 3}')
        if body.get("version") is None:
            raise ApiError(InvalidInput("field 'version' is required (DELETE aliases removes an alias)"))
        await self._write(body)

    @tornado.web.authenticated
    @authorized
    async def delete(self):
        project, name, alias = self.str_arg("project"), self.str_arg("name"), self.str_arg("alias")
        kind = self.str_arg("kind") or "model"
        if project is None or name is None or alias is None:
            raise ApiError(InvalidInput("query parameters 'project', 'name' (the model or dataset) and 'alias' are "
                                        "required"))
        if kind not in ("model", "dataset"):
            raise ApiError(InvalidInput(f"query parameter 'kind' must be 'model' or 'dataset', not {kind!r:.40}"))
        item = {"project": project, kind: name, "alias": alias, "version": None}
        await self.call(self.store.write_batch, {"aliases": [item]}, self.actor, write=True)
        self.set_status(204)
        self.finish()

    async def _write(self, item: dict) -> None:
        store, actor = self.store, self.actor

        def work():  # validated as a batch's aliases item
            store.write_batch({"aliases": [item]}, actor)
            if "model" in item:
                return store.resolve_model(f"{item['model']}@{item['alias']}", item["project"], actor)
            return store.resolve_dataset(item["dataset"], alias=item["alias"], project=item["project"], actor=actor)

        self.send(await self.call(work, write=True))


class StagesHandler(BaseHandler):
    """``PUT stages``: set a model version's stage."""

    @tornado.web.authenticated
    @authorized
    async def put(self):
        body = self.json_object('{"project": "...", "model": "...", "version": 3, "stage": "production"}')
        store, actor = self.store, self.actor

        def work():  # validated as a batch's stages item
            store.write_batch({"stages": [body]}, actor)
            return store.resolve_model(f"{body['model']}@{body['version']}", body["project"], actor)

        self.send(await self.call(work, write=True))


class DatasetsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"datasets": await self.call(self.store.list_datasets, self.str_arg("project"),
                                               self.str_arg("name"), self.actor)})


class DatasetResolveHandler(BaseHandler):
    """``GET datasets/resolve?name=&version=|alias=&project=``: one version (the newest by default)."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        name = self.str_arg("name")
        if name is None:
            raise ApiError(InvalidInput("query parameter 'name' (the dataset) is required"))
        version = self.int_arg("version", None, 1)
        self.send(await self.call(self.store.resolve_dataset, name, version, self.str_arg("alias"),
                                  self.str_arg("project"), self.actor))


class DatasetDiffHandler(BaseHandler):
    """``GET datasets/diff?name=&a=&b=&project=``: what differs between two versions (numbers or aliases)."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        name, a, b = self.str_arg("name"), self.str_arg("a"), self.str_arg("b")
        if name is None or a is None or b is None:
            raise ApiError(InvalidInput("query parameters 'name', 'a' and 'b' (versions or aliases) are required"))
        va, vb = (int(v) if v.isdigit() else v for v in (a, b))
        self.send(await self.call(self.store.diff_datasets, name, va, vb, self.str_arg("project"), True,
                                  self.actor))


class LineageHandler(BaseHandler):
    """``GET runs/{run_id}/lineage?direction=up|down&depth=``: the runs, artifacts, datasets and models upstream or
    downstream of a run."""

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str):
        direction = self.str_arg("direction") or "up"
        if direction not in LINEAGE_DIRECTIONS:
            raise ApiError(InvalidInput(f"query parameter 'direction' must be 'up' or 'down', not {direction!r:.40}"))
        depth = self.int_arg("depth", None, 0, MAX_LINEAGE_DEPTH)
        self.send(await self.call(self.store.lineage, run_id, direction, depth, actor=self.actor))


_P = r"mltrack/api/"
LIFECYCLE_ROUTES = [
    (_P + r"models", ModelsHandler),
    (_P + r"models/resolve", ModelResolveHandler),
    (_P + r"aliases", AliasesHandler),
    (_P + r"stages", StagesHandler),
    (_P + r"datasets", DatasetsHandler),
    (_P + r"datasets/resolve", DatasetResolveHandler),
    (_P + r"datasets/diff", DatasetDiffHandler),
    (_P + r"runs/(?P<run_id>[A-Za-z0-9_-]{1,32})/lineage", LineageHandler),
]
