"""Users: create, list, change passwords and admin flags, disable, delete, and the bootstrap admin.

A password change, a disable or a delete ends the user's browser sessions in the same transaction,
so every replica sees them gone on its next check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row

from runyard.domain.clock import now_ms
from runyard.domain.identity import DEFAULT_WORKSPACE, NO_DEFAULT_ROLE, User, user_role_name
from runyard.domain.passwords import password_problem
from runyard.errors import AlreadyExists, InvalidParameter, NotFound, RunyardError
from runyard.services import identity_permissions, passwords
from runyard.stores.metadata import identity as store
from runyard.stores.metadata import identity_roles

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}$")


@dataclass(frozen=True, slots=True)
class NewUserPolicy:
    """What every new user gets, whichever way they are created (``RUNYARD_DEFAULT_ROLE``,
    ``RUNYARD_DEFAULT_WORKSPACE``, ``RUNYARD_ADMINS``)."""

    role: str = "viewer"
    workspace: str = DEFAULT_WORKSPACE
    admin_emails: frozenset[str] = frozenset()

    def makes_admin(self, verified_email: str | None) -> bool:
        return verified_email is not None and verified_email.lower() in self.admin_emails


class StartupRefused(RunyardError):
    """The server must not start with this configuration (a one-line reason for the operator)."""


def to_user(row: Row[Any]) -> User:
    return User(
        id=int(row.id),
        username=row.username,
        email=row.email,
        is_admin=bool(row.is_admin),
        disabled=bool(row.disabled),
        creation_time=int(row.creation_time),
    )


def check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise InvalidParameter(
            f"invalid username {username!r}: use 1-256 letters, digits and . _ @ + - (starting with a letter or digit)"
        )


def check_new_password(password: str, username: str | None = None) -> None:
    problem = password_problem(password, username=username)
    if problem is not None:
        raise InvalidParameter(problem)


def create_user(
    connection: Connection,
    username: str,
    password: str | None,
    *,
    policy: NewUserPolicy,
    email: str | None = None,
    is_admin: bool = False,
) -> User:
    """A new user; ``password`` None makes a user who can only sign in through an OpenID provider.

    ``email`` must be verified (an operator typed it, or the provider verified it): it can make the
    user an admin through ``policy.admin_emails``. The user gets ``policy.role`` in its workspace.
    """
    check_username(username)
    if password is not None:
        check_new_password(password, username)
    if store.get_user(connection, username=username) is not None:
        raise AlreadyExists(f"User '{username}' already exists.")
    if email is not None and store.get_user_by_email(connection, email) is not None:
        raise AlreadyExists(f"a user with email {email!r} already exists")
    password_hash = passwords.hash_password(password) if password is not None else None
    user_id = store.insert_user(
        connection,
        username=username,
        email=email,
        password_hash=password_hash,
        is_admin=is_admin or policy.makes_admin(email),
        now=now_ms(),
    )
    if policy.role != NO_DEFAULT_ROLE:
        role = identity_permissions.ensure_builtin_role(connection, policy.workspace, policy.role)
        identity_roles.insert_assignment(connection, user_id=user_id, role_id=int(role.id))
    return get_user(connection, user_id=user_id)


def get_user(connection: Connection, *, username: str | None = None, user_id: int | None = None) -> User:
    row = store.get_user(connection, user_id=user_id, username=username)
    if row is None:
        raise NotFound(f"User with username={username or user_id} not found")
    return to_user(row)


def list_users(connection: Connection) -> list[User]:
    return [to_user(row) for row in store.list_users(connection)]


def verify_credentials(connection: Connection, username: str, password: str) -> tuple[User, int] | None:
    """The active user with this password and its credential generation, or None (no detail on why)."""
    row = store.get_user(connection, username=username)
    if not passwords.verify_password(row.password_hash if row is not None else None, password):
        return None
    assert row is not None
    if row.disabled:
        return None
    return to_user(row), int(row.generation)


def credential_state(connection: Connection, user_id: int) -> tuple[int, bool] | None:
    """(generation, disabled) of a user, or None when the user is gone: enough to renew a verified password."""
    row = store.get_user(connection, user_id=user_id)
    return None if row is None else (int(row.generation), bool(row.disabled))


def set_password(
    connection: Connection, username: str, password: str, *, current_password: str | None = None, check_current: bool
) -> None:
    """Change a password (``check_current``: a user changing their own must prove the old one).

    Ends every browser session of the user.
    """
    row = store.get_user(connection, username=username)
    if row is None:
        raise NotFound(f"User with username={username} not found")
    if check_current and (
        current_password is None or not passwords.verify_password(row.password_hash, current_password)
    ):
        raise InvalidParameter("current_password is missing or incorrect")
    check_new_password(password, username)
    store.update_user(
        connection, int(row.id), now=now_ms(), bump_generation=True, password_hash=passwords.hash_password(password)
    )
    store.delete_user_sessions(connection, int(row.id))


def set_admin(connection: Connection, username: str, is_admin: bool) -> None:
    user = get_user(connection, username=username)
    if user.is_admin and not is_admin:
        _keep_one_admin(connection, user)
    store.update_user(connection, user.id, now=now_ms(), bump_generation=True, is_admin=is_admin)


def set_disabled(connection: Connection, username: str, disabled: bool = True) -> None:
    """Disable (or enable again) a user: a disabled user's password, tokens and sessions stop working."""
    user = get_user(connection, username=username)
    if disabled and user.is_admin:
        _keep_one_admin(connection, user)
    store.update_user(connection, user.id, now=now_ms(), bump_generation=True, disabled=disabled)
    if disabled:
        store.delete_user_sessions(connection, user.id)


def delete_user(connection: Connection, username: str) -> None:
    user = get_user(connection, username=username)
    if user.is_admin:
        _keep_one_admin(connection, user)
    # The user's own grants (a synthetic role per workspace) go with them; assignments cascade.
    identity_roles.delete_roles_named(connection, user_role_name(user.id))
    store.delete_user(connection, user.id)


def _keep_one_admin(connection: Connection, user: User) -> None:
    if not user.disabled and store.count_active_admins(connection) <= 1:
        raise InvalidParameter(f"{user.username!r} is the last active admin; make another admin first")


def bootstrap_admin(
    connection: Connection, username: str | None, password: str | None, policy: NewUserPolicy
) -> User | None:
    """Create the first admin when the store has none (auth on). No default password exists.

    Returns the admin created, None when an admin already exists; raises ``StartupRefused`` when
    there is no admin and no bootstrap password to make one with.
    """
    if store.count_active_admins(connection) > 0:
        return None
    if not password:
        raise StartupRefused(
            "auth is enabled but no admin exists: set RUNYARD_ADMIN_USERNAME and RUNYARD_ADMIN_PASSWORD "
            "for the first start (or run `runyard user create --admin`)"
        )
    name = username or "admin"
    problem = password_problem(password, username=name)
    if problem is not None:
        raise StartupRefused(f"RUNYARD_ADMIN_PASSWORD is refused: {problem}")
    existing = store.get_user(connection, username=name)
    if existing is not None:
        store.update_user(
            connection,
            int(existing.id),
            now=now_ms(),
            bump_generation=True,
            is_admin=True,
            disabled=False,
            password_hash=passwords.hash_password(password),
        )
        return get_user(connection, user_id=int(existing.id))
    return create_user(connection, name, password, policy=policy, is_admin=True)
