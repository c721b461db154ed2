"""The emulator on a state directory (R-LOC-1): kill -9 loses no answered write, and what comes back is what
was there: items and their stream records (same sequence numbers, so pollers resume where they stopped),
queued and in-flight messages (in flight until their visibility timeout, deletable with the receipt handle
given before the crash), the KMS signing key, SES's sent mail, S3 objects. A torn journal tail still starts."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest

from devstack import emulator

SIGNING = {"SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256", "MessageType": "RAW"}


@contextmanager
def running(state_dir: Path) -> Iterator[tuple[str, object]]:
    port = emulator.free_port()
    process = emulator.start(port, state_dir=state_dir, fsync_interval=0.05)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        emulator.stop(process)


def clients(url: str) -> dict[str, object]:
    options = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return {name: boto3.client(name, **options) for name in ("dynamodb", "dynamodbstreams", "sqs", "kms", "ses", "s3")}


def stream_records(aws: dict, table: str) -> list[tuple[str, str]]:
    arn = aws["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = aws["dynamodbstreams"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [(r["dynamodb"]["SequenceNumber"], r["eventID"]) for r in records]


def test_kill_9_loses_no_answered_write_and_replays_the_same_state(tmp_path):
    state = tmp_path / "state"
    with running(state) as (url, process):
        aws = clients(url)
        aws["dynamodb"].create_table(
            TableName="things",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        key = aws["kms"].create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        emulator.checkpoint(url)  # as devstack does after provisioning: key material is not replayable
        for index in range(30):
            aws["dynamodb"].put_item(TableName="things", Item={"pk": {"S": f"thing-{index}"}, "n": {"N": str(index)}})
        aws["dynamodb"].delete_item(TableName="things", Key={"pk": {"S": "thing-0"}})
        queue = aws["sqs"].create_queue(QueueName="work")["QueueUrl"]
        for index in range(5):
            aws["sqs"].send_message(QueueUrl=queue, MessageBody=f"job-{index}")
        taken = aws["sqs"].receive_message(QueueUrl=queue, MaxNumberOfMessages=2, VisibilityTimeout=120)["Messages"]
        aws["sqs"].delete_message(QueueUrl=queue, ReceiptHandle=taken[0]["ReceiptHandle"])
        in_flight = taken[1]  # its consumer crashes with the stack, or survives and deletes it later
        aws["sqs"].receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=1)  # times out
        signature = aws["kms"].sign(KeyId=key, Message=b"token", **SIGNING)["Signature"]
        aws["ses"].verify_email_identity(EmailAddress="payroll@ates.example")
        aws["ses"].send_email(
            Source="payroll@ates.example",
            Destination={"ToAddresses": ["kesha@ates.example"]},
            Message={"Subject": {"Data": "Paid"}, "Body": {"Text": {"Data": "$12.00"}}},
        )
        aws["s3"].create_bucket(Bucket="lake")
        aws["s3"].put_object(Bucket="lake", Key="raw/day=1/part.json", Body=b'{"x": 1}')
        records_before = stream_records(aws, "things")
        mail_before = emulator.sent_emails(url)
        process.send_signal(signal.SIGKILL)  # no goodbye: only what was journaled before each answer survives
        process.wait()

    with running(state) as (url, _):
        aws = clients(url)
        recovery = emulator.state(url)["recovery"]
        assert recovery["kept"] and recovery["snapshot"] is not None and recovery["failed"] == 0
        things = aws["dynamodb"].scan(TableName="things")["Items"]
        assert sorted(int(i["n"]["N"]) for i in things) == list(range(1, 30))
        assert stream_records(aws, "things") == records_before  # a poller's saved position still means the same
        assert emulator.sent_emails(url) == mail_before  # ids and send times too
        assert aws["s3"].get_object(Bucket="lake", Key="raw/day=1/part.json")["Body"].read() == b'{"x": 1}'
        verified = aws["kms"].verify(KeyId=key, Message=b"token", Signature=signature, **SIGNING)
        assert verified["SignatureValid"]  # tokens signed before the crash stay valid

        peek = {"QueueUrl": queue, "MaxNumberOfMessages": 10, "VisibilityTimeout": 0}
        time.sleep(1)
        visible = [m["Body"] for m in aws["sqs"].receive_message(**peek)["Messages"]]
        # job-0 was deleted; job-1 is still in flight; job-2 is back after its 1 s visibility timeout
        assert sorted(visible) == ["job-2", "job-3", "job-4"]
        # the receipt handle given before the crash still deletes it
        aws["sqs"].delete_message(QueueUrl=queue, ReceiptHandle=in_flight["ReceiptHandle"])
        counts = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("3", "0")


def test_a_bucket_kept_in_a_snapshot_survives_the_create_bucket_of_the_next_start(tmp_path):
    """devstack provisions its template again at every start: CreateBucket of a kept bucket must keep it."""
    state = tmp_path / "state"
    with running(state) as (url, _):
        s3 = clients(url)["s3"]
        s3.create_bucket(Bucket="lake")
        s3.put_object(Bucket="lake", Key="raw/day=1/part.json", Body=b'{"x": 1}')
        emulator.checkpoint(url)  # the bucket is in the snapshot, not in the journal
    with running(state) as (url, _):
        s3 = clients(url)["s3"]
        s3.create_bucket(Bucket="lake")
        assert s3.get_object(Bucket="lake", Key="raw/day=1/part.json")["Body"].read() == b'{"x": 1}'
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["lake"]


def test_a_torn_journal_tail_is_dropped_and_the_emulator_starts(tmp_path):
    state = tmp_path / "state"
    with running(state) as (url, process):
        aws = clients(url)
        aws["sqs"].create_queue(QueueName="kept")
        aws["sqs"].create_queue(QueueName="torn")
        process.send_signal(signal.SIGKILL)
        process.wait()
    (journal,) = state.glob("journal-*.log")
    data = journal.read_bytes()
    journal.write_bytes(data[:-10])  # the last record half written, as a crash mid-append leaves it
    with running(state) as (url, _):
        recovery = emulator.state(url)["recovery"]
        assert recovery["torn_bytes"] > 0 and recovery["replayed"] == 1
        names = [u.rsplit("/", 1)[1] for u in clients(url)["sqs"].list_queues().get("QueueUrls", [])]
        assert names == ["kept"]
        clients(url)["sqs"].create_queue(QueueName="after")  # appended after the last good record
        from devstack import journal as journal_format

        records, good, size = journal_format.read(journal)
        assert good == size and len(records) == 2  # "kept", then "after": the torn bytes are gone


def test_one_emulator_per_state_directory(tmp_path):
    with running(tmp_path / "state"):
        port = emulator.free_port()
        with pytest.raises(emulator.EmulatorError, match="in use by another emulator"):
            emulator.start(port, state_dir=tmp_path / "state", timeout=60)


def test_reads_are_not_journaled_and_a_checkpoint_folds_the_journal(tmp_path):
    state = tmp_path / "state"
    with running(state) as (url, _):
        aws = clients(url)
        queue = aws["sqs"].create_queue(QueueName="q")["QueueUrl"]
        aws["sqs"].send_message(QueueUrl=queue, MessageBody="one")
        before = emulator.state(url)["journal_records"]
        for _ in range(5):
            aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])
            aws["sqs"].list_queues()
        aws["sqs"].receive_message(QueueUrl=queue, WaitTimeSeconds=0, VisibilityTimeout=0)
        assert emulator.state(url)["journal_records"] == before + 1  # only the receive that took a message
        folded = emulator.checkpoint(url)
        assert folded["journal_bytes"] == 0 and folded["compactions"] == 1
        files = sorted(p.name for p in state.iterdir() if p.suffix in (".log", ".pickle"))
        assert files == [f"journal-{folded['generation']}.log", f"snapshot-{folded['generation']}.pickle"]
        request = urllib.request.Request(f"{url}/_devstack/state")
        assert json.loads(urllib.request.urlopen(request, timeout=10).read())["generation"] == folded["generation"]
    with running(state) as (url, _):
        recovery = emulator.state(url)["recovery"]
        assert recovery["snapshot"] == folded["generation"] and recovery["replayed"] == 0
        assert (
            clients(url)["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
            == "1"
        )
