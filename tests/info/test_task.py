"""The task page, reached through the links the site itself renders."""

from __future__ import annotations

import time
from urllib.parse import quote, quote_plus

import pytest
from distributed import Client
from django.utils.html import escape

from clusterdash.keys import key_to_text, visible_text

from .conftest import parse_html

#: Keys that broke dashboard links or markup before; each must round-trip.
AWKWARD_KEYS = [
    1,
    "1",
    1.5,
    ("tuple-key", 0),
    (("nested", 1), 2),
    ("getitem-fused-abc", 0, 1),
    ("x y", 0),
    "key with spaces",
    "a+b c",
    "path/like/key",
    "percent%20key%",
    "50%",
    "?q=1#f",
    "quote'key\"double",
    "[bracket]{brace}",
    "<img src=x onerror=alert(1)>",
    ("<script>alert(2)</script>", 0),
    "'\"><svg onload=alert(3)>",
    "ünïcödé-ключ-键-✓",
    "key.html",
    "../../etc/passwd",
    "amp&amp;lt;",
    "nul\x00bell\x07escape\x1b[31m-del\x7f",
    "long-" + "x" * 3000,
]


def _make_value(i):
    return i


@pytest.fixture(scope="module")
def held_keys(cluster):
    """Hold a result under every awkward key for the module's tests."""
    with Client(cluster, set_as_default=False) as client:
        futures = [
            client.submit(_make_value, i, key=key, pure=False)
            for i, key in enumerate(AWKWARD_KEYS)
        ]
        client.gather(futures)
        who_has = client.who_has(futures)
        yield {
            key: who_has[future.key][0]
            for key, future in zip(AWKWARD_KEYS, futures, strict=True)
        }
        client.cancel(futures)


def _worker_page_links(client, address):
    """Return every link on the first page of a worker's page."""
    url = f"/info/worker/{quote(address, safe='')}.html"
    response = client.get(url)
    assert response.status_code == 200
    return parse_html(response.content).links


def _link_to(links, key):
    text = visible_text(key_to_text(key))
    found = [href for href, label in links if label == text]
    assert found, f"no link labelled {text[:80]!r}"
    return found[0]


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=lambda k: repr(k)[:40])
def test_worker_page_link_opens_task(staff_client, held_keys, key):
    links = _worker_page_links(staff_client, held_keys[key])
    href = _link_to(links, key)

    response = staff_client.get(href)

    assert response.status_code == 200
    assert escape(visible_text(key_to_text(key))).encode() in response.content
    assert b"Status</th><td>memory" in response.content
    parse_html(response.content)


def test_control_characters_in_keys_show_as_escapes(staff_client, held_keys):
    key = "nul\x00bell\x07escape\x1b[31m-del\x7f"
    href = _link_to(_worker_page_links(staff_client, held_keys[key]), key)

    page = staff_client.get(href).content

    assert rb"nul\x00bell\x07escape\x1b[31m-del\x7f" in page
    for code in (0x00, 0x07, 0x1B, 0x7F):
        at = page.find(bytes([code]))
        assert at < 0, page[at - 300 : at + 50]
    # The same key, released, gets the 404 page with the same escapes.
    missing = staff_client.get(href.replace("nul", "gone"))
    assert missing.status_code == 404
    assert rb"gone\x00bell" in missing.content
    assert not set(missing.content) & {0x00, 0x07, 0x1B, 0x7F}


def test_key_links_use_percent_twenty(staff_client, held_keys):
    links = _worker_page_links(staff_client, held_keys["key with spaces"])

    href = _link_to(links, "key with spaces")

    assert "%20" in href
    assert "+" not in href


def test_int_and_str_keys_are_distinct(staff_client, held_keys):
    int_links = _worker_page_links(staff_client, held_keys[1])
    str_links = _worker_page_links(staff_client, held_keys["1"])

    int_href = _link_to(int_links, 1)
    str_href = _link_to(str_links, "1")

    assert int_href != str_href
    assert b"Task: 1</title>" in staff_client.get(int_href).content
    assert b"Task: &#x27;1&#x27;</title>" in staff_client.get(str_href).content


def test_long_key_links_by_digest(staff_client, held_keys):
    key = AWKWARD_KEYS[-1]
    links = _worker_page_links(staff_client, held_keys[key])

    href = _link_to(links, key)

    assert "sha256" in href
    assert len(href) < 200


def test_markup_in_keys_is_escaped(staff_client, held_keys):
    key = "<img src=x onerror=alert(1)>"
    response = staff_client.get(
        _link_to(_worker_page_links(staff_client, held_keys[key]), key)
    )

    assert b"<img src=x" not in response.content
    assert b"&lt;img src=x onerror=alert(1)&gt;" in response.content


@pytest.mark.parametrize(
    "key",
    [("x y", 0), ("tuple-key", 0), "key with spaces", "a+b c", (("nested", 1), 2)],
    ids=repr,
)
def test_dask_double_encoded_links_resolve(staff_client, held_keys, key):
    dask_segment = quote_plus(str(key), safe="")

    response = staff_client.get(f"/info/task/{quote(dask_segment, safe='')}.html")

    assert response.status_code == 200
    assert escape(key_to_text(key)).encode() in response.content


@pytest.mark.parametrize(
    "key", [("x y", 0), ("tuple-key", 0), "key with spaces"], ids=repr
)
def test_dask_plus_links_resolve(staff_client, held_keys, key):
    # Dask's own links put "+" for spaces; a key without "+" reads back.
    dask_segment = quote_plus(str(key), safe="")

    response = staff_client.get(f"/info/task/{dask_segment}.html")

    assert response.status_code == 200
    assert escape(key_to_text(key)).encode() in response.content


def test_unknown_key_is_404_naming_it(staff_client, held_keys):
    started = time.monotonic()
    response = staff_client.get("/info/task/no-such-%3Cb%3Ekey%3C%2Fb%3E.html")
    elapsed = time.monotonic() - started

    assert response.status_code == 404
    assert b"no-such-&lt;b&gt;key&lt;/b&gt;" in response.content
    assert b"/info/main/workers.html" in response.content
    # Loose bound: the lookup is one scheduler call, never a scan or retry loop.
    assert elapsed < 10


def test_unknown_digest_is_404(staff_client, held_keys):
    response = staff_client.get("/info/task/sha256%3A0123456789abcdef.html")

    assert response.status_code == 404


def _fail(x):
    raise ValueError(f"bad value {x}")


def _add(a, b):
    return a + b


def test_task_page_shows_failure_and_story(staff_client, dask_client):
    source = dask_client.submit(_make_value, 3, key=("source <x>", 0), pure=False)
    failing = dask_client.submit(_fail, source, key="failing key <b>", pure=False)
    dask_client.gather([failing], errors="skip")

    response = staff_client.get(f"/info/task/{quote('failing key <b>', safe='')}.html")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Status</th><td>erred" in content
    assert "ValueError" in content
    assert "bad value 3" in content
    assert "<summary>Traceback</summary>" in content
    assert "Stimulus ID" in content
    assert "Recommended Action" in content
    assert "source &lt;x&gt;" in content
    parse_html(response.content)


def test_task_page_shows_dependents_and_size(staff_client, dask_client):
    first = dask_client.submit(_make_value, 10, key="dep-first", pure=False)
    second = dask_client.submit(_add, first, 1, key="dep-second", pure=False)
    dask_client.gather([second])

    response = staff_client.get("/info/task/dep-first.html")

    content = response.content.decode()
    assert response.status_code == 200
    assert 'href="/info/task/dep-second.html"' in content
    assert "-1 B" not in content
    assert "Workers with data" in content


def test_task_page_redirects_anonymous(client, held_keys):
    response = client.get("/info/task/key%20with%20spaces.html")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_task_page_forbids_non_staff(viewer_client, held_keys):
    response = viewer_client.get("/info/task/key%20with%20spaces.html")

    assert response.status_code == 403
    assert b"Only staff users" in response.content
