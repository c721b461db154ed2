"""The emulator's SQS receipt handles (devstack/moto_patches.py `_patch_sqs`) are moto's: 185 lowercase letters
from moto's random source, a new one at every receive, each one deleting its message; drawn in one call, as
every answer's request id is (`_draw_random_strings_at_once`), which keeps moto's shape."""

from __future__ import annotations

import re
from typing import Any

import pytest
from moto.moto_api._internal.moto_random import MotoRandom


@pytest.fixture
def sqs(patched_moto) -> Any:
    return patched_moto("sqs")


def test_receipt_handles_are_motos_shape_new_at_each_receive_and_drawn_at_once(sqs, monkeypatch) -> None:
    url = sqs.create_queue(QueueName="receipts", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    draws = []
    choice = MotoRandom.choice
    monkeypatch.setattr(MotoRandom, "choice", lambda self, seq: (draws.append(1), choice(self, seq))[1])

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # visible again at once

    handles = [m["ReceiptHandle"] for m in first + again]
    assert len(handles) == 20 and all(re.fullmatch(r"[a-z]{185}", h) for h in handles)
    assert len(set(handles)) == 20  # a new handle at every receive
    assert draws == []  # moto drew each letter with its own random.choice: 185 a handle, 52 an answer's request id
    response = sqs.get_queue_url(QueueName="receipts")["ResponseMetadata"]
    assert re.fullmatch(r"[A-Za-z0-9]{52}", response["RequestId"]), response
    for message in again:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
