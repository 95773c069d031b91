"""``/api/v1/tokens``: create (the secret is in this one answer), list, revoke API tokens."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.auth import _deps
from runyard.api.requests import parse_json
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Token
from runyard.services import identity_tokens as service

router = APIRouter(tags=["tokens"])


class TokenCreate(BaseModel):
    name: str
    kind: Literal["personal", "service", "agent"] = "personal"
    expires_in: str | None = None
    workspace: str | None = None
    role: str | None = None
    pool: str | None = None


def token_json(token: Token) -> dict[str, Any]:
    return dataclasses.asdict(token)


@router.post("/tokens", dependencies=[access.authenticated])
async def create_token(request: Request) -> Response:
    """Mint a token for the signed-in user (service and agent tokens: admins)."""
    acting = _deps.signed_in(request)
    body = await parse_json(request, TokenCreate)
    seconds = service.parse_duration(body.expires_in) if body.expires_in else None

    def work(connection: Connection) -> tuple[str, Token]:
        return service.create_token(
            connection,
            acting,
            body.name,
            kind=body.kind,
            expires_in_seconds=seconds,
            workspace=body.workspace,
            role=body.role,
            pool=body.pool,
        )

    secret, token = await _deps.platform(request).write(work)
    return JSONResponse({"token": secret, "token_info": token_json(token)})


@router.get("/tokens", dependencies=[access.authenticated])
async def list_tokens(request: Request, all: bool = False) -> Response:
    """The signed-in user's tokens (``all=true``: everyone's, for admins). Never the secrets."""
    acting = _deps.signed_in(request)
    tokens = await _deps.platform(request).read(lambda c: service.list_tokens(c, acting, everyone=all))
    return JSONResponse({"tokens": [token_json(token) for token in tokens]})


@router.delete("/tokens/{name}", dependencies=[access.authenticated])
async def revoke_token(name: str, request: Request, owner: str | None = None) -> Response:
    """Revoke a token by name; it stops working on this replica at once, elsewhere within the cache TTL."""
    acting = _deps.signed_in(request)
    await _deps.platform(request).write(lambda c: service.revoke_token(c, acting, name, owner=owner))
    _deps.forget_all(request)
    return JSONResponse({})
