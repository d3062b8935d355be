"""The OpenAPI description of a run's figures (server/figures.py), merged into the document by server/openapi.py,
whose helpers it is handed (path parameters, JSON answers, references, the error answers)."""

from __future__ import annotations

from typing import Any, Callable

from ..core.validation import FIGURE_KINDS

_S = {"type": "string"}
KIND = {"type": "string", "enum": list(FIGURE_KINDS)}

SCHEMAS: dict[str, Any] = {
    "FigureFile": {"type": "object", "required": ["path", "media_type", "size", "url"], "properties": {
        "path": _S, "media_type": _S, "size": {"type": "integer"},
        "url": {"type": "string", "description": "relative to mltrack/api/: artifacts/{artifact_id}/files/{path}"}}},
    "FigureStep": {"type": "object", "required": ["step", "artifact_id", "created_at", "files"], "properties": {
        "step": {"type": ["integer", "null"], "description": "null: a figure logged without a step"},
        "artifact_id": {"type": "integer"}, "created_at": {"type": "number"},
        "files": {"type": "array", "items": {"$ref": "#/components/schemas/FigureFile"}}}},
    "Figure": {"type": "object", "required": ["name", "kind", "context", "key", "steps"],
               "description": "a figure or image of a run: one name in one context, with its steps", "properties": {
        "name": _S, "kind": KIND, "context": {"type": "object", "additionalProperties": _S},
        "key": {"type": "string", "description": "name[k=v,…] as for metric series"},
        "steps": {"type": "array", "items": {"$ref": "#/components/schemas/FigureStep"}}}},
}


def paths(p: Callable, json_: Callable, ref: Callable, errors: dict, run_id_schema: dict) -> dict:
    return {
        "/mltrack/api/runs/{run_id}/figures": {"get": {
            "summary": "A run's figures and images (matplotlib, plotly, images, confusion matrices) with their steps; "
                       "the files' bytes come from artifacts/{artifact_id}/files/{path}",
            "parameters": [p("run_id", "run id", run_id_schema)],
            "responses": {"200": json_({"type": "object", "required": ["figures"], "properties": {
                "figures": {"type": "array", "items": ref("Figure")}}}), **errors}}},
    }
