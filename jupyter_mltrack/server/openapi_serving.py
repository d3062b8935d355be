"""The OpenAPI description of the deployment routes (server/serving.py), merged into the document by
server/openapi.py, whose helpers it is handed. The services' front door (``mltrack/serve/{name}/…``) is the
service's API, outside ``mltrack/api/``: docs/rest-api.md ("Deployments") describes it."""

from __future__ import annotations

from typing import Any, Callable

_S = {"type": "string"}
_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
         "description": "1-100 letters, digits, '_', '-' or '.', starting with a letter or digit; unique in the store"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}
_REF = {"type": "string", "minLength": 1, "maxLength": 260,
        "description": "a model reference: name@alias (house@champion), name@version (house@3) or name (newest)"}
_MODELS = {"type": "object", "minProperties": 1, "maxProperties": 20,
           "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1e9},
           "description": "model reference → weight"}

SCHEMAS: dict[str, Any] = {
    "Deployment": {"type": "object", "description": "a model service run by the server (a process of its own)",
                   "properties": {
        "name": _S, "project": _S, "kind": {"type": "string", "enum": ["model", "ab_test"]}, "models": _MODELS,
        "strategy": _STR_OR_NULL, "options": {"type": "object"},
        "status": {"type": "string", "enum": ["running", "stopped", "failed"]},
        "port": _INT_OR_NULL, "pid": _INT_OR_NULL, "host": _S,
        "url": {"type": "string", "description": "this server's path of the service: {base_url}mltrack/serve/{name}"},
        "service_url": {"type": ["string", "null"], "description": "the service's loopback address while it runs"},
        "model": {"type": ["string", "null"], "description": "the model served (kind model)"},
        "version": {"type": ["integer", "null"], "description": "the model version served (kind model)"},
        "run_id": {"type": ["string", "null"], "description": "the tracked run of an A/B test"},
        "error": {"type": "string", "description": "why it failed or stopped"}, "user": _S,
        "created_at": {"type": "number"}, "started_at": _NUM_OR_NULL, "stopped_at": _NUM_OR_NULL,
        "spec": {"type": "object"}}},
}

_DEPLOY = {"type": "object", "required": ["name", "project"], "additionalProperties": False, "properties": {
    "name": _NAME, "project": {"type": "string", "minLength": 1, "maxLength": 250},
    "model": _REF, "kind": {"type": "string", "enum": ["model", "ab_test"]}, "models": _MODELS,
    "strategy": {"type": "string", "minLength": 1, "maxLength": 250}, "options": {"type": "object"},
    "poll_interval": {"type": "number", "minimum": 0, "maximum": 86400,
                      "description": "seconds between looks at the store for a moved alias (default 2)"}}}


def paths(q: Callable, p: Callable, json_: Callable, ref: Callable, errors: dict) -> dict:
    name = p("name", "deployment name", _NAME)
    project = q("project", "project name (the deployment must be in it)")
    one = {"200": json_(ref("Deployment")), **errors}
    out: dict[str, Any] = {
        "/mltrack/api/deployments": {
            "get": {"summary": "Deployments (of one project) with their status, port and the version they serve",
                    "parameters": [q("project", "project id or name")],
                    "responses": {"200": json_({"type": "object", "properties": {
                        "deployments": {"type": "array", "items": ref("Deployment")}}}), **errors}},
            "post": {"summary": "Deploy a model (kind model: 'model') or an A/B test (kind ab_test: 'models', "
                                "'strategy', 'options') as a service in a process of its own; answers once it "
                                "serves (or failed, with its error)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _DEPLOY}}},
                     "responses": {"201": json_(ref("Deployment")),
                                   "409": json_(ref("Error"), "The name is taken"), **errors}}},
        "/mltrack/api/deployments/{name}": {
            "get": {"summary": "One deployment", "parameters": [name, project], "responses": one},
            "delete": {"summary": "Stop the deployment if it runs and forget it", "parameters": [name, project],
                       "responses": {"204": {"description": "deleted"}, **errors}}},
    }
    for action, summary in (("stop", "Stop the deployment's process (requests in flight finish)"),
                            ("start", "Start a stopped or failed deployment again"),
                            ("restart", "Stop, then start the deployment (it loads the version its alias names)")):
        out["/mltrack/api/deployments/{name}/" + action] = {"post": {
            "summary": summary, "parameters": [name, project], "responses": one}}
    return out
