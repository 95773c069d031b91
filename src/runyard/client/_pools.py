"""SDK: compute pools, queues and workers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runyard.client._base import BaseClient


class PoolsMixin(BaseClient):
    def list_pools(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/api/v1/pools")["pools"])

    def put_pool(
        self,
        name: str,
        *,
        gpus_per_replica: int = 0,
        queues: Sequence[str] = ("default",),
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {"gpus_per_replica": gpus_per_replica, "queues": list(queues), "labels": dict(labels or {})}
        return dict(self.json("PUT", f"/api/v1/pools/{name}", json=body)["pool"])

    def delete_pool(self, name: str) -> None:
        self.request("DELETE", f"/api/v1/pools/{name}")

    def list_queues(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/api/v1/queues")["queues"])

    def put_queue(self, name: str, *, priority: int = 0, description: str | None = None) -> dict[str, Any]:
        body = {"priority": priority, "description": description}
        return dict(self.json("PUT", f"/api/v1/queues/{name}", json=body)["queue"])

    def list_workers(self, *, pool: str | None = None, include_gone: bool = False) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"all": include_gone}
        if pool:
            params["pool"] = pool
        return list(self.json("GET", "/api/v1/workers", params=params)["workers"])
