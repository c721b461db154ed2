"""GetRecords for devstack's stream pollers as the wire's JSON (`json_api`), which is already the shape of a
Lambda event's record (binary as base64, times as epoch seconds): botocore parsed each record through the
service model and the poller turned it back, a third of devstack's own CPU under load."""

from __future__ import annotations

from typing import Any

from devstack.json_api import JsonApi


class StreamReads:
    def __init__(self, endpoint_url: str) -> None:
        # DynamoDB Streams signs as dynamodb, as botocore does
        self.api = JsonApi(endpoint_url, "dynamodb", "DynamoDBStreams_20120810")

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:  # boto3's names: called as it was
        return self.api.call("GetRecords", {"ShardIterator": ShardIterator, "Limit": Limit})
