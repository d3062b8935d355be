"""REST handlers of campaigns: ``GET campaigns?project=`` lists them, ``POST campaigns`` creates or describes one.

As thin as the others: the body is a batch's ``campaigns`` item (``core/batch.py`` checks it and names the field;
``core/access.py`` requires the contributor role in the campaign's project), written on the store's write thread.
A project's or an experiment's description is set the same way through ``POST projects`` and ``POST
experiments``, a run's (with its name and tags) through ``PATCH runs/{run_id}`` (``server/handlers.py``).
"""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from .base import BaseHandler


class CampaignsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self):
        self.send({"campaigns": await self.call(self.store.list_campaigns, self.str_arg("project"), self.actor)})

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_object('{"project": "...", "name": "...", "description": "..."}')
        store, actor = self.store, self.actor

        def work():  # validated as a batch's campaigns item: one set of rules
            store.write_batch({"campaigns": [body]}, actor)
            return store.campaign_named(body["name"], actor)

        self.send(await self.call(work, write=True), 201)


DESCRIBE_ROUTES = [(r"mltrack/api/campaigns", CampaignsHandler)]
