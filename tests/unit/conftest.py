"""Fixtures of the unit tests of devstack's moto patches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import moto_patches


@pytest.fixture
def patched_moto(monkeypatch) -> Iterator[Callable[[str], Any]]:
    """moto in this process, patched as the emulator patches it: yields `client(service)`. Not the session's
    emulator, even after its fixture set AWS_ENDPOINT_URL; region and keys named, the environment untouched."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto_patches.apply()
    with mock_aws():
        yield lambda service: boto3.client(
            service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
