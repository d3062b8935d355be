"""Content-addressed files: every artifact file is stored once, named by its SHA-256 — in a folder (this module,
``<root>/<sha[:2]>/<sha[2:]>``) or in an S3-compatible object store (``core/s3_blobs.py``), both behind the
:class:`Blobs` protocol; ``store.open_blobs`` picks one from the store's artifact location.

Writes go to a temporary file in the same folder and are renamed into place, so a reader never sees a partial blob
and two processes writing the same bytes at once both succeed.

Temporary files sit in ``<root>`` itself, named ``.incoming-…`` (an upload in progress, or one whose process died)
or ``.removing-…`` (a blob the collector, ``core/blob_gc.py``, is removing). Uploading bytes that are already stored
refreshes the blob's modification time: the collector removes an unreferenced blob only once it is older than its
grace period, so a blob uploaded again just before the batch that names it is never removed in between.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple, Protocol

from .errors import InvalidInput, MLTrackError, NotFound

_BUF = 1 << 20
INCOMING_PREFIX = ".incoming-"  # an upload being written (or left by a process that died)
REMOVING_PREFIX = ".removing-"  # a blob set aside by the collector while it decides
TEMP_PREFIXES = (INCOMING_PREFIX, REMOVING_PREFIX)
_HEX = frozenset("0123456789abcdef")


class BlobStat(NamedTuple):
    """What the collector needs to know of a stored blob or temporary file."""

    st_size: int
    st_mtime: float


class Blobs(Protocol):
    """Where artifact files' bytes live. Uploading bytes already stored refreshes their modification time (the
    collector removes an unreferenced blob only once older than its grace period)."""

    location: str

    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int | None: ...
    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]: ...
    def put_bytes(self, data: bytes, expected_sha256: str | None = None) -> tuple[str, int]: ...
    def put_file(self, path: str | os.PathLike) -> tuple[str, int]: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]: ...
    def read_bytes(self, sha256: str) -> bytes: ...
    def copy_to(self, sha256: str, dest: str | os.PathLike) -> None: ...
    def list_blobs(self) -> Iterator[tuple[str, BlobStat]]: ...
    def list_temp_files(self) -> Iterator[tuple[str, BlobStat]]: ...
    def remove_temp(self, name: str, cutoff: float) -> int | None: ...
    def remove_if_older(self, sha256: str, cutoff: float) -> int | None: ...


def copy_hashed(stream: BinaryIO, out: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
    """Copy ``stream`` into ``out`` while hashing it; returns (sha256, size). A content that does not hash to
    ``expected_sha256`` is refused (:class:`InvalidInput`) — every blob store takes content this way."""
    h = hashlib.sha256()
    size = 0
    while True:
        buf = stream.read(_BUF)
        if not buf:
            break
        h.update(buf)
        out.write(buf)
        size += len(buf)
    sha = h.hexdigest()
    if expected_sha256 is not None and sha != expected_sha256:
        raise InvalidInput(f"content hash {sha} does not match the expected {expected_sha256}")
    return sha, size


def check_sha256(sha256: str) -> str:
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput(f"{sha256!r} is not a SHA-256 hex digest")
    return sha256


class MissingBlobs:
    """The blobs of a store that has no artifact location: every use says how to give it one (a database shared by
    several clients must not have each client keep artifact files in its own home)."""

    location = ""

    def __init__(self, why: str) -> None:
        self.why = why or "this store has no artifact location"

    def _refuse(self, *_a, **_k):
        raise MLTrackError(f"{self.why}: set MLTRACK_ARTIFACTS to s3://bucket/prefix (an S3-compatible object store) "
                           "or to a folder every client and server of the store shares")

    exists = size = put_stream = put_bytes = put_file = open = open_sized = read_bytes = copy_to = _refuse
    remove_temp = remove_if_older = _refuse

    def list_blobs(self) -> Iterator[tuple[str, BlobStat]]:
        return iter(())

    list_temp_files = list_blobs


class BlobStore:
    """Blobs in a folder (the embedded default: ``artifacts/`` beside the SQLite file)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.location = str(self.root)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int | None:
        try:
            return os.stat(self.path(sha256)).st_size
        except FileNotFoundError:
            return None

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
        """Copy a stream into the store; returns (sha256, size). With ``expected_sha256`` a mismatch is refused."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=INCOMING_PREFIX, dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                sha, size = copy_hashed(stream, out, expected_sha256)
            dest = self.path(sha)
            if _touch(dest):  # already stored: its grace period restarts now (see the module's docstring)
                os.unlink(tmp)
            else:  # new, set aside by the collector, or not ours to touch: this copy takes its place
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o644)
                os.replace(tmp, dest)
            return sha, size
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def put_bytes(self, data: bytes, expected_sha256: str | None = None) -> tuple[str, int]:
        import io

        return self.put_stream(io.BytesIO(data), expected_sha256)

    def put_file(self, path: str | os.PathLike) -> tuple[str, int]:
        with open(path, "rb") as f:
            return self.put_stream(f)

    def open(self, sha256: str) -> BinaryIO:
        p = self.path(sha256)
        try:
            return open(p, "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {sha256} is missing from the store") from None

    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]:
        """The blob opened, and the size of what will be read (the open file's: whatever happens to the name)."""
        f = self.open(sha256)
        return f, os.fstat(f.fileno()).st_size

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as f:
            return f.read()

    def copy_to(self, sha256: str, dest: str | os.PathLike) -> None:
        with self.open(sha256) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, _BUF)


    # -- what the collector (core/blob_gc.py) needs --------------------------------------------------------------

    def list_blobs(self) -> Iterator[tuple[str, os.stat_result]]:
        """Every stored blob: (sha256, its stat)."""
        for shard in _scandir(self.root):
            if len(shard.name) != 2 or not _HEX.issuperset(shard.name) or not shard.is_dir(follow_symlinks=False):
                continue
            for f in _scandir(shard.path):
                if len(f.name) == 62 and _HEX.issuperset(f.name):
                    try:
                        yield shard.name + f.name, f.stat(follow_symlinks=False)
                    except FileNotFoundError:  # removed meanwhile
                        pass

    def list_temp_files(self) -> Iterator[tuple[str, os.stat_result]]:
        """The temporary files in the store's folder (uploads in progress or abandoned, blobs being removed)."""
        for f in _scandir(self.root):
            if f.name.startswith(TEMP_PREFIXES):
                try:
                    yield f.name, f.stat(follow_symlinks=False)
                except FileNotFoundError:
                    pass

    def remove_temp(self, name: str, cutoff: float) -> int | None:
        """Remove the temporary file ``name`` if it was last written before ``cutoff``: its size, else None (still
        being written, finished, or removed meanwhile)."""
        if not name.startswith(TEMP_PREFIXES) or "/" in name or os.sep in name:
            raise InvalidInput(f"{name!r} is not a temporary file of the blob store")
        p = self.root / name
        try:
            st = os.stat(p)
            if st.st_mtime > cutoff:
                return None
            os.unlink(p)
        except FileNotFoundError:
            return None
        return st.st_size

    def remove_if_older(self, sha256: str, cutoff: float) -> int | None:
        """Remove a blob last written (or uploaded again) before ``cutoff`` (epoch seconds); its size when removed,
        else None (refreshed, or gone). The caller has made sure nothing references it.

        The blob is first renamed aside and judged by the modification time of what was renamed: an upload that
        refreshed it before the rename is seen (and the blob put back), one after the rename finds no blob and
        puts its own copy in place. An upload that reported success thus always leaves the blob in place."""
        p = self.path(sha256)
        aside = self.root / f"{REMOVING_PREFIX}{sha256}-{os.getpid()}-{threading.get_ident()}"
        try:
            os.replace(p, aside)
        except FileNotFoundError:
            return None
        st = os.stat(aside)
        if st.st_mtime > cutoff:
            os.replace(aside, p)  # uploaded again meanwhile; a copy put there since holds the same bytes
            return None
        os.unlink(aside)
        return st.st_size


def _touch(path: Path) -> bool:
    """Set a stored blob's modification time to now; False when there is none (or it is not ours to touch)."""
    try:
        os.utime(path)
        return True
    except (FileNotFoundError, PermissionError):
        return False


def _scandir(path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except FileNotFoundError:
        return []


class _Discard:
    """A sink that keeps nothing: hashing a file without copying it."""

    @staticmethod
    def write(buf: bytes) -> int:
        return len(buf)


def sha256_file(path: str | os.PathLike) -> tuple[str, int]:
    with open(path, "rb") as f:
        return copy_hashed(f, _Discard())  # type: ignore[arg-type]
