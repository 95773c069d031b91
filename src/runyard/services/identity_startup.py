"""What identity checks before the server accepts a request: the first admin, and unsafe exposure."""

from __future__ import annotations

import ipaddress

from runyard.domain.identity import DEFAULT_WORKSPACE, Principal
from runyard.services import identity_permissions, identity_tokens, identity_users, workspaces
from runyard.settings import ServerSettings
from runyard.stores.metadata import workspaces as workspace_store
from runyard.stores.metadata.session import Database


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_user_policy(settings: ServerSettings) -> identity_users.NewUserPolicy:
    """What new users get under ``settings`` (default role and workspace, admin emails)."""
    return identity_users.NewUserPolicy(
        role=settings.default_role, workspace=settings.default_workspace, admin_emails=settings.admin_emails
    )


def prepare(settings: ServerSettings, database: Database) -> list[str]:
    """Create the bootstrap admin when auth is on and no admin exists; the lines to print at start.

    Raises ``identity_users.StartupRefused`` (a one-line reason) when auth is on, no admin exists and
    no bootstrap password is configured: a server nobody can administer must not start.
    """
    notes: list[str] = []
    if not settings.auth_enabled:
        if not is_loopback(settings.host):
            notes.append(
                f"warning: auth is off and the server listens on {settings.host}: anyone who can reach it "
                "may read, change and delete everything and run code on its pools; set RUNYARD_AUTH_ENABLED=true"
            )
        return notes
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    with database.write() as connection:
        created = identity_users.bootstrap_admin(
            connection, settings.admin_username, password, new_user_policy(settings)
        )
        # New users are given a role there: the operator names the workspace, the server makes it.
        made_workspace = settings.default_workspace != DEFAULT_WORKSPACE and not workspace_store.workspace_exists(
            connection, settings.default_workspace
        )
        if made_workspace:
            workspaces.create_workspace(connection, settings.default_workspace)
        # The built-in roles exist from the start in the default workspaces, ready to be assigned.
        for workspace in dict.fromkeys((DEFAULT_WORKSPACE, settings.default_workspace)):
            for role in identity_permissions.BUILTIN_ROLES:
                identity_permissions.ensure_builtin_role(connection, workspace, role)
    if made_workspace:
        notes.append(f"created the workspace {settings.default_workspace!r} (RUNYARD_DEFAULT_WORKSPACE)")
    if created is not None:
        notes.append(f"created the bootstrap admin {created.username!r} (RUNYARD_ADMIN_USERNAME)")
    return notes


LOCAL_POOL_TOKEN = "local-pool-agent"


def local_pool_token(database: Database, pool: str) -> str:
    """A fresh agent token for the server's own local pool (auth on), owned by the first active admin.

    Minted at every start, replacing the previous one: its secret lives only in the local agent's
    environment, so nothing else can use it, and a restart revokes what the last run handed out.
    """
    with database.write() as connection:
        admin = next((u for u in identity_users.list_users(connection) if u.is_admin and not u.disabled), None)
        if admin is None:
            raise identity_users.StartupRefused("auth is on but no active admin exists to own the local pool's token")
        owner = Principal(kind="user", name=admin.username, is_admin=True, user_id=admin.id)
        if any(t.name == LOCAL_POOL_TOKEN for t in identity_tokens.list_tokens(connection, owner)):
            identity_tokens.revoke_token(connection, owner, LOCAL_POOL_TOKEN)
        secret, _ = identity_tokens.create_token(connection, owner, LOCAL_POOL_TOKEN, kind="agent", pool=pool)
    return secret
