"""OIDC login's steps around the provider: keep the pending login, take it back once, admit the user.

A login is three steps, each in its own transaction so no database lock is held while the provider
is contacted: ``save_pending_login`` (before the redirect), ``take_pending_login`` (first thing in
the callback: the row is deleted, so a replayed callback is refused), and ``complete_login`` (after
the ID token is verified: find or create the user, start the session).

The pending login lives in the database, so the callback may reach any replica. It is bound to the
browser that started it by a random cookie whose hash is stored with it: a callback URL sent to a
victim (login CSRF) finds a state, but not the victim's cookie.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.errors import InvalidParameter, PermissionDenied
from runyard.services import identity_sessions
from runyard.services.identity_sessions import NewSession
from runyard.services.identity_users import NewUserPolicy
from runyard.services.oidc import AuthorizationRequest, ProviderIdentity
from runyard.services.oidc_users import find_or_create_oidc_user
from runyard.settings import OidcProvider
from runyard.stores.metadata import oidc as store

PENDING_LOGIN_SECONDS = 600
MAX_RETURN_TO = 2000


@dataclass(frozen=True, slots=True)
class PendingLogin:
    provider_key: str
    nonce: str
    code_verifier: str | None
    return_to: str | None


def check_return_to(value: str | None) -> str | None:
    """Where to send the browser after login: a path on this server only (no open redirect)."""
    if value is None or value == "":
        return None
    if (
        len(value) > MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(char) < 0x20 for char in value)
    ):
        raise InvalidParameter("'next' must be a path on this server, such as /experiments")
    return value


def save_pending_login(
    connection: Connection,
    provider_key: str,
    request: AuthorizationRequest,
    *,
    browser_token: str,
    return_to: str | None,
) -> None:
    now = now_ms()
    store.delete_expired_logins(connection, now)
    store.insert_login(
        connection,
        state_hash=_sha256(request.state),
        provider_key=provider_key,
        browser_hash=_sha256(browser_token),
        nonce=request.nonce,
        code_verifier=request.code_verifier,
        return_to=return_to,
        creation_time=now,
        expires_at=now + PENDING_LOGIN_SECONDS * 1000,
    )


def take_pending_login(
    connection: Connection, provider_key: str, *, state: str | None, browser_token: str | None
) -> PendingLogin:
    """The login ``state`` belongs to, removed so it cannot be used twice; refused unless it was
    started by this browser, for this provider, and has not expired."""
    if not state:
        raise InvalidParameter("The login callback has no 'state': start the login again.")
    row = store.take_login(connection, _sha256(state))
    if row is None:
        raise InvalidParameter("Unknown or already used login 'state': start the login again.")
    if row.provider_key != provider_key:
        raise InvalidParameter(f"This login was started for another provider, not {provider_key!r}.")
    if browser_token is None or _sha256(browser_token) != row.browser_hash:
        raise InvalidParameter("This login was started in another browser: start the login again.")
    if row.expires_at <= now_ms():
        raise InvalidParameter("This login has expired: start the login again.")
    return PendingLogin(
        provider_key=row.provider_key, nonce=row.nonce, code_verifier=row.code_verifier, return_to=row.return_to
    )


def admit(provider: OidcProvider, identity: ProviderIdentity) -> None:
    """The provider's policy: an email is required, verified (unless relaxed) and in an allowed domain."""
    if identity.email is None:
        raise PermissionDenied(f"OIDC provider {provider.key!r} sent no email address; the 'email' scope is needed.")
    if provider.require_email_verified and not identity.email_verified:
        raise PermissionDenied(f"The email address {identity.email} is not verified by {provider.name}.")
    domain = identity.email.rsplit("@", 1)[-1].lower()
    if provider.allowed_domains and domain not in provider.allowed_domains:
        raise PermissionDenied(f"Email addresses of {domain} may not sign in through {provider.name}.")


def complete_login(
    connection: Connection,
    provider: OidcProvider,
    identity: ProviderIdentity,
    *,
    policy: NewUserPolicy,
    cookie_secret: str,
    max_age_seconds: int,
) -> NewSession:
    """Find (or, with sign-up allowed, create) the user of ``identity`` and start a session."""
    user = find_or_create_oidc_user(
        connection,
        provider_key=provider.key,
        subject=identity.subject,
        email=identity.email,
        email_verified=identity.email_verified,
        allow_sign_up=provider.allow_sign_up,
        policy=policy,
    )
    return identity_sessions.start_session(
        connection, user, secret=cookie_secret, now=now_ms(), max_age_seconds=max_age_seconds
    )


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
