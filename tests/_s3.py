"""A real S3-compatible HTTP server for the tests: moto's standalone server on a free loopback port, started once
per session; each test gets a fresh bucket. The store talks to it as to any S3 endpoint (``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

import itertools
import os
import socket

_buckets = itertools.count()
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mltrack-test", "AWS_SECRET_ACCESS_KEY": "mltrack-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> "S3Server":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def env(self) -> dict[str, str]:
        """The environment a client (or a server subprocess) needs to reach this endpoint."""
        return {"AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}

    def client(self):
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint, **{
            "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"], "region_name": "us-east-1"})

    def create_bucket(self) -> str:
        name = f"mltrack-{os.getpid()}-{next(_buckets)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        out = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            out += [o["Key"] for o in page.get("Contents", ())]
        return sorted(out)
