"""GetRecords for devstack's stream pollers, without botocore's response parsing.

botocore walks every record of a GetRecords answer through the service model, each attribute value a
shape, and then the poller walked it again to turn it back into the JSON a Lambda event holds (binary as
base64, times as epoch seconds): under load that was a third of devstack's own CPU, on a 2-core machine
where the functions wait for it. The wire's JSON is already that event's shape, so this sends the request
botocore would (the JSON protocol's POST, signed with SigV4 by botocore's own signer, so an emulator that
checks signatures takes it too) and hands the poller the JSON as it came. A non-200 answer raises, as a
botocore ClientError would, and the poller's error handling takes over.
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

TARGET = "DynamoDBStreams_20120810.GetRecords"
TIMEOUT = urllib3.Timeout(connect=5.0, read=60.0)


class StreamReadError(RuntimeError):
    """The emulator refused a read: its error type and message, as botocore's ClientError would carry them."""


class StreamReads:
    def __init__(self, endpoint_url: str) -> None:
        self.url = endpoint_url.rstrip("/") + "/"
        self.http = urllib3.PoolManager(maxsize=4, retries=False)
        self.signer = SigV4Auth(
            Credentials(DUMMY_CREDENTIALS["aws_access_key_id"], DUMMY_CREDENTIALS["aws_secret_access_key"]),
            "dynamodb",  # DynamoDB Streams signs as dynamodb, as botocore does
            REGION,
        )

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:  # boto3's names: called as it was
        body = json.dumps({"ShardIterator": ShardIterator, "Limit": Limit}).encode()
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": TARGET, "User-Agent": "devstack"},
        )
        self.signer.add_auth(request)
        response = self.http.request("POST", self.url, body=body, headers=dict(request.headers), timeout=TIMEOUT)
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            answer = {}
        if response.status != 200:
            kind = str(answer.get("__type", "")).rpartition("#")[2] or f"HTTP {response.status}"
            raise StreamReadError(f"{kind}: {answer.get('message') or answer.get('Message') or response.data[:200]!r}")
        return answer  # type: ignore[no-any-return]
