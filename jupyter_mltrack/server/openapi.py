"""The OpenAPI 3.1 description of every route in handlers.ROUTES (a test keeps the two in step)."""

from __future__ import annotations

from typing import Any

from .openapi_jobs import SCHEMAS as JOB_SCHEMAS
from .openapi_jobs import paths as job_paths
from .openapi_serving import SCHEMAS as SERVING_SCHEMAS
from .openapi_serving import paths as serving_paths
from .openapi_ab import SCHEMAS as AB_SCHEMAS
from .openapi_ab import paths as ab_paths
from .openapi_figures import KIND as _FIGURE_KIND
from .openapi_figures import SCHEMAS as FIGURE_SCHEMAS
from .openapi_figures import paths as figure_paths
from .openapi_describe import SCHEMAS as DESCRIBE_SCHEMAS
from .openapi_describe import paths as describe_paths

_num_or_special = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_nullable_num = {"oneOf": [_num_or_special, {"type": "null"}]}

# the fields of a run in a listing (RunSummary and RunRow differ only in "metrics")
_RUN_FIELDS = {
    "id": {"type": "string"}, "name": {"type": "string"},
    "status": {"type": "string", "enum": ["running", "finished", "failed", "killed", "crashed"]},
    "project_id": {"type": "integer"}, "project": {"type": "string"},
    "experiments": {"type": "array", "items": {"type": "string"}}, "parent_id": {"type": ["string", "null"]},
    "user": {"type": "string"}, "source": {"type": "string"}, "start_time": {"type": "number"},
    "end_time": {"type": ["number", "null"]}, "description": {"type": "string"},
    "params": {"type": "object"}, "tags": {"type": "object", "additionalProperties": {"type": "string"}},
}


_S = {"type": "string"}
_RUN_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}
_RUN_IDS = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}(,[A-Za-z0-9_-]{1,32}){0,999}$"}
# the rules of core/validation.py, so that a client (or a fuzzer) knows what is accepted
_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_DB_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_KEY = {"type": "string", "minLength": 1, "maxLength": 250, "description": "a name: 1-250 characters, not only "
        "whitespace, no control characters", "pattern": r"^[^\x00-\x1f]*[^\x00-\x20\x85\xa0\u1680\u2000-\u200a"
        r"\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f]*$"}
_SHORT = {"type": "string", "maxLength": 250}
_TEXT = {"type": "string", "maxLength": 100_000}
_SECONDS = {"type": "number", "minimum": 0, "exclusiveMaximum": 1e11, "description": "seconds since the epoch"}
_CTX_PAIR = r'"[A-Za-z0-9_.-]{1,100}"[ \t\n\r]*:[ \t\n\r]*"[^"\\,\]=\x00-\x1f]{0,100}"'
_CONTEXT_TEXT = {"type": "string", "maxLength": 500, "description": 'a flat JSON object of strings, e.g. '
                 '{"subset":"val"}; empty: {}', "pattern": r"^[ \t\n\r]*(\{[ \t\n\r]*(%s([ \t\n\r]*,[ \t\n\r]*%s)*)?"
                 r"[ \t\n\r]*\}[ \t\n\r]*)?$" % (_CTX_PAIR, _CTX_PAIR)}
_CONTEXT = {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z0-9_.-]{1,100}$"},
            "additionalProperties": {"anyOf": [{"type": "string", "maxLength": 100, "pattern": r"^[^,\]=\x00-\x1f]*$"},
                                               {"type": "number"}, {"type": "boolean"}]},
            "description": "keys 1-100 letters, digits, '_', '-' or '.'; values strings of at most 100 characters "
                           "without ',', ']' or '=' (numbers and booleans are stored as text); at most 500 "
                           "characters as JSON"}
_NAMES = {"type": "array", "items": _KEY, "maxItems": 100}
_SEGMENT = r"([^/\\\x00-\x1f.][^/\\\x00-\x1f]*|\.[^/\\\x00-\x1f.][^/\\\x00-\x1f]*|\.\.[^/\\\x00-\x1f]+)"
_REL_PATH = {"type": "string", "maxLength": 1000, "pattern": rf"^{_SEGMENT}(/{_SEGMENT})*$",
             "description": "relative, '/'-separated, without '.', '..' or empty parts, backslashes or control "
                            "characters"}
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
_MEDIA_TYPE = {"type": "string", "maxLength": 255, "description": "type/subtype[; parameter=value…]", "pattern":
               rf'^{_TOKEN}/{_TOKEN}([ \t]*;[ \t]*[A-Za-z0-9!#$&^_.+-]+=("[^"\\\x00-\x1f]*"|[A-Za-z0-9!#$&^_.+-]+))*$'}
_MAX_POINTS = {"type": "integer", "minimum": 3, "maximum": 1_000_000}
_STEP = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_STAGE = {"type": "string", "maxLength": 50}
_QUERY_TEXT = r"^[^\x00-\x1f\x7f]*$"  # the handlers refuse control characters in query values
_QUERY_KEY = {"type": "string", "minLength": 1, "maxLength": 250, "allOf": [{"pattern": _QUERY_TEXT}],
              "pattern": _KEY["pattern"], "description": _KEY["description"]}
_QUERY_ALIAS = {**_QUERY_KEY, "allOf": [{"pattern": _QUERY_TEXT}, {"pattern": r"^(?![0-9]+$)[^@]*$"}],
                "description": "a name (not a number, no '@')"}
_ALIAS = {**_KEY, "pattern": r"^(?![0-9]+$)[^@]*$", "description": "a name (not a number, no '@')",
          "allOf": [{"pattern": _KEY["pattern"]}]}


def _obj(required: list[str], **properties: dict) -> dict:
    """A closed object (the batch refuses unknown fields)."""
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _items(item: dict, desc: str | None = None) -> dict:
    return {"type": "array", "items": item, **({"description": desc} if desc else {})}


def _json_value(depth: int) -> dict:
    """Any JSON value (integers of any size), written out ``depth`` levels deep (any JSON below): a recursive $ref
    sends openapi-spec-validator into endless recursion."""
    if depth == 0:
        return {}
    inner = _json_value(depth - 1)
    return {"anyOf": [{"type": ["null", "boolean", "string", "number"]},
                      {"type": "array", "items": inner}, {"type": "object", "additionalProperties": inner}]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, desc: str, schema: dict | None = None, required: bool = False) -> dict:
    # the handlers refuse control characters in a query value and read an empty value as a missing one: a
    # required string also has a character that is not whitespace
    text = (r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$" if required else r"^[^\x00-\x1f\x7f]*$")
    return {"name": name, "in": "query", "required": required, "description": desc,
            "schema": schema or {"type": "string", **({"minLength": 1} if required else {}), "pattern": text}}


def _p(name: str, desc: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": schema or {"type": "string"}}


def _json(schema: dict, desc: str = "OK") -> dict:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _series_answer(schema: dict) -> dict:
    """A series route's answer: JSON by default; with ``Accept: application/msgpack`` the same object as msgpack,
    each series' steps, timestamps and values as raw little-endian arrays (server/series_format.py)."""
    out = _json(schema)
    out["content"]["application/msgpack"] = {"schema": {
        "description": "the JSON answer's object in msgpack, each Series with steps, timestamps and values as "
                       "binary (little-endian int64, float64 seconds, float64: NaN and ±inf as they are) and "
                       "encoding = {steps: '<i8', timestamps: '<f8', values: '<f8'}; chosen by Accept"}}
    return out


_ERRORS = {
    "400": _json(_ref("Error"), "Malformed request"),
    "401": _json(_ref("Error"), "No or wrong credentials"),
    "403": _json(_ref("Error"), "Not authorized, or a cookie-authenticated write without its XSRF token"),
    "414": _json(_ref("Error"), "The query string is too long"),
    "404": _json(_ref("Error"), "Unknown run, project, experiment, artifact or series"),
}

_NOTEBOOK_DIFF = {"type": ["object", "null"], "properties": {  # RunDiff's notebook and history
    "a": {"type": "object"}, "b": {"type": "object"}, "summary": {"type": "object"}, "outputs_changed": {"type": "integer"},
    "cells": {"type": "array", "items": {"type": "object", "properties": {
        "change": {"type": "string", "enum": ["unchanged", "modified", "added", "removed"]}, "a": {"type": ["integer", "null"]},
        "b": {"type": ["integer", "null"]}, "cell_type": {"type": "string"}, "source_a": {"type": ["string", "null"]},
        "source_b": {"type": ["string", "null"]}, "source_diff": {"type": "string"}, "outputs_changed": {"type": "boolean"}}}}}}
SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "enum": ["invalid", "unauthenticated", "not_found", "conflict", "forbidden",
                                                           "method_not_allowed", "too_large", "internal", "error"]},
                       "message": {"type": "string"}, "items": {"type": "array", "items": {"type": "object"}}}}}},
    "Project": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "description": {"type": "string"},
        "created_at": {"type": "number"}, "run_count": {"type": "integer"}, "experiment_count": {"type": "integer"},
        "role": {"type": "string", "enum": ["owner", "contributor", "viewer"],
                 "description": "team mode: the caller's role in the project"}}},
    "User": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
        "is_admin": {"type": "boolean"}, "created_at": {"type": "number"}}},
    "ApiKey": {"type": "object", "description": "an API key (never its secret, except in the answer that created it)",
               "properties": {
        "id": {"type": "integer"}, "user": {"type": "string"}, "label": {"type": "string"},
        "created_at": {"type": "number"}, "expires_at": {"type": ["number", "null"]},
        "last_used_at": {"type": ["number", "null"]}, "revoked_at": {"type": ["number", "null"]},
        "key": {"type": "string", "description": "the secret: only in the answer to POST keys — send it as "
                "'Authorization: Bearer <key>'"}}},
    "Member": {"type": "object", "properties": {
        "user": {"type": "string"}, "role": {"type": "string", "enum": ["owner", "contributor", "viewer"]}}},
    "Experiment": {"type": "object", "properties": {
        "id": {"type": "integer"}, "project_id": {"type": "integer"}, "project": {"type": "string"},
        "name": {"type": "string"}, "description": {"type": "string"}, "created_at": {"type": "number"},
        "run_count": {"type": "integer"}}},
    "MetricSummary": {"type": "object", "properties": {
        "name": {"type": "string"}, "context": {"type": "object", "additionalProperties": {"type": "string"}},
        "key": {"type": "string", "description": "name or name[k=v,…]"}, "last": _nullable_num,
        "last_step": {"type": ["integer", "null"]}, "last_time": {"type": ["number", "null"]},
        "min": _nullable_num, "max": _nullable_num, "count": {"type": "integer"}}},
    "RunSummary": {"type": "object", "properties": {
        **_RUN_FIELDS, "metrics": {"type": "array", "items": _ref("MetricSummary")}}},
    "RunRow": {"type": "object", "description": "a run in the list's table view: RunSummary with metrics as "
               "{series key: last value}", "properties": {
        **_RUN_FIELDS, "metrics": {"type": "object", "additionalProperties": _nullable_num}}},
    "Artifact": {"type": "object", "properties": {
        "id": {"type": "integer"}, "run_id": {"type": "string"}, "name": {"type": "string"},
        "type": {"type": "string"}, "version": {"type": "integer"}, "created_at": {"type": "number"},
        "metadata": {"type": "object"},
        "files": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "size": {"type": "integer"}, "sha256": {"type": "string"},
            "media_type": {"type": "string"}}}}}},
    "Run": {"allOf": [_ref("RunSummary"), {"type": "object", "properties": {
        "error": {"type": ["string", "null"]}, "heartbeat_at": {"type": ["number", "null"]},
        "status_reason": {"type": ["string", "null"], "description": "why the run has its status, in a sentence"},
        "children": {"type": "array", "items": {"type": "string"}},
        "artifacts": {"type": "array", "items": _ref("Artifact")},
        "inputs": {"type": "array", "items": {"type": "object"}},
        "campaigns": {"type": "array", "items": {"type": "string"}}}}]},
    "ModelVersion": {"type": "object", "properties": {
        "model_id": {"type": "integer"}, "name": {"type": "string"}, "project": {"type": "string"},
        "version": {"type": "integer"}, "stage": {"type": "string"}, "description": {"type": "string"},
        "created_at": {"type": "number"}, "artifact_id": {"type": "integer"}, "run_id": {"type": "string"},
        "artifact_name": {"type": "string"}, "artifact_version": {"type": "integer"},
        "artifact_type": {"type": "string"}, "flavor": {"type": "string", "description": "how it loads: sklearn, "
                                                        "joblib, pickle (the artifact's metadata.flavor)"},
        "content": {"type": "string", "description": "SHA-256 of the artifact's files (sorted paths and hashes)"},
        "aliases": {"type": "array", "items": {"type": "string"}, "description": "the aliases naming this version"}}},
    "DatasetVersion": {"type": "object", "properties": {
        "dataset_id": {"type": "integer"}, "project": _S, "name": _S, "version": {"type": "integer"},
        "kind": {"type": "string", "enum": ["file", "folder", "zip", "table"]},
        "content": {"type": "string", "description": "SHA-256 of its files (sorted paths and hashes)"},
        "artifact_id": {"type": "integer"}, "run_id": _S, "created_at": {"type": "number"},
        "metadata": {"type": "object", "description": "tables: schema {column: type}, rows, columns, preview"},
        "aliases": {"type": "array", "items": _S},
        "files": {"type": "array", "items": {"type": "object", "properties": {
            "path": _S, "sha256": _S, "size": {"type": "integer"}}}}}},
    "DatasetDiff": {"type": "object", "properties": {
        "a": {"type": "object"}, "b": {"type": "object"}, "same": {"type": "boolean"},
        "files": {"type": "object", "description": "added, removed, changed (paths), unchanged (a count)"},
        "columns": {"type": "object", "description": "tables: added, removed, changed {column: {a, b}}"},
        "rows": {"type": "object", "description": "tables: a, b (counts), added, removed, unchanged"}}},
    "Lineage": {"type": "object", "properties": {
        "root": _S, "direction": {"type": "string", "enum": ["up", "down"]}, "depth": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "nodes": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string", "description": "run:<id>, artifact:<id>, dataset:<dataset_id>:<version>, "
                                                    "model:<model_id>:<version>"},
            "kind": {"type": "string", "enum": ["run", "artifact", "dataset", "model"]}}}},
        "edges": {"type": "array", "items": {"type": "object", "properties": {
            "source": _S, "target": _S, "kind": {"type": "string", "enum": ["output", "version", "input"]},
            "role": _S}}}}},
    "RunDiff": {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "string"},
        "params": {"type": "object"}, "metrics": {"type": "object"}, "tags": {"type": "object"},
        "notebook_note": {"type": "string"},
        "cell": {"type": ["object", "null"], "description": "the two tracked cells (null when a run has none)",
                 "properties": {
                     "source_a": _S, "source_b": _S, "source_diff": _S, "outputs_known": {"type": "boolean"},
                     "outputs_a": _S, "outputs_b": _S, "outputs_diff": _S, "outputs_changed": {"type": "boolean"}}},
        "notebook": _NOTEBOOK_DIFF, "history": {**_NOTEBOOK_DIFF, "description": "the execution histories, when "
                                                "notebook compared saved or live documents (else null)"}}},
    "Series": {"type": "object", "properties": {
        "run_id": {"type": "string"}, "name": {"type": "string"}, "context": {"type": "object"},
        "key": {"type": "string"}, "total_count": {"type": "integer"}, "downsampled": {"type": "boolean"},
        "steps": {"type": "array", "items": {"type": "integer"}},
        "timestamps": {"type": "array", "items": {"type": "number"}},
        "values": {"type": "array", "items": _num_or_special}}},
    "JsonValue": {"description": "any JSON, nested at most 32 levels", **_json_value(3)},
    "Batch": {"type": "object", "additionalProperties": False, "description":
              "Sections are applied in this order; every section may be left out. Unknown sections and fields "
              "are refused.", "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9._:-]+$",
               "description": "the batch's id, unique per client: a batch whose id the store has applied is not "
                              "applied again (the answer is the first one's, with duplicate: true)"},
        "projects": _items(_obj(["name"], name=_KEY, description=_TEXT),
                           "create a project; a description given replaces its own"),
        "experiments": _items(_obj(["project", "name"], project=_KEY, name=_KEY, description=_TEXT),
                              "create an experiment in a project (and the project); a description given "
                              "replaces its own"),
        "campaigns": _items(_obj(["project", "name"], project=_KEY, name=_KEY, description=_TEXT),
                            "create a campaign in a project (and the project); an existing campaign must be of "
                            "that project; a description given replaces its own"),
        "runs": _items(_obj(["id"], id=_RUN_ID, name=_SHORT, project={"oneOf": [_KEY, {"type": "null"}]},
                            experiments=_NAMES, campaigns=_NAMES, parent_id={
                                "oneOf": [_RUN_ID, {"type": "null"}], "description": "not the run's own id"},
                            user=_SHORT, source=_TEXT, description=_TEXT, start_time=_SECONDS,
                            status=_RUN_FIELDS["status"]),
                       "create runs (idempotent on id)"),
        "params": _items(_obj(["run_id", "key", "value"], run_id=_RUN_ID, key=_KEY, value={
            "description": "any JSON (integers of any size are kept exactly); at most 32 levels deep and 64000 "
                           "characters as JSON"}),
                         "immutable: logging another value is a 409"),
        "tags": _items(_obj(["run_id", "key", "value"], run_id=_RUN_ID, key=_KEY, value={
            "maxLength": 5000, "description": "at most 5000 characters (as JSON text when not a string)"}),
                       "value null deletes the tag; other non-strings are stored as JSON text"),
        "metrics": _items(_obj(["run_id", "name", "values"], run_id=_RUN_ID, name=_KEY,
                               context={"oneOf": [_CONTEXT, _CONTEXT_TEXT, {"type": "null"}]},
                               steps={"type": ["array", "null"], "items": _INT64},
                               timestamps={"type": ["array", "null"], "items": _SECONDS},
                               values={"type": "array", "items": {"oneOf": [_num_or_special, {"type": "null"}]}}),
                          "metric points; without steps they continue the series after its last step; steps and "
                          "timestamps, when given, as long as values"),
        "artifacts": _items(_obj(["run_id", "name", "files"], run_id=_RUN_ID, name=_KEY, type=_SHORT,
                                 metadata={"type": "object", "additionalProperties": _ref("JsonValue"),
                                           "description": "at most 64000 characters as JSON"},
                                 files={"type": "array", "maxItems": 100_000, "description": "distinct paths",
                                        "items": _obj(["path", "sha256", "size"], path=_REL_PATH, sha256=_SHA256,
                                                      size={"type": "integer", "minimum": 0, "maximum": 2**53},
                                                      media_type=_MEDIA_TYPE)}),
                            "a new version of an artifact; its files' bytes uploaded first (PUT blobs/{sha256})"),
        "figures": _items(_obj(["run_id", "name", "kind", "files"], run_id=_RUN_ID, name=_KEY, kind=_FIGURE_KIND,
                               step={"oneOf": [_INT64, {"type": "null"}]},
                               context={"oneOf": [_CONTEXT, _CONTEXT_TEXT, {"type": "null"}]},
                               files={"type": "array", "minItems": 1, "maxItems": 10, "description": "distinct paths",
                                      "items": _obj(["path", "sha256", "size"], path=_REL_PATH, sha256=_SHA256,
                                                    size={"type": "integer", "minimum": 0, "maximum": 2**53},
                                                    media_type=_MEDIA_TYPE)}),
                          "a figure or image (an artifact of type figure holding its files, and what it is); "
                          "files uploaded first (PUT blobs/{sha256})"),
        "inputs": _items(_obj(["run_id", "artifact_id"], run_id=_RUN_ID, artifact_id=_DB_ID,
                              role={"type": "string", "maxLength": 100}),
                         "lineage: the run consumed that artifact"),
        "updates": _items(_obj(["run_id"], run_id=_RUN_ID, status=_RUN_FIELDS["status"],
                               end_time={"oneOf": [_SECONDS, {"type": "null"}]},
                               error={"type": ["string", "null"], "maxLength": 100_000},
                               description=_TEXT, name=_SHORT)),
        "models": _items(_obj(["project", "name", "artifact_id"], project=_KEY, name=_KEY,
                              artifact_id=_DB_ID, stage=_STAGE, description=_TEXT),
                         "register a version of model name in project, pointing at the artifact (the same "
                         "content again: the existing version)"),
        "datasets": _items(_obj(["project", "name", "run_id", "kind", "files"], project=_KEY, name=_KEY,
                                run_id=_RUN_ID, kind={"type": "string", "enum": ["file", "folder", "zip", "table"]},
                                metadata={"type": "object", "additionalProperties": _ref("JsonValue")},
                                files={"type": "array", "minItems": 1, "maxItems": 100_000,
                                       "items": _obj(["path", "sha256", "size"], path=_REL_PATH, sha256=_SHA256,
                                                     size={"type": "integer", "minimum": 0, "maximum": 2**53},
                                                     media_type=_MEDIA_TYPE)}),
                           "a version of dataset name for new content (an artifact of type dataset of the run); "
                           "content it holds answers that version"),
        "aliases": _items({**_obj(["project", "alias", "version"], project=_KEY, model=_KEY, dataset=_KEY,
                                  alias=_ALIAS, version={"oneOf": [_DB_ID, {"type": "null"}]}),
                           "oneOf": [{"required": ["model"], "not": {"required": ["dataset"]}},
                                     {"required": ["dataset"], "not": {"required": ["model"]}}]},
                          "point an alias of a model or dataset at a version (null removes it)"),
        "stages": _items(_obj(["project", "model", "version", "stage"], project=_KEY, model=_KEY, version=_DB_ID,
                              stage=_STAGE), "set a model version's stage"),
        "heartbeat": {"type": "array", "items": _RUN_ID, "description": "ids of runs still alive"}}},
    "GcReport": {"type": "object", "description": "what POST gc removed (with dry_run: would remove)", "required": [
        "blobs_removed", "bytes_freed", "temp_files_removed", "temp_bytes_freed", "blobs_kept_young",
        "blob_rows_removed", "dry_run"], "properties": {
        "blobs_removed": {"type": "integer", "description": "unreferenced artifact files older than the grace period"},
        "bytes_freed": {"type": "integer", "description": "their size in bytes"},
        "temp_files_removed": {"type": "integer", "description": "abandoned temporary upload files"},
        "temp_bytes_freed": {"type": "integer", "description": "their size in bytes"},
        "blobs_kept_young": {"type": "integer",
                             "description": "unreferenced files kept: younger than the grace period"},
        "blob_rows_removed": {"type": "integer", "description": "blobs rows no artifact file references"},
        "dry_run": {"type": "boolean"}}},
}


SCHEMAS.update(JOB_SCHEMAS)
SCHEMAS.update(SERVING_SCHEMAS)
SCHEMAS.update(AB_SCHEMAS)
SCHEMAS.update(FIGURE_SCHEMAS)
SCHEMAS.update(DESCRIBE_SCHEMAS)


def document(version: str) -> dict:
    run_id = _p("run_id", "run id", _RUN_ID)
    paths = {
        "/mltrack/api/status": {"get": {
            "summary": "Version, backend and the store's revision (changes on every write; poll it cheaply)",
            "responses": {"200": _json({"type": "object", "properties": {
                "version": {"type": "string"}, "backend": {"type": "string"}, "revision": {"type": "string"}}}),
                **_ERRORS}}},
        "/mltrack/api/projects": {
            "get": {"summary": "All projects", "responses": {
                "200": _json({"type": "object", "properties": {"projects": {"type": "array", "items": _ref("Project")}}}),
                **_ERRORS}},
            "post": {"summary": "Create a project (or return the existing one)", "requestBody": {"required": True,
                "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {
                    "name": _KEY, "description": _TEXT}, "additionalProperties": False}}}},
                "responses": {"201": _json(_ref("Project")), **_ERRORS}}},
        "/mltrack/api/experiments": {
            "get": {"summary": "Experiments, optionally of one project",
                    "parameters": [_q("project", "project id or name")],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "experiments": {"type": "array", "items": _ref("Experiment")}}}), **_ERRORS}},
            "post": {"summary": "Create an experiment in a project", "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "required": ["project", "name"], "properties": {
                    "project": _KEY, "name": _KEY, "description": _TEXT}, "additionalProperties": False}}}},
                "responses": {"201": _json(_ref("Experiment")), **_ERRORS}}},
        "/mltrack/api/runs": {"get": {
            "summary": "Search runs",
            "parameters": [
                _q("project", "project id or name"), _q("experiment", "experiment id or name"),
                _q("campaign", "campaign name"),
                _q("filter", "search language, e.g. metrics.acc > 0.5 and params.optimizer = 'adam'"),
                _q("order_by", "e.g. metrics.acc DESC, start_time (default: newest first)"),
                _q("limit", "page size (default 100, max 10000)", {"type": "integer", "minimum": 0, "maximum": 10000}),
                _q("offset", "rows to skip", {"type": "integer", "minimum": 0, "maximum": 2**62}),
                _q("view", "full (default): RunSummary with every metric's summary; table: RunRow, metrics as "
                   "{series key: last value} (a run table, about a third of the size); empty: the default",
                   {"type": "string", "enum": ["full", "table", ""]}),
            ],
            "responses": {"200": _json({"type": "object", "properties": {
                "runs": {"type": "array", "items": {"oneOf": [_ref("RunSummary"), _ref("RunRow")]}},
                "total": {"type": "integer"},
                "limit": {"type": "integer"}, "offset": {"type": "integer"}}}), **_ERRORS}}},
        "/mltrack/api/columns": {"get": {
            "summary": "The param keys, metric series keys and tag keys used by the runs in scope",
            "parameters": [_q("project", "project id or name"), _q("experiment", "experiment id or name"),
                           _q("campaign", "campaign name"), _q("filter", "search language")],
            "responses": {"200": _json({"type": "object", "properties": {
                "params": {"type": "array", "items": {"type": "string"}},
                "metrics": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}}}}), **_ERRORS}}},
        "/mltrack/api/runs/{run_id}": {"get": {
            "summary": "One run with params, metric summaries, tags, artifacts, inputs, children",
            "parameters": [run_id], "responses": {"200": _json(_ref("Run")), **_ERRORS}}},
        "/mltrack/api/runs/{run_id}/metrics": {"get": {
            "summary": "One metric series, sorted by step; optionally downsampled (min/max-preserving LTTB)",
            "parameters": [run_id, _q("name", "metric name", required=True),
                           _q("context", 'context as JSON, e.g. {"subset":"val"} (default {})', _CONTEXT_TEXT),
                           _q("max_points", "downsample to at most this many points", _MAX_POINTS)],
            "responses": {"200": _series_answer(_ref("Series")), **_ERRORS}}},
        "/mltrack/api/metrics": {"get": {
            "summary": "One metric series of many runs (overlay charts); runs without it are left out",
            "parameters": [_q("runs", "comma-separated run ids (1–1000)", _RUN_IDS, required=True),
                           _q("name", "metric name", required=True),
                           _q("context", 'context as JSON (default {})', _CONTEXT_TEXT),
                           _q("max_points", "downsample each series to at most this many points", _MAX_POINTS),
                           _q("step_min", "only points with step ≥ this", _STEP),
                           _q("step_max", "only points with step ≤ this", _STEP)],
            "responses": {"200": _series_answer({"type": "object", "properties": {
                "series": {"type": "array", "items": _ref("Series")}}}), **_ERRORS}}},
        "/mltrack/api/diff": {"get": {
            "summary": "What differs between two runs: params, last metric values, tags and notebook cells (nbdime)",
            "parameters": [_q("a", "run id", _RUN_ID, required=True), _q("b", "run id", _RUN_ID, required=True)],
            "responses": {"200": _json(_ref("RunDiff")), **_ERRORS}}},
        "/mltrack/api/report": {"get": {
            "summary": "A standalone HTML report of runs: comparison, charts, params, environment, notebook snapshots",
            "parameters": [_q("runs", "comma-separated run ids (1–1000)", _RUN_IDS, required=True),
                           _q("title", "report title"),
                           _q("download", "1 or true (default) for Content-Disposition: attachment; "
                                          "anything else (0) shows it inline"),
                           _q("plotly", "how charts travel: cdn (default: plotly.js from its CDN, a light file), "
                                        "inline (plotly.js embedded, ~5 MB, offline) or static (SVG images)",
                              {"type": "string", "enum": ["cdn", "inline", "static"]})],
            "responses": {"200": {"description": "the report", "content": {"text/html": {}}}, **_ERRORS}}},
        "/mltrack/api/models": {
            "get": {"summary": "Registered model versions (newest first), optionally of one project or name",
                    "parameters": [_q("project", "project id or name"), _q("name", "model name")],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "models": {"type": "array", "items": _ref("ModelVersion")}}}), **_ERRORS}},
            "post": {"summary": "Register an artifact as a version of a model (the same content again: that version, "
                                "200)", "requestBody": {"required": True, "content": {"application/json": {
                                    "schema": SCHEMAS["Batch"]["properties"]["models"]["items"]}}},
                     "responses": {"201": _json(_ref("ModelVersion"), "registered"),
                                   "200": _json(_ref("ModelVersion"), "the same content was registered before"),
                                   **_ERRORS}}},
        "/mltrack/api/models/resolve": {"get": {
            "summary": "The model version a reference names: name (newest), name@alias or name@version",
            "parameters": [_q("ref", "name, name@alias or name@version", required=True),
                           _q("project", "project id or name (needed when the name is in several)")],
            "responses": {"200": _json(_ref("ModelVersion")), **_ERRORS}}},
        "/mltrack/api/aliases": {
            "put": {"summary": "Point an alias of a model or dataset at a version (moved atomically)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        **SCHEMAS["Batch"]["properties"]["aliases"]["items"],
                        "properties": {**SCHEMAS["Batch"]["properties"]["aliases"]["items"]["properties"],
                                       "version": _DB_ID}}}}},
                    "responses": {"200": _json({"oneOf": [_ref("ModelVersion"), _ref("DatasetVersion")]}),
                                  **_ERRORS}},
            "delete": {"summary": "Remove an alias of a model or dataset",
                       "parameters": [_q("project", "project name", _QUERY_KEY, required=True),
                                      _q("name", "the model's or dataset's name", _QUERY_KEY, required=True),
                                      _q("alias", "the alias", _QUERY_ALIAS, required=True),
                                      _q("kind", "model (default) or dataset",
                                         {"type": "string", "enum": ["model", "dataset", ""]})],
                       "responses": {"204": {"description": "removed"}, **_ERRORS}}},
        "/mltrack/api/stages": {"put": {
            "summary": "Set a model version's stage",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": SCHEMAS["Batch"]["properties"]["stages"]["items"]}}},
            "responses": {"200": _json(_ref("ModelVersion")), **_ERRORS}}},
        "/mltrack/api/datasets": {"get": {
            "summary": "Dataset versions (newest first), optionally of one project or name",
            "parameters": [_q("project", "project id or name"), _q("name", "dataset name")],
            "responses": {"200": _json({"type": "object", "properties": {
                "datasets": {"type": "array", "items": _ref("DatasetVersion")}}}), **_ERRORS}}},
        "/mltrack/api/datasets/resolve": {"get": {
            "summary": "One version of a dataset: by version, by alias, or the newest",
            "parameters": [_q("name", "dataset name", _QUERY_KEY, required=True),
                           _q("version", "version number", {"type": "integer", "minimum": 1}),
                           _q("alias", "alias"), _q("project", "project id or name")],
            "responses": {"200": _json(_ref("DatasetVersion")), **_ERRORS}}},
        "/mltrack/api/datasets/diff": {"get": {
            "summary": "What differs between two versions of a dataset: files; for tables columns and rows",
            "parameters": [_q("name", "dataset name", required=True),
                           _q("a", "version number or alias", required=True),
                           _q("b", "version number or alias", required=True), _q("project", "project id or name")],
            "responses": {"200": _json(_ref("DatasetDiff")), **_ERRORS}}},
        "/mltrack/api/runs/{run_id}/lineage": {"get": {
            "summary": "The runs, artifacts, datasets and models upstream (up) or downstream (down) of a run",
            "parameters": [run_id, _q("direction", "up (default) or down", {"type": "string",
                                                                            "enum": ["up", "down", ""]}),
                           _q("depth", "hops at most (default: to the end)",
                              {"type": "integer", "minimum": 0, "maximum": 100})],
            "responses": {"200": _json(_ref("Lineage")), **_ERRORS}}},
        "/mltrack/api/artifacts/{artifact_id}/files/{path}": {"get": {
            "summary": "The bytes of one artifact file, streamed with its content type",
            "parameters": [_p("artifact_id", "artifact id", {"type": "integer"}),
                           _p("path", "file path inside the artifact"),
                           _q("download", "1 or true to send Content-Disposition: attachment")],
            "responses": {"200": {"description": "the file", "content": {"*/*": {}}}, **_ERRORS}}},
        "/mltrack/api/batch": {"post": {
            "summary": "Write projects, experiments, runs, params, tags, metric points, artifacts, inputs, updates, "
                       "model versions and heartbeats in one transaction: all of it, or nothing",
            "requestBody": {"required": True, "description": "JSON or msgpack; in msgpack, metric arrays may be "
                            "little-endian bytes (<i8 steps, <f8 timestamps and values)", "content": {
                "application/json": {"schema": _ref("Batch")},
                "application/msgpack": {"schema": _ref("Batch")},
                "application/x-msgpack": {"schema": _ref("Batch")}}},
            "responses": {"200": _json({"type": "object", "properties": {"written": {
                "type": "object", "description": "counts per kind (runs: the runs created); registered: the model "
                "versions registered, when there were any", "properties": {
                    **{k: {"type": "integer"} for k in ("projects", "experiments", "campaigns", "runs", "params", "tags", "points",
                                                        "artifacts", "figures", "inputs", "updates", "models",
                                                        "datasets", "aliases", "stages")},
                    "registered": {"type": "array", "items": {"type": "object", "properties": {
                        "project": _S, "name": _S, "version": {"type": "integer"}, "existing": {"type": "boolean"}}}},
                    "dataset_versions": {"type": "array", "items": {"type": "object", "properties": {
                        "project": _S, "name": _S, "version": {"type": "integer"}, "existing": {"type": "boolean"}}}},
                    "duplicate": {"type": "boolean", "description": "the batch's id had been applied: nothing "
                                  "was written now, the counts are the first application's"}}}}}),
                          "409": _json(_ref("Error"), "A param was logged again with another value"), **_ERRORS}}},
        "/mltrack/api/blobs/{sha256}": {"put": {
            "summary": "Upload the bytes of an artifact file (content-addressed; the hash is checked)",
            "parameters": [_p("sha256", "SHA-256 of the body", _SHA256)],
            "requestBody": {"required": True, "content": {"application/octet-stream": {}}},
            "responses": {"201": _json({"type": "object", "properties": {
                "sha256": {"type": "string"}, "size": {"type": "integer"}}}), **_ERRORS}}},
        "/mltrack/api/gc": {"post": {
            "summary": "Reclaim space: remove the artifact files no artifact references and abandoned temporary "
                       "uploads, once older than the grace period (younger ones may be about to be referenced)",
            "requestBody": {"required": False, "description": "optional; an empty body takes the defaults",
                            "content": {"application/json": {"schema": {
                                "type": "object", "additionalProperties": False, "properties": {
                                    "grace_hours": {"type": "number", "minimum": 0, "default": 1.0},
                                    "dry_run": {"type": "boolean", "default": False,
                                                "description": "only count what would be removed"}}}}}},
            "responses": {"200": _json(_ref("GcReport")), **_ERRORS}}},
        "/mltrack/api/me": {"get": {
            "summary": "Who the caller is: the user name, whether an admin, whether team mode is on",
            "responses": {"200": _json({"type": "object", "properties": {
                "access_control": {"type": "boolean"}, "user": {"type": "string"},
                "admin": {"type": ["boolean", "null"]},
                "authenticated_by": {"type": "string", "enum": ["jupyter", "api_key"]}}}), **_ERRORS}}},
        "/mltrack/api/users": {
            "get": {"summary": "Team mode, admins: every user", "responses": {"200": _json({"type": "object",
                    "properties": {"users": {"type": "array", "items": _ref("User")}}}), **_ERRORS}},
            "post": {"summary": "Team mode, admins: add a user", "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "required": ["name"], "properties": {
                    "name": _KEY, "admin": {"type": "boolean"}, "email": _SHORT}, "additionalProperties": False}}}},
                "responses": {"201": _json(_ref("User")), **_ERRORS}}},
        "/mltrack/api/keys": {
            "get": {"summary": "Team mode: a user's API keys (default: the caller's; another user's: admins)",
                    "parameters": [_q("user", "user name (default: the caller)")],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "keys": {"type": "array", "items": _ref("ApiKey")}}}), **_ERRORS}},
            "post": {"summary": "Team mode: create an API key (for the caller, or for another user: admins); the "
                                "answer holds its secret, once", "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "user": _KEY, "label": _SHORT,
                    "expires_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 3650}},
                    "additionalProperties": False}}}},
                "responses": {"201": _json(_ref("ApiKey")), **_ERRORS}}},
        "/mltrack/api/keys/{key_id}": {"delete": {
            "summary": "Team mode: revoke an API key (one's own, or any: admins)",
            "parameters": [_p("key_id", "API key id", _DB_ID)],
            "responses": {"200": _json(_ref("ApiKey")), **_ERRORS}}},
        "/mltrack/api/members": {
            "get": {"summary": "Team mode: the members of a project and their roles",
                    "parameters": [_q("project", "project id or name", required=True)],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "members": {"type": "array", "items": _ref("Member")}}}), **_ERRORS}},
            "put": {"summary": "Team mode, owners: add a member or change their role (a project keeps an owner)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["project", "user", "role"], "properties": {
                            "project": _KEY, "user": _KEY,
                            "role": {"type": "string", "enum": ["owner", "contributor", "viewer"]}},
                        "additionalProperties": False}}}},
                    "responses": {"200": _json({"type": "object", "properties": {
                        "project": _S, "user": _S, "role": _S}}), "409": _json(_ref("Error"), "The last owner"),
                        **_ERRORS}},
            "delete": {"summary": "Team mode, owners: remove a member (not the last owner)",
                       "parameters": [_q("project", "project id or name", required=True),
                                      _q("user", "user name", required=True)],
                       "responses": {"204": {"description": "removed"}, "409": _json(_ref("Error"), "The last owner"),
                                     **_ERRORS}}},
        "/mltrack/api/openapi.json": {"get": {
            "summary": "This document", "responses": {"200": _json({"type": "object"}), **_ERRORS}}},
    }
    paths.update(job_paths(_q, _p, _json, _ref, _ERRORS))
    paths.update(serving_paths(_q, _p, _json, _ref, _ERRORS))
    paths.update(ab_paths(_q, _p, _json, _ref, _ERRORS))
    paths.update(figure_paths(_p, _json, _ref, _ERRORS, _RUN_ID))
    for path, ops in describe_paths(_q, _p, _json, _ref, _ERRORS, _KEY, _TEXT, _RUN_ID).items():
        paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.1.0",
        "info": {"title": "jupyter_mltrack REST API", "version": version,
                 "description": "Experiment tracking inside Jupyter. All routes are relative to the server's "
                                "base_url and need Jupyter authentication (token or login cookie + XSRF)."},
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                      "description": "`token <jupyter token>`"},
            "apiKey": {"type": "http", "scheme": "bearer",
                       "description": "team mode: `Bearer mltk_…`, an API key acting as its user"}}},
        "security": [{"token": []}, {"apiKey": []}],
        "paths": paths,
    }
