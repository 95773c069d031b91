"""A real S3-compatible HTTP server for tests: moto in server mode, on a free local port."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

from tests.support.services import free_port


@dataclass
class S3Server:
    endpoint: str
    server: ThreadedMotoServer

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def start_s3_server() -> S3Server:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Server(endpoint=f"http://127.0.0.1:{port}", server=server)
