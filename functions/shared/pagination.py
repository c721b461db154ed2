"""Opaque list cursors (`?limit=&cursor=` -> `{items, next_cursor}`) over DynamoDB's LastEvaluatedKey. The page
they answer is `shared.responses.Page`: a store pages through a table without building response models."""

from __future__ import annotations

import base64
import json
from typing import Any

from shared.errors import Unprocessable

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        raise Unprocessable("cursor is not one this API gave out", code="invalid_cursor") from None
    if not isinstance(value, dict):
        raise Unprocessable("cursor is not one this API gave out", code="invalid_cursor")
    return value
