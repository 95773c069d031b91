"""What each CI value scenario (deploy/helm/*/ci/*-values.yaml) must do: render, or fail saying what."""

from __future__ import annotations

# scenario -> None when it must render, else the fragments its failure message must contain.
RUNYARD: dict[str, tuple[str, ...] | None] = {
    "defaults": None,
    "production-postgresql": None,
    "external-redis": None,
    "existing-secrets": None,
    "gpu-pools": None,
    "gpu-pool-unpinned": None,
    "ingress-tls": None,
    "otel-disabled": None,
    "otel-custom-exporters": None,
    "sqlite-single": None,
    "s3proxy": None,
    "redis-auth": None,
    "mysql-custom-secret-keys": None,
    "conflict-server-secret": (
        "VALUES VALIDATION",
        "existing-server-secret-conflict",
        "Remove: secrets.db.password, secrets.cookieSecret.",
    ),
    "conflict-storage-secret": (
        "existing-storage-secret-conflict",
        "Remove: secrets.storage.accessKeyId, secrets.storage.secretAccessKey.",
    ),
    "conflict-redis-secret-auth": (
        "secrets.existingRedisSecret=runyard-redis cannot be used with inline Redis credentials",
        "Remove redis.auth.username and redis.auth.password.",
    ),
    "conflict-redis-install-external": (
        "redis.install.enabled=true and redis.external.url are both set",
        "Set redis.install.enabled=false",
    ),
    "conflict-redis-nothing": ("redis.install.enabled=false requires redis.external.url",),
    "short-cookie-secret": ("cookie-secret-too-short", "it must be at least 64"),
    "sqlite-two-replicas": (
        "sqlite-single-replica",
        "server.replicaCount=2",
        "Set database.type=postgresql",
    ),
}

MONITORING: dict[str, tuple[str, ...] | None] = {
    "defaults": None,
    "persistence": None,
    "external-datasources": None,
}

CHARTS: dict[str, dict[str, tuple[str, ...] | None]] = {"runyard": RUNYARD, "runyard-monitoring": MONITORING}
