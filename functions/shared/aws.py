"""boto3 clients built once per process (reused across warm invocations) and pointed at
`AWS_ENDPOINT_URL` by boto3 itself when it is set, so the same code talks to AWS or to an emulator."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3  # imported lazily: handler modules stay cheap to import

    return boto3.client(service)
