"""A real OpenID provider process for the OIDC tests, and a scripted browser that signs in through it.

The provider is the npm package ``oidc-provider`` (installed here by ``npm ci``, see ``scripts/test``)
run by ``provider.mjs``; its development login form accepts any login name, which becomes the
subject (see the script for how names map to claims and how clients tamper with ID tokens).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.services import free_port, prerequisite_missing

HERE = Path(__file__).parent
TamperMode = str  # "nonce" | "issuer" | "audience" | "strip-claims"


@dataclass
class ProviderClient:
    client_id: str
    redirect_uris: list[str]
    client_secret: str | None = None
    tamper: TamperMode | None = None


@dataclass
class OidcTestProvider:
    port: int
    clients: list[ProviderClient]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
            message = "node and tests/oidc_provider/node_modules are needed (run `npm ci` in tests/oidc_provider)"
            prerequisite_missing(message)
        config = self.workdir / "oidc-provider.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "clients": [
                        {
                            "client_id": c.client_id,
                            "client_secret": c.client_secret,
                            "redirect_uris": c.redirect_uris,
                            "tamper": c.tamper,
                        }
                        for c in self.clients
                    ],
                }
            )
        )
        self.log_path = self.workdir / "oidc-provider.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [node, str(HERE / "provider.mjs"), str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=HERE,
            env={**os.environ, "NODE_ENV": "test"},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{self.log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"oidc-provider not ready:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None


def new_provider(workdir: Path, clients: list[ProviderClient]) -> OidcTestProvider:
    return OidcTestProvider(port=free_port(), clients=clients, workdir=workdir)


class _Forms(HTMLParser):
    """The first form of a page: its action and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and values.get("type") == "hidden" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


class Browser:
    """A cookie-keeping HTTP client that walks the provider's login and consent pages like a user."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=30)

    def close(self) -> None:
        self.http.close()

    def start_login(self, server_url: str, key: str, *, next_path: str | None = None) -> httpx.Response:
        params = {"next": next_path} if next_path is not None else None
        return self.http.get(f"{server_url}/api/v1/auth/login/{key}", params=params)

    def sign_in(self, server_url: str, key: str, login: str, *, callback_base: str | None = None) -> str:
        """Start a login at ``server_url`` and sign in as ``login``; returns the callback URL the
        provider redirects to (not visited, so tests can replay, alter or re-route it)."""
        started = self.start_login(server_url, key)
        assert started.status_code == 302, started.text
        callback_prefix = f"{callback_base or server_url}/api/v1/auth/login/{key}/callback"
        response = self.http.get(started.headers["location"])
        for _ in range(20):
            if response.is_redirect:
                target = str(response.url.join(response.headers["location"]))
                if target.startswith(callback_prefix):
                    return target
                response = self.http.get(target)
                continue
            assert response.status_code == 200, f"{response.status_code} from the provider: {response.text[:500]}"
            form = _Forms()
            form.feed(response.text)
            assert form.action is not None, f"no form on the provider's page: {response.text[:500]}"
            data = dict(form.fields)
            if data.get("prompt") == "login":
                data.update({"login": login, "password": "any-password"})
            response = self.http.post(str(response.url.join(form.action)), data=data)
        raise AssertionError("the provider never redirected back to runyard")

    def finish(self, callback_url: str, *, host: str | None = None) -> httpx.Response:
        """Visit the callback; ``host``: the ``Host`` a load balancer forwards it with."""
        return self.http.get(callback_url, headers={"Host": host} if host is not None else None)


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
