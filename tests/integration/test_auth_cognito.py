"""Cognito-style sign-in (issue 3, item 5): the authorizer also trusts a configured user pool. Its
tokens name the employee in `custom:employee_id`, the app in `client_id`, roles in `cognito:groups`;
the account is still checked, so dismissal still works. The pool's JWKS is served locally here."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.contracts import REGISTRY
from shared.contracts.staff import EmployeeDismissedV1, EmployeeHiredV1
from tests.events import deliver
from tests.integration.conftest import LambdaContext

POOL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "pool-key-1"
CLIENT_ID = "ates-web-client"


class JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.endswith("/.well-known/jwks.json"):
            self.send_error(404)
            return
        jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(POOL_KEY.public_key(), as_dict=True), "kid": KID, "alg": "RS256"}
        body = json.dumps({"keys": [jwk]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pool_issuer():
    server = ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/us-east-1_TestPool"
    server.shutdown()


@pytest.fixture()
def authorizer(as_function, monkeypatch, pool_issuer):
    as_function("AuthOnEmployeeChangedFunction")
    from auth import on_employee_changed

    as_function("AuthorizerFunction")
    monkeypatch.setenv("COGNITO_ISSUER", pool_issuer)  # the template's values are empty: no pool by default
    monkeypatch.setenv("COGNITO_CLIENT_ID", CLIENT_ID)
    from auth import authorizer as module
    from auth.settings import get

    get.cache_clear()

    def authorize(token: str) -> dict:
        return module.lambda_handler(
            {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": "arn:x"}, LambdaContext()
        )

    authorize.consume = on_employee_changed.lambda_handler
    authorize.issuer = pool_issuer
    return authorize


def hire(authorize) -> str:
    employee_id = str(uuid.uuid4())
    data = EmployeeHiredV1(employee_id=employee_id, version=1, name="Kesha", position="Sorter", department_id=None,
                           email=f"{employee_id[:8]}@uberpopug.example")  # fmt: skip
    assert deliver(authorize.consume, REGISTRY.envelope(data)) == {"batchItemFailures": []}
    return employee_id


def cognito_token(issuer: str, employee_id: str, **changes) -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()), "iss": issuer, "client_id": CLIENT_ID, "token_use": "access", "iat": now,
        "exp": now + 600, "custom:employee_id": employee_id, "cognito:groups": ["manager"], **changes,
    }  # fmt: skip
    return jwt.encode(claims, POOL_KEY, algorithm="RS256", headers={"kid": KID})


def effect(policy: dict) -> str:
    return policy["policyDocument"]["Statement"][0]["Effect"]


def test_a_cognito_access_token_reaches_the_employee_with_its_groups_as_roles(authorizer):
    employee_id = hire(authorizer)
    policy = authorizer(cognito_token(authorizer.issuer, employee_id))
    assert effect(policy) == "Allow"
    assert policy["context"]["sub"] == employee_id and policy["context"]["roles"] == "manager"


@pytest.mark.parametrize(
    "changes",
    [{"client_id": "another-app"}, {"token_use": "id"}, {"exp": 1}, {"custom:employee_id": None}],
    ids=["other-client", "id-token", "expired", "no-employee"],
)
def test_foreign_or_stale_cognito_tokens_are_refused(authorizer, changes):
    employee_id = hire(authorizer)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(cognito_token(authorizer.issuer, employee_id, **changes))


def test_a_token_signed_by_another_key_claiming_the_pool_is_refused(authorizer):
    employee_id = hire(authorizer)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(cognito_token(authorizer.issuer, employee_id), options={"verify_signature": False})
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": KID})
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(forged)


def test_a_dismissed_popugs_cognito_token_is_denied(authorizer):
    employee_id = hire(authorizer)
    token = cognito_token(authorizer.issuer, employee_id)
    gone = EmployeeDismissedV1(employee_id=employee_id, version=2, dismissed_at=datetime.now(UTC))
    deliver(authorizer.consume, REGISTRY.envelope(gone))
    assert effect(authorizer(token)) == "Deny"
