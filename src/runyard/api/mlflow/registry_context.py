"""What the registry routes share: the acting user and request parsing for MLflow's verbs.

The MLflow client sends GET parameters in the query string and everything else (DELETE included) as
a JSON body; ``parse_request`` accepts either, so curl users can also put DELETE parameters in the
query string.

The user recorded in registry events is the ``X-Runyard-User`` header, else the Basic-auth user name,
else (for new versions) the source run's user, else ``anonymous``. Authentication is not enforced
here; once it is, the authenticated principal should take the header's place.
"""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from runyard.api.requests import parse_json, parse_query

M = TypeVar("M", bound=BaseModel)

USER_HEADER = "x-runyard-user"


async def parse_request(request: Request, model: type[M]) -> M:
    """GET parameters from the query string; other verbs from the JSON body (or the query string)."""
    if request.method == "GET":
        return parse_query(request, model)
    body = await request.body()
    if not body.strip() and request.query_params:
        return parse_query(request, model)
    return await parse_json(request, model)


def request_user(request: Request) -> str | None:
    """Who is acting, as far as the request says (see the module docstring)."""
    header = request.headers.get(USER_HEADER, "").strip()
    if header:
        return header[:256]
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            user = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user[:256] or None
    return None
