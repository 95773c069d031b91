"""One settings tree for every runyard process.

Precedence, highest first: CLI flags (passed as init arguments) > environment (``RUNYARD_*``, plus the
standard ``AWS_ENDPOINT_URL`` / ``MLFLOW_S3_ENDPOINT_URL``) > a TOML config file (``--config`` or
``RUNYARD_CONFIG``) > defaults. Nothing is read at import time: callers build ``ServerSettings`` /
``AgentSettings`` explicitly and pass them down.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from runyard.domain.identity import BUILTIN_ROLE_NAMES, NO_DEFAULT_ROLE
from runyard.domain.workspaces import validate_name as validate_workspace_name
from runyard.errors import InvalidParameter

DEFAULT_PORT = 5050
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATA_DIR = Path("~/.runyard")
CONFIG_FILE_ENV = "RUNYARD_CONFIG"

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
ARTIFACT_SCHEMES = ("file", "s3")


def _config_file_from_env() -> Path | None:
    value = os.environ.get(CONFIG_FILE_ENV)
    return Path(value).expanduser() if value else None


class PoolConfig(BaseModel):
    """A compute pool declared by configuration: which queues its agents serve."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    gpus_per_replica: int = Field(default=0, ge=0, le=64)
    queues: list[str] = Field(default_factory=lambda: ["default"])
    labels: dict[str, str] = Field(default_factory=dict)


class _RunyardSettings(BaseSettings):
    """Shared behaviour: env prefix, TOML file source, precedence."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_", extra="forbid", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _config_file_from_env()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


class ServerSettings(_RunyardSettings):
    """Settings of ``runyard server`` (and of the commands that open its stores)."""

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Local data directory (embedded default).")
    host: str = Field(default=DEFAULT_HOST, description="Address to bind.")
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(default=1, ge=1, le=64, description="Server worker processes.")
    backend_store_uri: str | None = Field(
        default=None, description="Metadata database URL; default sqlite:///<data-dir>/runyard.db."
    )
    artifacts_destination: str | None = Field(
        default=None, description="Artifact store: a path, file://… or s3://bucket/prefix."
    )
    registry_uri: str | None = Field(
        default=None, description="Where registered model versions are copied; default <data-dir>/registry."
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "s3_endpoint_url", "RUNYARD_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"
        ),
        description="S3 endpoint override (MinIO, s3proxy…).",
    )
    redis_url: SecretStr | None = Field(default=None, description="Optional Redis for wake-ups and caches.")
    root_url: str | None = Field(default=None, description="Public URL of the server (behind ingress).")
    auth_enabled: bool = Field(default=False, description="Require authentication.")
    cookie_secret: SecretStr | None = Field(default=None, description="Session cookie secret (>= 64 chars).")
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts stored secrets (webhook signing secrets), >= 32 characters; default: "
        "derived from cookie_secret, else a key file in the data directory. Every replica needs the same one.",
    )
    gateway_kek: SecretStr | None = Field(
        default=None,
        description="Key-encryption key of the AI gateway's provider credentials, >= 32 characters; default: "
        "derived from secrets_key, else from cookie_secret, else a key file in the data directory. Every replica "
        "needs the same one.",
    )
    gateway_allow_private_urls: bool = Field(
        default=False,
        description="Let gateway secrets name plain-http, loopback and private provider URLs in api_base "
        "(refused by default against SSRF).",
    )
    gateway_timeout_seconds: float = Field(
        default=120.0, gt=0, le=600, description="How long the gateway waits for a provider's answer."
    )
    webhook_max_attempts: int = Field(default=6, ge=1, le=20, description="Deliveries tried per webhook event.")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Webhook request timeout.")
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Deliver webhooks to loopback and private addresses (refused by default against SSRF).",
    )
    oidc_providers: SecretStr | None = Field(
        default=None,
        description="OIDC providers as a TOML array of tables (name, key, issuer_url, client_id, client_secret, "
        "scopes, pkce, allow_sign_up, require_email_verified, allowed_domains), read when auth is enabled.",
    )
    admin_username: str | None = Field(
        default=None, description="Bootstrap admin created on the first start against a store with no admin."
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="The bootstrap admin's password (no default; needed when auth is on and no admin exists).",
    )
    default_role: str = Field(
        default="viewer",
        description="Built-in role (viewer, editor, admin, or none) every new user gets in default_workspace.",
    )
    default_workspace: str = Field(default="default", description="The workspace new users get default_role in.")
    admins: str | None = Field(
        default=None,
        description="Comma-separated emails: a user created, or signing in by OIDC, with one of these verified "
        "emails becomes an admin.",
    )
    session_max_age_seconds: int = Field(
        default=518_400, ge=60, description="Absolute lifetime of a browser session (default 6 days)."
    )
    session_idle_seconds: int = Field(default=518_400, ge=60, description="A browser session unused this long ends.")
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins per username and client address before a lockout."
    )
    login_lockout_seconds: int = Field(default=300, ge=1, description="How long a login lockout lasts.")
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a replica trusts a verified password or token before checking again."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    migrate_on_start: bool | None = Field(
        default=None, description="Apply migrations on start; default: only for SQLite."
    )
    local_pool: bool = Field(default=True, description="Run an embedded compute pool beside the server.")
    pools: list[PoolConfig] = Field(default_factory=list, description="Declared compute pools.")
    lease_seconds: float = Field(default=60.0, gt=0, description="Worker lease (missed heartbeats).")
    stale_run_seconds: float | None = Field(
        default=None, gt=0, description="Mark tracking runs RUNNING without activity this long FAILED."
    )
    external_mlflow_uri: str | None = Field(
        default=None, description="Send job tracking to an external MLflow server instead."
    )
    max_request_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body (JSON and form requests), enforced while the body is read.",
    )
    max_artifact_upload_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Largest artifact uploaded through the proxy (streamed to the store); default unlimited.",
    )
    recipe_bundle_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Largest pushed recipe bundle (compressed)."
    )
    recipe_bundle_max_unpacked_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1024, description="Largest total size of a recipe bundle's files, unpacked."
    )
    recipe_bundle_max_members: int = Field(
        default=20_000, ge=1, description="Most entries (files and directories) in a recipe bundle."
    )
    request_body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A request body must arrive within this many seconds (extended by its size at the minimum rate).",
    )
    request_body_min_rate: int = Field(
        default=1024,
        ge=1,
        description="Bytes per second a request body is allowed at least, beyond request_body_timeout_seconds.",
    )
    _oidc_providers: list[OidcProvider] = PrivateAttr(default_factory=list)

    @field_validator("oidc_providers", mode="before")
    @classmethod
    def _providers_as_text(cls, value: Any) -> Any:
        # A config file may hold the providers as a real TOML array (``[[oidc_providers]]``) rather
        # than as the text the environment and the Helm secret carry: keep them as JSON text.
        if isinstance(value, list):
            return json.dumps(value)
        return value

    @field_validator("default_role")
    @classmethod
    def _check_default_role(cls, value: str) -> str:
        if value not in (*BUILTIN_ROLE_NAMES, NO_DEFAULT_ROLE):
            raise ValueError(
                f"unknown default_role {value!r}: use one of {', '.join(BUILTIN_ROLE_NAMES)} or {NO_DEFAULT_ROLE}"
            )
        return value

    @field_validator("default_workspace")
    @classmethod
    def _check_default_workspace(cls, value: str) -> str:
        try:
            return validate_workspace_name(value)
        except InvalidParameter as error:
            raise ValueError(f"default_workspace: {error.message}") from None

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, value: str | None) -> str | None:
        for email in (part.strip() for part in (value or "").split(",")):
            if email and "@" not in email:
                raise ValueError(f"admins: {email!r} is not an email address")
        return value

    @property
    def admin_emails(self) -> frozenset[str]:
        """``admins`` as lower-cased addresses (emails compare case-insensitively)."""
        return frozenset(part.strip().lower() for part in (self.admins or "").split(",") if part.strip())

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("backend_store_uri")
    @classmethod
    def _check_database_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if "://" not in value or scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database URL {redact_url(value)!r}: use sqlite:///PATH, "
                "postgresql://USER@HOST/DB or mysql://USER@HOST/DB (mariadb:// also accepted)"
            )
        return value

    @field_validator("artifacts_destination", "registry_uri")
    @classmethod
    def _check_storage_uri(cls, value: str | None) -> str | None:
        if value is None or "://" not in value:
            return value
        scheme = value.split("://", 1)[0].lower()
        if scheme not in ARTIFACT_SCHEMES:
            raise ValueError(f"unsupported storage URI scheme {scheme!r}: use a path, file://… or s3://…")
        if scheme == "s3" and not value[len("s3://") :].strip("/"):
            raise ValueError("an s3:// URI needs a bucket: s3://BUCKET[/PREFIX]")
        return value

    @model_validator(mode="after")
    def _check_secrets(self) -> ServerSettings:
        if self.secrets_key is not None and len(self.secrets_key.get_secret_value()) < 32:
            raise ValueError("secrets_key must be at least 32 characters long")
        if self.gateway_kek is not None and len(self.gateway_kek.get_secret_value()) < 32:
            raise ValueError("gateway_kek must be at least 32 characters long")
        if self.cookie_secret is not None and len(self.cookie_secret.get_secret_value()) < 64:
            raise ValueError("cookie_secret must be at least 64 characters long")
        if self.auth_enabled and self.cookie_secret is None:
            raise ValueError("auth_enabled requires cookie_secret (RUNYARD_COOKIE_SECRET, >= 64 characters)")
        if self.oidc_providers is not None:
            self._oidc_providers = parse_oidc_providers(self.oidc_providers.get_secret_value())
            if self.auth_enabled and self.root_url is None:
                raise ValueError(
                    "oidc_providers needs root_url (RUNYARD_ROOT_URL): providers send browsers back to "
                    "<root_url>/api/v1/auth/login/<key>/callback"
                )
        names = [pool.name for pool in self.pools]
        if len(names) != len(set(names)):
            raise ValueError("pools: each compute pool name must be unique")
        return self

    @property
    def oidc_provider_list(self) -> list[OidcProvider]:
        """The parsed ``oidc_providers`` (empty when none are configured)."""
        return list(self._oidc_providers)

    @property
    def database_url(self) -> str:
        """The metadata database URL, defaulting to SQLite in the data directory."""
        return self.backend_store_uri or f"sqlite:///{self.data_dir / 'runyard.db'}"

    @property
    def artifacts_uri(self) -> str:
        """The artifact store URI, defaulting to a folder in the data directory."""
        return self.artifacts_destination or str(self.data_dir / "artifacts")

    @property
    def registry_location(self) -> str:
        """Where registered model versions live, defaulting to a folder beside the artifacts."""
        return self.registry_uri or str(self.data_dir / "registry")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def should_migrate_on_start(self) -> bool:
        return self.is_sqlite if self.migrate_on_start is None else self.migrate_on_start

    def redacted(self) -> dict[str, Any]:
        """The effective configuration with secrets and URL passwords hidden (for ``config check``)."""
        data = self.model_dump(mode="json")
        data["database_url"] = redact_url(self.database_url)
        data["artifacts_uri"] = self.artifacts_uri
        data["registry_location"] = self.registry_location
        if data.get("backend_store_uri"):
            data["backend_store_uri"] = redact_url(data["backend_store_uri"])
        for name in type(self).model_fields:
            if isinstance(getattr(self, name), SecretStr) and data.get(name):
                data[name] = "**********"
        return data


def to_environment(settings: ServerSettings) -> dict[str, str]:
    """Every effective value as the ``RUNYARD_*`` variables that rebuild the same settings.

    Server worker processes start from the environment; every secret is unwrapped (not only some),
    and lists and tables travel as JSON, which pydantic-settings parses back.
    """
    environment: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, list | dict):
            text = json.dumps(settings.model_dump(mode="json")[name])
        else:
            text = str(value)
        environment[f"RUNYARD_{name.upper()}"] = text
    return environment


class AgentSettings(_RunyardSettings):
    """Settings of ``runyard agent`` (environment prefix ``RUNYARD_AGENT_``)."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_AGENT_", extra="forbid", validate_default=True)

    server_url: str = Field(default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", description="Server to join.")
    pool: str = Field(default="local", description="Compute pool this agent serves.")
    name: str | None = Field(default=None, description="Worker name; default: hostname-pid.")
    gpus: str = Field(default="auto", description="'auto', 'none', or a list such as '0,1,2,3'.")
    slots: int | None = Field(default=None, ge=1, description="Concurrent CPU jobs when there are no GPUs.")
    token: SecretStr | None = Field(default=None, description="Agent credential.")
    work_dir: Path | None = Field(default=None, description="Where job working directories are made.")
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    heartbeat_file: Path = Field(
        default=Path("/tmp/runyard-agent/heartbeat"), description="Touched while the agent's loops are alive."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Worker labels (JSON in the environment).")
    claim_wait_seconds: float = Field(default=20.0, gt=0, le=300, description="Long-poll wait of one claim.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    env_cache_mb: int = Field(
        default=20480,
        ge=0,
        description="Size limit of the cached job environments under the work dir: past it the least recently "
        "used ones no running job uses are evicted (0 keeps only those in use).",
    )
    env_install_timeout_seconds: float = Field(
        default=1200.0, gt=0, description="Longest a job environment may take to install (waiting included)."
    )
    env_python: str | None = Field(
        default=None, description="Interpreter job environments are built from (default: the agent's base python)."
    )
    env_system_site_packages: bool = Field(
        default=False, description="Job environments also see env_python's own packages (e.g. torch in the image)."
    )
    env_installer: Literal["auto", "uv", "pip"] = Field(
        default="auto", description="Installer of job environments: uv, pip, or auto (uv, else pip)."
    )


class SandboxSettings(_RunyardSettings):
    """Sandbox defaults applied by agents (environment prefix ``RUNYARD_SANDBOX_``)."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_SANDBOX_", extra="forbid", validate_default=True)

    isolation: Literal["auto", "process", "namespace", "bubblewrap"] = "auto"
    memory_limit_mb: int | None = Field(default=None, ge=16)
    cpu_seconds: int | None = Field(default=None, ge=1)
    max_processes: int | None = Field(default=None, ge=1)
    max_file_size_mb: int | None = Field(default=None, ge=1)
    network: bool = True
    timeout_seconds: float | None = Field(default=None, gt=0)
    run_as_uid: int | None = Field(
        default=None,
        ge=0,
        description="Run jobs as this user id when the agent is root (default: the job user; 0 = as root, unsafe).",
    )
    run_as_gid: int | None = Field(default=None, ge=1, description="Group id for run_as_uid (default: the same).")
    job_user: str = Field(
        default="runyard-job",
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
        description="System user a root agent creates (if missing) and runs jobs as when run_as_uid is not set.",
    )
    allow_process: bool = Field(
        default=False,
        description="Let isolation=auto fall back to the process level (no filesystem isolation) when no other works.",
    )


OIDC_REQUIRED_KEYS = ("name", "key", "issuer_url", "client_id")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class OidcProvider(BaseModel):
    """One OpenID Connect provider (the seeds' shape, plus ``require_email_verified`` and ``allowed_domains``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, description="Shown on the login page.")
    key: str = Field(
        min_length=1, max_length=63, pattern=r"^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$", description="URL path segment."
    )
    issuer_url: str = Field(min_length=1, description="The issuer; discovery is read from its well-known URL.")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = Field(default=None, description="Omitted for public clients (PKCE only).")
    scopes: list[str] = Field(default_factory=lambda: ["email", "profile"])
    pkce: bool = Field(default=True, description="Send an S256 code challenge (recommended).")
    allow_sign_up: bool = Field(default=False, description="Create an account on a first login.")
    require_email_verified: bool = Field(default=True, description="Refuse an email the provider has not verified.")
    allowed_domains: list[str] = Field(default_factory=list, description="Email domains allowed in; empty: any.")

    @field_validator("pkce", mode="before")
    @classmethod
    def _pkce_method(cls, value: Any) -> Any:
        # ``pkce = "S256"`` names the one method runyard uses; "plain" defeats the purpose.
        if isinstance(value, str):
            if value.upper() != "S256":
                raise ValueError('pkce must be true, false or "S256"')
            return True
        return value

    @field_validator("issuer_url")
    @classmethod
    def _https_issuer(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        # Kept exactly as written: discovery must name this very string (some issuers end in "/").
        if (scheme == "https" and host) or (scheme == "http" and host in LOOPBACK_HOSTS):
            return value
        raise ValueError(f"issuer_url {value!r} must be an https:// URL (http:// only for a loopback address)")

    @field_validator("scopes")
    @classmethod
    def _scopes_with_email(cls, value: list[str]) -> list[str]:
        if "email" not in value:
            raise ValueError("scopes must include 'email': accounts are matched and checked by email")
        return value

    @field_validator("allowed_domains")
    @classmethod
    def _normalise_domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lstrip("@").lower() for domain in value if domain.strip()]

    @property
    def request_scopes(self) -> list[str]:
        """The scopes sent to the provider: ``openid`` first, then the configured ones."""
        return ["openid", *(scope for scope in self.scopes if scope != "openid")]


def parse_oidc_providers(text: str) -> list[OidcProvider]:
    """Parse the providers: a bare TOML array of inline tables (the Helm chart's form), ``[[providers]]``
    tables, or a JSON array (what a config file's own TOML array becomes)."""
    import tomllib

    stripped = text.strip()
    providers: Any
    try:
        providers = json.loads(stripped)
    except ValueError:
        bare_array = stripped.startswith("[") and not stripped.startswith("[[")
        try:
            document = tomllib.loads(f"providers = {stripped}" if bare_array else stripped)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"oidc_providers is not valid TOML: {error}") from None
        providers = document.get("providers", document.get("oidc_providers", []))
    if not isinstance(providers, list) or not providers:
        raise ValueError("oidc_providers must define at least one [[providers]] table")
    parsed: list[OidcProvider] = []
    for index, provider in enumerate(providers):
        missing = [key for key in OIDC_REQUIRED_KEYS if not isinstance(provider, dict) or key not in provider]
        if missing:
            raise ValueError(f"oidc_providers[{index}] is missing {', '.join(missing)}")
        try:
            parsed.append(OidcProvider.model_validate(provider))
        except ValidationError as error:
            problems = "; ".join(_describe_issue(issue["loc"], issue["msg"]) for issue in error.errors())
            raise ValueError(f"oidc_providers[{index}] ({provider.get('key')}): {problems}") from None
    keys = [provider.key for provider in parsed]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"oidc_providers: each key must be unique (repeated: {', '.join(duplicates)})")
    return parsed


def _describe_issue(location: tuple[int | str, ...], message: str) -> str:
    field = ".".join(str(part) for part in location) or "value"
    return f"{field}: {message.removeprefix('Value error, ')}"


def redact_url(url: str) -> str:
    """Hide the password in ``scheme://user:password@host/…``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}@{host}"
