"""argon2id password hashing (argon2-cffi's defaults: RFC 9106's second recommended profile, low memory)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()

# Verified against when the user does not exist, so a wrong username costs as long as a wrong password
# (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("runyard-no-such-user-dummy-password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
