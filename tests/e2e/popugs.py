"""Helpers for end-to-end stories over HTTP: an API client, bounded waiting for effects that travel
through events, and onboarding a popug the way a person would (hire, invitation email, password)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

PASSWORD = "sunflower-seeds-42"


def eventually(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Events travel outbox -> bus -> queue -> consumer: wait for the effect, bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


class Client:
    def __init__(self, api_url: str, token: str | None = None, employee_id: str | None = None) -> None:
        self.api_url, self.token, self.employee_id = api_url, token, employee_id

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.request(method, f"{self.api_url}{path}", json=body, headers=headers, timeout=60)

    @classmethod
    def signed_in(cls, api_url: str, email: str, password: str) -> Client:
        response = requests.post(f"{api_url}/auth/login", json={"email": email, "password": password}, timeout=60)
        assert response.status_code == 200, response.text
        client = cls(api_url, response.json()["access_token"])
        client.employee_id = client.call("GET", "/auth/me").json()["employee_id"]
        return client


def invitation_link(devstack: Any, address: str) -> str:
    def find() -> str | None:
        mails = requests.get(f"{devstack.url}/_devstack/mailbox.json", timeout=30).json()["items"]
        for mail in mails:
            if address in mail["to"]:
                match = re.search(r"https?://\S+/set-password\?token=[\w-]+", mail["body"])
                return match.group(0) if match else None
        return None

    return eventually(find, f"the invitation to {address} in the mailbox")


def hire(admin: Client, name: str, **fields: Any) -> tuple[str, str]:
    """(employee id, email) of a newly hired popug."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@uberpopug.example"
    response = admin.call("POST", "/staff/employees", {"name": name, "email": email, "position": "Seed sorter",
                                                       **fields})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()["employee_id"], email


def alone_in_tasks_pool(devstack: Any, employee_id: str, timeout: float = 45) -> None:
    """Wait until the tasks' pool (its item in the tasks table, read on the stack's emulator) holds only this
    popug. The bootstrap admin is in it for a moment: hired as an employee first, then made an admin
    (R-AUTH-8), each change reaching tasks as its own event; a task created meanwhile may go to the admin."""
    dynamodb = boto3.client("dynamodb", endpoint_url=devstack.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="devstack", aws_secret_access_key="x")  # fmt: skip
    table, key = devstack.state["tables"]["TasksTable"], {"pk": {"S": "POOL"}, "sk": {"S": "POOL"}}

    def pool() -> set[str]:
        ids = (dynamodb.get_item(TableName=table, Key=key).get("Item") or {}).get("ids")
        return set(ids.get("SS") or [v["S"] for v in ids.get("L", [])]) if ids else set()

    eventually(lambda: pool() == {employee_id}, f"only {employee_id} in the tasks' pool", timeout=timeout)


def onboard(devstack: Any, admin: Client, name: str) -> Client:
    """Hire a popug, follow the invitation link to set a password, and sign them in."""
    _, email = hire(admin, name)
    token = invitation_link(devstack, email).split("token=", 1)[1]
    response = requests.post(f"{devstack.api_url}/auth/password", json={"token": token, "password": PASSWORD},
                             timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    return Client.signed_in(devstack.api_url, email, PASSWORD)
