"""Content-addressed files: every artifact file is stored once under ``<root>/<sha[:2]>/<sha[2:]>``.

Writes go to a temporary file in the same folder and are renamed into place, so a reader never sees a partial blob
and two processes writing the same bytes at once both succeed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidInput, NotFound

_BUF = 1 << 20


class BlobStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput(f"{sha256!r} is not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
        """Copy a stream into the store; returns (sha256, size). With ``expected_sha256`` a mismatch is refused."""
        self.root.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
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
            dest = self.path(sha)
            if dest.is_file():
                os.unlink(tmp)
            else:
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

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as f:
            return f.read()

    def copy_to(self, sha256: str, dest: str | os.PathLike) -> None:
        with self.open(sha256) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, _BUF)


def sha256_file(path: str | os.PathLike) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            buf = f.read(_BUF)
            if not buf:
                break
            h.update(buf)
            size += len(buf)
    return h.hexdigest(), size
