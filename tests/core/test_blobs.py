"""core/blobs.py: content-addressed files, written atomically, stored once."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading

import pytest

from jupyter_mltrack.core.blobs import BlobStore, sha256_file
from jupyter_mltrack.core.errors import InvalidInput, NotFound


def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def blobs(tmp_path):
    return BlobStore(tmp_path / "artifacts")


def test_put_bytes_is_content_addressed(blobs):
    data = b"hello world"
    sha, size = blobs.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    p = blobs.path(sha)
    assert p == blobs.root / sha[:2] / sha[2:]
    assert p.read_bytes() == data and blobs.exists(sha)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o644
    assert blobs.read_bytes(sha) == data


def test_same_bytes_are_stored_once(blobs, tmp_path):
    a = blobs.put_bytes(b"same")
    src = tmp_path / "f.bin"
    src.write_bytes(b"same")
    b = blobs.put_file(src)
    c = blobs.put_stream(io.BytesIO(b"same"))
    assert a == b == c
    blobs.put_bytes(b"other")
    assert len(files_under(blobs.root)) == 2  # and no temporary files left behind


def test_empty_and_large_blobs(blobs, tmp_path):
    sha, size = blobs.put_bytes(b"")
    assert size == 0 and sha == hashlib.sha256(b"").hexdigest() and blobs.read_bytes(sha) == b""
    big = os.urandom(3 * (1 << 20) + 17)  # several read buffers
    src = tmp_path / "big.bin"
    src.write_bytes(big)
    sha, size = blobs.put_file(src)
    assert (sha, size) == sha256_file(src) == (hashlib.sha256(big).hexdigest(), len(big))
    out = tmp_path / "copy.bin"
    blobs.copy_to(sha, out)
    assert out.read_bytes() == big


def test_expected_hash_mismatch_is_refused_and_leaves_nothing(blobs):
    with pytest.raises(InvalidInput, match="does not match"):
        blobs.put_bytes(b"data", expected_sha256="0" * 64)
    assert files_under(blobs.root) == []
    sha = hashlib.sha256(b"data").hexdigest()
    assert blobs.put_bytes(b"data", expected_sha256=sha) == (sha, 4)


def test_a_failing_stream_leaves_no_temporary_file(blobs):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def read(self, n=-1):
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk on fire")
            return b"x" * 100

    with pytest.raises(OSError, match="disk on fire"):
        blobs.put_stream(Broken())
    assert files_under(blobs.root) == []


@pytest.mark.parametrize("bad", ["", "abc", "A" * 64, "g" * 64, "../" + "a" * 61, "a" * 63, "a" * 65, "a" * 63 + "/"])
def test_paths_need_a_hex_digest(blobs, bad):
    with pytest.raises(InvalidInput, match="not a SHA-256 hex digest"):
        blobs.path(bad)
    with pytest.raises(InvalidInput):
        blobs.exists(bad)


def test_missing_blob_is_not_found(blobs, tmp_path):
    sha = "c" * 64
    assert not blobs.exists(sha)
    with pytest.raises(NotFound, match="missing"):
        blobs.open(sha)
    with pytest.raises(NotFound):
        blobs.read_bytes(sha)
    with pytest.raises(NotFound):
        blobs.copy_to(sha, tmp_path / "out")


def test_concurrent_writers_of_the_same_bytes(blobs):
    data = os.urandom(1 << 20)
    results, errors = [], []

    def put():
        try:
            results.append(blobs.put_bytes(data))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1
    assert files_under(blobs.root) == [os.path.join(results[0][0][:2], results[0][0][2:])]
    assert blobs.read_bytes(results[0][0]) == data
