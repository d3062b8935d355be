"""core/blobs.py: what counts as a stored blob or a temporary file when the collector lists the store's folder —
only the store's own layout (``<2 hex>/<62 hex>``, ``.incoming-*`` / ``.removing-*``), never a look-alike, never
through a symbolic link — and the store's folder created however deep it is."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from jupyter_mltrack.core.blobs import BlobStore
from jupyter_mltrack.core.errors import InvalidInput


@pytest.fixture
def blobs(tmp_path):
    return BlobStore(tmp_path / "artifacts")


def test_only_the_stores_own_layout_is_listed(blobs, tmp_path):
    sha, _ = blobs.put_bytes(b"stored")
    root, shard = blobs.root, blobs.root / sha[:2]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ("b" * 62)).write_bytes(b"not ours")
    lookalikes = {
        root / "zz" / ("a" * 62): b"a folder named like no shard",
        root / "abc" / ("a" * 62): b"a hex folder of three characters",
        shard / "deadbeef": b"a short hex name",
        shard / ("g" * 62): b"62 characters, not hex",
    }
    for p, data in lookalikes.items():
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
    (root / "ef").write_bytes(b"a file named like a shard")
    (root / "cd").symlink_to(outside, target_is_directory=True)  # a shard that is a link: not the store's
    target = tmp_path / "target.bin"
    target.write_bytes(b"12345678")
    link = shard / ("c" * 62)
    link.symlink_to(target)  # a blob-shaped link: listed as the link it is, never followed
    listed = dict(blobs.list_blobs())
    assert sorted(listed) == sorted([sha, sha[:2] + "c" * 62])
    assert stat.S_ISREG(listed[sha].st_mode) and listed[sha].st_size == len(b"stored")
    assert stat.S_ISLNK(listed[sha[:2] + "c" * 62].st_mode)


def test_temporary_files_are_listed_as_themselves(blobs, tmp_path):
    blobs.put_bytes(b"stored")
    (blobs.root / ".incoming-abc").write_bytes(b"half an upload")
    target = tmp_path / "elsewhere.bin"
    target.write_bytes(b"x" * 100)
    (blobs.root / ".removing-def").symlink_to(target)
    (blobs.root / "incoming-no-dot").write_bytes(b"not a temporary file")
    listed = {os.path.basename(p): st for p, st in blobs.list_temp_files()}
    assert sorted(listed) == [".incoming-abc", ".removing-def"]
    assert stat.S_ISREG(listed[".incoming-abc"].st_mode) and listed[".incoming-abc"].st_size == 14
    assert stat.S_ISLNK(listed[".removing-def"].st_mode)


@pytest.mark.parametrize("bad", ["X" * 64, "A" * 64, "0" * 63, "0" * 65, "g" * 64, ""])
def test_a_path_is_only_for_a_lowercase_hex_digest(blobs, bad):
    with pytest.raises(InvalidInput, match="is not a SHA-256 hex digest"):
        blobs.path(bad)


def test_the_stores_folder_is_created_however_deep(tmp_path):
    deep = BlobStore(tmp_path / "a" / "b" / "c" / "artifacts")
    sha, size = deep.put_bytes(b"deep")
    assert sha == hashlib.sha256(b"deep").hexdigest() and size == 4
    assert deep.read_bytes(sha) == b"deep"
