"""The database-backed ``Authenticator``: Basic passwords, Bearer tokens, job tokens and session cookies.

Cost per request is what the platform's performance target allows: a verified password or API token
is remembered per process for ``auth_cache_seconds`` (a password is checked with argon2id once,
not on every request; a token is one indexed lookup of its SHA-256). Changes made on this replica
(a password change, a revoked token, a disabled user) clear the cache at once; other replicas see
them when their entry ages out. Sessions and job tokens are not cached: logging out ends a session
on every replica immediately, and a job token stops working the moment its attempt ends.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from dataclasses import dataclass, replace

from runyard.domain.clock import now_ms
from runyard.domain.identity import ANONYMOUS, DEFAULT_WORKSPACE, JobScope, Principal
from runyard.errors import Unauthenticated
from runyard.services import attempts, identity_sessions, identity_tokens, identity_users, login_limits
from runyard.services.access_checks import AccessChecker
from runyard.settings import ServerSettings
from runyard.stores.metadata import jobs as job_store
from runyard.stores.metadata.session import Database


@dataclass(slots=True)
class _Entry:
    principal: Principal
    expires: float  # time.monotonic()
    token_id: int | None = None
    last_use_recorded: int = 0
    # Passwords: the user's credential generation when verified. After the TTL the entry is renewed
    # by one indexed read (same generation, still enabled) instead of a second argon2 verification.
    generation: int | None = None


class DatabaseAuthenticator:
    """Verifies credentials against the metadata database (see the module docstring for caching)."""

    def __init__(self, database: Database, settings: ServerSettings) -> None:
        self._database = database
        self._settings = settings
        assert settings.cookie_secret is not None
        self._cookie_secret = settings.cookie_secret.get_secret_value()
        self._ttl = settings.auth_cache_seconds
        self._cache: dict[str, _Entry] = {}
        self._stale: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        # The per-process caches of access decisions live beside those of credentials.
        self.access = AccessChecker(settings.auth_cache_seconds)

    # --- the Authenticator protocol ---

    def authenticate(
        self,
        authorization: str | None,
        session_cookie: str | None,
        workspace_header: str | None,
        client_address: str | None = None,
    ) -> Principal:
        workspace = workspace_header or DEFAULT_WORKSPACE
        if authorization:
            scheme, _, credential = authorization.strip().partition(" ")
            credential = credential.strip()
            if scheme.lower() == "basic":
                return self._with_workspace(self._password(credential, client_address), workspace)
            if scheme.lower() == "bearer" and credential:
                if credential.startswith(attempts.TOKEN_PREFIX):
                    return self._job(credential)
                return self._with_workspace(self._token(credential), workspace)
            raise Unauthenticated("unsupported Authorization header: use Basic (username:password) or Bearer (a token)")
        if session_cookie:
            return self._session(session_cookie, workspace)
        return ANONYMOUS

    def authenticate_cached(
        self, authorization: str | None, session_cookie: str | None, workspace_header: str | None
    ) -> Principal | None:
        """A password or token verified within ``auth_cache_seconds``, from this process's memory.

        No I/O: the server calls it on the event loop, sparing the hot path a hop to a worker thread.
        ``None`` (not cached, expired, a session, a job token, a token whose last use is due to be
        recorded) sends the request through ``authenticate``.
        """
        if not authorization:
            return None
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True)
            except binascii.Error:
                return None
            key = "basic:" + hashlib.sha256(decoded).hexdigest()
        elif scheme == "bearer" and credential and not credential.startswith(attempts.TOKEN_PREFIX):
            key = "token:" + identity_tokens.hash_token(credential)
        else:
            return None
        entry = self._cached(key)
        if entry is None:
            return None
        if entry.token_id is not None and now_ms() - entry.last_use_recorded >= identity_tokens.LAST_USE_RESOLUTION_MS:
            return None  # recording the last use writes to the database: off the loop
        return self._with_workspace(entry.principal, workspace_header or DEFAULT_WORKSPACE)

    # --- cache maintenance, called by the services' callers after changes on this replica ---

    def forget_user(self, user_id: int) -> None:
        """Drop the cached passwords and tokens of one user (tokens carry their owner's id)."""
        with self._lock:
            for key in [k for k, e in self._cache.items() if e.principal.user_id == user_id]:
                del self._cache[key]
            for key in [k for k, e in self._stale.items() if e.principal.user_id == user_id]:
                del self._stale[key]
        self.access.forget_grants()

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()
            self._stale.clear()
        self.access.forget_grants()

    # --- credentials ---

    @staticmethod
    def _with_workspace(principal: Principal, workspace: str) -> Principal:
        if principal.kind != "user" or principal.workspace == workspace:
            return principal
        return replace(principal, workspace=workspace)

    def _cached(self, key: str) -> _Entry | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._cache.pop(key, None)
            if entry.generation is not None:
                self._stale[key] = entry
            return None
        return entry

    def _remember(self, key: str, entry: _Entry) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()  # bounded memory under a flood of distinct credentials
                self._stale.clear()
            self._cache[key] = entry

    def _password(self, credential: str, client_address: str | None) -> Principal:
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise Unauthenticated("malformed Basic credentials")
        # The key is a hash of the whole credential: the cache never holds a password.
        key = "basic:" + hashlib.sha256(decoded.encode()).hexdigest()
        entry = self._cached(key)
        if entry is not None:
            return entry.principal
        renewed = self._renew(key)
        if renewed is not None:
            return renewed
        return self.login(username, password, client_address, via="password")

    def _renew(self, key: str) -> Principal | None:
        """An expired password entry whose user is unchanged since (same generation, enabled), renewed."""
        stale = self._stale.get(key)
        if stale is None or stale.generation is None or stale.principal.user_id is None:
            return None
        with self._database.read() as connection:
            row = identity_users.credential_state(connection, stale.principal.user_id)
        if row is None or row[1] or row[0] != stale.generation:
            self._stale.pop(key, None)
            return None
        stale.expires = time.monotonic() + self._ttl
        self._stale.pop(key, None)
        self._remember(key, stale)
        return stale.principal

    def login(self, username: str, password: str, client_address: str | None, *, via: str = "password") -> Principal:
        """Verify a username and password (rate-limited per username and client address)."""
        now = now_ms()
        with self._database.read() as connection:
            login_limits.check_allowed(connection, username, client_address, now)
            verified = identity_users.verify_credentials(connection, username, password)
        with self._database.write() as connection:
            if verified is None:
                login_limits.record_failure(
                    connection,
                    username,
                    client_address,
                    now,
                    max_failures=self._settings.login_max_failures,
                    lockout_seconds=self._settings.login_lockout_seconds,
                )
            else:
                login_limits.record_success(connection, username, client_address)
        if verified is None:
            raise Unauthenticated("invalid username or password")
        user, generation = verified
        principal = Principal(kind="user", name=user.username, is_admin=user.is_admin, user_id=user.id, via="password")
        key = "basic:" + hashlib.sha256(f"{username}:{password}".encode()).hexdigest()
        entry = _Entry(principal=principal, expires=time.monotonic() + self._ttl, generation=generation)
        self._remember(key, entry)
        return principal

    def _token(self, secret: str) -> Principal:
        key = "token:" + identity_tokens.hash_token(secret)
        entry = self._cached(key)
        now = now_ms()
        if entry is not None:
            self._maybe_record_use(entry, now)
            return entry.principal
        with self._database.read() as connection:
            check = identity_tokens.verify_token(connection, secret, None, now)
        expires = time.monotonic() + self._ttl
        if check.expires_at is not None:
            expires = min(expires, time.monotonic() + (check.expires_at - now) / 1000)
        entry = _Entry(
            principal=check.principal,
            expires=expires,
            token_id=check.token_id,
            last_use_recorded=check.last_used_at or 0,
        )
        self._maybe_record_use(entry, now)
        self._remember(key, entry)
        return check.principal

    def _maybe_record_use(self, entry: _Entry, now: int) -> None:
        if entry.token_id is None or now - entry.last_use_recorded < identity_tokens.LAST_USE_RESOLUTION_MS:
            return
        entry.last_use_recorded = now
        with self._database.write() as connection:
            identity_tokens.record_use(connection, entry.token_id, now)

    def _job(self, secret: str) -> Principal:
        with self._database.read() as connection:
            identity = attempts.identify(connection, secret)
            job = job_store.get_job(connection, int(identity.job_id))
        recipe = str(job.recipe_name) if job is not None else ""
        scope = JobScope(
            job_id=int(identity.job_id),
            attempt=identity.attempt,
            run_id=identity.run_id or "",
            recipe=recipe,
            experiment_id=identity.experiment_id,
        )
        # A job acts in its own workspace, whatever header it sends.
        workspace = str(getattr(job, "workspace", None) or DEFAULT_WORKSPACE) if job is not None else DEFAULT_WORKSPACE
        return Principal(kind="job", name=f"job:{identity.job_id}", job=scope, workspace=workspace, via="job")

    def _session(self, cookie: str, workspace: str) -> Principal:
        now = now_ms()
        with self._database.read() as connection:
            principal, stale = identity_sessions.check_session(
                connection,
                cookie,
                secret=self._cookie_secret,
                workspace=workspace,
                now=now,
                idle_seconds=self._settings.session_idle_seconds,
            )
        if stale:
            with self._database.write() as connection:
                identity_sessions.touch_session(connection, cookie, self._cookie_secret, now)
        return principal
