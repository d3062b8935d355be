"""Domain errors. Every layer maps them the same way: the server to JSON 4xx, the client to exceptions."""

from __future__ import annotations


class MLTrackError(Exception):
    """Base class of every error jupyter_mltrack raises on purpose."""

    code = "error"
    http_status = 500


class InvalidInput(MLTrackError, ValueError):
    """The caller passed something that cannot be stored (a bad key, a non-numeric metric, malformed JSON…)."""

    code = "invalid"
    http_status = 400


class NotFound(MLTrackError, KeyError):
    """An unknown run, project, experiment, artifact or series."""

    code = "not_found"
    http_status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class Conflict(MLTrackError):
    """The write contradicts what is stored (e.g. a param logged again with another value)."""

    code = "conflict"
    http_status = 409


class Forbidden(MLTrackError):
    code = "forbidden"
    http_status = 403
