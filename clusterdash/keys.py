"""
Task keys in URLs.

A Dask key is a ``str``, ``int``, ``float`` or a tuple of those, possibly
nested. ``key_to_text`` turns a key into text that ``text_to_key`` turns
back into the same key, and the URL path holds that text percent-encoded
once (``%20`` for a space, never ``+``). Most string keys are their own
text; a string that would read as another literal (``"1"``, ``"(1, 2)"``)
and every non-string key use ``repr``, so key ``1`` and key ``"1"`` get
different URLs.

Links that Dask itself produced are accepted too: ``url_candidates`` lists
the keys a path segment may stand for, in the order to try them.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
from collections import OrderedDict
from urllib.parse import quote, unquote, unquote_plus

from .backends.types import Key

#: Prefix of the digest form of a key whose text is too long for a URL.
DIGEST_PREFIX = "sha256:"


def _is_key(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str | int | float):
        return True
    if isinstance(value, tuple):
        return all(_is_key(part) for part in value)
    return False


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_A_LITERAL


_NOT_A_LITERAL = object()


def key_to_text(key: Key) -> str:
    """Return the text that stands for ``key`` in URLs."""
    if isinstance(key, str) and _literal(key) is _NOT_A_LITERAL:
        return key
    return repr(key)


def text_to_key(text: str) -> Key:
    """Return the key that ``key_to_text`` turned into ``text``."""
    value = _literal(text)
    if value is not _NOT_A_LITERAL and _is_key(value):
        return value
    return text


#: Control characters other than tab and newline, which pages show escaped.
_CONTROL = {
    code: f"\\x{code:02x}"
    for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
}
_CONTROL[0x0D] = "\\r"


def visible_text(text: str) -> str:
    """
    Return ``text`` with control characters written as ``\\xNN`` escapes.

    HTML cannot carry a NUL or most other control characters (a browser
    drops them or shows a replacement character), so text from the cluster
    passes through this before it is shown. Tab and newline stay.
    """
    return text.translate(_CONTROL)


def key_to_path(key: Key) -> str:
    """Return ``key`` as one percent-encoded URL path segment."""
    return quote(key_to_text(key), safe="")


def key_digest(key: Key) -> str:
    """Return the short digest form for keys too long to put in a URL."""
    digest = hashlib.sha256(key_to_text(key).encode("utf-8", "surrogatepass"))
    return DIGEST_PREFIX + digest.hexdigest()[:32]


#: Long keys whose digest links this process has rendered, newest last.
_long_keys: OrderedDict[str, Key] = OrderedDict()
_long_keys_lock = threading.Lock()
LONG_KEYS_KEPT = 10_000


def key_to_link_segment(key: Key, max_length: int) -> str:
    """
    Return the path segment that links to ``key``.

    A key whose encoded text is longer than ``max_length`` characters gets
    its digest instead, and is remembered so that the digest resolves.
    """
    segment = key_to_path(key)
    if len(segment) <= max_length:
        return segment
    digest = key_digest(key)
    with _long_keys_lock:
        _long_keys[digest] = key
        _long_keys.move_to_end(digest)
        while len(_long_keys) > LONG_KEYS_KEPT:
            _long_keys.popitem(last=False)
    return quote(digest, safe="")


def key_for_digest(digest: str) -> Key | None:
    """Return the long key behind a digest link, or None if not remembered."""
    with _long_keys_lock:
        return _long_keys.get(digest)


def _lists_to_tuples(value: object) -> object:
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


def _dask_forms(text: str) -> list[Key]:
    # Dask reads its own links by trying the text as a string key and then
    # as JSON after turning parentheses and single quotes into JSON syntax.
    forms: list[Key] = [text]
    rewritten = text.replace("(", "[").replace(")", "]").replace("'", '"')
    try:
        value = _lists_to_tuples(json.loads(rewritten))
    except (ValueError, RecursionError):
        return forms
    if _is_key(value):
        forms.append(value)
    return forms


def url_candidates(segment: str) -> list[Key]:
    """
    Return the keys a decoded URL path segment may stand for, best first.

    First the key that ``key_to_text`` gives this text, then the same text
    read as a plain string, then Dask's own forms: a further percent
    decoding (Dask encodes twice), ``+`` read as a space, and Dask's JSON
    reading of tuple text.
    """
    texts = [segment]
    for decoded in (unquote(segment), unquote_plus(segment), segment.replace("+", " ")):
        if decoded not in texts:
            texts.append(decoded)
    candidates: list[Key] = []
    for text in texts:
        for key in (text_to_key(text), *_dask_forms(text)):
            if not any(same_key(key, seen) for seen in candidates):
                candidates.append(key)
    return candidates


def same_key(a: Key, b: Key) -> bool:
    """Return whether ``a`` and ``b`` are the same task key."""
    # 1 == 1.0 == True in Python, but they are different task keys.
    return type(a) is type(b) and a == b and repr(a) == repr(b)
