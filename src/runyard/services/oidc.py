"""OpenID Connect relying party for one provider: discovery, authorization URL, code exchange, ID token.

authlib builds the authorization request (the PKCE S256 challenge, the grant URI) and checks the ID
token's claims the way OIDC Core 3.1.3.7 asks (``CodeIDToken``: ``iss``, ``aud``, ``azp``, ``exp``,
``iat``, ``nonce``, ``at_hash``); joserfc verifies its signature against the provider's JWKS.

Discovery documents and key sets are cached per process (they change rarely, and every replica may
fetch its own copy). An ID token signed with a key id missing from the cached set triggers one
refetch, so a provider's key rotation is picked up without a restart.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from runyard.errors import NotFound, Unauthenticated, Unavailable
from runyard.settings import OidcProvider, ServerSettings

DISCOVERY_PATH = "/.well-known/openid-configuration"
CALLBACK_PATH = "/api/v1/auth/login/{key}/callback"
# Asymmetric algorithms only: the key set is public, and an HS256 token "signed" with a public key
# is the classic algorithm-confusion forgery.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CACHE_SECONDS = 3600.0
# A token with an unknown key id refetches the key set at most this often (a forged kid must not
# turn every callback into a request to the provider).
JWKS_REFRESH_FLOOR_SECONDS = 30.0
CLOCK_LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0

CLAIM_PROBLEMS = {
    "iss": "it was issued by another issuer",
    "aud": "it is meant for another client (audience)",
    "azp": "it was issued to another client (azp)",
    "nonce": "its nonce does not match this login",
    "at_hash": "its at_hash does not match the access token",
    "exp": "it has expired",
    "iat": "its issue time is invalid",
    "sub": "it names no valid subject",
}


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of a provider's discovery document a code-flow login uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]
    # RFC 9207: the provider adds ``iss`` to its callback, which defeats mix-up attacks.
    iss_parameter_supported: bool


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and the secrets the callback must be checked against."""

    url: str
    state: str
    nonce: str
    code_verifier: str | None


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """Who the provider says signed in: from a verified ID token (and userinfo, for missing claims)."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None


def callback_url(root_url: str, key: str) -> str:
    return root_url.rstrip("/") + CALLBACK_PATH.format(key=key)


class OidcClient:
    """The relying-party side of one provider, shared by every request of a process (thread-safe)."""

    def __init__(
        self,
        provider: OidcProvider,
        redirect_uri: str,
        *,
        http: httpx.Client,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        self._http = http
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # --- discovery and keys ---

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (cached), checked to name the configured issuer."""
        with self._lock:
            cached = self._metadata
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        document = self._get_json(self.provider.issuer_url.rstrip("/") + DISCOVERY_PATH, "discovery document")
        metadata = _parse_metadata(self.provider, document)
        with self._lock:
            self._metadata = (self._clock(), metadata)
        return metadata

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            cached = self._keys
        if cached is not None:
            age = self._clock() - cached[0]
            if age < self._cache_seconds and (not refresh or age < JWKS_REFRESH_FLOOR_SECONDS):
                return cached[1]
        document = self._get_json(self.metadata().jwks_uri, "key set (JWKS)")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise Unavailable(f"OIDC provider {self.provider.key!r} published an unusable key set: {error}") from None
        with self._lock:
            self._keys = (self._clock(), keys)
        return keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise Unavailable(f"OIDC provider {self.provider.key!r} is unreachable ({what}): {error}") from None
        if response.status_code != 200:
            raise Unavailable(
                f"OIDC provider {self.provider.key!r} answered {response.status_code} for its {what} at {url}"
            )
        try:
            document = response.json()
        except ValueError:
            raise Unavailable(f"OIDC provider {self.provider.key!r} sent a {what} that is not JSON") from None
        if not isinstance(document, dict):
            raise Unavailable(f"OIDC provider {self.provider.key!r} sent a {what} that is not a JSON object")
        return document

    # --- the login itself ---

    def authorization_request(self) -> AuthorizationRequest:
        """A fresh authorization request: new state, nonce and (with PKCE) code verifier."""
        metadata = self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        extra: dict[str, str] = {"nonce": nonce}
        verifier: str | None = None
        if self.provider.pkce:
            verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43-128
            extra["code_challenge"] = create_s256_code_challenge(verifier)
            extra["code_challenge_method"] = "S256"
        url = prepare_grant_uri(
            metadata.authorization_endpoint,
            self.provider.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope=" ".join(self.provider.request_scopes),
            state=state,
            **extra,
        )
        return AuthorizationRequest(url=str(url), state=state, nonce=nonce, code_verifier=verifier)

    def check_callback_issuer(self, iss: str | None) -> None:
        """RFC 9207: a callback's ``iss`` must name this provider (required when the provider sends it)."""
        metadata = self.metadata()
        if iss is None:
            if metadata.iss_parameter_supported:
                raise Unauthenticated(f"the callback from OIDC provider {self.provider.key!r} carries no 'iss'")
            return
        if iss != metadata.issuer:
            raise Unauthenticated(
                f"the callback names issuer {iss!r}, not {metadata.issuer!r} of OIDC provider {self.provider.key!r}"
            )

    def fetch_identity(self, code: str, *, nonce: str, code_verifier: str | None) -> ProviderIdentity:
        """Exchange ``code`` at the token endpoint and return the verified identity it proves."""
        tokens = self._exchange_code(code, code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated(f"OIDC provider {self.provider.key!r} returned no ID token")
        access_token = tokens.get("access_token")
        claims = self._validated_claims(
            id_token, nonce=nonce, access_token=access_token if isinstance(access_token, str) else None
        )
        if "email" not in claims and isinstance(access_token, str):
            # Conformant providers put scope claims in userinfo, not in the ID token, for the code flow.
            claims = {**self._userinfo(access_token, subject=str(claims["sub"])), **claims}
        return _identity_from(claims)

    def _exchange_code(self, code: str, code_verifier: str | None) -> dict[str, Any]:
        metadata = self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        auth: httpx.Auth | None = None
        secret = self.provider.client_secret
        if secret is None:
            form["client_id"] = self.provider.client_id
        elif "client_secret_basic" in metadata.token_auth_methods or not metadata.token_auth_methods:
            # RFC 6749 2.3.1: the id and secret are form-encoded before they go into the Basic header.
            auth = httpx.BasicAuth(_form_encode(self.provider.client_id), _form_encode(secret.get_secret_value()))
        else:
            form["client_id"] = self.provider.client_id
            form["client_secret"] = secret.get_secret_value()
        try:
            headers = {"Accept": "application/json"}
            if auth is None:
                response = self._http.post(metadata.token_endpoint, data=form, headers=headers)
            else:
                response = self._http.post(metadata.token_endpoint, data=form, auth=auth, headers=headers)
        except httpx.HTTPError as error:
            raise Unavailable(f"OIDC provider {self.provider.key!r} is unreachable (token endpoint): {error}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            detail = ""
            if isinstance(body, dict) and body.get("error"):
                detail = f": {body['error']}" + (
                    f" ({body['error_description']})" if body.get("error_description") else ""
                )
            raise Unauthenticated(
                f"OIDC provider {self.provider.key!r} refused the authorization code "
                f"(HTTP {response.status_code}){detail}"
            )
        return body

    def _validated_claims(self, id_token: str, *, nonce: str, access_token: str | None) -> dict[str, Any]:
        metadata = self.metadata()
        algorithms = [alg for alg in metadata.signing_algorithms if alg in SIGNING_ALGORITHMS] or ["RS256"]
        token = self._decode(id_token, algorithms)
        # Imported here: authlib's OIDC package pulls in its server-side grants too, which every CLI
        # command would otherwise pay for at start-up.
        from authlib.oidc.core import CodeIDToken

        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": metadata.issuer},
                "aud": {"essential": True, "value": self.provider.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            },
            params={"nonce": nonce, "client_id": self.provider.client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except ExpiredTokenError:
            raise self._invalid("it has expired") from None
        except MissingClaimError as error:
            raise self._invalid(f"it lacks the claim(s) {error.claim}") from None
        except ClaimError as error:
            raise self._invalid(CLAIM_PROBLEMS.get(error.claim, f"its {error.claim!r} claim is invalid")) from None
        return dict(claims)

    def _decode(self, id_token: str, algorithms: Sequence[str]) -> jwt.Token:
        for refresh in (False, True):
            try:
                return jwt.decode(id_token, self._key_set(refresh=refresh), algorithms=list(algorithms))
            except InvalidKeyIdError:
                # An unknown key id may be a rotated key: refetch the key set once before refusing.
                if refresh:
                    raise self._invalid("it is signed with a key the provider does not publish") from None
            except JoseError as error:
                raise self._invalid(f"its signature does not verify ({error.error})") from None
        raise AssertionError("unreachable")

    def _userinfo(self, access_token: str, *, subject: str) -> dict[str, Any]:
        endpoint = self.metadata().userinfo_endpoint
        if endpoint is None:
            return {}
        try:
            response = self._http.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            )
        except httpx.HTTPError as error:
            raise Unavailable(f"OIDC provider {self.provider.key!r} is unreachable (userinfo): {error}") from None
        if response.status_code != 200:
            raise Unauthenticated(f"OIDC provider {self.provider.key!r} refused its userinfo ({response.status_code})")
        try:
            info = response.json()
        except ValueError:
            info = None
        # OIDC Core 5.3.2: userinfo of another subject must not be used.
        if not isinstance(info, dict) or info.get("sub") != subject:
            raise Unauthenticated(f"OIDC provider {self.provider.key!r} sent userinfo for another subject")
        return info

    def _invalid(self, problem: str) -> Unauthenticated:
        return Unauthenticated(f"the ID token from OIDC provider {self.provider.key!r} is refused: {problem}")


class OidcClients:
    """The configured providers of one server process, by key."""

    def __init__(self, clients: Sequence[OidcClient]) -> None:
        self._clients = {client.provider.key: client for client in clients}

    @classmethod
    def from_settings(cls, settings: ServerSettings, http: httpx.Client | None = None) -> OidcClients:
        """Every configured provider, when auth is on (OIDC login creates sessions only auth checks)."""
        providers = settings.oidc_provider_list if settings.auth_enabled else []
        if not providers or settings.root_url is None:
            return cls([])
        shared = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        return cls([OidcClient(p, callback_url(settings.root_url, p.key), http=shared) for p in providers])

    def get(self, key: str) -> OidcClient:
        client = self._clients.get(key)
        if client is None:
            raise NotFound(f"No OIDC provider {key!r} is configured (auth must be enabled for OIDC login).")
        return client

    def keys(self) -> list[str]:
        """Provider keys in configuration order."""
        return list(self._clients)


def _parse_metadata(provider: OidcProvider, document: dict[str, Any]) -> ProviderMetadata:
    issuer = document.get("issuer")
    # OIDC Discovery 4.3: the document must name exactly the issuer it was fetched for.
    if issuer != provider.issuer_url:
        raise Unavailable(
            f"OIDC provider {provider.key!r}: discovery names issuer {issuer!r}, not the configured "
            f"{provider.issuer_url!r}"
        )
    required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [name for name in required if not isinstance(document.get(name), str)]
    if missing:
        raise Unavailable(f"OIDC provider {provider.key!r}: discovery document lacks {', '.join(missing)}")
    if provider.pkce and "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
        raise Unavailable(f"OIDC provider {provider.key!r} does not support PKCE S256; set pkce = false")
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
        signing_algorithms=tuple(document.get("id_token_signing_alg_values_supported") or ("RS256",)),
        token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ()),
        iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
    )


def _identity_from(claims: dict[str, Any]) -> ProviderIdentity:
    email = claims.get("email")
    name = claims.get("name")
    verified = claims.get("email_verified")
    return ProviderIdentity(
        subject=str(claims["sub"]),
        email=email.strip() if isinstance(email, str) and email.strip() else None,
        # Some providers send the boolean as a string.
        email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
        name=name if isinstance(name, str) else None,
    )


def _form_encode(value: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(value)
