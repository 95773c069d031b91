"""OIDC login end to end: live ``runyard server`` processes and a real OpenID provider (``oidc-provider``).

The browser is httpx with a cookie jar, filling in the provider's own login and consent forms. Each
runyard provider key below is a separate client at the one provider; some clients get ID tokens the
provider re-signs with one claim wrong (nonce, issuer, audience), so only runyard's claim checks
stand between them and a session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests.oidc_provider import Browser, OidcTestProvider, ProviderClient, new_provider, query_of
from tests.support.servers import LiveServer, make_server
from tests.support.services import fresh_database

pytestmark = pytest.mark.xdist_group("oidc")

COOKIE_SECRET = "oidc-test-cookie-secret-" + "0123456789abcdef" * 3
SECRET = "provider-client-secret"
CALLBACK = "/api/v1/auth/login/{key}/callback"


@dataclass(frozen=True)
class Key:
    """One runyard provider entry and the provider client behind it."""

    key: str
    client_id: str
    secret: str | None = SECRET
    tamper: str | None = None
    allow_sign_up: bool = True
    allowed_domains: tuple[str, ...] = ()
    require_email_verified: bool = True


MAIN_KEYS = (
    Key("test", "runyard-main", allowed_domains=("example.com", "example.org")),
    Key("closed", "runyard-closed", allow_sign_up=False),
    Key("public", "runyard-public", secret=None),
    Key("userinfo", "runyard-userinfo", tamper="strip-claims"),
    Key("lenient", "runyard-lenient", require_email_verified=False),
    Key("wrong-nonce", "runyard-wrong-nonce", tamper="nonce"),
    Key("wrong-issuer", "runyard-wrong-issuer", tamper="issuer"),
    Key("wrong-audience", "runyard-wrong-audience", tamper="audience"),
)
REPLICA_KEYS = (Key("test", "runyard-replicas"),)


def providers_toml(issuer: str, keys: tuple[Key, ...]) -> str:
    def entry(k: Key) -> str:
        fields = [
            f'name = "Test {k.key}"',
            f'key = "{k.key}"',
            f'issuer_url = "{issuer}"',
            f'client_id = "{k.client_id}"',
            'scopes = ["email", "profile"]',
            "pkce = true",
            f"allow_sign_up = {str(k.allow_sign_up).lower()}",
            f"require_email_verified = {str(k.require_email_verified).lower()}",
            "allowed_domains = [" + ", ".join(f'"{d}"' for d in k.allowed_domains) + "]",
        ]
        if k.secret is not None:
            fields.append(f'client_secret = "{k.secret}"')
        return "{ " + ", ".join(fields) + " }"

    return "[" + ", ".join(entry(k) for k in keys) + "]"


def auth_server(
    directory: Path, backend: str, database_url: str, issuer: str, keys: tuple[Key, ...], root_url: str | None = None
) -> LiveServer:
    directory.mkdir(parents=True, exist_ok=True)
    server = make_server(
        backend=backend,
        database_url=database_url,
        data_dir=directory,
        artifacts=str(directory / "artifacts"),
        extra_env={
            "RUNYARD_AUTH_ENABLED": "true",
            "RUNYARD_COOKIE_SECRET": COOKIE_SECRET,
            "RUNYARD_OIDC_PROVIDERS": providers_toml(issuer, keys),
            # A bootstrap admin, for when a server with auth on refuses to start without one.
            "RUNYARD_ADMIN_USERNAME": "admin",
            "RUNYARD_ADMIN_PASSWORD": "a-long-bootstrap-password-for-tests",
            # Replaced below once the server's port is known (``db upgrade`` only needs a valid one).
            "RUNYARD_ROOT_URL": root_url or "http://127.0.0.1",
        },
    )
    server.env["RUNYARD_ROOT_URL"] = root_url or server.url
    return server


@dataclass
class Deployment:
    provider: OidcTestProvider
    main: LiveServer
    replica_a: LiveServer
    replica_b: LiveServer


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("oidc")
    provider = new_provider(root, [])
    with fresh_database("postgresql", str(root)) as shared_url:
        main = auth_server(root / "main", "sqlite", f"sqlite:///{root}/main.db", provider.issuer, MAIN_KEYS)
        replica_a = auth_server(root / "a", "postgresql", shared_url, provider.issuer, REPLICA_KEYS)
        # Both replicas sit behind one public URL, so both send the provider the same redirect URI.
        replica_b = auth_server(root / "b", "postgresql", shared_url, provider.issuer, REPLICA_KEYS, replica_a.url)
        provider.clients = [
            ProviderClient(k.client_id, [main.url + CALLBACK.format(key=k.key)], k.secret, k.tamper) for k in MAIN_KEYS
        ] + [ProviderClient("runyard-replicas", [replica_a.url + CALLBACK.format(key="test")], SECRET)]
        provider.start()
        servers = [main, replica_a, replica_b]
        try:
            for server in servers:
                server.start()
            yield Deployment(provider, main, replica_a, replica_b)
        finally:
            for server in servers:
                server.stop()
            provider.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    client = Browser()
    yield client
    client.close()


def email(prefix: str = "user", domain: str = "example.com") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@{domain}"


def me(browser: Browser, server: LiveServer, host: str | None = None) -> httpx.Response:
    """``/auth/me``; ``host``: the public host a load balancer forwards with (replicas check it)."""
    headers = {"Host": host} if host is not None else None
    return browser.http.get(f"{server.url}/api/v1/auth/me", headers=headers)


def signed_in_as(browser: Browser, server: LiveServer, host: str | None = None) -> str:
    response = me(browser, server, host)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "user" and body["via"] == "session"
    return str(body["name"])


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v for k, v in query_of(url).items() if k not in changes}
    query.update({k: v for k, v in changes.items() if v is not None})
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_refused(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert fragment in response.json()["message"], response.json()
    assert "runyard_session" not in response.cookies


# --- the happy path -------------------------------------------------------------------------------


def test_login_redirects_to_the_provider_with_state_nonce_and_pkce(deployment: Deployment, browser: Browser) -> None:
    response = browser.start_login(deployment.main.url, "test")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{deployment.provider.issuer}/auth?")
    query = query_of(location)
    assert query["client_id"] == "runyard-main"
    assert query["redirect_uri"] == deployment.main.url + "/api/v1/auth/login/test/callback"
    assert query["response_type"] == "code"
    assert query["scope"].split() == ["openid", "email", "profile"]
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    binding = response.headers["set-cookie"]
    assert "runyard_oidc_login=" in binding and "HttpOnly" in binding and "samesite=lax" in binding.lower()


def test_sign_in_creates_a_session_that_shows_the_user(deployment: Deployment, browser: Browser) -> None:
    address = email("alice")
    assert me(browser, deployment.main).status_code == 401
    callback = browser.sign_in(deployment.main.url, "test", address)
    response = browser.finish(callback)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    session_cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("runyard_session="))
    assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
    assert signed_in_as(browser, deployment.main) == address
    assert me(browser, deployment.main).json()["is_admin"] is False

    # Signing in again (a new browser) finds the same user: a second account would need another name.
    again = Browser()
    try:
        assert again.finish(again.sign_in(deployment.main.url, "test", address)).status_code == 303
        assert signed_in_as(again, deployment.main) == address
    finally:
        again.close()


def test_next_path_is_where_the_browser_lands(deployment: Deployment, browser: Browser) -> None:
    started = browser.start_login(deployment.main.url, "test", next_path="/experiments/3")
    assert started.status_code == 302
    refused = browser.start_login(deployment.main.url, "test", next_path="https://evil.example/")
    assert refused.status_code == 400 and "path on this server" in refused.json()["message"]
    refused = browser.start_login(deployment.main.url, "test", next_path="//evil.example/")
    assert refused.status_code == 400


def test_public_client_without_secret_signs_in_with_pkce(deployment: Deployment, browser: Browser) -> None:
    address = email("pub")
    assert browser.finish(browser.sign_in(deployment.main.url, "public", address)).status_code == 303
    assert signed_in_as(browser, deployment.main) == address


def test_claims_missing_from_the_id_token_come_from_userinfo(deployment: Deployment, browser: Browser) -> None:
    address = email("conformant")
    assert browser.finish(browser.sign_in(deployment.main.url, "userinfo", address)).status_code == 303
    assert signed_in_as(browser, deployment.main) == address


def test_providers_are_listed_for_a_login_page(deployment: Deployment) -> None:
    providers = httpx.get(f"{deployment.main.url}/api/v1/auth/providers").json()["providers"]
    assert providers[0] == {"key": "test", "name": "Test test", "login_url": "/api/v1/auth/login/test"}
    assert [p["key"] for p in providers] == [k.key for k in MAIN_KEYS]
    assert "client_secret" not in str(providers) and SECRET not in str(providers)


def test_unknown_provider_is_404(deployment: Deployment, browser: Browser) -> None:
    response = browser.start_login(deployment.main.url, "nope")
    assert response.status_code == 404 and "nope" in response.json()["message"]


# --- state, replay ------------------------------------------------------------------------------


def test_callback_without_state_is_refused(deployment: Deployment, browser: Browser) -> None:
    callback = browser.sign_in(deployment.main.url, "test", email())
    assert_refused(browser.finish(with_query(callback, state=None)), 400, "no 'state'")
    assert me(browser, deployment.main).status_code == 401


def test_callback_with_a_wrong_state_is_refused(deployment: Deployment, browser: Browser) -> None:
    callback = browser.sign_in(deployment.main.url, "test", email())
    assert_refused(browser.finish(with_query(callback, state="forged-" + "x" * 40)), 400, "Unknown or already used")
    assert me(browser, deployment.main).status_code == 401


def test_callback_in_another_browser_is_refused(deployment: Deployment, browser: Browser) -> None:
    """Login CSRF: an attacker's callback URL, opened by a victim, must not sign the victim in."""
    callback = browser.sign_in(deployment.main.url, "test", email("attacker"))
    victim = Browser()
    try:
        assert_refused(victim.finish(callback), 400, "another browser")
        assert me(victim, deployment.main).status_code == 401
    finally:
        victim.close()


def test_replayed_callback_is_refused(deployment: Deployment, browser: Browser) -> None:
    callback = browser.sign_in(deployment.main.url, "test", email())
    assert browser.finish(callback).status_code == 303
    assert_refused(browser.finish(callback), 400, "Unknown or already used")


def test_replayed_code_with_a_fresh_state_is_refused_by_the_token_exchange(
    deployment: Deployment, browser: Browser
) -> None:
    callback = browser.sign_in(deployment.main.url, "test", email())
    assert browser.finish(callback).status_code == 303
    fresh_state = query_of(browser.start_login(deployment.main.url, "test").headers["location"])["state"]
    response = browser.finish(with_query(callback, state=fresh_state))
    assert_refused(response, 401, "refused the authorization code")
    assert "invalid_grant" in response.json()["message"]


def test_callback_naming_another_issuer_is_refused(deployment: Deployment, browser: Browser) -> None:
    callback = browser.sign_in(deployment.main.url, "test", email())
    assert_refused(browser.finish(with_query(callback, iss="https://mix-up.example")), 401, "names issuer")


# --- the ID token's claims ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("wrong-nonce", "its nonce does not match this login"),
        ("wrong-issuer", "it was issued by another issuer"),
        ("wrong-audience", "it is meant for another client (audience)"),
    ],
)
def test_id_token_with_a_wrong_claim_is_refused(
    deployment: Deployment, browser: Browser, key: str, problem: str
) -> None:
    response = browser.finish(browser.sign_in(deployment.main.url, key, email()))
    assert_refused(response, 401, problem)
    assert me(browser, deployment.main).status_code == 401


# --- who may sign in ---------------------------------------------------------------------------


def test_unverified_email_is_refused(deployment: Deployment, browser: Browser) -> None:
    address = email("bob")
    response = browser.finish(browser.sign_in(deployment.main.url, "test", "unverified." + address))
    assert_refused(response, 403, f"The email address {address} is not verified")


def test_email_outside_the_allowed_domains_is_refused(deployment: Deployment, browser: Browser) -> None:
    response = browser.finish(browser.sign_in(deployment.main.url, "test", email("mallory", "other.test")))
    assert_refused(response, 403, "Email addresses of other.test may not sign in")
    other = Browser()  # the provider remembers who signed in: a new browser to be someone else
    try:
        allowed = other.finish(other.sign_in(deployment.main.url, "test", email("carol", "EXAMPLE.org")))
        assert allowed.status_code == 303, allowed.text
    finally:
        other.close()


def test_sign_up_off_refuses_new_users_but_existing_users_sign_in(deployment: Deployment, browser: Browser) -> None:
    address = email("dave")
    refused = browser.finish(browser.sign_in(deployment.main.url, "closed", address))
    assert_refused(refused, 403, "Sign-up through 'closed' is turned off")

    # The same person gets an account through a provider that allows sign-up...
    assert browser.finish(browser.sign_in(deployment.main.url, "test", address)).status_code == 303
    assert signed_in_as(browser, deployment.main) == address
    # ...and from then on also signs in through the closed one (matched by the verified email).
    for _ in range(2):
        closed = Browser()
        try:
            assert closed.finish(closed.sign_in(deployment.main.url, "closed", address)).status_code == 303
            assert signed_in_as(closed, deployment.main) == address
        finally:
            closed.close()


def test_unverified_email_never_takes_over_an_existing_account(deployment: Deployment, browser: Browser) -> None:
    """With verification relaxed, an unverified address signs in as a new account, not as its owner."""
    owner_email = email("owner")
    assert browser.finish(browser.sign_in(deployment.main.url, "test", owner_email)).status_code == 303
    assert signed_in_as(browser, deployment.main) == owner_email

    # "unverified.<address>" is another subject asserting the owner's address, unverified.
    impostor = Browser()
    try:
        login = "unverified." + owner_email
        callback = impostor.sign_in(deployment.main.url, "lenient", login)
        assert impostor.finish(callback).status_code == 303
        assert signed_in_as(impostor, deployment.main) not in (owner_email, login)
    finally:
        impostor.close()


# --- replicas -----------------------------------------------------------------------------------


def test_callback_landing_on_another_replica_signs_in(deployment: Deployment, browser: Browser) -> None:
    address = email("replicated")
    a, b = deployment.replica_a, deployment.replica_b
    callback = browser.sign_in(a.url, "test", address)
    # The load balancer sends the callback to B, with the public host (A's URL stands for it here).
    public_host = urlsplit(a.url).netloc
    on_b = callback.replace(a.url, b.url, 1)
    assert on_b != callback
    response = browser.finish(on_b, host=public_host)
    assert response.status_code == 303, response.text
    assert signed_in_as(browser, b, public_host) == address
    assert signed_in_as(browser, a) == address
    # The state was used up on B: replaying the callback on A is refused.
    assert_refused(browser.finish(callback), 400, "Unknown or already used")


def test_a_stale_session_cookie_does_not_block_signing_in_again(deployment: Deployment, browser: Browser) -> None:
    """An ended session's cookie is still in the browser when its user comes back to sign in."""
    address = email("returning")
    assert browser.finish(browser.sign_in(deployment.main.url, "test", address)).status_code == 303
    browser.http.cookies.set("runyard_session", "ended-session-id.bad-signature", domain="127.0.0.1")
    assert me(browser, deployment.main).status_code == 401
    callback = browser.sign_in(deployment.main.url, "test", address)
    response = browser.finish(callback)
    assert response.status_code == 303, response.text
    assert signed_in_as(browser, deployment.main) == address
