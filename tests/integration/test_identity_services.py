"""Identity services on real databases: passwords, bootstrap admin, login limits, tokens, sessions, grants.

Each test opens the database twice where it matters (two ``Database`` objects = two replicas), so
"seen by every replica" means a second engine really reads the change from the database.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from runyard.domain.clock import now_ms
from runyard.domain.identity import NO_DEFAULT_ROLE, Level, Principal
from runyard.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied, Unauthenticated
from runyard.services import (
    identity_permissions,
    identity_sessions,
    identity_tokens,
    identity_users,
    login_limits,
)
from runyard.services.identity_authenticator import DatabaseAuthenticator
from runyard.settings import ServerSettings
from runyard.stores.metadata.identity_tables import api_tokens, users
from runyard.stores.metadata.session import Database
from runyard.stores.migrations import runner
from tests.support.services import fresh_database

SECRET = "s" * 64
PASSWORD = "correct horse battery"


@pytest.fixture(params=("sqlite", "postgresql"))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(str(request.param), str(tmp_path)) as url:
        database = Database.from_url(url)
        runner.upgrade(database.engine)
        database.dispose()
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def replica(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


# Users with no role at all: the grants these tests give are all they hold.
NO_ROLE = identity_users.NewUserPolicy(role=NO_DEFAULT_ROLE)


def settings(**extra: object) -> ServerSettings:
    values: dict[str, object] = {"auth_enabled": True, "cookie_secret": SECRET, **extra}
    return ServerSettings(**values)  # type: ignore[arg-type]


def make_user(database: Database, name: str, *, admin: bool = False) -> Principal:
    with database.write() as connection:
        user = identity_users.create_user(connection, name, PASSWORD, policy=NO_ROLE, is_admin=admin)
    return Principal(kind="user", name=user.username, is_admin=user.is_admin, user_id=user.id)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pass", "at least 12 characters"),
        ("password1234", "well-known default"),
        ("Admin1234567", "well-known default"),
        ("changeme-please", "well-known default"),
        ("aaaaaaaaaaaaaaaa", "repeat one character"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(database: Database, password: str, reason: str) -> None:
    with pytest.raises(InvalidParameter, match=reason), database.write() as connection:
        identity_users.create_user(connection, "alice", password, policy=NO_ROLE)


def test_passwords_are_stored_as_argon2id_and_verified(database: Database) -> None:
    make_user(database, "alice")
    with database.read() as connection:
        stored = connection.execute(select(users.c.password_hash).where(users.c.username == "alice")).scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert identity_users.verify_credentials(connection, "alice", PASSWORD) is not None
        assert identity_users.verify_credentials(connection, "alice", PASSWORD + "x") is None
        assert identity_users.verify_credentials(connection, "nobody", PASSWORD) is None


def test_bootstrap_admin_needs_a_password_and_runs_only_once(database: Database) -> None:
    with database.write() as connection, pytest.raises(identity_users.StartupRefused, match="RUNYARD_ADMIN_PASSWORD"):
        identity_users.bootstrap_admin(connection, "root", None, NO_ROLE)
    with database.write() as connection, pytest.raises(identity_users.StartupRefused, match="well-known default"):
        identity_users.bootstrap_admin(connection, "root", "admin1234567", NO_ROLE)
    with database.write() as connection:
        created = identity_users.bootstrap_admin(connection, "root", PASSWORD, NO_ROLE)
    assert created is not None and created.is_admin and created.username == "root"
    with database.write() as connection:
        assert identity_users.bootstrap_admin(connection, "root", "another long password", NO_ROLE) is None
        assert identity_users.verify_credentials(connection, "root", PASSWORD) is not None


def test_the_last_admin_cannot_be_disabled_or_demoted(database: Database) -> None:
    make_user(database, "root", admin=True)
    with database.write() as connection, pytest.raises(InvalidParameter, match="last active admin"):
        identity_users.set_disabled(connection, "root")
    with database.write() as connection, pytest.raises(InvalidParameter, match="last active admin"):
        identity_users.set_admin(connection, "root", False)


def test_login_failures_lock_out_one_username_and_address_on_every_replica(
    database: Database, replica: Database
) -> None:
    make_user(database, "alice")
    first = DatabaseAuthenticator(database, settings(login_max_failures=3))
    second = DatabaseAuthenticator(replica, settings(login_max_failures=3))
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            first.login("alice", "wrong password here", "10.0.0.1")
    # Locked on the other replica too, even with the right password.
    with pytest.raises(login_limits.TooManyAttempts, match="too many failed logins"):
        second.login("alice", PASSWORD, "10.0.0.1")
    # Another address is not locked out (an attacker cannot lock a user out everywhere).
    assert second.login("alice", PASSWORD, "10.0.0.2").name == "alice"


def test_tokens_are_stored_as_sha256_and_act_as_their_owner(database: Database) -> None:
    alice = make_user(database, "alice")
    with database.write() as connection:
        secret, token = identity_tokens.create_token(connection, alice, "ci")
    assert token.kind == "personal" and token.owner == "alice"
    with database.read() as connection:
        stored = connection.execute(select(api_tokens.c.token_hash)).scalar_one()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    auth = DatabaseAuthenticator(database, settings())
    principal = auth.authenticate(f"Bearer {secret}", None, None)
    assert (principal.kind, principal.name, principal.user_id) == ("user", "alice", alice.user_id)
    with pytest.raises(Unauthenticated):
        auth.authenticate("Bearer ryt_not-a-real-token", None, None)
    with database.write() as connection, pytest.raises(AlreadyExists):
        identity_tokens.create_token(connection, alice, "ci")


def test_revoked_and_expired_tokens_stop_working(database: Database) -> None:
    alice = make_user(database, "alice")
    with database.write() as connection:
        secret, _ = identity_tokens.create_token(connection, alice, "ci")
        short, _ = identity_tokens.create_token(connection, alice, "short", expires_in_seconds=1)
    auth = DatabaseAuthenticator(database, settings(auth_cache_seconds=0))
    assert auth.authenticate(f"Bearer {secret}", None, None).name == "alice"
    with database.write() as connection:
        identity_tokens.revoke_token(connection, alice, "ci")
    with pytest.raises(Unauthenticated):
        auth.authenticate(f"Bearer {secret}", None, None)
    with database.read() as connection, pytest.raises(Unauthenticated, match="expired"):
        identity_tokens.verify_token(connection, short, None, now_ms() + 2000)


def test_a_disabled_owner_s_tokens_and_password_stop_working(database: Database) -> None:
    make_user(database, "root", admin=True)
    alice = make_user(database, "alice")
    with database.write() as connection:
        secret, _ = identity_tokens.create_token(connection, alice, "ci")
        identity_users.set_disabled(connection, "alice")
    auth = DatabaseAuthenticator(database, settings(auth_cache_seconds=0))
    with pytest.raises(Unauthenticated):
        auth.authenticate(f"Bearer {secret}", None, None)
    with pytest.raises(Unauthenticated):
        auth.login("alice", PASSWORD, None)


def test_agent_and_service_tokens_need_an_admin_and_carry_their_scope(database: Database) -> None:
    root = make_user(database, "root", admin=True)
    alice = make_user(database, "alice")
    with database.write() as connection:
        with pytest.raises(PermissionDenied):
            identity_tokens.create_token(connection, alice, "a", kind="agent", pool="gpu")
        with pytest.raises(InvalidParameter, match="--pool"):
            identity_tokens.create_token(connection, root, "a", kind="agent")
        agent_secret, _ = identity_tokens.create_token(connection, root, "gpu-agent", kind="agent", pool="gpu")
        identity_permissions.ensure_builtin_role(connection, "default", "editor")
        service_secret, _ = identity_tokens.create_token(connection, root, "ci-bot", kind="service", role="editor")
    auth = DatabaseAuthenticator(database, settings())
    agent = auth.authenticate(f"Bearer {agent_secret}", None, None)
    assert (agent.kind, agent.pool, agent.is_admin) == ("agent", "gpu", False)
    bot = auth.authenticate(f"Bearer {service_secret}", None, None)
    assert (bot.kind, bot.role, bot.is_admin) == ("service", "editor", False)
    with database.read() as connection:
        assert identity_permissions.level(connection, bot, "default", "experiment", "1") == Level.EDIT
        assert identity_permissions.level(connection, agent, "default", "experiment", "1") == Level.NO_PERMISSIONS


def test_basic_credentials_are_verified_once_then_cached(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    make_user(database, "alice")
    auth = DatabaseAuthenticator(database, settings(auth_cache_seconds=60))
    header = "Basic " + __import__("base64").b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert auth.authenticate(header, None, None).name == "alice"
    calls: list[str] = []
    original = identity_users.verify_credentials
    monkeypatch.setattr(identity_users, "verify_credentials", lambda *a: calls.append("x") or original(*a))
    for _ in range(5):
        assert auth.authenticate(header, None, "team-a").workspace == "team-a"
    assert calls == []
    with pytest.raises(Unauthenticated):
        auth.authenticate(header[:-2] + "==", None, None)


def test_the_memory_only_path_knows_recent_credentials_and_forgets_revoked_ones(database: Database) -> None:
    """``authenticate_cached`` (run on the event loop) answers only for credentials verified within the TTL."""
    alice = make_user(database, "alice")
    with database.write() as connection:
        secret, _ = identity_tokens.create_token(connection, alice, "ci")
    auth = DatabaseAuthenticator(database, settings(auth_cache_seconds=60))
    bearer = f"Bearer {secret}"
    basic = "Basic " + __import__("base64").b64encode(f"alice:{PASSWORD}".encode()).decode()
    # Never seen: authenticate must decide (and a session or a job token always goes there).
    assert auth.authenticate_cached(bearer, None, None) is None
    assert auth.authenticate_cached(basic, None, None) is None
    assert auth.authenticate_cached(None, "a-session-cookie", None) is None
    assert auth.authenticate_cached("Basic !!not-base64", None, None) is None
    auth.authenticate(bearer, None, None)
    auth.authenticate(basic, None, None)
    from_token = auth.authenticate_cached(bearer, None, "team-a")
    assert from_token is not None and (from_token.name, from_token.workspace) == ("alice", "team-a")
    from_password = auth.authenticate_cached(basic, None, None)
    assert from_password is not None and from_password.name == "alice"
    assert auth.authenticate_cached("Basic " + basic[6:-4] + "AAAA", None, None) is None  # another password
    # Revoked on this replica: forgotten at once, then refused by the database.
    with database.write() as connection:
        identity_tokens.revoke_token(connection, alice, "ci")
    auth.forget_all()
    assert auth.authenticate_cached(bearer, None, None) is None
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer, None, None)
    # Past the TTL (a change made on another replica): authenticate decides again.
    short = DatabaseAuthenticator(database, settings(auth_cache_seconds=0.05))
    short.authenticate(basic, None, None)
    time.sleep(0.1)
    assert short.authenticate_cached(basic, None, None) is None


def test_sessions_end_on_logout_password_change_and_disable_on_every_replica(
    database: Database, replica: Database
) -> None:
    make_user(database, "root", admin=True)
    make_user(database, "alice")
    here = DatabaseAuthenticator(database, settings())
    there = DatabaseAuthenticator(replica, settings())

    def start() -> str:
        with database.write() as connection:
            user = identity_users.get_user(connection, username="alice")
            return identity_sessions.start_session(
                connection, user, secret=SECRET, now=now_ms(), max_age_seconds=3600
            ).cookie

    cookie = start()
    assert there.authenticate(None, cookie, None).via == "session"
    with database.write() as connection:
        identity_sessions.end_session(connection, cookie, SECRET)
    with pytest.raises(Unauthenticated, match="ended"):
        there.authenticate(None, cookie, None)

    cookie = start()
    with database.write() as connection:
        identity_users.set_password(connection, "alice", "a brand new password", check_current=False)
    with pytest.raises(Unauthenticated):
        there.authenticate(None, cookie, None)

    cookie = start()
    with database.write() as connection:
        identity_users.set_disabled(connection, "alice")
    with pytest.raises(Unauthenticated):
        here.authenticate(None, cookie, None)


def test_forged_cookies_and_a_new_cookie_secret_end_sessions(database: Database) -> None:
    make_user(database, "alice")
    with database.write() as connection:
        user = identity_users.get_user(connection, username="alice")
        cookie = identity_sessions.start_session(
            connection, user, secret=SECRET, now=now_ms(), max_age_seconds=60
        ).cookie
    session_id = cookie.rpartition(".")[0]
    auth = DatabaseAuthenticator(database, settings())
    with pytest.raises(Unauthenticated, match="not valid"):
        auth.authenticate(None, session_id + ".forged", None)
    rotated = DatabaseAuthenticator(database, settings(cookie_secret="t" * 64))
    with pytest.raises(Unauthenticated, match="not valid"):
        rotated.authenticate(None, cookie, None)


def test_sessions_expire_when_idle_and_absolutely(database: Database) -> None:
    make_user(database, "alice")
    with database.write() as connection:
        user = identity_users.get_user(connection, username="alice")
        started = now_ms()
        cookie = identity_sessions.start_session(connection, user, secret=SECRET, now=started, max_age_seconds=600)
    with database.read() as connection:
        identity_sessions.check_session(
            connection, cookie.cookie, secret=SECRET, workspace=None, now=started + 1000, idle_seconds=60
        )
        with pytest.raises(Unauthenticated, match="expired"):
            identity_sessions.check_session(
                connection, cookie.cookie, secret=SECRET, workspace=None, now=started + 61_000, idle_seconds=60
            )
        with pytest.raises(Unauthenticated, match="expired"):
            identity_sessions.check_session(
                connection, cookie.cookie, secret=SECRET, workspace=None, now=started + 601_000, idle_seconds=10_000
            )


def test_grants_deny_overrides_and_the_creator_manages(database: Database) -> None:
    alice = make_user(database, "alice")
    bob = make_user(database, "bob")
    with database.write() as connection:
        editor = identity_permissions.ensure_builtin_role(connection, "default", "editor")
        identity_permissions.assign_role(connection, "bob", int(editor.id))
        identity_permissions.grant_creator(connection, alice, "default", "experiment", "7")
        identity_permissions.grant_user_permission(connection, "bob", "default", "experiment", "7", "DENY")
    with database.read() as connection:
        assert identity_permissions.level(connection, alice, "default", "experiment", "7") == Level.MANAGE
        assert identity_permissions.level(connection, alice, "default", "experiment", "8") == Level.NO_PERMISSIONS
        assert identity_permissions.level(connection, bob, "default", "experiment", "8") == Level.EDIT
        # DENY wins over the editor role's wildcard EDIT.
        assert identity_permissions.level(connection, bob, "default", "experiment", "7") == Level.NO_PERMISSIONS
        # Roles are per workspace: nothing in another one.
        assert identity_permissions.level(connection, bob, "team-b", "experiment", "8") == Level.NO_PERMISSIONS
        readable = identity_permissions.readable(
            bob, identity_permissions.grants_of(connection, bob, "default"), "experiment"
        )
        assert readable.everything and readable.denied == {"7"}


def test_viewers_have_no_grant_on_queues_beyond_reading(database: Database) -> None:
    carol = make_user(database, "carol")
    with database.write() as connection:
        viewer = identity_permissions.ensure_builtin_role(connection, "default", "viewer")
        identity_permissions.assign_role(connection, "carol", int(viewer.id))
    with database.read() as connection:
        assert identity_permissions.level(connection, carol, "default", "queue", "default") == Level.READ
        assert identity_permissions.level(connection, carol, "default", "experiment", "1") == Level.READ


def test_invalid_grants_are_refused_as_mlflow_refuses_them(database: Database) -> None:
    make_user(database, "alice")
    with database.write() as connection:
        role = identity_permissions.create_role(connection, "default", "ops")
        with pytest.raises(InvalidParameter, match="Workspace-wide grants accept only"):
            identity_permissions.add_role_permission(connection, int(role.id), "workspace", "*", "READ")
        with pytest.raises(InvalidParameter, match="supports only wildcard"):
            identity_permissions.add_role_permission(connection, int(role.id), "run", "abc", "READ")
        with pytest.raises(InvalidParameter, match="Invalid resource type"):
            identity_permissions.add_role_permission(connection, int(role.id), "spaceship", "*", "READ")
    with database.write() as connection, pytest.raises(NotFound):
        identity_permissions.assign_role(connection, "nobody", int(role.id))


def test_an_expired_password_entry_is_renewed_without_argon2_until_the_password_changes(
    database: Database, replica: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import time

    make_user(database, "alice")
    auth = DatabaseAuthenticator(database, settings(auth_cache_seconds=0.2))
    header = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert auth.authenticate(header, None, None).name == "alice"
    verified: list[str] = []
    original = identity_users.verify_credentials
    monkeypatch.setattr(identity_users, "verify_credentials", lambda *a: verified.append("x") or original(*a))
    time.sleep(0.3)
    assert auth.authenticate(header, None, None).name == "alice"
    assert verified == []  # renewed by one read, not a second argon2 verification
    # A password change on another replica: the renewal refuses and the old password fails.
    with replica.write() as connection:
        identity_users.set_password(connection, "alice", "a brand new password", check_current=False)
    time.sleep(0.3)
    with pytest.raises(Unauthenticated):
        auth.authenticate(header, None, None)
