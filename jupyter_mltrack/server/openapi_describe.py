"""The OpenAPI description of campaigns (server/describe.py) and of a run's inline edit (``PATCH runs/{run_id}``),
merged into the document by server/openapi.py, whose helpers and name/text schemas it is handed."""

from __future__ import annotations

from typing import Any, Callable

SCHEMAS: dict[str, Any] = {
    "Campaign": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "description": {"type": "string"},
        "project": {"type": ["string", "null"], "description": "the project it was created in"},
        "created_at": {"type": "number"},
        "run_count": {"type": "integer", "description": "its runs (listed for a project: that project's runs)"}}},
}


def paths(q: Callable, p: Callable, json_: Callable, ref: Callable, errors: dict, key: dict, text: dict,
          run_id: dict) -> dict:
    edit = {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
        "description": text, "name": {"type": "string", "maxLength": 250},
        "tags": {"type": "object", "description": "key → value: a string of at most 5000 characters (other JSON "
                                                  "is stored as its JSON text, as the batch's tags); null deletes "
                                                  "the tag",
                 "propertyNames": key, "additionalProperties": {"maxLength": 5000}}}}
    return {
        "/mltrack/api/campaigns": {
            "get": {"summary": "Campaigns (of one project: created in it or holding its runs), by name",
                    "parameters": [q("project", "project id or name")],
                    "responses": {"200": json_({"type": "object", "properties": {
                        "campaigns": {"type": "array", "items": ref("Campaign")}}}), **errors}},
            "post": {"summary": "Create a campaign in a project (or return the existing one); a description given "
                                "replaces its own (team mode: contributor)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["project", "name"], "additionalProperties": False,
                         "properties": {"project": key, "name": key, "description": text}}}}},
                     "responses": {"201": json_(ref("Campaign")),
                                   "409": json_(ref("Error"), "The campaign belongs to another project"), **errors}}},
        "/mltrack/api/runs/{run_id}": {"patch": {
            "summary": "Change a run's description, name and tags in one batch (team mode: contributor)",
            "parameters": [p("run_id", "run id", run_id)],
            "requestBody": {"required": True, "content": {"application/json": {"schema": edit}}},
            "responses": {"200": json_(ref("Run")), **errors}}},
    }
