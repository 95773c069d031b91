"""API tokens: personal, service-account and agent tokens, shown once and stored as SHA-256.

A token is 32 random bytes: far beyond guessing, so a plain SHA-256 of it is enough at rest and a
request never pays for a slow key-derivation function (passwords do; tokens need not).

- personal: acts as its owner (same grants, disabled with them).
- service: a service account named after the token, holding exactly ``role`` in ``workspace``.
- agent: may act only as workers of one compute pool (register, heartbeat, claim, report).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from runyard.domain.clock import now_ms
from runyard.domain.identity import DEFAULT_WORKSPACE, Principal, Token, TokenKind
from runyard.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied, Unauthenticated
from runyard.stores.metadata import identity as store
from runyard.stores.metadata import identity_roles

TOKEN_PREFIX = "ryt_"
TOKEN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DURATION_PATTERN = re.compile(r"^(\d+)\s*([smhdw])$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ``last_used_at`` is written at most this often per token: a write per request would cost more than
# the check itself, and "last used" to the minute is what an operator needs.
LAST_USE_RESOLUTION_MS = 60_000


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """A verified token: the principal it acts as, and what a cache needs to keep it honest."""

    principal: Principal
    token_id: int
    expires_at: int | None
    last_used_at: int | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``2w``, ``3600s`` → seconds."""
    match = DURATION_PATTERN.match(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise InvalidParameter(f"invalid duration {text!r}: use a positive number with s, m, h, d or w (e.g. 30d)")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


def to_token(row: Row[Any]) -> Token:
    return Token(
        id=int(row.id),
        name=row.name,
        kind=row.kind,
        owner=row.username,
        workspace=row.workspace,
        role=row.role,
        pool=row.pool,
        creation_time=int(row.creation_time),
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


def create_token(
    connection: Connection,
    owner: Principal,
    name: str,
    *,
    kind: TokenKind = "personal",
    expires_in_seconds: int | None = None,
    workspace: str | None = None,
    role: str | None = None,
    pool: str | None = None,
) -> tuple[str, Token]:
    """Mint a token for ``owner`` (a user); returns the secret (shown once) and its record.

    Service and agent tokens need an admin: they act beyond their creator's own identity.
    """
    if owner.user_id is None or owner.kind != "user":
        raise InvalidParameter("only a signed-in user can create tokens")
    if not TOKEN_NAME_PATTERN.match(name):
        raise InvalidParameter(f"invalid token name {name!r}: use 1-128 letters, digits, '.', '_' or '-'")
    if kind in ("service", "agent") and not owner.is_admin:
        raise PermissionDenied(f"creating a {kind} token needs an admin")
    if kind == "agent":
        if not pool:
            raise InvalidParameter("an agent token needs --pool NAME: it acts only for one compute pool")
        workspace, role = None, None
    elif pool:
        raise InvalidParameter("--pool applies only to agent tokens (--agent)")
    if kind == "service":
        workspace = workspace or DEFAULT_WORKSPACE
        if not role:
            raise InvalidParameter("a service token needs --role: the role it acts with in its workspace")
        if identity_roles.get_role_by_name(connection, workspace, role) is None:
            raise NotFound(f"role {role!r} does not exist in workspace {workspace!r}")
    elif kind == "personal" and role:
        raise InvalidParameter("--role applies to service tokens; a personal token acts with its owner's roles")
    if store.get_token(connection, user_id=owner.user_id, name=name) is not None:
        raise AlreadyExists(f"a token named {name!r} already exists; revoke it first or choose another name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now_ms()
    try:
        token_id = store.insert_token(
            connection,
            user_id=owner.user_id,
            name=name,
            kind=kind,
            token_hash=hash_token(secret),
            workspace=workspace,
            role=role,
            pool=pool,
            creation_time=now,
            expires_at=now + expires_in_seconds * 1000 if expires_in_seconds else None,
            last_used_at=None,
        )
    except IntegrityError as error:
        raise AlreadyExists(f"a token named {name!r} already exists") from error
    record = next(t for t in list_tokens(connection, owner) if t.id == token_id)
    return secret, record


def list_tokens(connection: Connection, principal: Principal, *, everyone: bool = False) -> list[Token]:
    """The principal's own tokens (an admin may list everyone's)."""
    if everyone and principal.is_admin:
        return [to_token(row) for row in store.list_tokens(connection, user_id=None)]
    if principal.user_id is None:
        return []
    return [to_token(row) for row in store.list_tokens(connection, user_id=principal.user_id)]


def revoke_token(connection: Connection, principal: Principal, name: str, *, owner: str | None = None) -> Token:
    """Delete one of the principal's tokens by name (an admin may name another owner)."""
    user_id = principal.user_id
    if owner is not None and owner != principal.name:
        if not principal.is_admin:
            raise PermissionDenied("revoking another user's token needs an admin")
        owner_row = store.get_user(connection, username=owner)
        if owner_row is None:
            raise NotFound(f"User with username={owner} not found")
        user_id = int(owner_row.id)
    if user_id is None:
        raise NotFound(f"no token named {name!r}")
    row = store.get_token(connection, user_id=user_id, name=name)
    if row is None:
        raise NotFound(f"no token named {name!r}")
    token = next(t for t in store.list_tokens(connection, user_id=user_id) if int(t.id) == int(row.id))
    store.delete_token(connection, int(row.id))
    return to_token(token)


def verify_token(connection: Connection, secret: str, workspace: str | None, now: int) -> TokenCheck:
    """The principal a token acts as; ``Unauthenticated`` when it is unknown, expired or its owner disabled."""
    row = store.token_by_hash(connection, hash_token(secret))
    if row is None:
        raise Unauthenticated("invalid token")
    if row.expires_at is not None and int(row.expires_at) <= now:
        raise Unauthenticated(f"the token {row.name!r} has expired")
    if row.disabled:
        raise Unauthenticated("the token's owner is disabled")
    kind: TokenKind = row.kind
    if kind == "agent":
        principal = Principal(
            kind="agent", name=f"agent:{row.pool}", user_id=int(row.user_id), pool=row.pool, via="token"
        )
    elif kind == "service":
        principal = Principal(
            kind="service",
            name=row.name,
            user_id=int(row.user_id),
            workspace=row.workspace or DEFAULT_WORKSPACE,
            role=row.role,
            via="token",
        )
    else:
        principal = Principal(
            kind="user",
            name=row.username,
            is_admin=bool(row.is_admin),
            user_id=int(row.user_id),
            workspace=workspace or DEFAULT_WORKSPACE,
            via="token",
        )
    return TokenCheck(
        principal=principal, token_id=int(row.id), expires_at=row.expires_at, last_used_at=row.last_used_at
    )


def record_use(connection: Connection, token_id: int, now: int) -> None:
    store.touch_token(connection, token_id, now)
