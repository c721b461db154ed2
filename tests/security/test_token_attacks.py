"""Token attacks over HTTP through the security devstack (R-AUTH-2, R-AUTH-3): forged tokens (another key, a
key of the attacker's own embedded or linked from the header, a tampered payload, a stripped signature),
`alg: none` in every spelling, key confusion (HS* keyed with our public key in each of its encodings; our own
key under another algorithm), expired and not-yet-valid tokens, wrong issuer or audience, unknown or injected
`kid`, malformed Authorization headers, and the roles a token claims (never trusted: the account's current
roles decide). A genuine token, and one this test signs with the real KMS key, are accepted, so each refusal
means something. Replay after dismissal is in test_role_matrix.py (every non-public route)."""

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

from tests.e2e.popugs import invitation_link

pytestmark = pytest.mark.slow


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segments(header: dict, claims: dict) -> str:
    return ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))


@pytest.fixture(scope="module")
def real(stack):
    """A genuine token, the JWKS, and a KMS client on devstack's emulator to sign tokens with OUR key."""
    token = requests.post(
        f"{stack.api_url}/auth/login", json={"email": stack.admin_email, "password": stack.admin_password},
        timeout=30,
    ).json()["access_token"]  # fmt: skip
    jwks = requests.get(f"{stack.api_url}/auth/.well-known/jwks.json", timeout=30).json()
    kms = boto3.client(
        "kms", endpoint_url=stack.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    return {"token": token, "jwks": jwks, "jwk": jwk, "public_key": public_key, "kms": kms, "claims": claims,
            "kid": kid}  # fmt: skip


def signed_by_our_key(real, *, header: dict | None = None, algorithm: str = "RSASSA_PKCS1_V1_5_SHA_256",
                      drop: tuple[str, ...] = (), **changes) -> str:  # fmt: skip
    claims = {**real["claims"], "jti": str(uuid.uuid4()), **changes}
    claims = {k: v for k, v in claims.items() if k not in drop}
    signing_input = segments(header or {"alg": "RS256", "typ": "JWT", "kid": real["kid"]}, claims)
    signature = real["kms"].sign(
        KeyId=real["kid"], Message=signing_input.encode(), MessageType="RAW", SigningAlgorithm=algorithm
    )["Signature"]
    return f"{signing_input}.{b64url(signature)}"


def me(stack, token: str) -> requests.Response:
    return requests.get(f"{stack.api_url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def assert_refused(response: requests.Response) -> None:
    assert response.status_code in (401, 403), response.text
    assert response.json()["error"]["code"] in ("unauthorized", "forbidden")


def test_a_genuine_token_is_accepted(stack, real):
    response = me(stack, real["token"])
    assert response.status_code == 200 and response.json()["email"] == stack.admin_email


def test_our_own_signing_helper_is_accepted_so_the_refusals_below_mean_something(stack, real):
    assert me(stack, signed_by_our_key(real)).status_code == 200


# -- forged ----------------------------------------------------------------------------------------------


def test_r_auth_3_a_token_signed_by_another_key_is_refused(stack, real):
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(real["claims"], foreign, algorithm="RS256", headers={"kid": real["kid"]})
    assert_refused(me(stack, token))


@pytest.mark.parametrize("where", ["jwk", "jku", "x5u", "x5c"])
def test_r_auth_3_a_key_the_token_brings_along_is_not_trusted(stack, real, where):
    """The attacker signs with their key and names it in the header (embedded JWK, URL, certificate chain)."""
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(foreign.public_key()))
    extra = {
        "jwk": {"jwk": {**public_jwk, "kid": real["kid"]}},
        "jku": {"jku": "https://evil.example/.well-known/jwks.json"},
        "x5u": {"x5u": "https://evil.example/cert.pem"},
        "x5c": {"x5c": [b64url(b"not a certificate")]},
    }[where]
    token = jwt.encode(real["claims"], foreign, algorithm="RS256", headers={"kid": real["kid"], **extra})
    assert_refused(me(stack, token))


def test_a_tampered_payload_is_refused(stack, real):
    head, _, signature = real["token"].split(".")
    payload = b64url(json.dumps({**real["claims"], "roles": ["admin", "accountant"]}).encode())
    assert_refused(me(stack, f"{head}.{payload}.{signature}"))


def test_a_tampered_subject_is_refused(stack, real, cast):
    head, _, signature = real["token"].split(".")
    payload = b64url(json.dumps({**real["claims"], "sub": cast["worker"].employee_id}).encode())
    assert_refused(me(stack, f"{head}.{payload}.{signature}"))


def test_a_stripped_signature_is_refused(stack, real):
    head, payload, _ = real["token"].split(".")
    assert_refused(me(stack, f"{head}.{payload}."))
    assert_refused(me(stack, f"{head}.{payload}"))


# -- none ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
@pytest.mark.parametrize("signature", ["", "keep"], ids=["no-signature", "genuine-signature"])
def test_r_auth_3_alg_none_is_refused(stack, real, alg, signature):
    kept = real["token"].rsplit(".", 1)[1] if signature == "keep" else ""
    assert_refused(me(stack, segments({"alg": alg, "typ": "JWT", "kid": real["kid"]}, real["claims"]) + "." + kept))


def test_r_auth_3_a_header_without_alg_is_refused(stack, real):
    token = segments({"typ": "JWT", "kid": real["kid"]}, real["claims"]) + "." + real["token"].rsplit(".", 1)[1]
    assert_refused(me(stack, token))


# -- key confusion ---------------------------------------------------------------------------------------


def public_key_encodings(real) -> dict[str, bytes]:
    key = real["public_key"]
    return {
        "pem-spki": key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "pem-pkcs1": key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "der-spki": key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": json.dumps(real["jwk"]).encode(),
        "jwk-n": real["jwk"]["n"].encode(),
    }


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("encoding", ["pem-spki", "pem-pkcs1", "der-spki", "jwk-json", "jwk-n"])
def test_r_auth_3_hmac_keyed_with_the_public_key_is_refused(stack, real, alg, encoding):
    secret = public_key_encodings(real)[encoding]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = segments({"alg": alg, "typ": "JWT", "kid": real["kid"]}, real["claims"])
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    assert_refused(me(stack, f"{signing_input}.{b64url(signature)}"))


@pytest.mark.parametrize(
    ("alg", "kms_algorithm"),
    [("PS256", "RSASSA_PSS_SHA_256"), ("RS512", "RSASSA_PKCS1_V1_5_SHA_512"), ("PS512", "RSASSA_PSS_SHA_512")],
)
def test_r_auth_3_our_own_key_under_another_algorithm_is_refused(stack, real, alg, kms_algorithm):
    """Only RS256: even a signature our key really made is refused under another algorithm."""
    header = {"alg": alg, "typ": "JWT", "kid": real["kid"]}
    assert_refused(me(stack, signed_by_our_key(real, header=header, algorithm=kms_algorithm)))


# -- time, issuer, audience, kid -------------------------------------------------------------------------


def test_r_auth_3_an_expired_token_is_refused(stack, real):
    now = int(time.time())
    assert_refused(me(stack, signed_by_our_key(real, iat=now - 7200, exp=now - 3600)))


def test_r_auth_3_a_token_expired_a_minute_ago_is_refused(stack, real):
    now = int(time.time())
    assert_refused(me(stack, signed_by_our_key(real, iat=now - 1000, exp=now - 60)))


def test_r_auth_3_a_token_without_expiry_is_refused(stack, real):
    assert_refused(me(stack, signed_by_our_key(real, drop=("exp",))))


def test_r_auth_3_a_token_not_valid_yet_is_refused(stack, real):
    assert_refused(me(stack, signed_by_our_key(real, nbf=int(time.time()) + 3600)))


@pytest.mark.parametrize("claim", ["sub", "iss", "aud", "iat", "jti"])
def test_r_auth_1_a_token_missing_a_required_claim_is_refused(stack, real, claim):
    assert_refused(me(stack, signed_by_our_key(real, drop=(claim,))))


def test_r_auth_3_a_wrong_audience_is_refused(stack, real):
    assert_refused(me(stack, signed_by_our_key(real, aud="urn:ates:prod:api")))


def test_r_auth_3_a_wrong_issuer_is_refused(stack, real):
    assert_refused(me(stack, signed_by_our_key(real, iss="https://evil.example")))


@pytest.mark.parametrize(
    "kid", ["not-a-key-of-ours", "", "../../../../dev/null", "' OR '1'='1", None, 0, ["k"], {"k": 1}],
    ids=["unknown", "empty", "path", "sql", "null", "number", "list", "object"],
)  # fmt: skip
def test_r_auth_3_an_unknown_or_injected_kid_is_refused(stack, real, kid):
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    token = segments(header, real["claims"]) + "." + real["token"].rsplit(".", 1)[1]
    assert_refused(me(stack, token))


# -- the header ------------------------------------------------------------------------------------------


def test_no_token_is_a_401_in_the_error_shape(stack):
    response = requests.get(f"{stack.api_url}/auth/me", timeout=30)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "value",
    ["", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Token {t}", "{t}", "Bearer {t}.", "Bearer {t} {t}",
     "Bearer a.b.c", "Bearer " + "A" * 8000, "Bearer \u00e9\u00e9\u00e9"],
    ids=["empty", "bare-scheme", "scheme-and-space", "basic", "other-scheme", "no-scheme", "trailing-dot",
         "two-tokens", "garbage", "8k", "non-ascii"],
)  # fmt: skip
def test_a_malformed_authorization_header_is_a_401(stack, real, value):
    header = value.replace("{t}", real["token"]).encode("utf-8")
    response = requests.get(f"{stack.api_url}/auth/me", headers={"Authorization": header}, timeout=30)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_token_in_the_query_string_is_not_a_credential(stack, real):
    response = requests.get(f"{stack.api_url}/auth/me", params={"access_token": real["token"]}, timeout=30)
    assert response.status_code == 401, response.text


# -- what a token claims ---------------------------------------------------------------------------------


def test_a_token_of_an_unknown_account_is_forbidden(stack, real):
    response = me(stack, signed_by_our_key(real, sub=str(uuid.uuid4())))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden"), response.text


def test_r_auth_3_the_roles_a_token_claims_are_not_trusted(stack, real, cast):
    """Even a token our key signed, claiming admin for a worker, gets the worker's current roles only."""
    worker = cast["worker"].employee_id
    epoch = jwt.decode(cast["worker"].token, options={"verify_signature": False})["session_epoch"]  # R-SEC-3
    token = signed_by_our_key(real, sub=worker, roles=["worker", "manager", "admin", "accountant"], session_epoch=epoch)
    assert me(stack, token).json()["roles"] == ["worker"]
    for method, path in [("GET", "/auth/accounts"), ("GET", "/ops/dead-letters"), ("GET", "/accounting/accounts")]:
        response = requests.request(method, f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"},
                                    timeout=30)  # fmt: skip
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden"), response.text


# -- invitation links (R-AUTH-4) -------------------------------------------------------------------------


def test_r_auth_4_a_used_invitation_link_is_gone(stack, cast):
    worker = cast["worker"]
    token = invitation_link(stack, worker.email).split("token=", 1)[1]  # the link the worker already used
    response = requests.post(f"{stack.api_url}/auth/password", json={"token": token, "password": "seed-thief-1234"},
                             timeout=30)  # fmt: skip
    assert (response.status_code, response.json()["error"]["code"]) == (410, "invitation_gone"), response.text
    signed_in = requests.post(f"{stack.api_url}/auth/login", json={"email": worker.email, "password": worker.password},
                              timeout=30)  # fmt: skip
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize(
    "token", ["a" * 43, "5f0c6f9e-2d41-4b7a-9c1e-8a3b2f6d7e10", "../../../../etc/passwd", "' OR '1'='1' --"]
)
def test_r_auth_4_a_made_up_invitation_token_is_gone(stack, token):
    response = requests.post(f"{stack.api_url}/auth/password", json={"token": token, "password": "seed-thief-1234"},
                             timeout=30)  # fmt: skip
    assert (response.status_code, response.json()["error"]["code"]) == (410, "invitation_gone"), response.text
