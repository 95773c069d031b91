"""Encrypt secrets at rest (webhook signing secrets, AI gateway credentials) with a key every replica shares.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived from ``secrets_key``;
without one, from ``cookie_secret``; without either (the embedded default), from a random key file
created in the data directory with mode 0600. The gateway's provider credentials use their own
key-encryption key, ``gateway_kek``, falling back the same way; each purpose derives a distinct Fernet
key from its material, so the two never open each other's tokens. A stored token that the current
key cannot open is reported as such, never silently replaced.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from runyard.errors import Unavailable
from runyard.settings import ServerSettings

KEY_FILE = "secrets.key"


WEBHOOKS = "runyard secret box"
GATEWAY = "runyard gateway kek"


class SecretBox:
    def __init__(self, key_material: str, *, purpose: str = WEBHOOKS, setting: str = "secrets_key") -> None:
        digest = hashlib.sha256(purpose.encode() + b"\0" + key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._setting = setting

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise Unavailable(
                f"a stored secret cannot be decrypted with this server's {self._setting}: every replica needs the "
                f"key it was stored with (set RUNYARD_{self._setting.upper()} to that key, or set the secret again)"
            ) from None


def box_for(settings: ServerSettings) -> SecretBox:
    if settings.secrets_key is not None:
        return SecretBox(settings.secrets_key.get_secret_value())
    if settings.cookie_secret is not None:
        return SecretBox(settings.cookie_secret.get_secret_value())
    return SecretBox(_local_key(Path(settings.data_dir).expanduser()))


def gateway_box_for(settings: ServerSettings) -> SecretBox:
    """The box of the gateway's provider credentials: ``gateway_kek``, else the keys ``box_for`` uses."""
    if settings.gateway_kek is not None:
        material = settings.gateway_kek.get_secret_value()
    elif settings.secrets_key is not None:
        material = settings.secrets_key.get_secret_value()
    elif settings.cookie_secret is not None:
        material = settings.cookie_secret.get_secret_value()
    else:
        material = _local_key(Path(settings.data_dir).expanduser())
    return SecretBox(material, purpose=GATEWAY, setting="gateway_kek")


def uses_default_key(settings: ServerSettings) -> bool:
    """True when no key was configured (the gateway's key comes from the data directory's key file)."""
    return settings.gateway_kek is None and settings.secrets_key is None and settings.cookie_secret is None


def _local_key(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this server wrote it first
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key
