"""boto3 clients for devstack's own calls to the emulator (provisioning, pollers, sweeper).

Dummy credentials and a fixed region: the emulator accepts any, and devstack must never pick up a
developer's real AWS profile and talk to a real account by accident.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from devstack.template import REGION

DUMMY_CREDENTIALS = {"aws_access_key_id": "devstack", "aws_secret_access_key": "devstack"}


@cache
def client(service: str, endpoint_url: str, read_timeout: int = 60) -> Any:
    """One client per (service, endpoint); boto3 clients are thread-safe once built."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        max_pool_connections=20,
    )
    return boto3.session.Session().client(
        service, endpoint_url=endpoint_url, region_name=REGION, config=config, **DUMMY_CREDENTIALS
    )
