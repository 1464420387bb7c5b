"""Task keys to URL text and back, and the link forms Dask produces."""

from __future__ import annotations

from urllib.parse import quote, quote_plus, unquote

import pytest

from clusterdash.keys import (
    DIGEST_PREFIX,
    key_digest,
    key_for_digest,
    key_to_link_segment,
    key_to_path,
    key_to_text,
    text_to_key,
    url_candidates,
)

AWKWARD_KEYS = [
    "inc-0",
    "x",
    "a b",
    "a+b",
    "a/b",
    "100%",
    "percent%20key%",
    "'",
    '"',
    "quote ' and \"",
    "(",
    "[",
    "<b>bold</b>",
    "<script>alert(1)</script>",
    "ключ-ü-λ-数据",
    "emoji 🚀 key",
    "line\nbreak",
    "tab\there",
    "",
    " ",
    "key.html",
    "1",
    "1.5",
    "(1, 2)",
    "None",
    "True",
    1,
    -7,
    1.5,
    ("x", 1),
    ("a+b", 1),
    ("a b", 1),
    ("[", 1),
    ("(", 1),
    ("'", 1),
    ('"', 1),
    ((1, 2), ("x", "y")),
    ("sum-abc", 0, 3),
    ("nested", ("inner", (1, "deep"))),
    ("ключ", 0),
    ("<b>", 2.5),
]


def _same(a, b):
    return type(a) is type(b) and a == b and repr(a) == repr(b)


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=repr)
def test_key_round_trip(key):
    text = key_to_text(key)
    assert _same(text_to_key(text), key)


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=repr)
def test_path_round_trip(key):
    segment = key_to_path(key)
    assert "/" not in segment
    assert "+" not in segment
    assert " " not in segment
    assert _same(text_to_key(unquote(segment)), key)
    assert _same(url_candidates(unquote(segment))[0], key)


def test_number_and_string_keys_differ():
    assert key_to_text(1) != key_to_text("1")
    assert key_to_text(1) != key_to_text(1.0)
    assert key_to_path("1") == "%271%27"
    assert key_to_path(1) == "1"


def test_plain_string_is_its_own_text():
    assert key_to_text("inc-0") == "inc-0"
    assert key_to_path("a b") == "a%20b"


@pytest.mark.parametrize(
    "key",
    [
        "inc-0",
        "a b",
        ("sum-abc", 0),
        ("a b", 1),
        ("x", 1),
        ((1, 2), ("x", "y")),
        "a+b",
        ("a+b", 1),
    ],
    ids=repr,
)
def test_dask_plus_link_resolves(key):
    # Dask's pages link with str(key) escaped in plus mode, so a space
    # arrives as "+"; Django decodes the path once before the view.
    segment = unquote(quote_plus(str(key), safe=""))
    candidates = url_candidates(segment)
    assert any(_same(candidate, key) for candidate in candidates)


@pytest.mark.parametrize(
    "key", ["a b", ("a b", 1), "100%", "percent%20key%", ("x", 1)], ids=repr
)
def test_dask_double_encoded_link_resolves(key):
    # Dask decodes twice, so a link that worked there is encoded twice.
    segment = unquote(quote(quote(str(key), safe=""), safe=""))
    candidates = url_candidates(segment)
    assert any(_same(candidate, key) for candidate in candidates)


def test_dask_json_tuple_form_resolves():
    # str() of a tuple key uses single quotes; Dask reads it back as JSON.
    candidates = url_candidates("('sum-abc', 0)")
    assert any(_same(candidate, ("sum-abc", 0)) for candidate in candidates)


def test_candidates_have_no_duplicates():
    candidates = url_candidates("inc-0")
    assert len(candidates) == len({repr(c) for c in candidates})
    assert candidates[0] == "inc-0"


def test_candidates_keep_int_and_str_apart():
    candidates = url_candidates("1")
    assert _same(candidates[0], 1)
    assert any(_same(candidate, "1") for candidate in candidates)


def test_long_key_links_by_digest():
    key = "long-" + "x" * 3000
    segment = key_to_link_segment(key, 2000)
    digest = key_digest(key)
    assert unquote(segment) == digest
    assert digest.startswith(DIGEST_PREFIX)
    assert len(segment) < 100
    assert key_for_digest(digest) == key


def test_long_tuple_key_links_by_digest():
    key = ("long", "é" * 3000)
    segment = key_to_link_segment(key, 2000)
    assert unquote(segment).startswith(DIGEST_PREFIX)
    assert key_for_digest(unquote(segment)) == key


def test_short_key_links_by_text():
    assert key_to_link_segment(("a b", 1), 2000) == key_to_path(("a b", 1))


def test_digest_stable_and_distinct():
    assert key_digest("x" * 3000) == key_digest("x" * 3000)
    assert key_digest("x" * 3000) != key_digest("x" * 2999)
    assert key_digest(1) != key_digest("1")


def test_unknown_digest_is_none():
    assert key_for_digest(DIGEST_PREFIX + "0" * 32) is None
