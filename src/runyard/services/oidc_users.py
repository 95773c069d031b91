"""Which runyard user a provider's identity is: by its link, by a verified email, or a new account.

1. ``(provider_key, subject)`` already linked: that user (its email as last seen is refreshed).
2. Not linked, and the provider verified the email: an existing user with that email is linked.
   An unverified email never links (anyone can type someone else's address at some providers).
3. Neither: a new user (no password; the email as user name; the default role of
   ``identity_users.NewUserPolicy``) when the provider allows sign-up; otherwise refused.
   Existing users keep signing in when sign-up is off, which is what it is for.

A disabled user is refused whichever way they were found. A verified email listed in
``RUNYARD_ADMINS`` makes the user an admin, at sign-up or at a later sign-in.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.domain.identity import User
from runyard.errors import PermissionDenied
from runyard.services import identity_users
from runyard.stores.metadata import identity as identity_store
from runyard.stores.metadata import oidc as store


def find_or_create_oidc_user(
    connection: Connection,
    *,
    provider_key: str,
    subject: str,
    email: str | None,
    email_verified: bool,
    allow_sign_up: bool,
    policy: identity_users.NewUserPolicy,
) -> User:
    """The user signing in as ``subject`` of ``provider_key`` (see the module docstring)."""
    now = now_ms()
    linked = store.get_identity(connection, provider_key, subject)
    if linked is not None:
        row = identity_store.get_user(connection, user_id=int(linked.user_id))
        if row is not None:
            user = identity_users.to_user(row)
            _refuse_disabled(user)
            store.touch_identity(connection, provider_key, subject, email=email, now=now)
            return _promote(connection, user, email if email_verified else None, policy)
    row = identity_store.get_user_by_email(connection, email) if email is not None and email_verified else None
    if row is not None:
        user = _promote(connection, identity_users.to_user(row), email, policy)
        _refuse_disabled(user)
    elif not allow_sign_up:
        raise PermissionDenied(
            f"Sign-up through {provider_key!r} is turned off and no account matches {email or subject}; "
            "ask an administrator to create your account."
        )
    else:
        user = identity_users.create_user(
            connection,
            _free_username(connection, email, provider_key, subject),
            None,
            # Only a verified address is recorded: an unverified one could claim someone else's.
            email=email if email_verified else None,
            policy=policy,
        )
    store.insert_identity(
        connection,
        provider_key=provider_key,
        subject=subject,
        user_id=user.id,
        email=email,
        creation_time=now,
        last_login_time=now,
    )
    return user


def _promote(
    connection: Connection, user: User, verified_email: str | None, policy: identity_users.NewUserPolicy
) -> User:
    """An existing user signing in with a verified email listed in ``RUNYARD_ADMINS`` becomes an admin."""
    if user.is_admin or user.disabled or not policy.makes_admin(verified_email):
        return user
    identity_users.set_admin(connection, user.username, True)
    return identity_users.get_user(connection, user_id=user.id)


def _refuse_disabled(user: User) -> None:
    if user.disabled:
        raise PermissionDenied(f"The account {user.username!r} is disabled.")


def _free_username(connection: Connection, email: str | None, provider_key: str, subject: str) -> str:
    """The email as user name, or a stable name derived from the identity when that one is taken."""
    if email is not None and identity_store.get_user(connection, username=email.lower()) is None:
        return email.lower()
    digest = hashlib.sha256(f"{provider_key}\0{subject}".encode()).hexdigest()[:10]
    local = "".join(
        char for char in (email or provider_key).split("@", 1)[0].lower() if char.isalnum() or char in "._-"
    )
    return f"{local or 'user'}.{provider_key}.{digest}"
