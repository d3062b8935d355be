"""The OpenAPI description of the A/B test routes (server/ab.py), merged into the document by server/openapi.py,
whose helpers it is handed."""

from __future__ import annotations

from typing import Any, Callable

_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", "description": "the A/B test's name"}

SCHEMAS: dict[str, Any] = {
    "Promotion": {"type": "object", "description": "an A/B test ended with a winner", "properties": {
        "deployment": {"$ref": "#/components/schemas/Deployment"},
        "model": {"type": "string", "description": "the reference promoted, as the test named it"},
        "name": {"type": "string", "description": "the model's name"},
        "alias": {"type": "string", "description": "the alias moved"},
        "version": {"type": "integer", "description": "the version the alias now names"},
        "run_id": {"type": ["string", "null"], "description": "the test's tracked run"}}},
}

_PROMOTE = {"type": "object", "required": ["model"], "additionalProperties": False, "properties": {
    "model": {"type": "string", "minLength": 1, "maxLength": 260,
              "description": "one of the test's model references, e.g. house@challenger"},
    "alias": {"type": "string", "minLength": 1, "maxLength": 250,
              "description": "the alias to move to that model's version (default champion); not a number, no '@'"}}}


def paths(q: Callable, p: Callable, json_: Callable, ref: Callable, errors: dict) -> dict:
    return {"/mltrack/api/deployments/{name}/promote": {"post": {
        "summary": "End an A/B test with a winner: move the alias (default champion) of the winner's model to the "
                   "version it names, atomically, then stop the test (its run ends finished, tagged promoted)",
        "parameters": [p("name", "the A/B test's deployment name", _NAME),
                       q("project", "project name (the deployment must be in it)")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _PROMOTE}}},
        "responses": {"200": json_(ref("Promotion")), **errors}}}}
