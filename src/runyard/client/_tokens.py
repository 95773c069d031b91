"""SDK: API tokens (``/api/v1/tokens``) and the signed-in principal."""

from __future__ import annotations

from typing import Any

from runyard.client._base import BaseClient


class TokensMixin(BaseClient):
    def create_token(
        self,
        name: str,
        *,
        expires_in: str | None = None,
        workspace: str | None = None,
        role: str | None = None,
        agent: bool = False,
        pool: str | None = None,
    ) -> dict[str, Any]:
        """Create a token; the answer's ``token`` is the secret, shown this once."""
        kind = "agent" if agent else ("service" if role else "personal")
        body = {
            "name": name,
            "kind": kind,
            "expires_in": expires_in,
            "workspace": workspace,
            "role": role,
            "pool": pool,
        }
        return dict(self.json("POST", "/api/v1/tokens", json={k: v for k, v in body.items() if v is not None}))

    def list_tokens(self, *, everyone: bool = False) -> list[dict[str, Any]]:
        return list(self.json("GET", "/api/v1/tokens", params={"all": everyone})["tokens"])

    def revoke_token(self, name: str, *, owner: str | None = None) -> None:
        params = {"owner": owner} if owner else {}
        self.request("DELETE", f"/api/v1/tokens/{name}", params=params)

    def whoami(self) -> dict[str, Any]:
        return dict(self.json("GET", "/api/v1/auth/me"))
