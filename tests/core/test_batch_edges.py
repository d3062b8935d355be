"""core/batch.py at its edges: every refusal of ``normalize_batch`` with its exact message (it names the section and
the field and says what is wanted), each limit on both sides, and the normalised shape (defaults, conversions, one
clock per batch). Written against the mutants that survived ``make mutate MODULES=batch`` (docs/mutation.md)."""

from __future__ import annotations

import copy
import math
import re
import time
from types import MappingProxyType

import numpy as np
import pytest

from jupyter_mltrack.core import batch as B
from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.validation import INT64_MAX, MAX_FIGURE_FILES, MAX_FILE_SIZE, MAX_KEY, MAX_STAGE, MAX_TEXT

from .._ids import clean_id

SHA = "0" * 64
FILE = {"path": "x.txt", "sha256": SHA, "size": 3}


def refused(message: str):
    """pytest.raises for InvalidInput with exactly this message."""
    return pytest.raises(InvalidInput, match="^" + re.escape(message) + "$")


def one(section: str, item) -> dict:
    """The normalised item of a batch holding only ``item`` in ``section``."""
    return B.normalize_batch({section: [item]})[section][0]


STATUSES = "running, finished, failed, killed, crashed"
RUN_ID_RULE = "must be 1-32 ASCII letters, digits, '-' or '_'"
BIG = INT64_MAX


# ------------------------------------------------------------------------------------------------------------------
# refusals, each with its exact message

REFUSALS = [
    # the batch itself
    ([], "batch must be a JSON object"),
    ({"zz": [], "bogus": [], "runs": []}, "batch: unknown section(s) bogus, zz"),
    ({f"s{i:03d}": [] for i in range(60)},  # the list of unknown sections is cut at 200 characters
     "batch: unknown section(s) " + ", ".join(f"s{i:03d}" for i in range(60))[:200]),
    ({"runs": {}}, "batch: 'runs' must be a list"),
    ({"heartbeat": "r"}, "batch: 'heartbeat' must be a list"),
    ({"id": ""}, "batch: id '' must be 1-100 ASCII letters, digits, '-', '_', '.' or ':'"),
    ({"id": "a" * 101}, "batch: id " + repr("a" * 101)[:60] + " must be 1-100 ASCII letters, digits, '-', '_', '.' "
                                                               "or ':'"),
    ({"id": "a b"}, "batch: id 'a b' must be 1-100 ASCII letters, digits, '-', '_', '.' or ':'"),
    ({"id": "a/b"}, "batch: id 'a/b' must be 1-100 ASCII letters, digits, '-', '_', '.' or ':'"),
    ({"id": "é"}, "batch: id 'é' must be 1-100 ASCII letters, digits, '-', '_', '.' or ':'"),
    ({"id": "٣"}, "batch: id '٣' must be 1-100 ASCII letters, digits, '-', '_', '.' or ':'"),
    ({"id": 7}, "batch: id 7 must be 1-100 ASCII letters, digits, '-', '_', '.' or ':'"),
    # any item
    ({"runs": [5]}, "batch: each runs item must be an object, got 5"),
    ({"params": ["x"]}, "batch: each params item must be an object, got 'x'"),
    ({"runs": [{"name": "n"}]}, "batch: runs item is missing 'id'"),
    ({"params": [{"run_id": "r", "key": "k"}]}, "batch: params item is missing 'value'"),
    ({"runs": [{"id": "r", "zz": 1, "aa": 2}]}, "batch: runs item has unknown field(s) aa, zz"),
    ({"runs": [{"id": "r", **{f"f{i:03d}": 1 for i in range(60)}}]},  # the list of unknown fields is cut at 200
     "batch: runs item has unknown field(s) " + ", ".join(f"f{i:03d}" for i in range(60))[:200]),
    ({"runs": [{"id": "r", "name": None}]}, "batch: runs.name must not be null (leave the field out instead)"),
    ({"updates": [{"run_id": "r", "status": None}]},
     "batch: updates.status must not be null (leave the field out instead)"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "media_type": None}]}]},
     "batch: artifacts.files.media_type must not be null (leave the field out instead)"),
    # run ids, named after where they are
    ({"runs": [{"id": ""}]}, f"batch: runs: run id '' {RUN_ID_RULE}"),
    ({"runs": [{"id": "a" * 33}]}, f"batch: runs: run id {'a' * 33!r} {RUN_ID_RULE}"),
    ({"runs": [{"id": "a.b"}]}, f"batch: runs: run id 'a.b' {RUN_ID_RULE}"),
    ({"runs": [{"id": "é"}]}, f"batch: runs: run id 'é' {RUN_ID_RULE}"),
    ({"runs": [{"id": "٣"}]}, f"batch: runs: run id '٣' {RUN_ID_RULE}"),
    ({"runs": [{"id": "a\n"}]}, f"batch: runs: run id 'a\\n' {RUN_ID_RULE}"),
    ({"runs": [{"id": 5}]}, f"batch: runs: run id 5 {RUN_ID_RULE}"),
    ({"runs": [{"id": "r", "parent_id": "p q"}]}, f"batch: runs.parent_id: run id 'p q' {RUN_ID_RULE}"),
    ({"params": [{"run_id": "?", "key": "k", "value": 1}]}, f"batch: params: run id '?' {RUN_ID_RULE}"),
    ({"tags": [{"run_id": "?", "key": "k", "value": "v"}]}, f"batch: tags: run id '?' {RUN_ID_RULE}"),
    ({"metrics": [{"run_id": "?", "name": "m", "values": []}]}, f"batch: metrics: run id '?' {RUN_ID_RULE}"),
    ({"artifacts": [{"run_id": "?", "name": "a", "files": []}]}, f"batch: artifacts: run id '?' {RUN_ID_RULE}"),
    ({"figures": [{"run_id": "?", "name": "f", "kind": "image", "files": [FILE]}]},
     f"batch: figures: run id '?' {RUN_ID_RULE}"),
    ({"inputs": [{"run_id": "?", "artifact_id": 1}]}, f"batch: inputs: run id '?' {RUN_ID_RULE}"),
    ({"updates": [{"run_id": "?"}]}, f"batch: updates: run id '?' {RUN_ID_RULE}"),
    ({"datasets": [{"project": "P", "name": "d", "run_id": "?", "kind": "file", "files": [FILE]}]},
     f"batch: datasets: run id '?' {RUN_ID_RULE}"),
    ({"heartbeat": ["r", "?"]}, f"batch: heartbeat: run id '?' {RUN_ID_RULE}"),
    # runs
    ({"runs": [{"id": "r", "parent_id": "r"}]}, "batch: runs.parent_id: run r cannot be its own parent"),
    ({"runs": [{"id": "r", "status": "done"}]}, f"batch: runs.status 'done' is not one of {STATUSES}"),
    ({"runs": [{"id": "r", "status": "Running"}]}, f"batch: runs.status 'Running' is not one of {STATUSES}"),
    ({"runs": [{"id": "r", "name": "n" * (MAX_KEY + 1)}]}, "batch: runs.name is 251 characters long; the limit is 250"),
    ({"runs": [{"id": "r", "user": "u" * (MAX_KEY + 1)}]}, "batch: runs.user is 251 characters long; the limit is 250"),
    ({"runs": [{"id": "r", "name": 5}]}, "batch: runs.name must be a string, not int"),
    ({"runs": [{"id": "r", "user": 5}]}, "batch: runs.user must be a string, not int"),
    ({"runs": [{"id": "r", "source": "s" * (MAX_TEXT + 1)}]},
     "batch: runs.source is 100001 characters long; the limit is 100000"),
    ({"runs": [{"id": "r", "description": "d" * (MAX_TEXT + 1)}]},
     "batch: runs.description is 100001 characters long; the limit is 100000"),
    ({"runs": [{"id": "r", "project": ""}]}, "project name must not be empty"),
    ({"runs": [{"id": "r", "experiments": "E"}]}, "batch: runs.experiments must be a list of names"),
    ({"runs": [{"id": "r", "experiments": {"E": 1}}]}, "batch: runs.experiments must be a list of names"),
    ({"runs": [{"id": "r", "campaigns": "C"}]}, "batch: runs.campaigns must be a list of names"),
    ({"runs": [{"id": "r", "experiments": [f"e{i}" for i in range(101)]}]},
     "batch: runs.experiments has 101 names; the limit is 100"),
    ({"runs": [{"id": "r", "campaigns": [f"c{i}" for i in range(101)]}]},
     "batch: runs.campaigns has 101 names; the limit is 100"),
    ({"runs": [{"id": "r", "experiments": [""]}]}, "experiment name must not be empty"),
    ({"runs": [{"id": "r", "campaigns": [""]}]}, "campaign name must not be empty"),
    ({"runs": [{"id": "r", "start_time": "now"}]},
     "batch: runs.start_time must be a number of seconds since the epoch, not 'now'"),
    # params and tags
    ({"params": [{"run_id": "r", "key": "", "value": 1}]}, "param name must not be empty"),
    ({"params": [{"run_id": "r", "key": "k", "value": math.nan}]},
     "param 'k': NaN and infinity are not valid param values (log them as a metric or a string)"),
    ({"tags": [{"run_id": "r", "key": "", "value": "v"}]}, "tag name must not be empty"),
    ({"tags": [{"run_id": "r", "key": "k", "value": b"v"}]}, "tag 'k': value must be text, not bytes"),
    # metrics
    ({"metrics": [{"run_id": "r", "name": "", "values": [1]}]}, "metric name must not be empty"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": b"1234567"}]},
     "batch: metric 'm' values: byte array length must be a multiple of 8"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": np.zeros((2, 2))}]},
     "batch: metric 'm' values must be a flat list of numbers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": "1,2"}]}, "batch: metric 'm' values must be a list of numbers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1, "x"]}]}, "batch: metric 'm' values: 'x' is not a number"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [True]}]}, "batch: metric 'm' values must hold numbers, not True"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [[1]]}]}, "batch: metric 'm' values must hold numbers, not [1]"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [10 ** 400]}]},
     "batch: metric 'm' values holds a number too large for a 64-bit float"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": [True]}]},
     "batch: metric 'm' steps must hold integers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": ["1"]}]},
     "batch: metric 'm' steps must hold integers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": [2 ** 63]}]},
     "batch: metric 'm' steps holds an integer outside the 64-bit range"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": [-(2 ** 63) - 1]}]},
     "batch: metric 'm' steps holds an integer outside the 64-bit range"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": b"123"}]},
     "batch: metric 'm' steps: byte array length must be a multiple of 8"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "timestamps": "t"}]},
     "batch: metric 'm' timestamps must be a list of numbers"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1, 2], "steps": [0]}]},
     "batch: metric 'm': steps, timestamps and values must have the same length"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1, 2], "timestamps": [1.0, 2.0, 3.0]}]},
     "batch: metric 'm': steps, timestamps and values must have the same length"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": [1.5]}]},
     "metric 'm': steps must be integers in the 64-bit range"),
    ({"metrics": [{"run_id": "r", "name": "m", "values": [1], "timestamps": [-1.0]}]},
     "metric 'm': timestamps must be finite seconds since the epoch between 0 and 1e+11"),
    # artifacts, their files
    ({"artifacts": [{"run_id": "r", "name": "", "files": []}]}, "artifact name must not be empty"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [], "type": "t" * (MAX_KEY + 1)}]},
     "batch: artifacts.type is 251 characters long; the limit is 250"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [], "metadata": []}]},
     "batch: artifacts.metadata must be an object (a dict), not list"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": {}}]}, "batch: artifacts.files must be a list"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [FILE] * 100_001}]},
     "batch: artifacts.files has 100001 files; the limit is 100000"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{"path": "x", "size": 1}]}]},
     "batch: artifacts.files item is missing 'sha256'"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [FILE, FILE]}]},
     "batch: artifact 'a' lists the file 'x.txt' twice"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "path": "../x"}]}]},
     "batch: artifacts.files.path '../x' must be a relative path without '..', '.', empty parts, "
     "backslashes or control characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "sha256": "0" * 63}]}]},
     "batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "sha256": "0" * 65}]}]},
     "batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "sha256": "A" * 64}]}]},
     "batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "sha256": "g" * 64}]}]},
     "batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "sha256": "X" * 64}]}]},
     "batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "sha256": 5}]}]},
     "batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "size": -1}]}]},
     f"batch: artifact file 'x.txt': size must be between 0 and {MAX_FILE_SIZE}, not -1"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "size": MAX_FILE_SIZE + 1}]}]},
     f"batch: artifact file 'x.txt': size must be between 0 and {MAX_FILE_SIZE}, not {MAX_FILE_SIZE + 1}"),
    ({"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "media_type": "csv"}]}]},
     "batch: artifact file 'x.txt': media_type 'csv' is not a media type such as 'text/csv' (type/subtype, at most "
     "255 characters)"),
    # figures
    ({"figures": [{"run_id": "r", "name": "", "kind": "image", "files": [FILE]}]}, "figure name must not be empty"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "svg", "files": [FILE]}]},
     "figure kind 'svg' is not one of matplotlib, plotly, image, confusion_matrix"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image", "files": []}]},
     f"batch: figure 'f' has 0 files; 1 to {MAX_FIGURE_FILES} are stored"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image",
                   "files": [{**FILE, "path": f"{i}.png"} for i in range(MAX_FIGURE_FILES + 1)]}]},
     f"batch: figure 'f' has {MAX_FIGURE_FILES + 1} files; 1 to {MAX_FIGURE_FILES} are stored"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image", "files": "x"}]}, "batch: figures.files must be a list"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image", "files": [FILE, FILE]}]},
     "batch: figure 'f' lists the file 'x.txt' twice"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image", "files": [{**FILE, "sha256": "x"}]}]},
     "batch: figure file 'x.txt': sha256 must be 64 lowercase hex characters"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image", "files": [{**FILE, "path": "/abs"}]}]},
     "batch: figures.files.path '/abs' must be a relative path without '..', '.', empty parts, backslashes or "
     "control characters"),
    ({"figures": [{"run_id": "r", "name": "f", "kind": "image", "files": [FILE], "step": 1.5}]},
     "figure 'f': step must be an integer, not 1.5"),
    # inputs
    ({"inputs": [{"run_id": "r", "artifact_id": 0}]}, f"batch: inputs.artifact_id must be between 1 and {BIG}, not 0"),
    ({"inputs": [{"run_id": "r", "artifact_id": "1"}]}, "batch: inputs.artifact_id must be an integer, not '1'"),
    ({"inputs": [{"run_id": "r", "artifact_id": 1, "role": "r" * 101}]},
     "batch: inputs.role is 101 characters long; the limit is 100"),
    ({"inputs": [{"run_id": "r", "artifact_id": 1, "role": 3}]}, "batch: inputs.role must be a string, not int"),
    # updates
    ({"updates": [{"run_id": "r", "status": "x"}]}, f"batch: updates.status 'x' is not one of {STATUSES}"),
    ({"updates": [{"run_id": "r", "end_time": "later"}]},
     "batch: updates.end_time must be a number of seconds since the epoch, not 'later'"),
    ({"updates": [{"run_id": "r", "name": "n" * (MAX_KEY + 1)}]},
     "batch: updates.name is 251 characters long; the limit is 250"),
    ({"updates": [{"run_id": "r", "description": "d" * (MAX_TEXT + 1)}]},
     "batch: updates.description is 100001 characters long; the limit is 100000"),
    ({"updates": [{"run_id": "r", "error": 5}]}, "batch: updates.error must be a string, not int"),
    # projects, experiments, campaigns
    ({"projects": [{"name": ""}]}, "project name must not be empty"),
    ({"projects": [{"name": "P", "description": 5}]}, "batch: projects.description must be a string, not int"),
    ({"experiments": [{"project": "", "name": "E"}]}, "project name must not be empty"),
    ({"experiments": [{"project": "P", "name": ""}]}, "experiment name must not be empty"),
    ({"experiments": [{"project": "P", "name": "E", "description": 5}]},
     "batch: experiments.description must be a string, not int"),
    ({"campaigns": [{"project": "", "name": "C"}]}, "project name must not be empty"),
    ({"campaigns": [{"project": "P", "name": ""}]}, "campaign name must not be empty"),
    ({"campaigns": [{"project": "P", "name": "C", "description": 5}]},
     "batch: campaigns.description must be a string, not int"),
    # models, datasets, aliases, stages
    ({"models": [{"project": "", "name": "m", "artifact_id": 1}]}, "project name must not be empty"),
    ({"models": [{"project": "P", "name": "", "artifact_id": 1}]}, "model name must not be empty"),
    ({"models": [{"project": "P", "name": "m", "artifact_id": 0}]},
     f"batch: models.artifact_id must be between 1 and {BIG}, not 0"),
    ({"models": [{"project": "P", "name": "m", "artifact_id": 1, "stage": "s" * (MAX_STAGE + 1)}]},
     "batch: models.stage is 51 characters long; the limit is 50"),
    ({"models": [{"project": "P", "name": "m", "artifact_id": 1, "description": 5}]},
     "batch: models.description must be a string, not int"),
    ({"datasets": [{"project": "", "name": "d", "run_id": "r", "kind": "file", "files": [FILE]}]},
     "project name must not be empty"),
    ({"datasets": [{"project": "P", "name": "", "run_id": "r", "kind": "file", "files": [FILE]}]},
     "dataset name must not be empty"),
    ({"datasets": [{"project": "P", "name": "d", "run_id": "r", "kind": "blob", "files": [FILE]}]},
     "batch: datasets.kind 'blob' is not one of file, folder, zip, table"),
    ({"datasets": [{"project": "P", "name": "d", "run_id": "r", "kind": "file", "files": []}]},
     "batch: dataset 'd' has no files"),
    ({"datasets": [{"project": "P", "name": "d", "run_id": "r", "kind": "file", "files": [FILE], "metadata": 5}]},
     "batch: datasets.metadata must be an object (a dict), not int"),
    ({"datasets": [{"project": "P", "name": "d", "run_id": "r", "kind": "file", "files": 5}]},
     "batch: datasets.files must be a list"),
    ({"datasets": [{"project": "P", "name": "d", "run_id": "r", "kind": "file", "files": [FILE, FILE]}]},
     "batch: dataset 'd' lists the file 'x.txt' twice"),
    ({"aliases": [{"project": "P", "alias": "prod", "version": 1}]},
     "batch: an aliases item names exactly one of 'model' and 'dataset'"),
    ({"aliases": [{"project": "P", "alias": "prod", "version": 1, "model": "m", "dataset": "d"}]},
     "batch: an aliases item names exactly one of 'model' and 'dataset'"),
    ({"aliases": [{"project": "", "alias": "prod", "version": 1, "model": "m"}]}, "project name must not be empty"),
    ({"aliases": [{"project": "P", "alias": "prod", "version": 1, "model": ""}]}, "model name must not be empty"),
    ({"aliases": [{"project": "P", "alias": "prod", "version": 1, "dataset": ""}]}, "dataset name must not be empty"),
    ({"aliases": [{"project": "P", "alias": "3", "version": 1, "model": "m"}]},
     "alias '3' must not be a number (name@3 means version 3)"),
    ({"aliases": [{"project": "P", "alias": "prod", "version": 0, "model": "m"}]},
     f"batch: aliases.version must be between 1 and {BIG}, not 0"),
    ({"stages": [{"project": "", "model": "m", "version": 1, "stage": "prod"}]}, "project name must not be empty"),
    ({"stages": [{"project": "P", "model": "", "version": 1, "stage": "prod"}]}, "model name must not be empty"),
    ({"stages": [{"project": "P", "model": "m", "version": 0, "stage": "prod"}]},
     f"batch: stages.version must be between 1 and {BIG}, not 0"),
    ({"stages": [{"project": "P", "model": "m", "version": 1, "stage": "s" * (MAX_STAGE + 1)}]},
     "batch: stages.stage is 51 characters long; the limit is 50"),
    ({"stages": [{"project": "P", "model": "m", "version": 1, "stage": 5}]},
     "batch: stages.stage must be a string, not int"),
]


@pytest.mark.parametrize("batch, message", REFUSALS, ids=[clean_id(m[:70]) for _, m in REFUSALS])
def test_a_bad_batch_is_refused_with_a_message_naming_the_field(batch, message):
    with refused(message):
        B.normalize_batch(batch)


# ------------------------------------------------------------------------------------------------------------------
# the accepted side of every limit, and what normalising makes of an item

ACCEPTED = [
    {"id": "a" * 100}, {"id": "a"}, {"id": "A-z_0.9:x"},
    {"runs": [{"id": "a" * 32}]}, {"runs": [{"id": "Az09-_"}]}, {"runs": ({"id": "r"},)},
    {"runs": [{"id": "r", "parent_id": None, "project": None}]},
    {"runs": [{"id": "r", "name": "n" * MAX_KEY, "user": "u" * MAX_KEY, "source": "s" * MAX_TEXT,
               "description": "d" * MAX_TEXT}]},
    {"runs": [{"id": "r", "experiments": [f"e{i}" for i in range(100)], "campaigns": ("c",)}]},
    {"runs": [{"id": "r", "status": s} for s in ("running", "finished", "failed", "killed", "crashed")]},
    {"artifacts": [{"run_id": "r", "name": "a", "files": [{**FILE, "size": 0}, {**FILE, "path": "y", "size": MAX_FILE_SIZE,
                                                                                  "sha256": "0123456789abcdef" * 4}]}]},
    {"figures": [{"run_id": "r", "name": "f", "kind": "image",
                  "files": [{**FILE, "path": f"{i}.png"} for i in range(MAX_FIGURE_FILES)]}]},
    {"inputs": [{"run_id": "r", "artifact_id": 1, "role": "r" * 100}]},
    {"models": [{"project": "P", "name": "m", "artifact_id": 1, "stage": "s" * MAX_STAGE}]},
    {"stages": [{"project": "P", "model": "m", "version": 1, "stage": "s" * MAX_STAGE}]},
    {"aliases": [{"project": "P", "alias": "prod", "version": None, "dataset": "d"}]},
    {"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": [2 ** 63 - 1]}]},
    {"metrics": [{"run_id": "r", "name": "m", "values": [1], "steps": [-(2 ** 63)]}]},
]


@pytest.mark.parametrize("batch", ACCEPTED, ids=[str(i) for i in range(len(ACCEPTED))])
def test_the_accepted_side_of_each_limit(batch):
    B.normalize_batch(batch)


def test_the_file_count_limit_is_checked_before_the_files():
    """100,000 files pass the count: the refusal is then the first bad file's, not the count's."""
    files = [{**FILE, "sha256": "bad"}] + [FILE] * 99_999
    with refused("batch: artifact file 'x.txt': sha256 must be 64 lowercase hex characters"):
        B.normalize_batch({"artifacts": [{"run_id": "r", "name": "a", "files": files}]})


def test_a_normalised_batch_has_every_section_and_the_batch_id():
    b = B.normalize_batch({"id": "b-1"})
    assert b == {**{k: [] for k in B.SECTIONS}, "id": "b-1"}
    assert list(b) == list(B.BATCH_KEYS)
    assert B.normalize_batch({})["id"] is None
    assert B.empty_batch() == {k: [] for k in B.SECTIONS}


def test_run_items_get_their_defaults_and_keep_what_they_say():
    item = {"id": "r", "name": "n", "parent_id": "p", "status": "finished", "start_time": 12.5, "project": "P",
            "experiments": ["E1", "E2"], "campaigns": ("C",), "user": "ann", "source": "s", "description": "d"}
    given = copy.deepcopy(item)
    r = one("runs", item)
    assert r == {**given, "campaigns": ["C"]}
    assert item == given  # a copy is normalised, not the caller's item
    assert one("runs", {"id": "r"}) == {"id": "r", "experiments": [], "campaigns": []}
    assert one("runs", {"id": "r", "parent_id": None})["parent_id"] is None


def test_params_tags_inputs_and_heartbeats_normalised():
    assert one("params", {"run_id": "r", "key": "k", "value": {"b": 1, "a": [1, 2]}}) == \
        {"run_id": "r", "key": "k", "value": '{"a":[1,2],"b":1}'}
    assert one("params", {"run_id": "r", "key": "k", "value": None})["value"] == "null"
    assert one("tags", {"run_id": "r", "key": "k", "value": None}) == {"run_id": "r", "key": "k", "value": None}
    assert one("tags", {"run_id": "r", "key": "k", "value": 5}) == {"run_id": "r", "key": "k", "value": "5"}
    assert one("inputs", {"run_id": "r", "artifact_id": 3}) == {"run_id": "r", "artifact_id": 3, "role": "input"}
    assert one("inputs", {"run_id": "r", "artifact_id": 3.0, "role": ""})["role"] == "input"
    assert one("inputs", {"run_id": "r", "artifact_id": 3, "role": "train"})["role"] == "train"
    assert B.normalize_batch({"heartbeat": ["a", "b"]})["heartbeat"] == ["a", "b"]


def test_updates_models_aliases_stages_normalised():
    """Whole-number floats (what JSON clients send) become the integers the store writes."""
    assert one("updates", {"run_id": "r", "end_time": None, "error": None}) == \
        {"run_id": "r", "end_time": None, "error": None}
    for got in (one("models", {"project": "P", "name": "m", "artifact_id": 2.0})["artifact_id"],
                one("aliases", {"project": "P", "alias": "a", "version": 2.0, "model": "m"})["version"],
                one("stages", {"project": "P", "model": "m", "version": 2.0, "stage": "prod"})["version"]):
        assert got == 2 and type(got) is int
    assert one("aliases", {"project": "P", "alias": "a", "version": None, "model": "m"})["version"] is None


def test_files_figures_and_datasets_normalised():
    """Files' sizes become integers and metadata a plain dict (what the store serialises), in every section."""
    a = one("artifacts", {"run_id": "r", "name": "a", "files": [{**FILE, "size": 3.0, "media_type": "text/plain"}],
                          "metadata": MappingProxyType({"k": 1}), "type": "model"})
    assert a["files"] == [{"path": "x.txt", "sha256": SHA, "size": 3, "media_type": "text/plain"}]
    assert type(a["files"][0]["size"]) is int and a["type"] == "model"
    assert a["metadata"] == {"k": 1} and type(a["metadata"]) is dict
    for section, item in (("figures", {"run_id": "r", "name": "f", "kind": "image"}),
                          ("datasets", {"project": "P", "name": "d", "run_id": "r", "kind": "file",
                                        "metadata": MappingProxyType({"rows": 3})})):
        got = one(section, {**item, "files": [{**FILE, "size": 3.0}]})
        assert got["files"] == [FILE] and type(got["files"][0]["size"]) is int, section
        if section == "datasets":
            assert got["metadata"] == {"rows": 3} and type(got["metadata"]) is dict
    f = one("figures", {"run_id": "r", "name": "f", "kind": "plotly", "files": [FILE], "step": 7.0,
                        "context": {"subset": "val"}})
    assert (f["step"], f["context"]) == (7, '{"subset":"val"}')
    f = one("figures", {"run_id": "r", "name": "f", "kind": "plotly", "files": [FILE]})
    assert (f["step"], f["context"]) == (None, "{}")
    d = one("datasets", {"project": "P", "name": "d", "run_id": "r", "kind": "table", "files": [FILE],
                         "metadata": {"rows": 3}})
    assert d["files"] == [FILE] and d["metadata"] == {"rows": 3}


def test_metric_values_from_lists_words_bytes_and_arrays():
    m = one("metrics", {"run_id": "r", "name": "m", "values": [1, 2.5, None, "NaN", "nan", "Infinity", "-infinity",
                                                                "inf", "-INF"]})
    v = m["points"].values
    assert v.dtype == np.float64 and v[:2].tolist() == [1.0, 2.5]
    assert math.isnan(v[2]) and math.isnan(v[3]) and math.isnan(v[4])
    assert v[5:].tolist() == [math.inf, -math.inf, math.inf, -math.inf]
    raw = np.array([0.5, -1.25], dtype="<f8").tobytes()
    m = one("metrics", {"run_id": "r", "name": "m", "values": raw, "steps": np.array([3, 9], "<i8").tobytes(),
                        "timestamps": bytearray(np.array([10.0, 11.0], "<f8").tobytes())})
    assert m["points"].values.tolist() == [0.5, -1.25] and m["points"].steps.tolist() == [3, 9]
    assert m["points"].timestamps.tolist() == [10.0, 11.0] and m["auto_steps"] is False
    assert m["points"].steps.dtype == np.int64 and m["points"].timestamps.dtype == np.float64
    big = 2 ** 53 + 1  # not a float: steps sent as bytes stay 64-bit integers all the way
    m = one("metrics", {"run_id": "r", "name": "m", "values": [1.0], "steps": np.array([big], "<i8").tobytes()})
    assert m["points"].steps.tolist() == [big]
    m = one("metrics", {"run_id": "r", "name": "m", "values": np.array([1.0, 2.0, 3.0])})
    assert m["points"].steps.tolist() == [0, 1, 2] and m["auto_steps"] is True
    m = one("metrics", {"run_id": "r", "name": "m", "values": [1, 2], "steps": [5, 6.0], "context": {"a": "b"}})
    assert m["points"].steps.tolist() == [5, 6] and m["context"] == '{"a":"b"}' and m["name"] == "m"
    assert one("metrics", {"run_id": "r", "name": "m", "values": []})["points"].values.size == 0


def test_points_without_timestamps_share_one_clock_reading_per_batch():
    before = time.time()
    b = B.normalize_batch({"metrics": [{"run_id": "r", "name": "a", "values": [1, 2]},
                                       {"run_id": "r", "name": "b", "values": [3], "timestamps": [5.0]},
                                       {"run_id": "r", "name": "c", "values": [4]}]})
    after = time.time()
    a, given, c = (m["points"].timestamps.tolist() for m in b["metrics"])
    assert given == [5.0]
    assert a[0] == a[1] == c[0] and before <= a[0] <= after


def test_referenced_runs_are_those_items_point_at():
    b = {"params": [{"run_id": "a"}], "metrics": [{"run_id": "m"}], "heartbeat": ["h"],
         "runs": [{"id": "c", "parent_id": "p"}, {"id": "d"}], "datasets": [{"run_id": "e"}], "tags": None}
    assert B.referenced_runs(b) == {"a", "m", "h", "p", "e"}
    assert B.referenced_runs({}) == set()
