"""Campaigns and descriptions from Python: ``mlt.set_description``, ``mlt.campaigns``, ``mlt.create_campaign``.

Every change is a batch written through the process's writer (``Writer.write_now``: after what was logged before
it, and the call waits for the answer), built by ``core/describe.py`` as the REST routes build theirs.
"""

from __future__ import annotations

from ..core.describe import describe_batch
from ..core.errors import InvalidInput
from ..core.projects import DEFAULT_PROJECT
from ..core.validation import check_key, check_text
from .run import ACTIVE, Run
from .tracking import get_client


def _default_project() -> str:
    top = ACTIVE.top()
    return (top.project if top is not None and top.project else None) or DEFAULT_PROJECT


def set_description(description: str, run: "Run | str | None" = None, *, project: str | None = None,
                    experiment: str | None = None, campaign: str | None = None) -> None:
    """Set the description (the hypothesis, the notes) of a run, a campaign, an experiment or a project; an empty
    text clears it.

    ``set_description(text)`` describes the active run; ``run=`` a run (a Run or an id); ``campaign=`` a
    campaign (of ``project``, default: the campaign's own project when it exists, else the active run's or
    "Default"; created when new); ``experiment=`` an experiment of ``project`` (default: the active run's, or
    "Default"; created when new); ``project=`` alone the project. In team mode a project's description needs the
    owner role, the others the contributor role."""
    check_text("description", description)
    given = [k for k, v in (("run", run), ("campaign", campaign), ("experiment", experiment)) if v is not None]
    if len(given) > 1:
        raise InvalidInput(f"set_description: give one of run, campaign, experiment or project, not {' and '.join(given)}")
    client = get_client()
    if run is None and campaign is None and experiment is None and project is None:
        run = ACTIVE.top()
        if run is None:
            raise InvalidInput("set_description: no active run: pass run=, campaign=, experiment= or project=")
    if run is not None:
        batch = describe_batch(description, run=run.id if isinstance(run, Run) else str(run))
    else:
        if campaign is not None:
            check_key("campaign", campaign)
            if project is None:
                client.writer.flush(raise_errors=False)
                known = [c for c in client.backend.list_campaigns() if c["name"] == campaign and c.get("project")]
                project = known[0]["project"] if known else _default_project()
        elif experiment is not None and project is None:
            project = _default_project()
        batch = describe_batch(description, project=project, experiment=experiment, campaign=campaign)
    client.writer.write_now(batch)


def campaigns(project: str | None = None):
    """The campaigns (of ``project``: created in it or holding its runs) as a DataFrame: ``name``,
    ``description``, ``project`` (where it was created), ``created_at``, ``run_count``."""
    import pandas as pd

    client = get_client()
    client.writer.flush(raise_errors=False)
    rows = client.backend.list_campaigns(project)
    return pd.DataFrame(rows, columns=["id", "name", "description", "project", "created_at", "run_count"])


def create_campaign(name: str, project: str | None = None, description: str | None = None) -> dict:
    """Create the campaign ``name`` in ``project`` (default: the active run's, or "Default"), or find the existing
    one of that project; a ``description`` given replaces its own. Runs join it with ``start_run(campaign=name)``
    or ``%%track_run --campaign name``. Returns the campaign as :func:`campaigns` lists it."""
    check_key("campaign", name)
    if description is not None:
        check_text("description", description)
    project = project or _default_project()
    item = {"project": project, "name": name}
    if description is not None:
        item["description"] = description
    client = get_client()
    client.writer.write_now({"campaigns": [item]})
    for c in client.backend.list_campaigns(project):
        if c["name"] == name:
            return c
    raise InvalidInput(f"campaign {name!r} was not created")  # pragma: no cover - the write raised first
