"""Which runyard user a provider's identity is: by its link, by a verified email, or a new account.

1. ``(provider_key, subject)`` already linked: that user (its email as last seen is refreshed).
2. Not linked, and the provider verified the email: an existing user with that email is linked.
   An unverified email never links (anyone can type someone else's address at some providers).
3. Neither: a new user when the provider allows sign-up; otherwise refused. Existing users keep
   signing in when sign-up is off, which is what the setting is for.

A disabled user is refused whichever way they were found.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.errors import PermissionDenied
from runyard.services.oidc_accounts import Accounts, AccountUser
from runyard.stores.metadata import oidc as store


def find_or_create_oidc_user(
    connection: Connection,
    accounts: Accounts,
    *,
    provider_key: str,
    subject: str,
    email: str | None,
    email_verified: bool,
    allow_sign_up: bool,
) -> int:
    """The id of the user signing in as ``subject`` of ``provider_key`` (see the module docstring)."""
    now = now_ms()
    linked = store.get_identity(connection, provider_key, subject)
    if linked is not None:
        user = accounts.user_by_id(connection, int(linked.user_id))
        if user is not None:
            _refuse_disabled(user)
            store.touch_identity(connection, provider_key, subject, email=email, now=now)
            return user.id
    user = accounts.user_by_email(connection, email) if email is not None and email_verified else None
    if user is None:
        if not allow_sign_up:
            raise PermissionDenied(
                f"Sign-up through {provider_key!r} is turned off and no account matches {email or subject}; "
                "ask an administrator to create your account."
            )
        user_id = accounts.create_user(
            connection,
            username=_free_username(connection, accounts, email, provider_key, subject),
            # Only a verified address is recorded: an unverified one could claim someone else's.
            email=email if email_verified else None,
        )
    else:
        _refuse_disabled(user)
        user_id = user.id
    store.insert_identity(
        connection,
        provider_key=provider_key,
        subject=subject,
        user_id=user_id,
        email=email,
        creation_time=now,
        last_login_time=now,
    )
    return user_id


def _refuse_disabled(user: AccountUser) -> None:
    if user.disabled:
        raise PermissionDenied(f"The account {user.username!r} is disabled.")


def _free_username(
    connection: Connection, accounts: Accounts, email: str | None, provider_key: str, subject: str
) -> str:
    """The email as username, or a stable name derived from the identity when that one is taken."""
    if email is not None and not accounts.username_taken(connection, email.lower()):
        return email.lower()
    digest = hashlib.sha256(f"{provider_key}\0{subject}".encode()).hexdigest()[:10]
    local = (email or provider_key).split("@", 1)[0].lower()
    return f"{local}.{provider_key}.{digest}"
