"""boto3 clients for devstack's own calls to the emulator (provisioning, pollers, sweeper).

Dummy credentials and a fixed region: the emulator accepts any, and devstack must never pick up a
developer's real AWS profile and talk to a real account by accident.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from devstack.template import REGION

DUMMY_CREDENTIALS = {"aws_access_key_id": "devstack", "aws_secret_access_key": "devstack"}


_lock = threading.Lock()


@cache
def _session() -> Any:
    """One session: its loader caches the service models, which makes every further client cheap."""
    import boto3

    return boto3.session.Session()


@cache
def client(service: str, endpoint_url: str, read_timeout: int = 60) -> Any:
    """One client per (service, endpoint); clients are thread-safe once built, sessions are not."""
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        max_pool_connections=20,
    )
    with _lock:
        return _session().client(
            service, endpoint_url=endpoint_url, region_name=REGION, config=config, **DUMMY_CREDENTIALS
        )
