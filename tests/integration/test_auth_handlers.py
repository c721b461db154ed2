"""Auth handlers on the emulator with the template's resources: R-AUTH-1, 2, 3, 5, 8."""

from __future__ import annotations

import json
import uuid

import jwt
import pytest

from shared.aws import client
from tests.integration.conftest import LambdaContext, api_event, bootstrap_admin, call
from tests.unit.test_auth_domain import scrypt_hash


@pytest.fixture()
def auth(as_function):
    """The auth API and authorizer with their template environments, plus a fresh admin."""
    email = f"admin-{uuid.uuid4().hex[:6]}@ates.example"
    admin = bootstrap_admin(as_function, email)
    environment = as_function("AuthApiFunction")
    from auth import api, authorizer

    class Auth:
        pass

    a = Auth()
    a.api, a.authorizer, a.admin, a.env = api.lambda_handler, authorizer.lambda_handler, admin, environment
    return a


def login(auth, email: str, password: str) -> tuple[int, dict]:
    return call(auth.api, api_event("POST", "/api/auth/login", body={"email": email, "password": password}))


def authorize(auth, token: str) -> dict:
    return auth.authorizer(
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}",
         "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/local/GET/api/auth/me"},
        LambdaContext(),
    )  # fmt: skip


def test_r_auth_8_bootstrap_creates_an_admin_with_a_random_password(auth):
    assert len(auth.admin["password"]) >= 16
    uuid.UUID(auth.admin["employee_id"])
    status, body = login(auth, auth.admin["email"], auth.admin["password"])
    assert status == 200
    assert body["token_type"] == "Bearer" and 900 <= body["expires_in"] <= 3600


def test_r_auth_1_token_is_rs256_with_kid_and_the_required_claims(auth):
    _, body = login(auth, auth.admin["email"].upper(), auth.admin["password"])  # email is case-insensitive
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) >= {"sub", "roles", "iss", "aud", "iat", "exp", "jti"}
    assert claims["sub"] == auth.admin["employee_id"] and claims["roles"] == ["worker", "admin"]
    assert 900 <= claims["exp"] - claims["iat"] <= 3600


def test_r_auth_2_the_jwks_verifies_our_tokens_as_any_client_would(auth):
    status, jwks = call(auth.api, api_event("GET", "/api/auth/.well-known/jwks.json"))
    assert status == 200
    _, body = login(auth, auth.admin["email"], auth.admin["password"])
    token = body["access_token"]
    key = next(k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"])
    assert "d" not in key  # public only
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key))
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=auth.env["TOKEN_AUDIENCE"])
    assert claims["iss"] == auth.env["TOKEN_ISSUER"]


def test_r_auth_1_wrong_password_and_unknown_email_get_the_same_401(auth):
    wrong = login(auth, auth.admin["email"], "not-the-password")
    unknown = login(auth, "nobody@ates.example", "not-the-password")
    assert wrong == unknown == (401, {"error": {"code": "invalid_credentials", "message": "wrong email or password"}})


def test_r_auth_1_five_failures_lock_the_email_with_429_even_for_the_right_password(auth):
    for _ in range(5):
        assert login(auth, auth.admin["email"], "guess")[0] == 401
    response = auth.api(
        api_event("POST", "/api/auth/login", body={"email": auth.admin["email"], "password": auth.admin["password"]}),
        LambdaContext(),
    )
    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"]["code"] == "locked"
    assert 0 < int(response["multiValueHeaders"]["Retry-After"][0]) <= 900


def test_r_auth_1_unknown_emails_are_locked_too(auth):
    for _ in range(5):
        login(auth, "ghost@ates.example", "guess")
    assert login(auth, "ghost@ates.example", "guess")[0] == 429


def test_r_sec_1_a_right_password_is_not_counted_as_a_failure(auth):
    for _ in range(4):
        login(auth, auth.admin["email"], "guess")
    for _ in range(3):  # a right password gives its ticket back: any number of sign-ins in between
        assert login(auth, auth.admin["email"], auth.admin["password"])[0] == 200
    # ...but it does not forgive the four failures: the fifth in the window locks the email (R-AUTH-1).
    assert login(auth, auth.admin["email"], "guess")[0] == 401
    assert login(auth, auth.admin["email"], auth.admin["password"])[0] == 429


def test_r_auth_5_only_an_argon2id_hash_is_stored(auth):
    item = client("dynamodb").get_item(
        TableName=auth.env["AUTH_TABLE_NAME"],
        Key={"pk": {"S": f"ACCOUNT#{auth.admin['employee_id']}"}, "sk": {"S": "ACCOUNT"}},
    )["Item"]
    assert item["password_hash"]["S"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP's m=19 MiB, t=2, p=1
    assert auth.admin["password"] not in json.dumps(item)


def stored_hash(auth) -> str:
    item = client("dynamodb").get_item(
        TableName=auth.env["AUTH_TABLE_NAME"],
        Key={"pk": {"S": f"ACCOUNT#{auth.admin['employee_id']}"}, "sk": {"S": "ACCOUNT"}},
    )["Item"]
    return item["password_hash"]["S"]


def test_r_sec_2_an_older_hash_is_upgraded_on_the_next_successful_sign_in(auth):
    assert stored_hash(auth).startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # new hashes: OWASP's argon2id
    client("dynamodb").update_item(
        TableName=auth.env["AUTH_TABLE_NAME"],
        Key={"pk": {"S": f"ACCOUNT#{auth.admin['employee_id']}"}, "sk": {"S": "ACCOUNT"}},
        UpdateExpression="SET password_hash = :old",
        ExpressionAttributeValues={":old": {"S": scrypt_hash(auth.admin["password"], 14)}},
    )  # a hash as aTES stored them before argon2id: scrypt
    assert login(auth, auth.admin["email"], "not-the-password")[0] == 401
    assert stored_hash(auth).startswith("scrypt$16384$8$1$")  # a wrong password proves nothing: left as it is
    assert login(auth, auth.admin["email"], auth.admin["password"])[0] == 200
    assert stored_hash(auth).startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # upgraded by the sign-in
    assert login(auth, auth.admin["email"], auth.admin["password"])[0] == 200


def test_bad_login_bodies_are_clear_4xx(auth):
    assert call(auth.api, api_event("POST", "/api/auth/login", raw_body="{not json"))[0] == 400
    status, body = call(auth.api, api_event("POST", "/api/auth/login", body={"email": "a@b.c"}))
    assert status == 422 and "password" in body["error"]["message"]


def test_r_auth_3_authorizer_passes_the_current_account_to_handlers(auth):
    _, body = login(auth, auth.admin["email"], auth.admin["password"])
    policy = authorize(auth, body["access_token"])
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert policy["context"] == {
        "sub": auth.admin["employee_id"], "roles": "worker,admin", "department_id": "", "active": "true",
    }  # fmt: skip


def test_r_auth_3_a_deactivated_account_is_denied_with_an_unexpired_token(auth):
    _, body = login(auth, auth.admin["email"], auth.admin["password"])
    client("dynamodb").update_item(
        TableName=auth.env["AUTH_TABLE_NAME"],
        Key={"pk": {"S": f"ACCOUNT#{auth.admin['employee_id']}"}, "sk": {"S": "ACCOUNT"}},
        UpdateExpression="SET active = :f",
        ExpressionAttributeValues={":f": {"BOOL": False}},
    )
    assert authorize(auth, body["access_token"])["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not.a.jwt"])
def test_r_auth_3_missing_or_malformed_tokens_are_unauthorized(auth, header):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth.authorizer({"type": "TOKEN", "authorizationToken": header, "methodArn": "arn"}, LambdaContext())


def test_me_returns_the_callers_account(auth):
    caller = {"sub": auth.admin["employee_id"], "roles": "admin", "department_id": "", "active": "true"}
    status, body = call(auth.api, api_event("GET", "/api/auth/me", caller=caller))
    assert status == 200
    assert body["email"] == auth.admin["email"] and body["roles"] == ["worker", "admin"]
    assert "password_hash" not in body


def test_accounts_list_is_for_admins_and_paginates_with_locks_shown(auth, as_function):
    other = bootstrap_admin(as_function, f"o-{uuid.uuid4().hex[:6]}@ates.example")
    as_function("AuthApiFunction")
    for _ in range(5):
        login(auth, other["email"], "guess")
    admin = {"sub": auth.admin["employee_id"], "roles": "admin", "department_id": "", "active": "true"}
    worker = {**admin, "roles": "worker"}
    assert call(auth.api, api_event("GET", "/api/auth/accounts", caller=worker))[0] == 403

    seen, cursor = [], None
    while True:
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        status, page = call(auth.api, api_event("GET", "/api/auth/accounts", caller=admin, query=query))
        assert status == 200 and len(page["items"]) <= 1
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    by_email = {a["email"]: a for a in seen}
    assert by_email[other["email"]]["locked_until"] is not None
    assert by_email[auth.admin["email"]]["locked_until"] is None
    assert len({a["account_id"] for a in seen}) == len(seen)  # no account twice across pages


def test_a_forged_cursor_is_a_422(auth):
    admin = {"sub": auth.admin["employee_id"], "roles": "admin", "department_id": "", "active": "true"}
    status, body = call(auth.api, api_event("GET", "/api/auth/accounts", caller=admin, query={"cursor": "%%%"}))
    assert status == 422 and body["error"]["code"] == "invalid_cursor"


def test_r_auth_8_bootstrapping_again_replaces_the_password(auth, as_function):
    _, before = login(auth, auth.admin["email"], auth.admin["password"])
    again = bootstrap_admin(as_function, auth.admin["email"])
    as_function("AuthApiFunction")
    assert again["employee_id"] == auth.admin["employee_id"]
    assert login(auth, auth.admin["email"], auth.admin["password"])[0] == 401
    status, after = login(auth, auth.admin["email"], again["password"])
    assert status == 200
    # R-SEC-3: a reset ends the sessions opened with the old password.
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(auth, before["access_token"])
    assert authorize(auth, after["access_token"])["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_bootstrap_refuses_a_malformed_email(as_function):
    as_function("AuthBootstrapAdminFunction")
    from pydantic import ValidationError

    from auth import bootstrap_admin as step_two

    with pytest.raises(ValidationError):
        step_two.lambda_handler({"email": "not-an-email"}, LambdaContext())


def test_r_auth_8_bootstrap_explains_when_the_admin_was_not_hired_first(as_function):
    as_function("AuthBootstrapAdminFunction")
    from auth import bootstrap_admin as step_two

    with pytest.raises(step_two.NotHiredYet, match="hire them through staff first"):
        step_two.lambda_handler({"email": "never-hired@ates.example", "wait_seconds": 0}, LambdaContext())
