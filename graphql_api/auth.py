"""Signed bearer tokens (HS256, PyJWT) and the typed viewer they stand for.

A token says who the caller is (`sub`: a user id) and what it may do (`role`); it expires (`exp`).
The API checks it once per request (HTTP `Authorization: Bearer …`) or once per websocket
(`connection_init` payload `{"Authorization": "Bearer …"}`) and hands resolvers a `Viewer`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jwt

from conf.settings import Settings
from graphql_api.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "exstreamly"
BEARER = "bearer "
MAX_TOKEN_CHARS = 2048  # a real token is ~200 characters; a longer header is not worth decoding


class Role(Enum):
    USER = "user"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in caller: a platform user, optionally an operator."""

    user_id: int
    role: Role

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


def create_token(settings: Settings, user_id: int, role: Role = Role.USER, *, ttl_s: int | None = None,
                 now: float | None = None) -> str:
    """A signed token for `user_id`, valid for `ttl_s` (default: EXS_API_TOKEN_TTL_S)."""
    if user_id < 1:
        raise ValueError(f"a user id is a positive integer, found {user_id}")
    issued = int(time.time() if now is None else now)
    claims = {"sub": str(user_id), "role": role.value, "iss": ISSUER, "iat": issued,
              "exp": issued + (ttl_s or settings.api_token_ttl_s)}
    return jwt.encode(claims, settings.api_token_secret.get_secret_value(), algorithm=ALGORITHM)


def viewer_of(settings: Settings, authorization: str | None) -> Viewer | None:
    """The viewer an `Authorization` value names; None without one; Unauthenticated when it is bad."""
    if authorization is None or not authorization.strip():
        return None
    if len(authorization) > MAX_TOKEN_CHARS or not authorization.lower().startswith(BEARER):
        raise Unauthenticated("Authorization must be 'Bearer <token>' (see `exstreamly token create`)")
    claims = _verified_claims(settings, authorization[len(BEARER):].strip())
    try:
        return Viewer(user_id=int(claims["sub"]), role=Role(claims.get("role", Role.USER.value)))
    except (KeyError, ValueError) as exc:
        raise Unauthenticated("token has no valid user or role") from exc


def _verified_claims(settings: Settings, token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, settings.api_token_secret.get_secret_value(), algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired; create a new one") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token ({type(exc).__name__})") from exc
    return claims
