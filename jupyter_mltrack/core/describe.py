"""Descriptions and a run's inline edits, as batches.

The hypothesis or description of a project, an experiment, a campaign or a run, and a run's name and tags, are
changed by the same batches everything else is written with (``core/batch.py``): a ``projects``,
``experiments`` or ``campaigns`` item carrying ``description`` (present: set, an empty text clears it), or the
run's ``updates`` and ``tags`` items. These helpers build them for the Python API (``client/describe.py``) and
the REST routes (``server/describe.py``), so both say the same thing and are checked by the same rules; the team
rules are the batch's (``core/access.py``: contributor for a run, an experiment or a campaign, owner for a
project's description).
"""

from __future__ import annotations

from typing import Any, Mapping

from .errors import InvalidInput
from .validation import check_text

#: What a description can be attached to, in the order ``describe_batch`` reads its arguments.
DESCRIBED = ("run", "campaign", "experiment", "project")


def describe_batch(description: str, *, run: str | None = None, project: str | None = None,
                   experiment: str | None = None, campaign: str | None = None) -> dict:
    """The batch setting the description of one thing: ``run`` (a run id), ``campaign`` or ``experiment`` (of
    ``project``, required), else ``project``. Raises :class:`InvalidInput` naming the argument."""
    check_text("description", description)
    if run is not None:
        if experiment is not None or campaign is not None:
            raise InvalidInput("description: give one of run, campaign, experiment or project")
        return {"updates": [{"run_id": run, "description": description}]}
    if campaign is not None and experiment is not None:
        raise InvalidInput("description: give one of run, campaign, experiment or project")
    if project is None:
        raise InvalidInput("description: project is required (the project of the campaign or experiment, or the "
                           "project to describe)")
    if campaign is not None:
        return {"campaigns": [{"project": project, "name": campaign, "description": description}]}
    if experiment is not None:
        return {"experiments": [{"project": project, "name": experiment, "description": description}]}
    return {"projects": [{"name": project, "description": description}]}


#: The fields of a run's inline edit (``PATCH runs/{id}``, :func:`run_edit_batch`).
RUN_EDIT_FIELDS = ("description", "name", "tags")


def run_edit_batch(run_id: str, edit: Mapping[str, Any]) -> dict:
    """The batch of a run's inline edit: ``description`` and ``name`` (texts) and ``tags`` ({key: value}, a null
    value deletes the tag, other non-strings are stored as JSON text, as the batch's tags are). An unknown field or
    a wrong type is refused naming it; an empty ``tags`` changes nothing."""
    if not isinstance(edit, Mapping):
        raise InvalidInput('expected {"description": "...", "name": "...", "tags": {"key": "value or null"}}')
    unknown = sorted(set(edit) - set(RUN_EDIT_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field {str(unknown[0])!r:.60}; expected {', '.join(RUN_EDIT_FIELDS)}")
    if not edit:
        raise InvalidInput(f"nothing to change: give one of {', '.join(RUN_EDIT_FIELDS)}")
    update: dict[str, Any] = {"run_id": run_id}
    for f in ("description", "name"):
        if f in edit:
            if not isinstance(edit[f], str):
                raise InvalidInput(f"{f} must be a string")
            update[f] = edit[f]
    batch: dict[str, Any] = {}
    if len(update) > 1:
        batch["updates"] = [update]
    if "tags" in edit:
        tags = edit["tags"]
        if not isinstance(tags, Mapping):
            raise InvalidInput('tags must be an object {"key": "value", "other": null}')
        batch["tags"] = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
    return batch
