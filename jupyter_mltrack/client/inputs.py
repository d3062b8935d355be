"""A run's inputs besides data: the parameters file it read and the pipeline version it ran.

``use_params("params.json")`` loads a JSON object, logs its values as the run's params (nested keys joined with
'.') and versions the file as the dataset ``params.json`` (the same content is the same version, across runs), which
the run records as an input. ``log_pipeline()`` records the code the run ran: in a git repository its commit (tags
``pipeline.commit``, ``pipeline.branch``, ``pipeline.dirty``) and, with uncommitted changes, their patch as the
artifact ``pipeline`` (``git.patch``); or a named file or folder versioned as a dataset (``pipeline.version``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

from ..core.errors import InvalidInput
from ..core.validation import check_key
from .datasets import log_dataset, use_dataset
from .run import ACTIVE, Run


def _active(run: "Run | None", what: str) -> Run:
    run = run or ACTIVE.top()
    if run is None:
        raise InvalidInput(f"{what}: no active run: start one with mlt.start_run() or pass run=")
    return run


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"alpha": 1}}`` → ``{"model.alpha": 1}`` (lists and scalars are values)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def use_params(path: str | os.PathLike, run: "Run | None" = None, name: str | None = None) -> dict:
    """Load the JSON object in ``path``, log its values as params of ``run`` (default: the active run), version the
    file as the dataset ``name`` (default: the file's name) and record that version as an input of the run.
    Returns the loaded values."""
    run = _active(run, "use_params")
    p = Path(path)
    try:
        values = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"use_params: {os.fspath(path)!r} does not exist") from None
    except ValueError as e:
        raise InvalidInput(f"use_params: {os.fspath(path)!r} is not JSON: {e}") from None
    if not isinstance(values, dict):
        raise InvalidInput(f"use_params: {os.fspath(path)!r} holds a {type(values).__name__}, not a JSON object")
    name = check_key("dataset", name or p.name)
    run.log_params(flatten(values))  # checked in the cell; a conflict with a logged value says so
    v = _version_input(p, name, run)
    run.set_tag("params.file", f"{name}@{v['version']}")
    return values


def _version_input(path: Path, name: str, run: Run) -> dict:
    """``path`` as a version of the dataset ``name`` (logged under ``run`` when new), used by ``run``."""
    v = log_dataset(path, name=name, project=run.project, run=run)
    if v["run_id"] != run.id:  # logged before by another run: this one uses it
        use_dataset(name, version=v["version"], project=run.project)
    return v


def _git(cwd: Path, *args: str) -> str:
    r = subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout


def log_pipeline(path: str | os.PathLike | None = None, name: str = "pipeline", run: "Run | None" = None) -> dict:
    """Record the pipeline version ``run`` (default: the active run) runs. With ``path`` (a file or folder of code):
    it is versioned as the dataset ``name`` (the same code is the same version) and used by the run. Without: the
    git repository of the working directory — tags ``pipeline.commit``, ``pipeline.branch``, ``pipeline.dirty``,
    and the uncommitted changes as the artifact ``name`` (``git.patch``). Returns what was recorded."""
    run = _active(run, "log_pipeline")
    check_key("artifact", name)
    if path is not None:
        v = _version_input(Path(path), name, run)
        run.set_tag("pipeline.version", f"{name}@{v['version']}")
        return {"kind": "artifact", "name": name, "version": v["version"], "content": v["content"]}
    cwd = Path.cwd()
    try:
        commit = _git(cwd, "rev-parse", "HEAD").strip()
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        raise InvalidInput(f"log_pipeline: {cwd} is not in a git repository with a commit: pass the pipeline's "
                           "file or folder as path=") from None
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD").strip()
    patch = _git(cwd, "diff", "HEAD", "--binary")
    run.set_tags({"pipeline.commit": commit, "pipeline.branch": branch, "pipeline.dirty": str(bool(patch)).lower()})
    out: dict[str, Any] = {"kind": "git", "commit": commit, "branch": branch, "dirty": bool(patch)}
    if patch:
        run.log_text(patch, name=name, type="pipeline", path="git.patch")
    return out
