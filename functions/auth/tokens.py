"""RS256 access tokens signed by KMS (the private key never leaves it, R-AUTH-2) and verified with
PyJWT against the public keys KMS hands out (R-AUTH-3).

The signature is over the raw `header.payload` bytes (`MessageType=RAW`): KMS hashes it itself, which
is what RS256 means, and it is one call per token. Public keys never change for a key id, so they are
cached for the life of the process.

PyJWT and cryptography (about half of a bare `import boto3`) are imported where a token is verified or
a key is published, not with the module: signing is KMS's alone, so the API's sign-in never needs them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from auth.domain import Claims
from shared.aws import client

if TYPE_CHECKING:
    import jwt

ALGORITHM = "RS256"


class InvalidToken(Exception):
    """Any reason a token is not accepted; the message says which, for the logs only."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_id_of(key: str) -> str:
    """The bare key id, whether configured as an id or an ARN: it is the token's `kid`."""
    return key.rsplit("/", 1)[-1]


def sign(claims: Claims, key: str) -> str:
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": key_id_of(key)}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, asdict(claims))
    )
    signature = client("kms").sign(
        KeyId=key,
        Message=signing_input.encode(),
        MessageType="RAW",
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["Signature"]
    return f"{signing_input}.{_b64url(signature)}"


@cache
def public_key(key: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_public_key  # see the module's docstring

    der = client("kms").get_public_key(KeyId=key)["PublicKey"]
    return load_der_public_key(der)


def jwks(keys: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    from jwt.algorithms import RSAAlgorithm  # see the module's docstring

    published = []
    for key in keys:
        jwk = RSAAlgorithm.to_jwk(public_key(key), as_dict=True)
        published.append({**jwk, "kid": key_id_of(key), "use": "sig", "alg": ALGORITHM})
    return {"keys": published}


def verify(token: str, *, keys: tuple[str, ...], issuer: str, audience: str) -> dict[str, Any]:
    """The token's claims if it is ours and valid now; otherwise `InvalidToken`.

    Only RS256 with a `kid` we publish is accepted: `none`, HS256 keyed with our public key, a foreign
    key, an unknown kid, an expired token, a wrong issuer or audience are all refused.
    """
    import jwt  # see the module's docstring

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"malformed token: {error}") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    trusted = {key_id_of(k): k for k in keys}
    kid = header.get("kid")
    if kid not in trusted:
        raise InvalidToken(f"unknown key id {kid!r}")
    try:
        return jwt.decode(
            token,
            key=public_key(trusted[kid]),
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None


def unverified_issuer(token: str) -> str | None:
    """Which issuer a token claims to come from, to pick its verifier; nothing is trusted from it."""
    import jwt  # see the module's docstring

    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None


@cache
def _cognito_keys(issuer: str) -> jwt.PyJWKClient:
    """The user pool's JWKS client; PyJWKClient caches the keys and refetches on an unknown kid."""
    import jwt  # see the module's docstring

    return jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", cache_keys=True, lifespan=3600, timeout=5)


def verify_cognito(token: str, *, issuer: str, client_id: str) -> dict[str, Any]:
    """A Cognito access token of our user pool and app client; `InvalidToken` otherwise."""
    import jwt  # see the module's docstring

    try:
        if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
            raise InvalidToken("Cognito tokens are RS256")
        key = _cognito_keys(issuer).get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token, key=key, algorithms=[ALGORITHM], issuer=issuer,
            options={"require": ["exp", "iat", "iss", "client_id"], "verify_aud": False},
        )  # fmt: skip
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    if claims.get("client_id") != client_id:
        raise InvalidToken("token of another app client")
    if claims.get("token_use", "access") != "access":
        raise InvalidToken("only access tokens are accepted")
    return claims
