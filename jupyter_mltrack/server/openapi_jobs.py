"""The OpenAPI description of the jobs routes (server/jobs.py), merged into the document by server/openapi.py,
whose helpers it is handed (query and path parameters, JSON answers, references, the error answers)."""

from __future__ import annotations

from typing import Any, Callable

_S = {"type": "string"}
_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
         "description": "1-100 letters, digits, '_', '-' or '.', starting with a letter or digit"}
_STATUS = {"type": "string", "enum": ["pending", "queued", "running", "finished", "failed", "killed", "skipped"]}

SCHEMAS: dict[str, Any] = {
    "JobExecution": {"type": "object", "description": "a job's execution in one trigger (a cron tick, a run now)",
                     "properties": {
        "id": {"type": "integer"}, "job": _S, "job_id": {"type": "integer"}, "trigger_id": _S, "status": _STATUS,
        "reason": {"type": "string", "description": "why it failed, was killed or skipped"},
        "run_id": {"type": ["string", "null"], "description": "the tracked run of its latest attempt"},
        "attempts": {"type": "integer"}, "scheduled_for": {"type": ["number", "null"]},
        "created_at": {"type": "number"}, "started_at": {"type": ["number", "null"]},
        "ended_at": {"type": ["number", "null"]}}},
    "Job": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": _S, "project": _S, "kind": {"type": "string",
                                                                      "enum": ["notebook", "script"]},
        "path": _S, "notebook": _S, "script": _S, "params": {"type": "object"}, "schedule": _S, "timezone": _S,
        "after": {"type": "array", "items": _S}, "timeout": {"type": ["number", "null"]},
        "retries": {"type": "integer"}, "retry_delay": {"type": "number"}, "max_concurrent": {"type": "integer"},
        "paused": {"type": "boolean"}, "user": _S, "created_at": {"type": "number"}, "updated_at": {"type": "number"},
        "next_run": {"type": ["number", "null"], "description": "the next scheduled time (none: paused or no "
                                                                "schedule)"},
        "last": {"oneOf": [{"$ref": "#/components/schemas/JobExecution"}, {"type": "null"}]}}},
}

_DEFINITION = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
    "name": _NAME,
    "notebook": {"type": "string", "minLength": 1, "description": "a notebook (exactly one of notebook, script); "
                 "relative: to the server's root folder"},
    "script": {"type": "string", "minLength": 1, "description": "a Python script"},
    "params": {"type": "object", "description": "a notebook's: only names its 'parameters' cell declares"},
    "schedule": {"type": "string", "description": "cron, five fields, e.g. '0 2 * * *'; '' none"},
    "timezone": {"type": "string", "description": "the schedule's time zone, e.g. 'Europe/Paris' (default UTC)"},
    "after": {"type": "array", "items": _NAME, "description": "upstream jobs of the same project (a DAG)"},
    "project": {"type": "string", "minLength": 1, "maxLength": 250},
    "timeout": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 30 * 86400},
    "retries": {"type": "integer", "minimum": 0, "maximum": 100},
    "retry_delay": {"type": "number", "minimum": 0, "maximum": 86400},
    "max_concurrent": {"type": "integer", "minimum": 1, "maximum": 1000},
    "paused": {"type": "boolean"}}}


def paths(q: Callable, p: Callable, json_: Callable, ref: Callable, errors: dict) -> dict:
    name = p("name", "job name", _NAME)
    job = {"200": json_(ref("Job")), **errors}
    return {
        "/mltrack/api/jobs": {
            "get": {"summary": "Jobs (of one project), with their next run and last execution",
                    "parameters": [q("project", "project id or name")],
                    "responses": {"200": json_({"type": "object", "properties": {
                        "jobs": {"type": "array", "items": ref("Job")}}}), **errors}},
            "post": {"summary": "Define a job, or redefine the job of that name (checked: cron, time zone, the file, "
                                "upstream jobs, a cycle, the notebook's declared parameters)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _DEFINITION}}},
                     "responses": {"201": json_(ref("Job")), **errors}}},
        "/mltrack/api/jobs/{name}": {
            "get": {"summary": "One job", "parameters": [name], "responses": job},
            "delete": {"summary": "Delete a job and its executions (not while it runs, nor while jobs run after it)",
                       "parameters": [name], "responses": {"204": {"description": "deleted"},
                                                           "409": json_(ref("Error"), "Jobs run after it, or it "
                                                                                     "runs"), **errors}}},
        "/mltrack/api/jobs/{name}/run": {"post": {
            "summary": "Trigger the job now (and the jobs after it): their executions, queued",
            "parameters": [name], "responses": {"201": json_({"type": "object", "properties": {
                "executions": {"type": "array", "items": ref("JobExecution")}}}), **errors}}},
        "/mltrack/api/jobs/{name}/pause": {"post": {
            "summary": "Pause the job's schedule (run now still runs it)", "parameters": [name], "responses": job}},
        "/mltrack/api/jobs/{name}/resume": {"post": {
            "summary": "Resume the job's schedule from now (times passed while paused are skipped)",
            "parameters": [name], "responses": job}},
        "/mltrack/api/jobs/{name}/executions": {"get": {
            "summary": "The job's executions, newest first", "parameters": [
                name, q("limit", "at most this many (default 50)", {"type": "integer", "minimum": 1,
                                                                     "maximum": 1000})],
            "responses": {"200": json_({"type": "object", "properties": {
                "executions": {"type": "array", "items": ref("JobExecution")}}}), **errors}}},
        "/mltrack/api/jobs/{name}/log": {"get": {
            "summary": "The log (stdout and stderr) of the job's newest execution with a run, or of one, so far",
            "parameters": [name, q("execution", "an execution id", {"type": "integer", "minimum": 1,
                                                                    "maximum": 2**62})],
            "responses": {"200": json_({"type": "object", "properties": {
                "execution": ref("JobExecution"), "log": _S}}), **errors}}},
    }
