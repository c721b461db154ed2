"""Over HTTP through devstack: every forged or stale token is refused by the gateway's authorizer
(R-AUTH-3), and a valid one gets through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import boto3
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segments(header: dict, claims: dict) -> str:
    return ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))


@pytest.fixture(scope="module")
def real(devstack):
    """A genuine token, the JWKS, and a KMS client on devstack's emulator to sign tokens with OUR key."""
    token = requests.post(
        f"{devstack.api_url}/auth/login", json={"email": devstack.admin_email, "password": devstack.admin_password},
        timeout=30,
    ).json()["access_token"]  # fmt: skip
    jwks = requests.get(f"{devstack.api_url}/auth/.well-known/jwks.json", timeout=30).json()
    kms = boto3.client(
        "kms", endpoint_url=devstack.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    return {"token": token, "jwks": jwks, "kms": kms, "claims": claims, "kid": kid}


def signed_by_our_key(real, **changes) -> str:
    claims = {**real["claims"], "jti": str(uuid.uuid4()), **changes}
    signing_input = segments({"alg": "RS256", "typ": "JWT", "kid": real["kid"]}, claims)
    signature = real["kms"].sign(
        KeyId=real["kid"], Message=signing_input.encode(), MessageType="RAW",
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["Signature"]  # fmt: skip
    return f"{signing_input}.{b64url(signature)}"


def me(devstack, token: str) -> requests.Response:
    return requests.get(f"{devstack.api_url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def assert_refused(response: requests.Response) -> None:
    assert response.status_code in (401, 403), response.text
    assert response.json()["error"]["code"] in ("unauthorized", "forbidden")


def test_a_genuine_token_is_accepted(devstack, real):
    response = me(devstack, real["token"])
    assert response.status_code == 200 and response.json()["email"] == devstack.admin_email


def test_our_own_signing_helper_is_accepted_so_the_refusals_below_mean_something(devstack, real):
    assert me(devstack, signed_by_our_key(real)).status_code == 200


def test_r_auth_3_a_token_signed_by_another_key_is_refused(devstack, real):
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(real["claims"], foreign, algorithm="RS256", headers={"kid": real["kid"]})
    assert_refused(me(devstack, token))


def test_r_auth_3_alg_none_is_refused(devstack, real):
    token = segments({"alg": "none", "typ": "JWT", "kid": real["kid"]}, real["claims"]) + "."
    assert_refused(me(devstack, token))


def test_r_auth_3_hs256_keyed_with_the_public_key_is_refused(devstack, real):
    jwk = next(k for k in real["jwks"]["keys"] if k["kid"] == real["kid"])
    public_pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = segments({"alg": "HS256", "typ": "JWT", "kid": real["kid"]}, real["claims"])
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_refused(me(devstack, f"{signing_input}.{b64url(signature)}"))


def test_r_auth_3_an_expired_token_is_refused(devstack, real):
    now = int(time.time())
    assert_refused(me(devstack, signed_by_our_key(real, iat=now - 7200, exp=now - 3600)))


def test_r_auth_3_a_wrong_audience_is_refused(devstack, real):
    assert_refused(me(devstack, signed_by_our_key(real, aud="urn:ates:prod:api")))


def test_r_auth_3_a_wrong_issuer_is_refused(devstack, real):
    assert_refused(me(devstack, signed_by_our_key(real, iss="https://evil.example")))


def test_r_auth_3_an_unknown_kid_is_refused(devstack, real):
    header = {"alg": "RS256", "typ": "JWT", "kid": "not-a-key-of-ours"}
    token = segments(header, real["claims"]) + "." + real["token"].rsplit(".", 1)[1]
    assert_refused(me(devstack, token))


def test_a_tampered_payload_is_refused(devstack, real):
    head, _, signature = real["token"].split(".")
    payload = b64url(json.dumps({**real["claims"], "roles": ["admin", "accountant"]}).encode())
    assert_refused(me(devstack, f"{head}.{payload}.{signature}"))


def test_no_token_is_a_401_in_the_error_shape(devstack):
    response = requests.get(f"{devstack.api_url}/auth/me", timeout=30)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_a_token_of_an_unknown_account_is_forbidden(devstack, real):
    assert me(devstack, signed_by_our_key(real, sub=str(uuid.uuid4()))).status_code == 403
