"""Artifact files in an S3-compatible object store (a real HTTP server on 127.0.0.1), and a database server's
store without an artifact location."""

from __future__ import annotations

import time

import pytest

from jupyter_mltrack.core.blobs import BlobStore, MissingBlobs
from jupyter_mltrack.core.errors import InvalidInput, MLTrackError, NotFound
from jupyter_mltrack.core.s3_blobs import S3Blobs
from jupyter_mltrack.core.store import Store, open_blobs


def test_blobs_in_s3(s3_artifacts, s3_server, tmp_path):
    blobs = open_blobs(s3_artifacts)
    assert isinstance(blobs, S3Blobs)
    sha, size = blobs.put_bytes(b"weights")
    assert size == 7 and blobs.exists(sha) and blobs.size(sha) == 7
    bucket = s3_artifacts.split("/")[2]
    assert s3_server.keys(bucket) == [f"team/artifacts/{sha[:2]}/{sha[2:]}"]
    assert blobs.read_bytes(sha) == b"weights"
    body, n = blobs.open_sized(sha)
    assert (body.read(), n) == (b"weights", 7)
    blobs.copy_to(sha, tmp_path / "w.bin")
    assert (tmp_path / "w.bin").read_bytes() == b"weights"
    big = bytes(range(256)) * 40_000  # 10 MB: spooled through a temporary file
    assert blobs.put_file(_write(tmp_path / "big.bin", big)) == (_sha(big), len(big))
    assert blobs.read_bytes(_sha(big)) == big

    with pytest.raises(InvalidInput, match="does not match the expected"):
        blobs.put_bytes(b"other", expected_sha256="0" * 64)
    assert not blobs.exists(_sha(b"other")) and len(s3_server.keys(bucket)) == 2
    with pytest.raises(NotFound, match="is missing from the store"):
        blobs.read_bytes(_sha(b"never"))
    assert blobs.size(_sha(b"never")) is None

    listed = dict(blobs.list_blobs())
    assert set(listed) == {sha, _sha(big)} and listed[sha].st_size == 7
    assert list(blobs.list_temp_files()) == []

    # uploading the same bytes again refreshes the object: the collector's grace period starts again
    first = listed[sha].st_mtime
    time.sleep(1.1)  # S3 times have a resolution of a second
    assert blobs.put_bytes(b"weights") == (sha, 7)
    again = dict(blobs.list_blobs())[sha].st_mtime
    assert again > first
    assert blobs.remove_if_older(sha, cutoff=again - 0.5) is None and blobs.exists(sha)
    assert blobs.remove_if_older(sha, cutoff=again + 1) == 7 and not blobs.exists(sha)
    assert blobs.remove_if_older(sha, cutoff=again + 1) is None


def test_a_store_on_postgresql_with_artifacts_in_s3(pg_url, s3_artifacts, s3_server):
    store = Store(pg_url)
    try:
        assert isinstance(store.blobs, S3Blobs)
        sha, size = store.blobs.put_bytes(b"model bytes")
        store.write_batch({"runs": [{"id": "r1", "project": "P"}],
                           "artifacts": [{"run_id": "r1", "name": "model",
                                          "files": [{"path": "m.pkl", "sha256": sha, "size": size}]}]})
        art = store.find_artifact("r1", "model")
        assert store.read_artifact_file(art["id"], "m.pkl") == b"model bytes"
        with pytest.raises(NotFound, match="has not been uploaded"):
            store.write_batch({"artifacts": [{"run_id": "r1", "name": "x", "files": [
                {"path": "x", "sha256": _sha(b"not sent"), "size": 8}]}]})
        orphan, _ = store.blobs.put_bytes(b"orphan")
        assert store.gc(grace_hours=1)["blobs_kept_young"] == 1
        report = store.gc(grace_hours=0)
        assert (report["blobs_removed"], report["bytes_freed"]) == (1, 6)
        assert store.blobs.exists(sha) and not store.blobs.exists(orphan)
    finally:
        store.close()


def test_a_database_server_store_without_an_artifact_location_says_so(pg_url, monkeypatch):
    monkeypatch.delenv("MLTRACK_ARTIFACTS", raising=False)
    store = Store(pg_url)
    try:
        assert isinstance(store.blobs, MissingBlobs)
        store.write_batch({"runs": [{"id": "r1", "project": "P"}], "params": [{"run_id": "r1", "key": "k", "value": 1}]})
        with pytest.raises(MLTrackError, match="this postgresql store has no artifact location: set MLTRACK_ARTIFACTS "
                                               "to s3://bucket/prefix"):
            store.blobs.put_bytes(b"x")
        assert store.gc()["blobs_removed"] == 0  # nothing to collect, and no error
    finally:
        store.close()


def test_artifact_locations_are_checked(tmp_path):
    assert isinstance(open_blobs(str(tmp_path)), BlobStore)
    with pytest.raises(InvalidInput, match="'ftp://host/x' is neither s3://bucket/prefix nor a folder"):
        open_blobs("ftp://host/x")
    with pytest.raises(InvalidInput, match="names no bucket"):
        open_blobs("s3:///prefix")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
