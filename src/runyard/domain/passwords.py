"""Password rules: long enough, and not one of the defaults everybody tries first."""

from __future__ import annotations

MIN_PASSWORD_LENGTH = 12

# Refused outright, compared case-insensitively: vendor defaults, keyboard walks and the values
# sample configurations ship with. A short list on purpose: length is the main defence.
KNOWN_DEFAULTS = frozenset(
    {
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "changeme1234",
        "changemechangeme",
        "changeme123456",
        "changethis123",
        "admin1234567",
        "admin12345678",
        "adminadminadmin",
        "administrator",
        "administrator1",
        "123456789012",
        "1234567890123",
        "qwertyuiop12",
        "qwertyuiopasdf",
        "letmein12345",
        "welcome12345",
        "mlflow123456",
        "runyard12345",
        "runyardrunyard",
        "secretsecret",
        "defaultpassword",
    }
)


def password_problem(password: str, *, username: str | None = None) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password must be at least {MIN_PASSWORD_LENGTH} characters long"
    lowered = password.lower()
    if lowered in KNOWN_DEFAULTS or lowered.startswith("changeme"):
        return "that password is a well-known default; choose another"
    if len(set(password)) == 1:
        return "a password must not repeat one character"
    if username and lowered == username.lower():
        return "a password must differ from the username"
    return None
