"""OIDC sign-ups get the default role, and ``RUNYARD_ADMINS`` emails become admins — only when verified.

On a real database (the OIDC protocol itself is tested against a real provider in test_oidc_login.py;
here the provider's verified identity is the input).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runyard.domain.identity import Principal, User
from runyard.services import identity_permissions, identity_users
from runyard.services.identity_users import NewUserPolicy
from runyard.services.oidc_users import find_or_create_oidc_user
from runyard.stores.metadata.session import Database
from runyard.stores.migrations import runner
from tests.support.services import fresh_database

POLICY = NewUserPolicy(role="viewer", workspace="default", admin_emails=frozenset({"boss@example.com"}))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with fresh_database("sqlite", str(tmp_path)) as url:
        database = Database.from_url(url)
        runner.upgrade(database.engine)
        yield database
        database.dispose()


def _sign_in(database: Database, subject: str, email: str, *, verified: bool = True) -> User:
    with database.write() as connection:
        return find_or_create_oidc_user(
            connection,
            provider_key="corp",
            subject=subject,
            email=email,
            email_verified=verified,
            allow_sign_up=True,
            policy=POLICY,
        )


def test_a_sign_up_is_a_viewer_of_the_default_workspace(database: Database) -> None:
    user = _sign_in(database, "s-1", "ann@example.com")
    assert not user.is_admin
    principal = Principal(kind="user", name=user.username, user_id=user.id)
    with database.read() as connection:
        assert [r.name for r in identity_permissions.list_user_roles(connection, user.username)] == ["viewer"]
        assert identity_permissions.level(connection, principal, "default", "experiment", "1").name == "READ"
        assert identity_permissions.level(connection, principal, "other", "experiment", "1").name == "NO_PERMISSIONS"


def test_a_verified_admin_email_makes_an_admin_at_sign_up_and_at_a_later_sign_in(database: Database) -> None:
    assert _sign_in(database, "s-2", "Boss@Example.com").is_admin
    # An existing user (made before the address was listed) is promoted when signing in verified.
    with database.write() as connection:
        identity_users.create_user(connection, "lead", None, policy=NewUserPolicy(), email="lead@example.com")
    promoted_policy = NewUserPolicy(admin_emails=frozenset({"lead@example.com"}))
    with database.write() as connection:
        user = find_or_create_oidc_user(
            connection, provider_key="corp", subject="s-3", email="lead@example.com", email_verified=True,
            allow_sign_up=False, policy=promoted_policy,
        )  # fmt: skip
    assert user.username == "lead" and user.is_admin


def test_an_unverified_admin_email_makes_no_admin(database: Database) -> None:
    user = _sign_in(database, "s-4", "boss@example.com", verified=False)
    assert not user.is_admin and user.email is None
