"""``safe_relative_path``: what an artifact path may be, however it is encoded."""

from __future__ import annotations

import pytest

from runyard.errors import InvalidParameter
from runyard.stores.artifacts.paths import join, relative_to, safe_relative_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", ""),
        (None, ""),
        ("model.pkl", "model.pkl"),
        ("1/abc/artifacts/model/MLmodel", "1/abc/artifacts/model/MLmodel"),
        ("a//b/./c/", "a/b/c"),
        ("./a", "a"),
        ("dir/..name/x..y", "dir/..name/x..y"),
        ("100%.txt", "100%.txt"),
        ("caf\u00e9/\u6a21\u578b.bin", "caf\u00e9/\u6a21\u578b.bin"),
        ("a%20b.txt", "a%20b.txt"),
    ],
)
def test_accepted_paths_are_normalised(given: str | None, expected: str) -> None:
    assert safe_relative_path(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "..",
        "../etc/passwd",
        "a/../../b",
        "a/..",
        "/etc/passwd",
        "//server/share",
        "C:/Windows",
        "c:relative",
        "a\\..\\b",
        "a\\b",
        "a\x00b",
        "line\nbreak",
        "%2e%2e/x",
        "a/%2E%2E/b",
        "..%2fx",
        "%2fetc%2fpasswd",
        "%252e%252e/x",
        "%25252e%25252e%25252f",
        "a%5c..%5cb",
        "a%00b",
        "x" * 5000,
        "a/" + "y" * 300,
    ],
)
def test_escapes_and_forbidden_characters_are_refused(given: str) -> None:
    with pytest.raises(InvalidParameter, match="Invalid artifact path"):
        safe_relative_path(given)


def test_root_can_be_refused() -> None:
    with pytest.raises(InvalidParameter, match="below the artifact root"):
        safe_relative_path("./", allow_root=False)


def test_join_and_relative_to() -> None:
    assert join("", "a", "", "b/c") == "a/b/c"
    assert join("", "") == ""
    assert relative_to("1/run/artifacts/x/y", "1/run/artifacts") == "x/y"
    assert relative_to("x/y", "") == "x/y"
