"""The gateway's pure rules: masking credentials, which provider URLs are accepted, how models are chosen."""

from __future__ import annotations

import pytest

from runyard.domain import gateway
from runyard.domain.gateway import LinkageType, ModelDefinition, ModelMapping
from runyard.errors import InvalidParameter
from runyard.services import outbound
from runyard.services.secret_box import GATEWAY, SecretBox


def test_masks_show_only_a_prefix_and_the_last_four_characters() -> None:
    assert gateway.mask("sk-proj-abcdefgh1234") == "sk-...1234"
    assert gateway.mask("short") == "***"


@pytest.mark.parametrize(
    ("url", "allow_private", "fragment"),
    [
        ("http://api.example.com/v1", False, "https URL"),
        ("https://127.0.0.1/v1", False, "not a public address"),
        ("https://localhost/v1", False, "not a public address"),
        ("https://user:pw@api.example.com", False, "credentials"),
        ("ftp://x", True, "http or https"),
    ],
)
def test_provider_urls_that_could_reach_inside_are_refused(url: str, allow_private: bool, fragment: str) -> None:
    with pytest.raises(InvalidParameter, match=fragment):
        gateway.validate_api_base(url, allow_private=allow_private)


def test_accepted_provider_urls() -> None:
    assert gateway.validate_api_base("https://api.example.com/v1/", allow_private=False) == "https://api.example.com/v1"
    assert gateway.validate_api_base("http://127.0.0.1:8000/v1", allow_private=True) == "http://127.0.0.1:8000/v1"


def _mapping(name: str, linkage: LinkageType, weight: float = 1.0, order: int | None = None) -> ModelMapping:
    model = ModelDefinition(name, name, "s", "s", "openai", name, 0, 0)
    return ModelMapping(f"m-{name}", "e", model, linkage, weight, 0, fallback_order=order)


def test_one_primary_by_weight_then_fallbacks_in_order() -> None:
    mappings = [
        _mapping("a", LinkageType.PRIMARY, 1.0),
        _mapping("b", LinkageType.PRIMARY, 3.0),
        _mapping("late", LinkageType.FALLBACK, order=2),
        _mapping("early", LinkageType.FALLBACK, order=1),
    ]
    assert [m.model_definition.name for m in gateway.choose(mappings, 0.1)] == ["a", "early", "late"]
    assert [m.model_definition.name for m in gateway.choose(mappings, 0.5)] == ["b", "early", "late"]


def test_gateway_and_webhook_keys_differ_for_the_same_material() -> None:
    token = SecretBox("k" * 40, purpose=GATEWAY, setting="gateway_kek").seal("value")
    assert SecretBox("k" * 40, purpose=GATEWAY).open(token) == "value"
    with pytest.raises(Exception, match="gateway_kek"):
        SecretBox("k" * 40, purpose=GATEWAY, setting="gateway_kek").open(SecretBox("k" * 40).seal("x"))
    with pytest.raises(Exception, match="secrets_key"):
        SecretBox("k" * 40).open(token)


def test_a_host_name_that_resolves_inside_is_refused_when_sending() -> None:
    # "localhost" is refused on write; any other name resolving to a private address is refused here.
    with pytest.raises(ValueError, match=r"not a public address \(gateway_allow_private_urls\)"):
        outbound.pin("https://localhost:8443/v1/chat/completions", "gateway_allow_private_urls")
    pinned = outbound.pin("https://1.1.1.1/v1", "gateway_allow_private_urls")
    assert (pinned.url, pinned.headers["Host"]) == ("https://1.1.1.1/v1", "1.1.1.1")
