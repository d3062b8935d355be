"""Blobs in an S3-compatible object store: ``MLTRACK_ARTIFACTS=s3://bucket/prefix``, one object per blob under
``<prefix>/<sha[:2]>/<sha[2:]>``, through boto3 (imported when a store uses S3).

The endpoint and credentials are boto3's usual ones: ``AWS_ENDPOINT_URL`` (any S3-compatible server: MinIO, Ceph,
R2, moto…), ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, or a profile.

An upload is hashed while it is spooled (memory, then a temporary file) and sent under its final name only when
its hash is right, so no partial or wrong object is ever visible and there are no temporary objects to collect.
Sending bytes already stored refreshes the object's modification time instead (a copy onto itself), as the folder
store touches its file: the collector's grace period counts from the last upload. The collector removes an object
after checking its modification time; unlike the folder store's rename-aside there is no atomic check-and-remove
in S3, so an upload of the very same bytes within the milliseconds between the check and the removal of a blob
unreferenced for longer than the grace period could lose them (the batch naming them is then refused, saying the
file was not uploaded, and kept in ``rejected/``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import BinaryIO, Iterator

from .blobs import BlobStat, check_sha256, copy_hashed
from .errors import InvalidInput, NotFound

_BUF = 1 << 20
SPOOL_BYTES = 8 << 20  # uploads up to this size are hashed in memory, larger ones in a temporary file
_HEX = frozenset("0123456789abcdef")


class S3Blobs:
    def __init__(self, url: str):
        rest = url[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise InvalidInput(f"MLTRACK_ARTIFACTS: {url!r} names no bucket (s3://bucket/prefix)")
        self.location = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<S3Blobs {self.location}>"

    @property
    def client(self):
        """A boto3 client per thread (clients are thread-safe, but their creation is not)."""
        c = getattr(self._local, "client", None)
        if c is None:
            import boto3
            from botocore.config import Config

            c = boto3.session.Session().client("s3", config=Config(
                retries={"max_attempts": 6, "mode": "standard"}, max_pool_connections=16))
            self._local.client = c
        return c

    def key(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.prefix}/{sha256[:2]}/{sha256[2:]}" if self.prefix else f"{sha256[:2]}/{sha256[2:]}"

    def _head(self, sha256: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int | None:
        head = self._head(sha256)
        return None if head is None else int(head["ContentLength"])

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            sha, size = copy_hashed(stream, spool, expected_sha256)
            if not self._refresh(sha):
                spool.seek(0)
                self.client.upload_fileobj(spool, self.bucket, self.key(sha))
        return sha, size

    def _refresh(self, sha256: str) -> bool:
        """Restart a stored blob's grace period (a copy onto itself sets its modification time); False when there
        is none."""
        from botocore.exceptions import ClientError

        key = self.key(sha256)
        try:
            self.client.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                                    Metadata={"uploaded": f"{time.time():.3f}"}, MetadataDirective="REPLACE")
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def put_bytes(self, data: bytes, expected_sha256: str | None = None) -> tuple[str, int]:
        import io

        return self.put_stream(io.BytesIO(data), expected_sha256)

    def put_file(self, path: str | os.PathLike) -> tuple[str, int]:
        with open(path, "rb") as f:
            return self.put_stream(f)

    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(f"blob {sha256} is missing from the store") from None
            raise
        return obj["Body"], int(obj["ContentLength"])

    def open(self, sha256: str) -> BinaryIO:
        return self.open_sized(sha256)[0]

    def read_bytes(self, sha256: str) -> bytes:
        body = self.open(sha256)
        try:
            return body.read()
        finally:
            body.close()

    def copy_to(self, sha256: str, dest: str | os.PathLike) -> None:
        body = self.open(sha256)
        try:
            with open(dest, "wb") as out:
                shutil.copyfileobj(body, out, _BUF)
        finally:
            body.close()

    # -- what the collector (core/blob_gc.py) needs --------------------------------------------------------------

    def list_blobs(self) -> Iterator[tuple[str, BlobStat]]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in pages:
            for obj in page.get("Contents", ()):
                shard, _, rest = obj["Key"][len(start):].partition("/")
                sha = shard + rest
                if len(shard) == 2 and len(sha) == 64 and _HEX.issuperset(sha):
                    yield sha, BlobStat(int(obj["Size"]), obj["LastModified"].timestamp())

    def list_temp_files(self) -> Iterator[tuple[str, BlobStat]]:
        return iter(())  # uploads are spooled locally: nothing temporary is ever stored

    def remove_temp(self, name: str, cutoff: float) -> int | None:
        raise InvalidInput(f"{name!r} is not a temporary file of the blob store (an S3 store has none)")

    def remove_if_older(self, sha256: str, cutoff: float) -> int | None:
        head = self._head(sha256)
        if head is None or head["LastModified"].timestamp() > cutoff:
            return None
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        return int(head["ContentLength"])
