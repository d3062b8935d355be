"""REST handler of a run's figures and images (``core/figures.py``): ``GET runs/{run_id}/figures``.

The bytes of each rendering are fetched through the artifact route (``artifacts/{id}/files/{path}``, the ``url``
of each file), which streams them with their media type; in team mode both need the viewer role in the run's
project.
"""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from .base import BaseHandler


class FiguresHandler(BaseHandler):
    """``GET runs/{run_id}/figures``: the run's figures by name and context, each with its steps and files."""

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send({"figures": await self.call(self.store.list_figures, run_id, self.actor)})


FIGURE_ROUTES = [(r"mltrack/api/runs/(?P<run_id>[A-Za-z0-9_-]{1,32})/figures", FiguresHandler)]
