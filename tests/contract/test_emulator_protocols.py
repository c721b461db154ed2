"""boto3 and the emulator speak the same protocol to every service the code calls (issue 13).

botocore carries one model per service, and the model names the wire protocol (`json`, `query`, `rest-json`,
`rest-xml`, ...). A botocore release can switch a service to another protocol; moto routes each service by the
protocol it knows, so the switch turns every call into a 404 deep in some unrelated test (botocore 1.44.18 moved
Athena to rest-json, which moto 5.2.5 does not route). Here each service is asked one harmless read through
boto3, against the emulator the tests and devstack run, and a failure says which side to change.
"""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import botocore
import moto
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
# Where the code builds clients (shared.aws.client, devstack's, restore's and publish's own): `client("s3"`.
CODE = ("functions", "devstack", "web")
CLIENT_CALL = re.compile(r"""client\(\s*["']([a-z0-9-]+)["']""")

# One read per service that needs no resources and changes nothing.
PROBES = {
    "athena": ("list_work_groups", {}),
    "backup": ("list_backup_vaults", {}),
    "cloudformation": ("list_stacks", {}),
    "cloudfront": ("list_distributions", {}),
    "dynamodb": ("list_tables", {}),
    "dynamodbstreams": ("list_streams", {}),
    "events": ("list_event_buses", {}),
    "kms": ("list_keys", {}),
    "logs": ("describe_log_groups", {}),
    "s3": ("list_buckets", {}),
    "ses": ("list_identities", {}),
    "sqs": ("list_queues", {}),
    "ssm": ("describe_parameters", {}),
}


def services_the_code_calls() -> set[str]:
    return {
        service
        for folder in CODE
        for path in (ROOT / folder).rglob("*.py")
        for service in CLIENT_CALL.findall(path.read_text())
    }


def test_every_service_the_code_calls_is_probed():
    called = services_the_code_calls()
    assert {"athena", "dynamodb", "dynamodbstreams", "sqs", "s3", "ses", "kms", "events"} <= called
    assert called <= PROBES.keys(), f"add a probe for {sorted(called - PROBES.keys())}"


@pytest.mark.parametrize("service", sorted(PROBES))
def test_boto3_and_the_emulator_agree_on_the_protocol(emulator, service):
    operation, params = PROBES[service]
    aws = boto3.session.Session().client(
        service, endpoint_url=emulator, config=Config(retries={"max_attempts": 1}, read_timeout=30)
    )
    model = aws.meta.service_model
    try:
        getattr(aws, operation)(**params)
        return
    except Exception as failure:  # any failure: a 404 page, an unparsable answer, an unknown operation
        error = failure
    pytest.fail(
        f"{service}: botocore {botocore.__version__} speaks {model.protocol} to it (its model offers "
        f"{model.metadata.get('protocols', [model.protocol])}), and moto {moto.__version__} could not answer "
        f"{operation}: {type(error).__name__}: {str(error)[:300]}\nThe two disagree on {service}'s protocol: lock "
        f"a botocore whose {service} model moto routes (functions/requirements.in pins botocore), or a moto that "
        "routes this protocol; then `make lock`.",
        pytrace=False,
    )
