"""``oidc_providers`` as operators write it: accepted in the seeds' shape, refused with a precise reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COOKIE_SECRET = "c" * 64
GOOD = (
    '[{ name = "Google", key = "google", issuer_url = "https://accounts.google.com", client_id = "id", '
    'client_secret = "very-secret-value", scopes = ["email", "profile"], pkce = "S256", allow_sign_up = true, '
    'require_email_verified = true, allowed_domains = ["example.com"] }]'
)


def config_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runyard", "config", "check"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_full_provider_entry_is_accepted_and_redacted() -> None:
    result = config_check(
        {
            "RUNYARD_OIDC_PROVIDERS": GOOD,
            "RUNYARD_AUTH_ENABLED": "true",
            "RUNYARD_COOKIE_SECRET": COOKIE_SECRET,
            "RUNYARD_ROOT_URL": "https://runyard.example.com",
        }
    )
    assert result.returncode == 0, result.stderr
    assert "very-secret-value" not in result.stdout


def provider(**fields: str) -> str:
    base = {"name": '"P"', "key": '"p"', "issuer_url": '"https://idp.example.com"', "client_id": '"id"'}
    base.update(fields)
    return "[{ " + ", ".join(f"{k} = {v}" for k, v in base.items()) + " }]"


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        (provider(issuer_url='"http://idp.example.com"'), "must be an https:// URL"),
        (provider(scopes='["profile"]'), "scopes must include 'email'"),
        (provider(pkce='"plain"'), 'pkce must be true, false or "S256"'),
        (provider(key='"Has Spaces"'), "oidc_providers[0] (Has Spaces): key"),
        (provider(surprise="1"), "surprise: Extra inputs are not permitted"),
        (provider()[:-1] + ", " + provider()[1:], "each key must be unique (repeated: p)"),
    ],
)
def test_bad_provider_entries_are_refused(providers: str, message: str) -> None:
    result = config_check({"RUNYARD_OIDC_PROVIDERS": providers})
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_auth_with_providers_needs_the_root_url_they_redirect_to() -> None:
    result = config_check(
        {"RUNYARD_OIDC_PROVIDERS": GOOD, "RUNYARD_AUTH_ENABLED": "true", "RUNYARD_COOKIE_SECRET": COOKIE_SECRET}
    )
    assert result.returncode != 0
    assert "oidc_providers needs root_url (RUNYARD_ROOT_URL)" in result.stderr


def test_config_file_may_hold_providers_as_a_toml_array(tmp_path: Path) -> None:
    config = tmp_path / "runyard.toml"
    config.write_text(
        'root_url = "https://runyard.example.com"\nauth_enabled = true\ncookie_secret = "' + COOKIE_SECRET + '"\n'
        '[[oidc_providers]]\nname = "Okta"\nkey = "okta"\nissuer_url = "https://example.okta.com"\n'
        'client_id = "id"\nallowed_domains = ["example.com"]\n'
    )
    result = config_check({"RUNYARD_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
