"""Calls of an AWS JSON-protocol API (DynamoDB Streams, SQS) for devstack's pollers, without botocore's
request building and response parsing.

botocore builds each request through the service model and walks every answer through it again (each
record, message and attribute a shape), and the pollers then turned the result back into the JSON a Lambda
event holds: under load that was a third of devstack's own CPU, on a 2-core machine where the functions
wait for it. The wire's JSON already has that event's shape, so this sends the request botocore would (the
JSON protocol's POST with its `X-Amz-Target`, signed with SigV4 by botocore's own signer, so an emulator that
checks signatures takes it too) and hands the caller the JSON as it came: binary values stay base64 text. A
non-200 answer raises `JsonApiError`, as a botocore ClientError would, and the caller's error handling takes
over.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devstack.aws import DUMMY_CREDENTIALS
from devstack.template import REGION


class JsonApiError(RuntimeError):
    """The emulator refused a call: its error type and message, as botocore's ClientError would carry them."""


class JsonApi:
    def __init__(
        self, endpoint_url: str, signing_name: str, target_prefix: str, read_timeout: float = 60.0,
        caller: str | None = None,
    ) -> None:  # fmt: skip
        self.url = endpoint_url.rstrip("/") + "/"
        # the emulator counts calls per caller by the user agent's `app/<name>` (as functions' SDKs send it)
        self.user_agent = f"devstack app/{caller}" if caller else "devstack"
        self.target_prefix = target_prefix
        self.http = urllib3.PoolManager(maxsize=4, retries=False)
        self.timeout = urllib3.Timeout(connect=5.0, read=read_timeout)
        self.signer = SigV4Auth(
            Credentials(DUMMY_CREDENTIALS["aws_access_key_id"], DUMMY_CREDENTIALS["aws_secret_access_key"]),
            signing_name,
            REGION,
        )

    def call(self, operation: str, parameters: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(parameters).encode()
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"{self.target_prefix}.{operation}",
                "User-Agent": self.user_agent,
            },
        )
        self.signer.add_auth(request)
        response = self.http.request("POST", self.url, body=body, headers=dict(request.headers), timeout=self.timeout)
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            answer = {}
        if response.status != 200:
            kind = str(answer.get("__type", "")).rpartition("#")[2] or f"HTTP {response.status}"
            raise JsonApiError(f"{kind}: {answer.get('message') or answer.get('Message') or response.data[:200]!r}")
        return answer  # type: ignore[no-any-return]


def sqs(endpoint_url: str, read_timeout: float, caller: str | None = None) -> JsonApi:
    """SQS's JSON protocol (the pollers' and the event tap's receives and deletes)."""
    return JsonApi(endpoint_url, "sqs", "AmazonSQS", read_timeout=read_timeout, caller=caller)
