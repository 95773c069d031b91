"""Settings and credentials of the live servers the auth tests start with authentication on."""

from __future__ import annotations

ADMIN, ADMIN_PASSWORD = "admin", "first admin password"
PASSWORD = "a long user password"


def auth_env(cookie_secret: str, **settings: str) -> dict[str, str]:
    """The environment of a server with auth on and a bootstrap admin; ``settings`` add ``RUNYARD_*`` values."""
    return {
        "RUNYARD_AUTH_ENABLED": "true",
        "RUNYARD_COOKIE_SECRET": cookie_secret,
        "RUNYARD_ADMIN_USERNAME": ADMIN,
        "RUNYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **{f"RUNYARD_{key.upper()}": value for key, value in settings.items()},
    }
