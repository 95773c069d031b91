"""SQLAlchemy Core tables of OIDC login (share ``tables.metadata``).

``oidc_logins`` holds a login between the redirect to the provider and the provider's callback, so
the callback may land on any replica: the state (as a SHA-256, never in clear), the nonce and PKCE
verifier sent with it, a hash of the browser-binding cookie, and where to send the browser after.
A row is deleted when its callback uses it (a replayed callback finds nothing) or when it expires.

``oidc_identities`` links a provider's subject to a runyard user: accounts are found by
``(provider_key, subject)``, the only pair a provider guarantees stable, never by a mutable email.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from runyard.stores.metadata.tables import metadata

__all__ = ["oidc_identities", "oidc_logins"]

HASH_LENGTH = 64
PROVIDER_KEY_LENGTH = 63
# OIDC caps nothing; 255 ASCII characters is what the core spec asks providers to stay within.
SUBJECT_LENGTH = 255
EMAIL_LENGTH = 320
RETURN_TO_LENGTH = 2000
# The users table's key: BIGINT where it matters, INTEGER on SQLite (its rowid alias autoincrements).
UserId = BigInteger().with_variant(Integer(), "sqlite")

oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("state_hash", String(HASH_LENGTH), primary_key=True),
    Column("provider_key", String(PROVIDER_KEY_LENGTH), nullable=False),
    Column("browser_hash", String(HASH_LENGTH), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=True),
    Column("return_to", String(RETURN_TO_LENGTH), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "expires_at"),
)

oidc_identities = Table(
    "oidc_identities",
    metadata,
    Column("provider_key", String(PROVIDER_KEY_LENGTH), primary_key=True),
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column("user_id", UserId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The email the provider asserted at the last login, for operators reading the table.
    Column("email", String(EMAIL_LENGTH), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_login_time", BigInteger, nullable=False),
    Index(None, "user_id"),
)
