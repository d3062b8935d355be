"""Datasets from the kernel: log a file, a folder (as a set of files, or zipped) or a DataFrame (as Parquet) as a
version of a named dataset — versioned by content, so the same content is the same version — use a version (a local
path, recorded as an input of the active run) and compare two versions.

The content is computed here before anything is uploaded (``core.datasets.files_content`` of the files' hashes): a
version the store already holds costs no upload and no write.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from ..core.blobs import sha256_file
from ..core.datasets import files_content
from ..core.errors import InvalidInput, NotFound
from ..core.validation import check_alias, check_key, check_metadata
from .registry import cache_dir, download_artifact, record_input
from .run import ACTIVE, Run, new_run_id
from .tracking import get_client

#: Rows of a table's preview kept with its version.
PREVIEW_ROWS = 5
TABLE_SUFFIXES = (".parquet", ".csv")


def _is_frame(data: Any) -> bool:
    return hasattr(data, "to_parquet") and hasattr(data, "columns")


def table_metadata(frame) -> dict:
    """A table's schema ({column: dtype}), row count, columns and first rows (JSON-safe)."""
    return {"schema": {str(c): str(t) for c, t in frame.dtypes.items()}, "rows": int(len(frame)),
            "columns": [str(c) for c in frame.columns],
            "preview": json.loads(frame.head(PREVIEW_ROWS).to_json(orient="records", date_format="iso"))}


def _parquet_bytes(frame) -> bytes:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InvalidInput("log_dataset: a DataFrame is stored as Parquet, which needs pyarrow "
                           "(pip install 'jupyter_mltrack[datasets]')") from None
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _zip_folder(folder: Path) -> bytes:
    """The folder's files as a zip whose bytes depend on their paths and contents only (fixed times and modes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(x for x in folder.rglob("*") if x.is_file()):
            info = zipfile.ZipInfo(p.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, p.read_bytes())
    return buf.getvalue()


def _prepare(data: Any, name: str, zip: bool) -> tuple[str, list[tuple[str, Path | bytes]], dict]:
    """(kind, [(path in the dataset, a local file or bytes)], metadata)."""
    if _is_frame(data):
        return "table", [("data.parquet", _parquet_bytes(data))], table_metadata(data)
    if not isinstance(data, (str, os.PathLike)):
        raise InvalidInput(f"log_dataset: expected a file, a folder or a DataFrame, not {type(data).__name__}")
    p = Path(data)
    if not p.exists():
        raise InvalidInput(f"log_dataset: {os.fspath(data)!r} does not exist")
    if p.is_dir():
        paths = sorted(x for x in p.rglob("*") if x.is_file())
        if not paths:
            raise InvalidInput(f"log_dataset: the folder {os.fspath(data)!r} holds no files")
        meta = {"files": len(paths), "bytes": sum(x.stat().st_size for x in paths)}
        if zip:
            return "zip", [(f"{p.name or name}.zip", _zip_folder(p))], meta
        return "folder", [(x.relative_to(p).as_posix(), x) for x in paths], meta
    meta: dict = {"bytes": p.stat().st_size}
    if p.suffix.lower() in TABLE_SUFFIXES:
        import pandas as pd

        try:
            frame = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
            meta.update(table_metadata(frame))
        except Exception as e:  # a file that does not read as a table is still a file
            meta["table_error"] = f"{type(e).__name__}: {e}"[:500]
    return "file", [(p.name, p)], meta


def log_dataset(data: Any, name: str, project: str | None = None, zip: bool = False,
                run: "Run | None" = None) -> dict:
    """Log ``data`` — a file, a folder (a set of files; ``zip=True``: one zip) or a pandas DataFrame (Parquet, with
    its schema, row count and a preview) — as a version of the dataset ``name`` in ``project`` (default: the run's,
    else ``MLTRACK_PROJECT``, else "Default"). The same content is the same version. The version's files belong
    to ``run`` (default: the active run; without one, a finished run of its own named ``dataset <name>``).
    Returns the version (``version``, ``content``, ``kind``, ``metadata``, ``files``…)."""
    check_key("dataset", name)
    run = run or ACTIVE.top()
    project = project or (run.project if run is not None else os.environ.get("MLTRACK_PROJECT") or "Default")
    check_key("project", project)
    kind, parts, meta = _prepare(data, name, zip)
    meta = check_metadata(f"dataset {name!r}: metadata", meta)
    hashed = [(rel, sha256_file(src) if isinstance(src, Path) else (hashlib.sha256(src).hexdigest(), len(src)), src)
              for rel, src in parts]
    content = files_content((rel, sha) for rel, (sha, _), _ in hashed)
    client = get_client()
    client.writer.flush()
    try:
        held = client.backend.list_datasets(project, name)
    except NotFound:  # a new project
        held = []
    for v in held:
        if v["content"] == content:
            return v  # held already: nothing to upload or write
    files = []
    for rel, _, src in hashed:
        sha, size = client.backend.put_file(src) if isinstance(src, Path) else client.backend.put_bytes(src)
        files.append({"path": rel, "sha256": sha, "size": size})
    batch: dict[str, list] = {}
    if run is None:
        rid = new_run_id()
        batch["runs"] = [{"id": rid, "name": f"dataset {name}", "project": project, "status": "running",
                          "start_time": time.time()}]
        batch["updates"] = [{"run_id": rid, "status": "finished", "end_time": time.time()}]
    else:
        rid = run.id
    batch["datasets"] = [{"project": project, "name": name, "run_id": rid, "kind": kind, "files": files,
                          "metadata": meta}]
    done = client.writer.write_now(batch)
    return client.backend.resolve_dataset(name, version=done["dataset_versions"][0]["version"], project=project)


def use_dataset(name: str, version: int | None = None, alias: str | None = None,
                project: str | None = None) -> Path:
    """A local path to a version of the dataset ``name`` (by ``version``, by ``alias``, else the newest): the file
    (a file or a table), or a folder (a folder, or a zip extracted). Files are cached under ``~/.mltrack/cache``.
    The version is recorded as an input (role ``dataset``) of the active run."""
    if alias is not None:
        check_alias(alias)
    client = get_client()
    client.writer.flush()
    v = client.backend.resolve_dataset(name, version, alias, project)
    folder = download_artifact(client.backend, {"id": v["artifact_id"], "files": v["files"]},
                               cache_dir("datasets", v["content"]))
    record_input(client, {"id": v["artifact_id"], "run_id": v["run_id"]}, "dataset")
    if v["kind"] == "folder":
        return folder
    path = folder / v["files"][0]["path"]
    if v["kind"] == "zip":
        out = folder.parent / (folder.name + ".unzipped")
        if not out.is_dir():
            tmp = folder.parent / f"{folder.name}.unzipping-{os.getpid()}"
            with zipfile.ZipFile(path) as z:
                z.extractall(tmp)
            os.replace(tmp, out)
        return out
    return path


def diff_datasets(name: str, a: int | str, b: int | str, project: str | None = None) -> dict:
    """What differs between two versions (numbers or aliases) of the dataset ``name``: ``files`` (added, removed,
    changed); for tables ``columns`` (added, removed, changed types) and ``rows`` (counts, rows added and
    removed)."""
    client = get_client()
    client.writer.flush()
    return client.backend.diff_datasets(name, a, b, project)


def list_datasets(project: str | None = None, name: str | None = None):
    """Every dataset version (of ``project``, of ``name``), newest first, as a DataFrame."""
    import pandas as pd

    client = get_client()
    client.writer.flush(raise_errors=False)
    rows = client.backend.list_datasets(project, name)
    return pd.DataFrame([{k: v for k, v in r.items() if k != "files"} for r in rows])


def set_dataset_alias(name: str, alias: str, version: int | None, project: str | None = None) -> dict | None:
    """Point the alias of the dataset ``name`` at ``version`` (moving it, in one transaction); None removes it.
    Returns the version it now names."""
    check_key("dataset", name)
    check_alias(alias)
    client = get_client()
    client.writer.flush()
    project = project or client.backend.resolve_dataset(name)["project"]
    client.writer.write_now({"aliases": [{"project": project, "dataset": name, "alias": alias, "version": version}]})
    return None if version is None else client.backend.resolve_dataset(name, alias=alias, project=project)
