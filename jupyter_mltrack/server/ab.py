"""REST of A/B tests beyond deploying them (``POST deployments`` with kind ``ab_test``, server/serving.py):
``POST mltrack/api/deployments/{name}/promote?project=`` ``{"model": "house@challenger", "alias": "champion"}``
moves the alias to the winner's version and stops the test (``serving/ab_control.py``: the same function as the
embedded ``mlt.promote``). Contributor of the test's project needed (team mode), checked by the core."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..core.errors import MLTrackError
from .base import ApiError
from .serving import DeploymentsBase

_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})"


class PromoteHandler(DeploymentsBase):
    """``POST deployments/{name}/promote``: ``{"model": …, "alias": "champion"}`` → the promotion."""

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str):
        from ..serving.ab_control import check_promote, promote

        try:
            model, alias = check_promote(self.json_body())
        except MLTrackError as e:
            raise ApiError(e) from None
        await self.named(name, self.str_arg("project"))
        done = await self.manage(promote, self.manager, name, model, alias, self.actor)
        self.settings.get("mltrack_serve_routes", {}).clear()
        self.send({**done, "deployment": self.described(done["deployment"])})


AB_ROUTES = [
    (r"mltrack/api/deployments/" + _NAME + r"/promote", PromoteHandler),
]
